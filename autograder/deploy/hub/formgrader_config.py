"""The formgrader service's Jupyter server (gradbook_grader/hubformgrader.py): nbgrader's pages only."""

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file
c.ServerApp.terminals_enabled = False
c.ServerApp.contents_manager_class = "gradbook_grader.hubformgrader.ReadOnlyContents"
c.ServerApp.kernel_manager_class = "gradbook_grader.hubformgrader.NoKernels"
c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.formgrader": True,
    "nbgrader.server_extensions.assignment_list": False,
    "nbgrader.server_extensions.course_list": False,
    "nbgrader.server_extensions.validate_assignment": False,
    "nbgitpuller": False,
}
