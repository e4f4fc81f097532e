"""nbgrader configuration of the gradbook course (used by `gradbook-grader` and by plain `nbgrader`).

Each chapter notebook in ../solutions/ is its own assignment, named after the notebook stem
(e.g. "02-tensor-operations"). `gradbook-grader release` links them into source/<stem>/<stem>.ipynb,
so solutions/ stays the one source; the links, release/, submitted/, autograded/, feedback/,
manifests/ and gradebook.db below this directory are generated.
"""

import os
import sys

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

# The course's own Python (late-penalty plugins, ...) lives in plugins/ beside this file: importable by
# every command that reads this configuration (nbgrader's and gradbook-grader's), no PYTHONPATH needed.
_PLUGINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")
if _PLUGINS not in sys.path:
    sys.path.insert(0, _PLUGINS)

c.CourseDirectory.course_id = "gradbook"
# Absolute, so that nbgrader finds the course whatever the current directory is.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "source"
# Default gradebook: SQLite next to this file; `gradbook-grader --db URL` overrides it.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

# Students get notebooks whose checks they can run: solutions become stubs, hidden tests go.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# nbgrader's own autograde (the formgrader's "Autograde" button, `nbgrader autograde`) would run
# students' code with your rights: it grades through gradbook-grader's sandbox instead.
c.Autograde.exporter_class = "gradbook_grader.nbgrader_autograde.SandboxedAutograde"
# nbgrader's collect (and the formgrader's Collect): each submission dated by its arrival in the exchange as
# observed here, never by the student's timestamp.txt; folders another account made are refused.
c.ExchangeFactory.collect = "gradbook_grader.collect.ObservedCollect"
# c.ExchangeCollect.check_owner = False   # only for an exchange without per-student accounts (docs/lifecycle.md)
# How lateness is dated (docs/lifecycle.md, "Late submissions"):
# c.Lateness.claim_slack_seconds = 600    # a timestamp.txt further than this from the arrival is flagged
# c.Lateness.unobserved = "late"          # no observed arrival: "late" (dated when it reached submitted/) or "flag"

# Late submissions. Due dates are nbgrader's (the formgrader's "Manage Assignments", or
# `nbgrader db assignment add 02-tensor-operations --duedate="2026-10-05 17:00:00 UTC"`), and so is
# the penalty: nbgrader's LateSubmissionPlugin, "none" (the default) or "zero" (a late submission
# scores 0), or a plugin class of the course's own (docs/lifecycle.md has one).
# c.LateSubmissionPlugin.penalty_method = "zero"
# c.AssignLatePenalties.plugin_class = "late_penalties.TenPercentPerDay"   # plugins/late_penalties.py

# The exchange students fetch from and submit to (nbgrader's default is /srv/nbgrader/exchange).
# c.Exchange.root = "/srv/nbgrader/exchange"

# nbgrader reads source/<assignment>/<assignment>.ipynb: every ../solutions/ notebook is linked there
# (as `gradbook-grader release` does), so plain nbgrader commands work on a fresh checkout too; and
# nbgrader runs `alembic` for its gradebook: this Python's, even when its environment is not activated.
try:
    from pathlib import Path

    from gradbook_grader.course import ensure_tools_on_path, find_course, link_sources

    ensure_tools_on_path()
    link_sources(find_course(Path(c.CourseDirectory.root)))
except Exception as error:  # noqa: BLE001 - configuration must load; say what is missing
    print(f"nbgrader_config.py: source/ is not linked to ../solutions/ ({error}); run `gradbook-grader release`",
          file=sys.stderr)

# nbgrader's validate (the command, and the instructor's JupyterLab Validate button) and every other
# command that executes a notebook: the course's own notebooks run as nbgrader runs them, a submission
# runs in gradbook-grader's sandbox, anything else is refused (gradbook_grader/nbgrader_execute.py).
try:
    from gradbook_grader.nbgrader_execute import guard

    guard(c)
except Exception as error:  # noqa: BLE001 - fail closed: no guard, no kernel (the name says why)
    c.Execute.kernel_name = "gradbook-grader-is-not-importable-so-nbgrader-runs-nothing"
    print(f"nbgrader_config.py: nbgrader will execute no notebook: {error}", file=sys.stderr)
