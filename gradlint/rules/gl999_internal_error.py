from gradlint.rules.base import Rule, RuleDocs

RULE = Rule(
    code="GL999",
    name="internal-error",
    summary="gradlint itself failed on this file; please report it.",
    docs=RuleDocs(
        what="Reported when the analysis of a file raised an unexpected error or ran out of "
             "its time budget. The other files are still linted and the exit code is 2.",
        why="A bug in gradlint must never hide the findings of other files or crash the run.",
        example="",
        use_instead="",
    ),
)
