"""nbgrader run from the repository's root (a command, or the JupyterLab started here) uses the course in autograder/.

So `nbgrader validate autograder/submitted/<student>/<assignment>/<assignment>.ipynb` from here gets the
course's configuration, and with it the sandbox (autograder/nbgrader_config.py), never plain nbgrader.
"""

import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
_COURSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "autograder", "nbgrader_config.py")
if os.path.isfile(_COURSE):
    load_subconfig(_COURSE)  # noqa: F821 - provided by traitlets too
