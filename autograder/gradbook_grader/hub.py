"""The course hub on one machine: JupyterHub for the course's roster (docs/course-hub.md).

`gradbook-grader hub [--demo] [--roster FILE] [--port N] [--root DIR]` sets up and starts, on 127.0.0.1:

* one system account per person of the roster (useradd; a home of its own, mode 0700; the password the
  roster gives, or a random one printed once), checked at login by PAM, the system's own authenticator;
* JupyterHub's groups and roles as nbgrader's JupyterHub guide has them: `formgrade-<course>` (instructors
  and TAs: may open the formgrader service), `nbgrader-<course>` (everyone in the course);
* the formgrader as a hub-managed service (hubformgrader.py: nbgrader's pages only, no kernels, no
  terminals, no file writes), reachable by the formgrade group only, run as its own unprivileged account
  (hub_grader.py);
* nbgrader's filesystem exchange under ROOT/exchange with the modes nbgrader needs and no more;
* the student edition (edition.py) as a git repository under ROOT, pulled into each student's server by
  nbgitpuller on login (their own changes kept), in the student's language; released again only when the
  course's sources changed (hub_release.py);
* each student's server as that student's account, in a control group of its own (memory, CPU), and
  jupyterhub-idle-culler stopping idle servers (hubspawner.py).

The hub runs as root because it must start each person's server as that person's account: the
LocalProcessSpawner's setuid, the way JupyterHub itself isolates users on one machine. (SystemdSpawner needs
systemd as PID 1, sudospawner needs sudoers rules that only root can write: both are root's set-up too.)
The formgrader does not: it runs as the course's grader account. The instructor's checkout holds the answers,
so the hub closes it to other accounts and opens to the grader only what grading needs (hub_checkout).
"""

from __future__ import annotations

import csv
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gradbook import i18n
from gradbook_grader.course import COURSE_ID, Course, GraderError
from gradbook_grader.hub_checkout import close_checkout, open_path_to_python, open_to_grader
from gradbook_grader.hub_grader import (delegate_cgroup, ensure_grader, join_student_groups, own_exchange,
                                        runtime_problem)
from gradbook_grader.hub_release import EDITION, release_if_changed

ROLES = ("instructor", "ta", "student")
NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")  # a portable system account name (useradd's NAME_REGEX)
MARK = "gradbook hub"  # the GECOS field of the accounts the hub made: others are never touched
PROXY_VERSION = "5.3.0"  # configurable-http-proxy, from the npm registry
DEFAULT_ROOT = Path("/srv/gradbook-hub")
CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "hub" / "jupyterhub_config.py"


@dataclass(frozen=True)
class Person:
    name: str
    role: str  # one of ROLES
    password: str
    language: str = ""  # a code of gradbook.i18n.LANGUAGES: the edition's language their server opens; "": the browser's
    generated: bool = False  # the password was made here (and is printed once), not given by the roster


def read_roster(path: Path) -> list[Person]:
    """The roster: a CSV file with a header `name,role[,password][,language]`, one person a line."""
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GraderError(f"the roster {path} cannot be read ({error}): give a CSV file with the header "
                          "name,role,password,language") from None
    people, problems = [], []
    for line, row in enumerate(rows, start=2):
        person = _person(row)
        if isinstance(person, str):
            problems.append(f"line {line}: {person}")
        else:
            people.append(person)
    names = [p.name for p in people]
    problems += [f"{n} is on the roster twice" for n in sorted({n for n in names if names.count(n) > 1})]
    if not problems and not any(p.role == "instructor" for p in people):
        problems.append("the roster has no instructor: the course needs one to release and grade")
    if problems:
        raise GraderError(f"the roster {path} was not used:\n  " + "\n  ".join(problems))
    return people


def _person(row: dict[str, str | None]) -> Person | str:
    """One roster line as a person, or what is wrong with it."""
    name, role = (row.get("name") or "").strip(), (row.get("role") or "").strip().lower()
    language, given = (row.get("language") or "").strip(), (row.get("password") or "").strip()
    code = _language(language)
    if not NAME.match(name):
        return f"{name!r} is not an account name (lower-case letters, digits, _ and -, starting with a letter, at most 31)"
    if role not in ROLES:
        return f"{name}'s role {role!r} is none of {', '.join(ROLES)}"
    if code is None:
        return f"{name}'s language {language!r} is none of {i18n.known_languages()} (or empty: the browser's)"
    return Person(name, role, given or secrets.token_urlsafe(9), code, not given)


