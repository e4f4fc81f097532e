"""The course hub (`gradbook-grader hub`, issue 27) on 127.0.0.1 with a demo roster: real system accounts, PAM
logins, nbgrader's exchange, the formgrader service; the lifecycle across accounts and each trust boundary.

Needs root and useradd (the hub makes an account per person and starts each server as it): elsewhere it skips
and says so. The accounts get a random prefix and are deleted afterwards; the checkout's modes are put back.
"""

from __future__ import annotations

import json
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, checkout_lock, ignoring_sigint
from run_helpers import chapters_recorded_once, mistakes_proved_once

pytestmark = [pytest.mark.slow, pytest.mark.closes_checkout]

hub = pytest.importorskip("gradbook_grader.hub")
requests = pytest.importorskip("requests")

CHAPTER = "00-what-is-deep-learning"
DEADLINE = 600  # seconds: a server's first start on a busy 2-core machine; awaited as an event, never slept


def as_user(name: str, *command: str, settings: dict, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`command` run as the system account `name`, with a student server's environment (exchange, edition)."""
    account = pwd.getpwnam(name)
    env = {"HOME": account.pw_dir, "USER": name, "PATH": f"{Path(settings['python']).parent}:/usr/bin:/bin",
           "PYTHONPATH": f"{settings['edition']}/lib", "JUPYTER_CONFIG_PATH": f"{settings['root']}/student-config"}
    return subprocess.run(["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups",
                           "--", *command], env=env, cwd=cwd or account.pw_dir, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def course_hub():
    why = hub.why_not_here()
    if why:
        pytest.skip(why)
    # No other test reads the checkout while the hub has it closed; its edition takes the chapters' recorded checks
    # from the run's one recording and its release the mistakes proved once a run (run_helpers: shared with the
    # recorded-checks, student-edition and fresh-release tests).
    with checkout_lock(exclusive=True), chapters_recorded_once(), mistakes_proved_once():
        yield from _course_hub()


def _course_hub():
    from gradbook_grader.course import find_course
    from gradbook_grader.hub_checkout import reopen_recorded

    people = hub.demo_roster(prefix=f"gb{secrets.token_hex(2)}")
    root = Path(f"/srv/gradbook-hub-test-{secrets.token_hex(3)}")
    course = find_course(ROOT / "autograder")
    process, settings = None, None
    try:
        settings = hub.prepare(course, people, root, hub.free_ports(1)[0])
        from gradbook_grader.hub_grader import runtime_problem

        assert runtime_problem() is None  # prepare let every account reach this Python (pyenv in /root here)
        # What the hub starts must still stop on the SIGINT it sends them (test_lifecycle_and_boundaries, ignores_sigint).
        process = hub.start(settings, stdout=subprocess.DEVNULL, stderr=open(root / "state" / "hub.log", "w"),
                            preexec_fn=ignoring_sigint)
        base = f"http://127.0.0.1:{settings.port}"
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            assert process.poll() is None, (root / "state" / "hub.log").read_text()[-3000:]
            try:
                if requests.get(f"{base}/hub/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)  # the hub, its proxy and the formgrader service are still starting
        yield {"settings": settings.__dict__, "base": base, "people": {p.role + str(i): p for i, p in enumerate(people)},
               "by_role": people, "root": root, "course": course}
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        if settings is not None:  # its proxy, which a hub killed before it stopped it outlives (seen after a busy CI)
            subprocess.run(["pkill", "-f", f"configurable-http-proxy .*--port {settings.port} "], capture_output=True)
        for person in people:  # servers the hub left behind (it stops them on exit, this makes sure)
            subprocess.run(["pkill", "-KILL", "-u", person.name], capture_output=True)
        hub.remove_accounts(people)
        forget_students(course, [p.name for p in people if p.role == "student"])
        reopen_recorded(root / "state")
        for group in settings.formgrader_cgroups if settings is not None else []:
            _remove_group(Path(group))
        shutil.rmtree(root, ignore_errors=True)


def _remove_group(group: Path) -> None:
    """The formgrader's delegated control group, once its processes are gone (its sandboxes' groups first)."""
    try:
        for child in [p for p in group.iterdir() if p.is_dir()]:
            child.rmdir()
        group.rmdir()
    except OSError:
        pass  # already gone, or still busy: an empty group costs nothing


def forget_students(course, names: list[str]) -> None:
    """What the test's students left in the course (submissions, grades, feedback, receipts, gradebook rows)."""
    from gradbook_grader.gradebook import open_gradebook

    for folder in ("submitted", "autograded", "feedback", "collected"):
        for name in names:
            shutil.rmtree(course.root / folder / name, ignore_errors=True)
    with open_gradebook(course) as gradebook:
        for name in names:
            try:
                gradebook.remove_student(name)
            except Exception:  # noqa: BLE001 - a student the gradebook never saw
                pass


def formgrader_pids(settings: dict) -> list[str]:
    """The processes of this hub's formgrader (other hubs on the machine have other course folders)."""
    pattern = f"formgrader_config.py --ServerApp.root_dir={settings['course_root']}$"
    return subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True).stdout.split()


def ignores_sigint(pid: str) -> bool:
    """Whether the process ignores SIGINT (its SigIgn mask in /proc: bit N-1 for signal N)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    ignored = int(next(line.split()[1] for line in status if line.startswith("SigIgn:")), 16)
    return bool(ignored >> (signal.SIGINT - 1) & 1)


def person(hubinfo: dict, role: str, index: int = 0):
    return [p for p in hubinfo["by_role"] if p.role == role][index]


def login(hubinfo: dict, name: str, password: str) -> requests.Session:
    session = requests.Session()
    base = hubinfo["base"]
    session.get(f"{base}/hub/login", timeout=30)
    token = next(c.value for c in session.cookies if c.name == "_xsrf")
    session.post(f"{base}/hub/login", data={"username": name, "password": password, "_xsrf": token}, timeout=120)
    return session


def server_ready(hubinfo: dict, session: requests.Session, name: str) -> None:
    """Start the person's server (as their first login does) and wait until it answers."""
    base = hubinfo["base"]
    session.get(f"{base}/hub/spawn", timeout=120)
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        reply = session.get(f"{base}/user/{name}/api/status", timeout=30)
        if reply.status_code == 200 and "started" in reply.text:
            return
        if reply.status_code == 403:
            # The server is up, but this session has not been through its OAuth: the hub sends a browser there only
            # when the server was up before /hub/spawn answered (slower under load). A page's GET does it, as a
            # browser's first visit; the server's API never redirects to a log-in.
            session.get(f"{base}/user/{name}/lab", timeout=120)
            continue
        time.sleep(0.5)  # polling the hub for the spawn's end; the hub has no event to wait on from here
    pytest.fail(f"{name}'s server did not start")


def service(hubinfo: dict, session: requests.Session, method: str, path: str, body: dict | None = None) -> requests.Response:
    """A request to the formgrader service (through the hub's OAuth), with its XSRF token."""
    url = f"{hubinfo['base']}/services/{hubinfo['settings']['course']}/{path}"
    session.get(f"{hubinfo['base']}/services/{hubinfo['settings']['course']}/formgrader", timeout=120)
    token = next(c.value for c in session.cookies if c.name == "_xsrf" and (c.path or "").startswith("/services/"))
    return session.request(method, url, headers={"X-XSRFToken": token}, json=body, timeout=600)


def test_wrong_password_is_refused(course_hub: dict) -> None:
    student = person(course_hub, "student")
    session = login(course_hub, student.name, student.password + "x")
    assert session.get(f"{course_hub['base']}/hub/api/user", timeout=30).status_code in (401, 403)
    session = login(course_hub, student.name, student.password)
    assert session.get(f"{course_hub['base']}/hub/home", timeout=30).url.endswith("/hub/home")


def test_lifecycle_and_boundaries(course_hub: dict) -> None:
    settings, root = course_hub["settings"], course_hub["root"]
    course = settings["course"]
    exchange = root / "exchange" / course
    instructor, ta = person(course_hub, "instructor"), person(course_hub, "ta")
    s1, s2 = person(course_hub, "student", 0), person(course_hub, "student", 1)
    staff = login(course_hub, instructor.name, instructor.password)

    # a student cannot open the formgrader; the instructor and the TA can
    student = login(course_hub, s1.name, s1.password)
    refused = student.get(f"{course_hub['base']}/services/{course}/formgrader", timeout=120)
    assert refused.status_code == 403 or "Manage Assignments" not in refused.text
    page = staff.get(f"{course_hub['base']}/services/{course}/formgrader", timeout=120)
    assert page.status_code == 200 and "Manage Assignments" in page.text, page.text[:500]
    tas = login(course_hub, ta.name, ta.password)
    assert tas.get(f"{course_hub['base']}/services/{course}/formgrader", timeout=120).status_code == 200

    # the TA cannot change the course's configuration, run code or open a terminal through the formgrader
    config = (course_hub["course"].root / "nbgrader_config.py").read_bytes()
    put = service(course_hub, tas, "PUT", "api/contents/nbgrader_config.py",
                  {"type": "file", "format": "text", "content": "c.ClearSolutions.code_stub = {}\n"})
    assert put.status_code == 403, put.text
    assert service(course_hub, tas, "POST", "api/kernels", {"name": "python3"}).status_code == 403
    assert service(course_hub, tas, "DELETE", "api/contents/nbgrader_config.py").status_code == 403
    assert service(course_hub, tas, "POST", "api/terminals").status_code in (403, 404)
    assert (course_hub["course"].root / "nbgrader_config.py").read_bytes() == config
    # nor read the course secret through it, by any of the server's ways to a file
    secret = (course_hub["course"].root / ".gradbook-secret").read_bytes()
    for path in ("api/contents/.gradbook-secret", "files/.gradbook-secret", "nbconvert/html/.gradbook-secret",
                 "api/contents/.gradbook-secret?content=1&format=base64"):
        reply = service(course_hub, tas, "GET", path)
        assert reply.status_code in (403, 404), (path, reply.status_code)
        assert secret not in reply.content and secret.hex() not in reply.text, path

    # the formgrader runs as the grader account, not root; what that account may and may not do
    account = settings["grader"]  # the formgrader's system account
    pids = formgrader_pids(settings)
    assert pids and all(Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam(account).pw_uid for pid in pids), pids
    # the hub stops it gently with SIGINT (then SIGTERM after 30 s): it heeds it, though the hub was started ignoring it
    assert not any(ignores_sigint(pid) for pid in pids), pids
    for group in settings["formgrader_cgroups"]:  # put there by root before it became the account (cgroups.enter)
        members = (Path(group) / "cgroup.procs") if not Path(group, "cgroup.controllers").exists() else \
            (Path(group) / "gradbook-supervisor" / "cgroup.procs")
        assert set(pids) <= set(members.read_text().split()), (group, pids)
    checkout = course_hub["course"].root
    for attack in (["sh", "-c", f"echo x >> {checkout}/.gradbook-secret"],
                   ["sh", "-c", f"echo x >> {checkout}/nbgrader_config.py"],
                   ["mv", f"{checkout}/nbgrader_config.py", f"{checkout}/moved.py"],
                   ["rm", "-f", f"{checkout}/gradbook_grader/course.py"], ["mv", f"{checkout}/gradbook_grader", f"{checkout}/g"],
                   ["cat", f"{root}/state/jupyterhub_cookie_secret"], ["cat", f"{checkout.parent}/.git/HEAD"],
                   ["cat", f"{checkout.parent}/tests/conftest.py"], ["ls", f"{root}/home/{s1.name}"]):
        assert as_user(account, *attack, settings=settings).returncode != 0, attack
    assert (checkout / ".gradbook-secret").read_bytes() == secret and (checkout / "nbgrader_config.py").exists()
    readable = as_user(account, "sh", "-c", f"cat {checkout}/.gradbook-secret > /dev/null", settings=settings)
    assert readable.returncode == 0, readable.stderr  # what grading needs of the secret: reading it

    # the instructor releases; students fetch and submit as their own accounts
    released = service(course_hub, staff, "POST", f"formgrader/api/assignment/{CHAPTER}/release")
    assert released.status_code == 200 and json.loads(released.text).get("success"), released.text
    for s in (s1, s2):
        done = as_user(s.name, "nbgrader", "fetch_assignment", CHAPTER, settings=settings)
        assert done.returncode == 0, done.stderr
        done = as_user(s.name, "nbgrader", "submit", CHAPTER, settings=settings)
        assert done.returncode == 0, done.stderr

    # neither student lists or reads the other's submission, overwrites it, or reads the other's home
    ls = as_user(s2.name, "ls", str(exchange / "inbound"), settings=settings)
    assert ls.returncode != 0 and "Permission denied" in ls.stderr
    theirs = next(p for p in (exchange / "inbound").iterdir() if p.name.startswith(s1.name + "+"))
    notebook = theirs / f"{CHAPTER}.ipynb"
    assert as_user(s2.name, "cat", str(notebook), settings=settings).returncode != 0
    for attack in (["cp", "/dev/null", str(notebook)], ["mv", str(theirs), str(theirs) + "x"],
                   ["rm", "-rf", str(theirs)], ["mkdir", str(theirs / "x")]):
        assert as_user(s2.name, *attack, settings=settings).returncode != 0, attack
    assert notebook.exists()
    assert as_user(s2.name, "ls", f"{root}/home/{s1.name}", settings=settings).returncode != 0
    assert as_user(account, "cat", str(notebook), settings=settings).returncode == 0  # the grader collects it
    # nor does a student move the course's exchange folder aside (to put their own in its place)
    assert as_user(s2.name, "mv", str(exchange), f"{exchange}-x", settings=settings).returncode != 0

    # no student reads the answers, the course secret or the hub's state
    repo = course_hub["course"].root.parent
    for secret in (repo / "solutions" / f"{CHAPTER}.ipynb", repo / "autograder" / ".gradbook-secret",
                   repo / "lib" / "gradbook" / "checks" / "ch00" / "answers.py", root / "state" / "jupyterhub_cookie_secret",
                   root / "state" / "jupyterhub.sqlite"):
        assert secret.exists(), secret
        assert as_user(s1.name, "cat", str(secret), settings=settings).returncode != 0, secret
    assert as_user(s1.name, "git", "-C", str(repo), "log", settings=settings).returncode != 0

    # the instructor collects and grades (the sandbox, through nbgrader's autograde) and releases feedback
    collected = service(course_hub, staff, "POST", f"formgrader/api/assignment/{CHAPTER}/collect")
    assert json.loads(collected.text).get("success"), collected.text
    from gradbook_grader.arrival import read_receipt

    for s in (s1, s2):  # dated by their arrival in the exchange (collect.py's receipt), not by timestamp.txt
        receipt = read_receipt(course_hub["course"].root, s.name, CHAPTER)
        assert receipt is not None and receipt.inbound.startswith(f"{s.name}+{CHAPTER}+"), s.name
        assert receipt.arrived <= receipt.collected and f"{CHAPTER}.ipynb" in receipt.digests
    for s, grader in ((s1, staff), (s2, tas)):  # the instructor grades one, the TA the other
        graded = service(course_hub, grader, "POST", f"formgrader/api/submission/{CHAPTER}/{s.name}/autograde")
        assert json.loads(graded.text).get("success"), graded.text
    from gradbook_grader.gradebook import open_gradebook

    gradebook_file = course_hub["course"].root / "gradebook.db"  # the grader owns the course's gradebook
    assert gradebook_file.stat().st_uid == pwd.getpwnam(account).pw_uid
    with open_gradebook(course_hub["course"]) as gradebook:  # graded in the sandbox, into nbgrader's gradebook
        for s in (s1, s2):
            assert gradebook.find_submission(CHAPTER, s.name).max_score > 0
    for step in ("generate_feedback", "release_feedback"):
        done = service(course_hub, staff, "POST", f"formgrader/api/assignment/{CHAPTER}/{step}")
        assert json.loads(done.text).get("success"), done.text
    assert as_user(s2.name, "ls", str(exchange / "feedback"), settings=settings).returncode != 0
    released = sorted((exchange / "feedback").iterdir())
    assert len(released) == 2, released
    for page in released:  # each student's feedback: theirs and the grader's only, even by its name
        owner = next(s for s in (s1, s2) if page.stat().st_gid == pwd.getpwnam(s.name).pw_gid)
        other = s2 if owner is s1 else s1
        assert page.stat().st_mode & 0o777 == 0o640 and page.stat().st_uid == pwd.getpwnam(account).pw_uid
        assert as_user(other.name, "cat", str(page), settings=settings).returncode != 0, page
        assert as_user(owner.name, "cat", str(page), settings=settings).returncode == 0, page
    for s in (s1, s2):
        done = as_user(s.name, "nbgrader", "fetch_feedback", CHAPTER, settings=settings)
        assert done.returncode == 0, done.stderr
        pages = list((root / "home" / s.name / CHAPTER / "feedback").rglob("*.html"))
        assert len(pages) == 1, pages  # their own feedback, not the other's
        assert pages[0].stat().st_uid == pwd.getpwnam(s.name).pw_uid  # fetched by the student, into their home


def test_a_restart_does_not_release_the_unchanged_course_again(course_hub: dict) -> None:
    from gradbook_grader.hub_release import release_if_changed

    again = release_if_changed(course_hub["course"], course_hub["root"])
    assert not again.released and str(again.edition) == course_hub["settings"]["edition"]


def test_student_server_holds_no_hub_token_and_no_answers(course_hub: dict) -> None:
    settings = course_hub["settings"]
    s1 = person(course_hub, "student", 0)
    session = login(course_hub, s1.name, s1.password)
    server_ready(course_hub, session, s1.name)
    found = subprocess.run(["pgrep", "-u", s1.name, "-f", "jupyterhub-singleuser"], capture_output=True, text=True)
    pids = found.stdout.split()
    assert pids, "the student's server runs as the student's account"
    assert not ignores_sigint(pids[0]), "the hub stops a server with SIGINT first: the server heeds it"
    environ = Path(f"/proc/{pids[0]}/environ").read_bytes().split(b"\0")
    formgrader = formgrader_pids(settings)
    tokens = set()
    for pid in formgrader:
        for line in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            if line.startswith((b"JUPYTERHUB_API_TOKEN=", b"CONFIGPROXY_AUTH_TOKEN=")):
                tokens.add(line.split(b"=", 1)[1])
    proxy = subprocess.run(["pgrep", "-f", "configurable-http-proxy"], capture_output=True, text=True).stdout.split()
    for pid in proxy:
        for line in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            if line.startswith(b"CONFIGPROXY_AUTH_TOKEN="):
                tokens.add(line.split(b"=", 1)[1])
    assert tokens, "the formgrader's and the proxy's tokens were found"
    assert not any(token in line for token in tokens for line in environ)
    assert not any(line.startswith(b"CONFIGPROXY") for line in environ)
    # numpy's and torch's threads: as many as the server's CPU limit, not one per core of the machine
    threads = {line.split(b"=", 1)[0].decode(): line.split(b"=", 1)[1].decode() for line in environ
               if line.split(b"=", 1)[0].endswith(b"_NUM_THREADS")}
    assert threads == {name: str(max(1, int(settings["cpu_limit"]))) for name in
                       ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}, threads
    # the student's Python imports the student edition's library, whose checks are recordings
    probe = as_user(s1.name, "python", "-c", "import gradbook, gradbook.checks.ch00 as c; print(gradbook.__file__);"
                    " print(open(c.__file__).read())", settings=settings)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith(settings["edition"]), probe.stdout[:200]
    # nbgitpuller cloned the edition into the student's home on the first login, with no answers in it
    pulled = Path(f"{settings['root']}/home/{s1.name}/{Path(settings['edition']).name}")
    from gradbook_grader.hubspawner import pull_url

    api = pull_url(Path(settings["edition"]), "en").replace("/git-pull?", "/git-pull/api?")
    stream = session.get(f"{course_hub['base']}/user/{s1.name}{api}", timeout=300)  # what the pull page's script asks
    assert stream.status_code == 200, stream.text[-1000:]
    assert (pulled / "notebooks" / f"{CHAPTER}.ipynb").exists()
    assert not re.search(r"BEGIN SOLUTION|BEGIN HIDDEN TESTS", (pulled / "notebooks" / f"{CHAPTER}.ipynb").read_text())


BROWSER_CHAPTER = "01-tensors"  # the browser's own assignment: the tests above release another


def xsrf(context, path: str) -> str:
    """The _xsrf cookie a Jupyter server (a student's, or the formgrader's) set for its path."""
    cookies = [c for c in context.cookies() if c["name"] == "_xsrf" and path.startswith(c["path"].rstrip("/"))]
    return max(cookies, key=lambda c: len(c["path"]))["value"]


def browser_login(browser, base: str, who) -> tuple[object, object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/hub/login")
    page.fill("#username_input", who.name)
    page.fill("#password_input", who.password)
    page.click("#login_submit")
    return context, page


def post(context, base: str, prefix: str, path: str, **form: str) -> dict:
    """A POST to a Jupyter server of the hub as the browser's page would make it (its cookies and XSRF token)."""
    reply = context.request.post(f"{base}{prefix}/{path}", form=form,
                                 headers={"X-XSRFToken": xsrf(context, prefix + "/")}, timeout=600_000)
    assert reply.ok, (path, reply.status, reply.text()[:1000])
    return json.loads(reply.text())


def assignment_button(page, status: str, label: str):
    """The button `label` of BROWSER_CHAPTER's row in the Assignments tab's list of `status` assignments, once the
    list shows it (each click reloads the lists)."""
    from test_browser import REACTION_MS

    row = page.locator(f"#{status}_assignments_list .list_item", has_text=BROWSER_CHAPTER)
    button = row.locator("button", has_text=re.compile(f"^{label}$")).first
    button.wait_for(timeout=REACTION_MS)
    return button


def test_a_class_in_the_browser(course_hub: dict) -> None:
    """A student logs in, gets the chapters (nbgitpuller), runs a check (✔), submits; the instructor releases,
    collects, grades and releases feedback in the formgrader; the student fetches it; the student's attempt
    at the formgrader is refused. Screenshots in test-artifacts/hub-*.png."""
    from conftest import require
    from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, REACTION_MS
    from test_browser_checks import CELLS

    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    base, course = course_hub["base"], course_hub["settings"]["course"]
    s1, instructor = person(course_hub, "student", 0), person(course_hub, "instructor")
    formgrader = f"/services/{course}/formgrader"
    ARTIFACTS.mkdir(exist_ok=True)
    shots = []

    def shot(page, name: str) -> None:
        path = ARTIFACTS / f"hub-{name}.png"
        page.screenshot(path=str(path), full_page=False)
        shots.append(str(path))

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            student, page = browser_login(browser, base, s1)
            # the first login spawns the server and nbgitpuller opens the edition's first chapter
            page.wait_for_url(re.compile(r".*/lab/tree/gradbook-student/notebooks/00-.*"), timeout=DEADLINE * 1000)
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=REACTION_MS)
            page.wait_for_selector("text=/Python 3 \\(ipykernel\\) \\| Idle/", timeout=REACTION_MS)
            shot(page, "student-chapter")
            # a check in the student's server, as on a laptop: a new cell above the first, run
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Escape")
            page.keyboard.press("a")
            page.keyboard.press("Enter")
            page.keyboard.insert_text(CELLS[0] + "\n" + CELLS[1])
            page.keyboard.press("Shift+Enter")
            page.wait_for_selector("text=/\u2714 naive_relu: \\d+ cases passed/", timeout=REACTION_MS)
            shot(page, "student-check")

            # the student's formgrader: refused
            refused = page.goto(f"{base}{formgrader}")
            assert refused is not None and refused.status == 403
            shot(page, "student-formgrader-refused")

            staff, desk = browser_login(browser, base, instructor)
            desk.wait_for_url(re.compile(r".*/user/.*"), timeout=DEADLINE * 1000)
            desk.goto(f"{base}{formgrader}")
            desk.wait_for_selector("text=Manage Assignments", timeout=REACTION_MS)
            released = post(staff, base, formgrader, f"api/assignment/{BROWSER_CHAPTER}/release")
            assert released.get("success"), released

            # the student fetches and submits in JupyterLab's Assignments tab (nbgrader's lab extension), opened
            # from the Nbgrader menu, which offers the students nothing else
            user = f"/user/{s1.name}"
            page.goto(f"{base}{user}/lab")
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=REACTION_MS)
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
            offered = [label for label in page.locator(".lm-Menu-itemLabel").all_inner_texts() if label.strip()]
            assert offered == ["Assignment List"], offered  # the formgrader's and courses' entries: not there
            page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
            assignment_button(page, "released", "Fetch").click()
            assignment_button(page, "fetched", "Submit").click()
            assignment_button(page, "submitted", "Fetch Feedback").wait_for(timeout=REACTION_MS)
            shot(page, "student-assignments-submitted")

            for action in ("collect",):
                done = post(staff, base, formgrader, f"api/assignment/{BROWSER_CHAPTER}/{action}")
                assert done.get("success"), done
            graded = post(staff, base, formgrader, f"api/submission/{BROWSER_CHAPTER}/{s1.name}/autograde")
            assert graded.get("success"), graded
            for action in ("generate_feedback", "release_feedback"):
                done = post(staff, base, formgrader, f"api/assignment/{BROWSER_CHAPTER}/{action}")
                assert done.get("success"), done
            desk.goto(f"{base}{formgrader}/manage_submissions/{BROWSER_CHAPTER}")
            desk.wait_for_selector(f"text={s1.name}", timeout=REACTION_MS)
            shot(desk, "instructor-formgrader")

            page.locator("#refresh_assignments_list").click()  # the tab shows the feedback the formgrader released
            page.locator("#submitted_assignments_list .list_item", has_text=BROWSER_CHAPTER).get_by_text(
                "feedback available to fetch").wait_for(timeout=REACTION_MS)
            assignment_button(page, "submitted", "Fetch Feedback").click()
            page.locator("#submitted_assignments_list .list_item", has_text=BROWSER_CHAPTER).get_by_text(
                "view feedback").wait_for(timeout=REACTION_MS)
            pages = list((course_hub["root"] / "home" / s1.name / BROWSER_CHAPTER / "feedback").rglob("*.html"))
            assert len(pages) == 1, pages
            relative = pages[0].relative_to(course_hub["root"] / "home" / s1.name)
            page.goto(f"{base}{user}/files/{relative}")
            page.wait_for_selector("text=/Score|score/", timeout=REACTION_MS)
            shot(page, "student-feedback")

            # a student whose account reads Chinese gets the Chinese edition
            s2 = person(course_hub, "student", 1)
            assert s2.language == "zh_CN"
            _, chinese = browser_login(browser, base, s2)
            chinese.wait_for_url(re.compile(r".*/lab/tree/gradbook-student/notebooks/zh_CN/00-.*"),
                                 timeout=DEADLINE * 1000)
            chinese.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=REACTION_MS)
            shot(chinese, "student-chinese-chapter")
        finally:
            browser.close()
            print("screenshots: " + ", ".join(shots))
