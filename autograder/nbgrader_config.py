"""nbgrader configuration of the gradbook course (used by `gradbook-grader` and by plain `nbgrader`).

Each chapter notebook in ../solutions/ is its own assignment, named after the notebook stem
(e.g. "02-tensor-operations"). `gradbook-grader release` links them into source/<stem>/<stem>.ipynb,
so solutions/ stays the one source; the links, release/, submitted/, autograded/, feedback/,
manifests/ and gradebook.db below this directory are generated.
"""

import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = "gradbook"
# Absolute, so that nbgrader finds the course whatever the current directory is.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "source"
# Default gradebook: SQLite next to this file; `gradbook-grader --db URL` overrides it.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

# Students get notebooks whose checks they can run: solutions become stubs, hidden tests go.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