def _language(written: str) -> str | None:
    """The table's code for a roster's language (`zh`, `zh_CN`, `中文`...); "" for none given (the browser's);
    None when gradbook lacks it."""
    if not written:
        return ""
    try:
        return i18n.normalize(written)
    except i18n.UnknownLanguage:
        return None


def demo_roster(prefix: str = "") -> list[Person]:
    """One instructor, one TA and two students (the second reading the first translation, Chinese), with fresh
    random passwords."""
    translated = next((language.code for language in i18n.translations()), "")
    people = [("instructor", "instructor", ""), ("ta", "ta", ""), ("student1", "student", ""),
              ("student2", "student", translated)]
    return [Person(f"{prefix}{name}", role, secrets.token_urlsafe(9), language, True) for name, role, language in people]


def why_not_here() -> str | None:
    """Why this machine cannot host the hub (not root, no useradd), or None."""
    if os.geteuid() != 0:
        return ("the course hub starts each person's server as that person's own system account, which only root "
                "can do: run it as root (`sudo python3 workbook.py hub --demo`, or in a container as root); for a "
                "class on Kubernetes see docs/course-hub.md")
    missing = [tool for tool in ("useradd", "userdel", "chpasswd", "git") if shutil.which(tool) is None]
    if missing:
        return f"the course hub needs {', '.join(missing)} (apt-get install passwd git)"
    return None


def ensure_account(person: Person, homes: Path, course: str) -> pwd.struct_passwd:
    """The person's system account (made if missing), its password set to the roster's; home mode 0700."""
    try:
        account = pwd.getpwnam(person.name)
        if MARK not in account.pw_gecos:
            raise GraderError(f"the system account {person.name} exists and was not made by the course hub: "
                              "rename the person in the roster (the hub never takes over an existing account)")
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--user-group", "--base-dir", str(homes), "--shell", "/bin/bash",
                        "--comment", f"{MARK} {course} {person.role}", person.name], check=True, capture_output=True)
        account = pwd.getpwnam(person.name)
    subprocess.run(["chpasswd"], input=f"{person.name}:{person.password}\n", text=True, check=True,
                   capture_output=True)
    os.chmod(account.pw_dir, 0o700)  # no one else reads a person's work
    return account


def remove_accounts(people: list[Person]) -> None:
    """Delete the hub's accounts of `people` (and their homes, and their own groups, which userdel keeps while
    the grader account is a member); accounts the hub did not make are left."""
    for person in people:
        try:
            account = pwd.getpwnam(person.name)
        except KeyError:
            continue
        if MARK not in account.pw_gecos:
            continue
        subprocess.run(["userdel", "--remove", "--force", person.name], capture_output=True)
        try:
            if grp.getgrgid(account.pw_gid).gr_name == person.name:
                subprocess.run(["groupdel", person.name], capture_output=True)
        except KeyError:
            pass  # userdel removed it


def prepare_exchange(root: Path, course: str) -> Path:
    """nbgrader's exchange for one course: what each step needs and no more.

    exchange/ 1777, root's (nbgrader's exchange insists on a root every account may write; sticky: no one
    renames or removes a folder not their own, so the course's folder stays the grader's); exchange/<course>/
    0755; outbound/ 0755 (released assignments, read by everyone); inbound/ 1733 (a student makes their own
    submission folder, cannot list the others' or rename or delete them: sticky); feedback/ 0711 (a student
    opens the files whose names, digests of their own submission, they know, and lists nothing). The course's
    folders are made root's here and given to the grader account (hub_grader.own_exchange)."""
    exchange = root / "exchange"
    modes = {exchange: 0o1777, exchange / course: 0o755, exchange / course / "outbound": 0o755,
             exchange / course / "inbound": 0o1733, exchange / course / "feedback": 0o711}
    for folder, mode in modes.items():
        folder.mkdir(exist_ok=True)
        os.chown(folder, 0, 0)
        os.chmod(folder, mode)
    return exchange


