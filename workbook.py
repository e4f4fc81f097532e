#!/usr/bin/env python3
"""Set up and run gradbook with one command (standard library only; Windows, macOS, Linux).

    python3 workbook.py lab     # open the workbook in JupyterLab
    python3 workbook.py test    # run the whole test suite

The first command you run installs everything both commands need into `.venv/`
(once, about 2 minutes, needs the network); after that both work offline. The
install runs again only when pyproject.toml or the pins change. Extra arguments
go to JupyterLab or pytest.

`lab` opens your own copies of the chapters, in `my-work/`: each chapter is copied
there from `notebooks/` once, and never overwritten, so `git pull` can bring course
updates without touching your work (`lab` says when a chapter you have has changed).
`lab --instructor` opens the whole repository instead, with nbgrader's instructor
tools (the Nbgrader menu, Create Assignment, Formgrader) shown, working on the course in
autograder/ (its nbgrader_config.py), as do `nbgrader` commands in the lab's terminals. `lab --lang CODE` opens the
chapters in another language: the checks, hints and plots, and JupyterLab itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# The languages (`--lang`) are the library's table, gradbook/locale/languages.json, read by gradbook.i18n: standard
# library only, so it works before .venv exists (importing `gradbook` loads no submodule).
sys.path.insert(0, str(ROOT / "lib"))
from gradbook import i18n  # noqa: E402
VENV = ROOT / ".venv"
STAMP = VENV / ".gradbook-installed"
INSTALL_LOG = VENV / "install.log"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
# What `pip install -e` gets, as (project directory, extras): the library with every extra that
# `lab` and `test` need, and the instructor's grader when this checkout has it. One list, one
# environment, one stamp: whichever command runs first installs everything for both.
EDITABLE: list[tuple[Path, str]] = [
    (ROOT, "[dev]"),
    (ROOT / "autograder", ""),
]
# The build backend pyproject.toml asks for, installed into .venv so that a later reinstall
# builds without reaching the package index (pip's build isolation would fetch it again).
BUILD_REQUIREMENTS = ["pip>=24", "setuptools>=77"]
# Jupyter config for the students' JupyterLab: nbgrader's instructor tools hidden, Validate kept.
STUDENT_JUPYTER_CONFIG = ROOT / "jupyter" / "student"
# The nbgrader course. Every nbgrader tool in the lab (the formgrader, Create Assignment, the course list, a
# terminal's `nbgrader`) reads nbgrader_config.py from the directory it starts in and from Jupyter's config
# path: the course's directory on that path makes them all find it, whatever folder the lab serves.
COURSE = ROOT / "autograder"
NOTEBOOKS = ROOT / "notebooks"  # the chapters as released (git keeps them current)
WORK = ROOT / "my-work"  # the student's own copies (git ignores them)
COPIED = ".gradbook-copied.json"  # in WORK: which release of each chapter was copied
DOCS = ROOT / "docs"
STUDENT_DOCS = ["glossary.md"]  # the docs the chapters link to (`docs/glossary.md`), copied to WORK/docs/
COMMANDS = {"lab": "open the workbook in JupyterLab", "test": "run the whole test suite"}
# The instructor's: `hub` runs `gradbook-grader hub` (the course hub, as root; docs/course-hub.md).
INSTRUCTOR_COMMANDS = {"hub": "the course hub (JupyterHub) for a roster"}
# `lab --lang X`: the chapters from notebooks/<code>/ (English: notebooks/ itself), GRADBOOK_LANG for the
# checks and plots (gradbook.i18n), and JupyterLab's own language: the table's lab_locale, written to
# LAB_SETTINGS/<code>/overrides.json (an app settings folder of JupyterLab's; its language pack is in the lab extra).
LAB_SETTINGS = VENV / "lab-settings"
# A language with `cjk_font` in the table: a Jupyter config folder that serves the bundled CJK font to the browser
# (gradbook.fonts.lab), so the UI renders on a machine without a system CJK font.
CJK_FONT_CONFIG = ROOT / "jupyter" / "cjk-font"
EXPECTED_INSTALL = "about 2 minutes"
EXPECTED_SUITE = "about 15 minutes on 2 cores"  # measured: 14 min 31 s to 15 min 34 s, 3,337-3,402 tests, idle 2-core AMD EPYC (2026-12-06)
# The instructor's repository has the grader; the student edition (`gradbook-grader release --student-edition`)
# has neither it nor its tests, and `test` runs the library's own tests there.
INSTRUCTOR = (ROOT / "autograder" / "pyproject.toml").is_file()
EXPECTED_STUDENT_TESTS = "about 4 minutes on 2 cores"  # measured: 7 min 13 s on a 2-core machine beside other work


def say(message: str) -> None:
    print(f"gradbook: {message}", flush=True)


_speaking = i18n.ENGLISH  # `lab --lang X`: what `lab` says, in that language (the library's catalogue, gradbook.po)


def _(message: str) -> str:
    """`message` in the language `lab --lang` asked for (the library's gettext catalogue; the message itself
    when the catalogue lacks it)."""
    return i18n.catalog(_speaking).gettext(message)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def editable_projects() -> list[tuple[Path, str]]:
    """The entries of EDITABLE that exist in this checkout."""
    return [(path, extras) for path, extras in EDITABLE if (path / "pyproject.toml").is_file()]


def fingerprint() -> str:
    """Changes whenever what should be installed changes: the projects, their pyproject.toml, the pins."""
    digest = hashlib.sha256(repr(BUILD_REQUIREMENTS).encode())
    for path, extras in editable_projects():
        digest.update(f"{path.relative_to(ROOT)}{extras}".encode())
        digest.update((path / "pyproject.toml").read_bytes())
    digest.update(CONSTRAINTS.read_bytes())
    return digest.hexdigest()


def install_commands(python: Path) -> list[list[str]]:
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    projects = [arg for path, extras in editable_projects() for arg in ("-e", f"{path}{extras}")]
    return [
        [*pip, "--upgrade", *BUILD_REQUIREMENTS],
        [*pip, "--no-build-isolation", "-c", str(CONSTRAINTS), *projects],
    ]


def run_logged(commands: list[list[str]], log_path: Path) -> int:
    """Run the commands one after another with their output in `log_path`; one progress line meanwhile."""
    start = time.monotonic()
    live = sys.stdout.isatty()
    with open(log_path, "w", encoding="utf-8") as log:
        for command in commands:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            while True:
                try:
                    code = process.wait(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    if live:  # one line, rewritten in place
                        print(f"\rgradbook: installing ... {time.monotonic() - start:4.0f} s", end="", flush=True)
            if code != 0:
                break
    if live:
        print("\r" + " " * 40 + "\r", end="", flush=True)
    return code


def ensure_environment() -> Path:
    """The virtual environment with everything both commands need; installed once, then offline."""
    python = venv_python()
    wanted = fingerprint()
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return python
    say(f"installing what `lab` and `test` need into {VENV.name}/ ({EXPECTED_INSTALL} the first time; "
        f"needs the network once; the details go to {INSTALL_LOG.relative_to(ROOT)})")
    start = time.monotonic()
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    code = run_logged(install_commands(python), INSTALL_LOG)
    if code != 0:
        tail = INSTALL_LOG.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        sys.exit(f"gradbook: installing failed (pip exited with {code}; the whole log is in {INSTALL_LOG}). "
                 "Check the network connection, needed for the first install, and run the same command again.")
    STAMP.write_text(wanted)
    say(f"installed in {time.monotonic() - start:.0f} s; `lab` and `test` now work offline")
    return python


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare_work(notebooks: Path = NOTEBOOKS, work: Path = WORK) -> list[str]:
    """Copy each chapter that `work` lacks from `notebooks`, never overwriting one; return what to tell
    the student: the chapters copied, and those whose release changed since their copy was made."""
    work.mkdir(exist_ok=True)
    record_path = work / COPIED
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    copied, changed, other_language = [], [], []
    for source in sorted(notebooks.glob("*.ipynb")):
        target, digest = work / source.name, file_digest(source)
        if not target.exists():
            shutil.copyfile(source, target)
            record[source.name] = digest
            copied.append(source.name)
        elif notebook_language(target) not in (None, notebook_language(source)):
            other_language.append(source.name)  # the same chapter, copied earlier in the other language
        elif record.get(source.name) != digest:
            changed.append(source.name)
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True))
    messages = [_("copied {names} from {source}/ into {work}/").format(
        names=", ".join(copied), source=notebooks.name, work=work.name)] if copied else []
    if other_language:
        wanted = i18n.LANGUAGES[notebook_language(notebooks / other_language[0]) or i18n.ENGLISH]
        message = _("your copies of {names} in {work}/ are in another language: to work on a chapter in {language}, "
                    "rename your copy (your work stays in it) and run `workbook.py lab{flag}` again")
        messages.append(message.format(names=", ".join(other_language), work=work.name, language=wanted.name,
                                       flag="" if wanted.code == i18n.ENGLISH else f" --lang {wanted.short}"))
    changed_message = _("{source}/{name} has changed since your copy in {work}/ was made: to take the new version, "
                        "rename {work}/{name} (your work stays in it) and run lab again")
    messages += [changed_message.format(source=notebooks.name, name=name, work=work.name) for name in changed]
    return messages


def copy_docs(docs: Path = DOCS, work: Path = WORK) -> list[str]:
    """Put the course docs the chapters link to (STUDENT_DOCS) into `work`/docs/, where JupyterLab serves
    them: they are the course's, not the student's, so a changed doc replaces the copy."""
    target = work / docs.name
    updated = []
    for name in STUDENT_DOCS:
        source, copy = docs / name, target / name
        if source.is_file() and (not copy.is_file() or copy.read_bytes() != source.read_bytes()):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
            updated.append(name)
    return [_("copied {names} from {docs}/ into {target}/").format(
        names=", ".join(updated), docs=docs.name, target=f"{work.name}/{docs.name}")] if updated else []


def notebook_language(path: Path) -> str | None:
    """The language a released chapter is in (`metadata.gradbook.language`, English without one); None if
    the file cannot be read as a notebook (a student's broken copy is theirs to keep, not ours to judge)."""
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    return i18n.notebook_language(metadata) or i18n.ENGLISH


def take_language(rest: list[str]) -> tuple[str, list[str]]:
    """The language code `--lang X` (or `--lang=X`) asks for, English without one, and the other arguments."""
    language, others, args = i18n.ENGLISH, [], iter(rest)
    for arg in args:
        if arg == "--lang" or arg.startswith("--lang="):
            wanted = arg.partition("=")[2] if "=" in arg else next(args, "")
            try:
                language = i18n.normalize(wanted)
            except i18n.UnknownLanguage:
                sys.exit(f"gradbook: unknown language {wanted!r} for --lang: use one of {i18n.known_languages()}")
        else:
            others.append(arg)
    return language, others


def lab_command(python: Path, rest: list[str]) -> tuple[list[str], dict[str, str]]:
    """The JupyterLab command line and environment: the student's `my-work/`, or with `--instructor`
    in `rest` the whole repository with nbgrader's instructor tools; `--lang X`: in language X."""
    instructor = "--instructor" in rest
    language, rest = take_language([arg for arg in rest if arg != "--instructor"])
    args = [str(python), "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT if instructor else WORK}", *rest]
    env = dict(os.environ)
    config_path = [] if instructor else [str(STUDENT_JUPYTER_CONFIG)]
    entry = i18n.LANGUAGES[language]
    if language != i18n.ENGLISH:  # the kernels inherit GRADBOOK_LANG
        env[i18n.ENV] = language
    if entry.lab_locale:
        args.append(f"--LabApp.app_settings_dir={i18n.lab_settings(entry, LAB_SETTINGS)}")
    if entry.cjk_font:
        config_path.append(str(CJK_FONT_CONFIG))
    if instructor:  # the repository is served (the formgrader needs the course below the lab's root)
        config_path.insert(0, str(COURSE))
        say(_("instructor view: nbgrader's menu, Create Assignment and Formgrader are shown, on the course in "
              "{course}/").format(course=COURSE.relative_to(ROOT)))
    if config_path:  # config paths before .venv's own: the student view wins over what the packages enable
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            p for p in (*config_path, os.environ.get("JUPYTER_CONFIG_PATH", "")) if p)
    if getattr(os, "geteuid", lambda: -1)() == 0 and "--allow-root" not in rest:
        say(_("running as root (as in a container): starting JupyterLab with --allow-root"))
        args.append("--allow-root")
    return args, env


