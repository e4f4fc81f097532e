"""The instructor's grading tool: restore, sandboxed execution, plain-data verdicts, batch grading."""

import sys

# Importing nbformat/nbconvert/nbgrader pulls in jsonschema's format checkers, and with them the
# optional `rfc3987_syntax`, which alone costs ~1.4 s per process (measured; jsonschema PR #1521).
# The grader starts that cost in every worker and every command, and no notebook schema uses the
# "iri" formats it checks, so it is marked absent (jsonschema treats it as optional). setdefault:
# a process that already imported it keeps it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