def check_reachable(root: Path) -> None:
    """Students' accounts must reach ROOT's exchange and edition: every folder above it traversable."""
    for folder in [root, *root.parents]:
        if not os.stat(folder).st_mode & 0o001:
            raise GraderError(f"{folder} cannot be entered by other accounts (mode {os.stat(folder).st_mode & 0o7777:o}):"
                              f" students could not reach the hub's exchange; choose a --root outside it "
                              f"(default {DEFAULT_ROOT})")


def ensure_proxy(cache: Path) -> Path:
    """configurable-http-proxy, installed from the npm registry once into `cache`; its executable."""
    found = shutil.which("configurable-http-proxy")
    if found:
        return Path(found)
    proxy = cache / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        if shutil.which("npm") is None:
            raise GraderError("the hub's proxy (configurable-http-proxy) comes from npm, which is not installed: "
                              "apt-get install nodejs npm (or npm install -g configurable-http-proxy)")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                               f"configurable-http-proxy@{PROXY_VERSION}"], capture_output=True, text=True)
        if done.returncode != 0 or not proxy.exists():
            raise GraderError(f"npm could not install configurable-http-proxy@{PROXY_VERSION}:\n{done.stderr[-2000:]}")
    return proxy


@dataclass(frozen=True)
class Settings:
    """What jupyterhub_config.py (deploy/hub/) reads: written as JSON into ROOT/state/settings.json."""

    course: str
    course_root: str  # the nbgrader course (autograder/): the formgrader's working directory
    root: str
    port: int  # the hub's address, http://127.0.0.1:PORT/
    hub_port: int  # the hub's own API, behind the proxy
    proxy_api_port: int
    formgrader_port: int
    python: str  # the environment of the hub, the formgrader and the students' servers
    proxy: str
    edition: str
    instructors: list[str]
    tas: list[str]
    students: list[str]
    languages: dict[str, str]
    grader: str  # the formgrader's system account (hub_grader.py)
    formgrader_cgroups: list[str]  # the control groups delegated to it (cgroups.delegate); [] for none
    mem_limit: str = "2G"
    cpu_limit: float = 1.0
    cull_idle_seconds: int = 3600