def test_command(python: Path, rest: list[str]) -> list[str]:
    if not rest and INSTRUCTOR:
        say(f"running the whole test suite ({EXPECTED_SUITE}; `test -m \"not slow\"` runs the quick part)")
    elif not rest:
        say(f"running the workbook's own tests: the library, its engines, data loaders and widgets "
            f"({EXPECTED_STUDENT_TESTS})")
    # Workers for every core unless told otherwise: the suite is sized for a 2-core machine.
    workers = [] if any(a.startswith("-n") for a in rest) else ["-n", "auto"]
    # A worker takes whole units (a module's shared fixture is built once, not on every worker) in the order
    # tests/conftest.py gives them: the hub first, then the longest first.
    order = [] if any(a.startswith("--dist") for a in rest) else ["--dist", "loadscope", "--no-loadscope-reorder"]
    # The slowest tests, printed at the end of every run: where the suite's time budget goes.
    slowest = [] if any(a.startswith("--durations") for a in rest) else ["--durations=25"]
    return [str(python), "-m", "pytest", *workers, *order, *slowest, *rest]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {**COMMANDS, **INSTRUCTOR_COMMANDS}:
        print(__doc__)
        print(f"`--lang` speaks {i18n.known_languages()}.")
        return 2
    global _speaking
    command, rest = argv[0], argv[1:]
    if command == "hub" and not INSTRUCTOR:
        sys.exit("gradbook: hub needs the course's own repository; this is the student edition")
    if command == "lab" and "--instructor" in rest and not INSTRUCTOR:
        sys.exit("gradbook: --instructor needs the course's own repository; this is the student edition")
    python = ensure_environment()
    if command == "lab":
        _speaking = take_language(rest)[0]  # what `lab` says from here on is in the language asked for
        if "--instructor" not in rest:
            for message in prepare_work(NOTEBOOKS if _speaking == i18n.ENGLISH else NOTEBOOKS / _speaking):
                say(message)
            for message in copy_docs():
                say(message)
            say(_("your notebooks are in {work}/: save with Ctrl+S, hand in the .ipynb files").format(work=WORK.name))
        args, env = lab_command(python, rest)
        return subprocess.call(args, cwd=ROOT, env=env)
    if command == "hub":  # the course hub, as root (docs/course-hub.md): the instructor's grader runs it
        return subprocess.call([str(python), "-m", "gradbook_grader.cli", "hub", *rest], cwd=ROOT)
    return subprocess.call(test_command(python, rest), cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
