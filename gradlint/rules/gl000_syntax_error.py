from gradlint.rules.base import Rule, RuleDocs

RULE = Rule(
    code="GL000",
    name="syntax-error",
    summary="The file could not be parsed; it is reported and skipped.",
    docs=RuleDocs(
        what="Reports a file that is not valid Python (or cannot be decoded), with the "
             "parser's message and position. The rest of the run goes on.",
        why="A file that does not parse cannot be analysed: no other rule has looked at it.",
        example="def train(:\n    pass",
        use_instead="def train():\n    pass",
    ),
)
