"""The plugin's fixtures, checked the way gradlint checks its own."""

import os

from gradlint.testing import check_fixtures

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def test_fixtures():
    assert check_fixtures(FIXTURES, select=["HR"]) == 4