def student_config(root: Path, course: str) -> Path:
    """ROOT/student-config, on the JUPYTER_CONFIG_PATH of students' servers (and the formgrader's): where the
    exchange is; nbgrader's Assignments tab on (its Nbgrader menu opens it), its instructor tools off."""
    config = root / "student-config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG.with_name("hub_exchange.py"), config / "hub_exchange.py")
    exchange = ("c = get_config()  # noqa: F821\n"
                f"c.CourseDirectory.course_id = {course!r}\n"
                f"c.Exchange.root = {str(root / 'exchange')!r}\n")
    (config / "nbgrader_config.py").write_text(
        exchange + "import sys\n"
        f"sys.path.insert(0, {str(config)!r})  # hub_exchange.py: a submission readable by its owner only\n"
        "c.ExchangeFactory.submit = 'hub_exchange.PrivateSubmit'\n")
    (config / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": {
        "nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False,
        "nbgrader.server_extensions.assignment_list": True}}}, indent=1))
    # nbgrader's Nbgrader menu stays: with the formgrader, course-list and create-assignment plugins off, their
    # commands are not registered and the menu (and the command palette) offers the Assignment List alone
    (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {
        "@jupyter/nbgrader:create-assignment": True,
        "@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:course-list": True}}, indent=1))
    for language in i18n.translations():  # JupyterLab's own menus in each language (hubspawner.py's get_args)
        if language.lab_locale:
            i18n.lab_settings(language, config / "lab-settings")
    (config / "gitconfig").write_text(  # hubspawner.py: GIT_CONFIG_SYSTEM of the students' servers
        f"[include]\n\tpath = /etc/gitconfig\n[safe]\n\tdirectory = {root / EDITION}\n\tdirectory = {root / EDITION}/.git\n")
    formgrader = root / "formgrader-config"  # the same exchange; no other Jupyter settings
    formgrader.mkdir(exist_ok=True)
    (formgrader / "nbgrader_config.py").write_text(
        exchange + "import sys\n"
        f"sys.path.insert(0, {str(config)!r})  # hub_exchange.py: each feedback file readable by its student only\n"
        "c.ExchangeFactory.release_feedback = 'hub_exchange.PrivateFeedback'\n")
    for path in [config, config / "labconfig", *config.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return config


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (the OS's choice), all different."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def prepare(course: Course, people: list[Person], root: Path, port: int) -> Settings:
    """Everything the hub needs under ROOT, the accounts and the closed checkout; the settings written."""
    why = why_not_here()
    if why:
        raise GraderError(why)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    check_reachable(root)
    state = root / "state"  # the hub's database, cookie secret, tokens: root's only
    state.mkdir(exist_ok=True)
    os.chmod(state, 0o700)
    homes = root / "home"
    homes.mkdir(exist_ok=True)
    os.chmod(homes, 0o755)
    name = COURSE_ID
    close_checkout(course.root.parent, state / "checkout-modes.json")
    prepare_exchange(root, name)
    student_config(root, name)
    edition = release_if_changed(course, root).edition  # only when the course's sources changed
    for person in people:
        ensure_account(person, homes, name)
    students = [p.name for p in people if p.role == "student"]
    opened = open_path_to_python(state / "python-modes.json")
    if opened:
        print(f"course hub: every account may now pass through {', '.join(opened)} (o+x: nothing listed) to run "
              f"this environment's Python ({sys.base_prefix}); the hub's records put the modes back", file=sys.stderr)
    problem = runtime_problem()
    if problem:
        print(f"course hub: WARNING: {problem}", file=sys.stderr)
    grader = ensure_grader(root)
    open_to_grader(course.root.parent, course.root, grader.pw_uid, grader.pw_gid, state / "checkout-owners.json")
    own_exchange(root / "exchange" / name, grader)
    join_student_groups(students)
    hub_port, proxy_api_port, formgrader_port = free_ports(3)
    settings = Settings(
        course=name, course_root=str(course.root), root=str(root), port=port, hub_port=hub_port,
        proxy_api_port=proxy_api_port, formgrader_port=formgrader_port, python=sys.executable,
        proxy=str(ensure_proxy(Path.home() / ".cache" / "gradbook" / "hub-proxy")), edition=str(edition),
        instructors=[p.name for p in people if p.role == "instructor"], tas=[p.name for p in people if p.role == "ta"],
        students=students, languages={p.name: p.language for p in people}, grader=grader.pw_name,
        formgrader_cgroups=delegate_cgroup(root, grader))
    path = state / "settings.json"
    path.write_text(json.dumps(settings.__dict__, indent=1))
    os.chmod(path, 0o600)
    return settings


def hub_command(settings: Settings) -> list[str]:
    return [settings.python, "-m", "jupyterhub", "-f", str(CONFIG)]


def hub_environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    env["GRADBOOK_HUB_SETTINGS"] = str(Path(settings.root) / "state" / "settings.json")
    env["PATH"] = os.pathsep.join([str(Path(settings.python).parent), env.get("PATH", "/usr/bin:/bin")])
    return env


def start(settings: Settings, **popen: object) -> subprocess.Popen:
    """The hub, started in ROOT/state (its database and cookie secret are written there)."""
    return subprocess.Popen(hub_command(settings), cwd=Path(settings.root) / "state", env=hub_environment(settings),
                            **popen)  # type: ignore[call-overload]


def print_people(people: list[Person], port: int) -> None:
    """The hub's address and who may log in; the passwords made here, once (the roster's own are not repeated)."""
    print(f"course hub: http://127.0.0.1:{port}/  (Ctrl+C stops it)")
    for person in people:
        secret = person.password if person.generated else "(the roster's)"
        language = person.language or "the browser's"
        print(f"  {person.role:<10} {person.name:<16} password: {secret}  language: {language}")


def main(course: Course, roster: Path | None, demo: bool, port: int, root: Path) -> int:
    if (roster is None) == (not demo):
        raise GraderError("give the class: --roster FILE (name,role,password,language) or --demo")
    people = demo_roster() if demo else read_roster(roster)  # type: ignore[arg-type]
    settings = prepare(course, people, root, port)
    print_people(people, port)
    hub = start(settings)
    try:
        return hub.wait()
    except KeyboardInterrupt:
        hub.terminate()
        return hub.wait()
