"""The course hub's JupyterHub configuration (one machine): `gradbook-grader hub` starts JupyterHub with it.

Everything course-specific comes from the settings hub.py writes ($GRADBOOK_HUB_SETTINGS): the roster's
names by role, the ports, the paths. Roles and groups follow nbgrader's "Using nbgrader with JupyterHub".
"""

import json
import os
import signal
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

# Every process the hub starts inherits what it ignores. Started where Ctrl-C is ignored (a background job of a
# script: `gradbook-grader hub ... &`, nohup, a CI runner), the servers and the formgrader would ignore the SIGINT
# with which the hub stops each of them gently, and every stop would wait out the spawner's interrupt_timeout
# (30 s) before SIGTERM. The hub takes Ctrl-C as from a terminal, and so does everything it starts.
signal.signal(signal.SIGINT, signal.default_int_handler)

s = json.loads(Path(os.environ["GRADBOOK_HUB_SETTINGS"]).read_text())
course, root, state = s["course"], Path(s["root"]), Path(s["root"]) / "state"
bin_dir = Path(s["python"]).parent
staff, everyone = s["instructors"] + s["tas"], s["instructors"] + s["tas"] + s["students"]

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = s["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = s["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [s["proxy"]]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")

# Passwords are the system accounts' (hub.py sets them from the roster), checked by PAM.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = set(everyone)
c.Authenticator.admin_users = set()  # no one, instructors included, opens another person's server

c.JupyterHub.spawner_class = "gradbook_grader.hubspawner.CourseSpawner"
c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
c.Spawner.mem_limit = s["mem_limit"]
c.Spawner.cpu_limit = s["cpu_limit"]
c.Spawner.start_timeout = 180  # a busy machine: a server's first start imports JupyterLab
c.Spawner.http_timeout = 180

c.JupyterHub.load_groups = {
    f"formgrade-{course}": {"users": staff},  # may open the formgrader
    f"nbgrader-{course}": {"users": everyone},  # takes part in the course (nbgrader's course list)
}
c.JupyterHub.load_roles = [
    {"name": f"formgrade-{course}", "groups": [f"formgrade-{course}"],
     "scopes": [f"access:services!service={course}"]},
    {"name": f"nbgrader-{course}", "groups": [f"nbgrader-{course}"], "scopes": ["read:users:groups!user"]},
    {"name": f"grader-{course}", "services": [course], "scopes": ["read:users:groups", "list:users", "list:groups"]},
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
]
c.JupyterHub.services = [
    {   # the formgrader: nbgrader's pages for the formgrade group (gradbook_grader/hubformgrader.py), run as
        # the course's grader account (hub_grader.py), never root: started as root only to be put in the control
        # groups delegated to the account (on cgroup v2 only root may), it becomes the account before it runs
        "name": course,
        "url": f"http://127.0.0.1:{s['formgrader_port']}",
        "command": [s["python"], "-m", "gradbook_grader.hubformgrader", "--user", s["grader"], *s["formgrader_cgroups"], "--",
                    str(bin_dir / "jupyterhub-singleuser"),
                    f"--config={Path(__file__).with_name('formgrader_config.py')}",
                    f"--ServerApp.root_dir={s['course_root']}"],
        "cwd": s["course_root"],
        "environment": {"JUPYTERHUB_DEFAULT_URL": "/formgrader", "JUPYTER_CONFIG_PATH": str(root / "formgrader-config"),
                        "PATH": os.environ["PATH"]},
        "oauth_no_confirm": True,
    },
    {   # stops servers idle for cull_idle_seconds (jupyterhub-idle-culler)
        "name": "idle-culler",
        "command": [s["python"], "-m", "jupyterhub_idle_culler", f"--timeout={s['cull_idle_seconds']}"],
    },
]
