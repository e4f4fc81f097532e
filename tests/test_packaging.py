"""Packaging promises: environment.yml mirrors pyproject.toml, `import gradbook` stays free of
torch, the README, workbook.py and CI agree on the commands, and workbook.py gives students one
environment for both commands, their own copies of the chapters, and a JupyterLab without
nbgrader's instructor tools (the fresh-clone test at the end runs it for real)."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest
from conftest import await_jupyter, free_port, stop_jupyter
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10; pip vendors tomli, so it is always there
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
# conda-forge name -> PyPI name, where the two differ.
CONDA_TO_PYPI = {"pytorch": "torch"}


def parse_environment(text: str) -> dict[str, list[str]]:
    """Read environment.yml's subset of YAML: top-level keys holding "- item" lists, and one
    nested "- pip:" list. Anything else fails loudly rather than being misread."""
    env: dict[str, list[str]] = {"pip": []}
    section, pip_indent = "", None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if indent == 0:
            section, _, value = item.partition(":")
            env[section] = [value.strip()] if value.strip() else []
            pip_indent = None
        elif item == "- pip:":
            pip_indent = indent
        elif item.startswith("- ") and pip_indent is not None and indent > pip_indent:
            env["pip"].append(item[2:].strip())
        elif item.startswith("- ") and section:
            pip_indent = None
            env[section].append(item[2:].strip())
        else:
            raise AssertionError(f"environment.yml:{number}: cannot read {raw!r} (only '- item' lists are expected)")
    return env


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def declared_requirements() -> dict[str, SpecifierSet]:
    """Every requirement pyproject.toml declares: the dependencies and every extra."""
    project = pyproject()["project"]
    lines = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    requirements: dict[str, SpecifierSet] = {}
    for line in lines:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == "gradbook":
            continue  # dev = "gradbook[lab,grader]": the extras themselves are listed anyway
        requirements[canonicalize_name(requirement.name)] = requirement.specifier
    return requirements


# gradbook itself and the instructor's grader, its own distribution (autograder/pyproject.toml)
LOCAL_INSTALLS = ("-e .", "-e ./autograder")


def environment_requirements(env: dict[str, list[str]]) -> tuple[dict[str, SpecifierSet], list[str]]:
    """The requirements in environment.yml, under their PyPI names; plus a list of duplicates."""
    found: dict[str, SpecifierSet] = {}
    duplicates: list[str] = []
    for spec in env["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*([<>=!~,.\s\w*]*)", spec)
        assert match, f"environment.yml: cannot read the conda requirement {spec!r}"
        name = canonicalize_name(CONDA_TO_PYPI.get(match[1], match[1]))
        if name in {"python", "pip"}:
            continue
        duplicates += [name] if name in found else []
        found[name] = SpecifierSet(match[2].replace(" ", ""))
    for spec in env["pip"]:
        if spec in LOCAL_INSTALLS:
            continue
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        duplicates += [name] if name in found else []
        found[name] = requirement.specifier
    return found, duplicates


def test_environment_yml_mirrors_pyproject() -> None:
    env = parse_environment((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert set(LOCAL_INSTALLS) <= set(env["pip"]), f"environment.yml must install {LOCAL_INSTALLS} (pip: - -e …)"
    python = [spec for spec in env["dependencies"] if spec.startswith("python")]
    assert python == [f"python{pyproject()['project']['requires-python']}"]
    conda_names = [re.split(r"[<>=!~ ]", spec, maxsplit=1)[0] for spec in env["dependencies"]]
    assert "torch" not in conda_names, "conda-forge calls it pytorch"

    found, duplicates = environment_requirements(env)
    declared = declared_requirements()
    assert not duplicates, f"listed twice in environment.yml: {duplicates}"
    missing = {name: str(spec) for name, spec in declared.items() if name not in found}
    extra = sorted(set(found) - set(declared))
    differ = {name: (str(declared[name]), str(found[name])) for name in declared.keys() & found.keys() if declared[name] != found[name]}
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    assert not differ, f"versions differ (pyproject.toml, environment.yml): {differ}"


def test_environment_parser_reads_nested_pip_and_rejects_the_unexpected() -> None:
    text = "name: x\nchannels:\n  - conda-forge\ndependencies:\n  - a>=1  # note\n  - pip:\n      - b==2\n  - c\n"
    assert parse_environment(text) == {
        "pip": ["b==2"], "name": ["x"], "channels": ["conda-forge"], "dependencies": ["a>=1", "c"],
    }
    with pytest.raises(AssertionError, match="environment.yml:2"):
        parse_environment("dependencies:\n  numpy: 1\n")


def test_importing_gradbook_does_not_import_torch() -> None:
    assert importlib.util.find_spec("torch") is not None, "torch is a declared dependency; install it"
    probe = (
        "import json, sys\n"
        "import {modules}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))))\n"
    )
    lazy = "gradbook, gradbook.datasets, gradbook.datasets.mnist, gradbook.datasets.toy, gradbook.checks"
    # The probe itself must be able to see torch: importing it on purpose is detected.
    for modules, expect_torch in ((lazy, False), ("gradbook, torch", True)):
        result = subprocess.run(
            [sys.executable, "-c", probe.format(modules=modules)], capture_output=True, text=True, cwd=ROOT, timeout=300
        )
        assert result.returncode == 0, result.stderr
        loaded = json.loads(result.stdout)
        assert bool(loaded) == expect_torch, f"import {modules} loaded {loaded[:5]}"


def load_workbook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("workbook", ROOT / "workbook.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_commands() -> list[str]:
    """The lines of the ```bash block in the README's Quick start section, comments included."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## Quick start\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert section, "README.md needs a '## Quick start' section with the two commands"
    blocks = re.findall(r"```bash\n(.*?)```", section.group(1), flags=re.S)
    assert len(blocks) == 1, "Quick start should have exactly one ```bash block: the two commands"
    return [line.strip() for line in blocks[0].splitlines() if line.strip()]


def test_readme_commands_are_what_workbook_accepts() -> None:
    lines = readme_commands()
    argvs = [shlex.split(line, comments=True) for line in lines]
    assert [argv[:2] for argv in argvs] == [["python3", "workbook.py"]] * len(argvs)
    assert all(len(argv) == 3 for argv in argvs), f"each README command is one word: {lines}"
    assert sorted(argv[2] for argv in argvs) == sorted(load_workbook().COMMANDS)
    # The usage workbook.py prints shows the same lines, with the same explanations.
    usage = subprocess.run([sys.executable, "workbook.py"], capture_output=True, text=True, cwd=ROOT, timeout=60).stdout
    for line in lines:
        assert line in usage


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["--help"]])
def test_workbook_without_a_known_command_prints_usage_and_exits_2(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "workbook.py", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    assert "python3 workbook.py lab" in result.stdout and "python3 workbook.py test" in result.stdout


def shell_commands(path: Path) -> list[tuple[int, str]]:
    """(indent, command) for each non-blank, non-comment line of a shell script."""
    commands = []
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).rstrip()  # a comment, not the # of ${#array[@]}
        if line.strip():
            commands.append((len(line) - len(line.lstrip()), line.strip()))
    return commands


def test_ci_runs_the_readme_test_command_and_nothing_weaker() -> None:
    test_command = next(line.split("#")[0].strip() for line in readme_commands() if " test" in line)
    assert test_command == "python3 workbook.py test"
    commands = shell_commands(ROOT / ".ci" / "run")
    assert any(re.fullmatch(r"set -[a-z]*e[a-z]*( -o)?( pipefail)?", c) for _, c in commands), "CI must stop on errors (set -e)"
    suite_runs = [(indent, c) for indent, c in commands if "workbook.py" in c or "pytest" in c]
    # Exactly the README command: no -m/-k/--deselect, no `|| true`, not inside an if, and last.
    assert suite_runs == [(0, test_command)], f".ci/run runs the suite as {suite_runs}"
    assert commands[-1] == (0, test_command), "the test command must be the last thing CI runs (its exit status)"


# ---------------------------------------------------------------- workbook.py: one environment, the student's lab


def test_one_environment_serves_both_commands() -> None:
    workbook = load_workbook()
    extras = pyproject()["project"]["optional-dependencies"]
    # The dev extra, which the one install gets, holds what `lab` needs and what `test` needs.
    dev = {canonicalize_name(Requirement(r).name): Requirement(r) for r in extras["dev"]}
    assert dev["gradbook"].extras >= {"lab", "grader"} and {"pytest", "pytest-xdist"} <= set(dev)
    assert (workbook.ROOT, "[dev]") in workbook.EDITABLE
    installed = workbook.editable_projects()
    assert installed[0] == (workbook.ROOT, "[dev]")
    assert all((path / "pyproject.toml").is_file() for path, _ in installed)
    assert not inspect.signature(workbook.ensure_environment).parameters  # the same install whatever the command
    commands = workbook.install_commands(Path("python"))
    final = commands[-1]
    assert "--quiet" in final and "--no-build-isolation" in final and str(workbook.CONSTRAINTS) in final
    for path, extras in installed:
        assert f"{path}{extras}" in final


def test_the_build_backend_installed_in_the_venv_is_the_one_pyproject_asks_for() -> None:
    # With --no-build-isolation the venv's setuptools builds gradbook: it must satisfy build-system.requires,
    # which must be new enough for the SPDX license string (setuptools 77, PEP 639).
    workbook = load_workbook()
    (required,) = [Requirement(r) for r in pyproject()["build-system"]["requires"] if r.startswith("setuptools")]
    (installed,) = [Requirement(r) for r in workbook.BUILD_REQUIREMENTS if r.startswith("setuptools")]
    assert required.specifier.contains("77") and not required.specifier.contains("76.9")
    assert str(installed.specifier) == str(required.specifier)
    assert pyproject()["project"]["license"] == "MIT"


def test_building_gradbook_raises_no_deprecation_warning_of_ours(tmp_path: Path) -> None:
    build = ("import warnings, setuptools.build_meta as backend\n"
             "warnings.simplefilter('error')\n"
             "print(backend.prepare_metadata_for_build_editable(%r))\n" % str(tmp_path))
    result = subprocess.run([sys.executable, "-c", build], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning" not in result.stderr, result.stderr[-3000:]


def test_lab_as_root_allows_root_and_hides_the_instructor_tools(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    workbook = load_workbook()
    monkeypatch.setattr(workbook.os, "geteuid", lambda: 0, raising=False)
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/somewhere/else")
    args, env = workbook.lab_command(Path("python"), ["--port=9999"])
    assert args[-2:] == ["--port=9999", "--allow-root"] and f"--ServerApp.root_dir={workbook.WORK}" in args
    assert "--allow-root" in capsys.readouterr().out  # and it says so
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(workbook.STUDENT_JUPYTER_CONFIG), "/somewhere/else"]
    args, env = workbook.lab_command(Path("python"), ["--instructor"])
    assert "--instructor" not in args and f"--ServerApp.root_dir={workbook.ROOT}" in args
    # the instructor's: the course's directory first (its nbgrader_config.py for every nbgrader tool), no student view
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(workbook.COURSE), "/somewhere/else"]
    monkeypatch.setattr(workbook.os, "geteuid", lambda: 1000, raising=False)
    assert "--allow-root" not in workbook.lab_command(Path("python"), [])[0]


INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:menu", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader",
                      "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:assignment-list"}
STUDENT_PLUGINS = {"@jupyter/nbgrader:validate-assignment"}


def lab_page_config(env: dict[str, str]) -> dict:
    """The page config JupyterLab would serve with this environment (jupyterlab_server's own code)."""
    probe = ("import json\nfrom jupyter_core.paths import jupyter_path\n"
             "from jupyterlab_server.config import get_page_config\n"
             "print(json.dumps(get_page_config(jupyter_path('labextensions'), None)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_students_lab_disables_nbgraders_instructor_plugins_and_the_instructors_does_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_core.paths import jupyter_path

    # the lab extra (in dev) installs JupyterLab: its absence is a broken environment, not a reason to skip
    assert importlib.util.find_spec("jupyterlab_server") is not None, "jupyterlab is not installed: pip install -e '.[dev]'"

    # The plugin ids are nbgrader's own: a renamed plugin would otherwise silently reappear.
    shipped = "".join(p.read_text(errors="replace") for d in jupyter_path("labextensions")
                      for p in (Path(d) / "@jupyter" / "nbgrader" / "static").glob("*.js"))
    assert shipped, "nbgrader's labextension is not installed"
    for plugin in INSTRUCTOR_PLUGINS | STUDENT_PLUGINS:
        assert f'"{plugin}"' in shipped, plugin
    workbook = load_workbook()
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    own_config = {"JUPYTER_CONFIG_DIR": str(tmp_path / "config")}  # not this machine's ~/.jupyter
    student = lab_page_config(workbook.lab_command(Path("python"), [])[1] | own_config)
    instructor = lab_page_config(workbook.lab_command(Path("python"), ["--instructor"])[1] | own_config)
    assert INSTRUCTOR_PLUGINS <= set(student.get("disabledExtensions", []))
    assert not STUDENT_PLUGINS & set(student.get("disabledExtensions", []))
    assert not (INSTRUCTOR_PLUGINS | STUDENT_PLUGINS) & set(instructor.get("disabledExtensions", []))


def test_lab_copies_each_chapter_once_and_never_overwrites_the_students_work(tmp_path: Path) -> None:
    workbook = load_workbook()
    notebooks, work = tmp_path / "notebooks", tmp_path / "my-work"
    notebooks.mkdir()
    (notebooks / "00-a.ipynb").write_text("release 1 of chapter 0")
    (notebooks / "01-b.ipynb").write_text("release 1 of chapter 1")
    assert workbook.prepare_work(notebooks, work) == ["copied 00-a.ipynb, 01-b.ipynb from notebooks/ into my-work/"]
    (work / "00-a.ipynb").write_text("my answers")
    assert workbook.prepare_work(notebooks, work) == []  # nothing new: nothing said, nothing touched
    # A course update: chapter 0 corrected, chapter 2 added.
    (notebooks / "00-a.ipynb").write_text("release 2 of chapter 0")
    (notebooks / "02-c.ipynb").write_text("release 1 of chapter 2")
    messages = workbook.prepare_work(notebooks, work)
    assert messages[0] == "copied 02-c.ipynb from notebooks/ into my-work/"
    assert "notebooks/00-a.ipynb has changed" in messages[1] and "rename my-work/00-a.ipynb" in messages[1]
    assert (work / "00-a.ipynb").read_text() == "my answers"
    # The student takes the new release and keeps the old work beside it.
    (work / "00-a.ipynb").rename(work / "00-a-mine.ipynb")
    assert workbook.prepare_work(notebooks, work) == ["copied 00-a.ipynb from notebooks/ into my-work/"]
    assert (work / "00-a.ipynb").read_text() == "release 2 of chapter 0"
    assert (work / "00-a-mine.ipynb").read_text() == "my answers"
    assert workbook.prepare_work(notebooks, work) == []


def test_my_work_is_ignored_by_git() -> None:
    result = subprocess.run(["git", "check-ignore", "-q", "my-work/00-what-is-deep-learning.ipynb"], cwd=ROOT)
    assert result.returncode == 0, "my-work/ must be in .gitignore, so that git pull never touches it"


# ---------------------------------------------------------------- a fresh clone, as a student gets it


def copy_checkout(target: Path) -> None:
    """The files a clone of this working tree would have: tracked and new files, not ignored ones."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def offline(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """`env` with every package source out of reach: no index, no find-links, no pip config files."""
    empty = tmp_path / "no-packages"
    empty.mkdir(exist_ok=True)
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/",
                  "PIP_EXTRA_INDEX_URL": "", "PIP_FIND_LINKS": str(empty)}


@pytest.mark.slow(seconds=130)  # CI, idle: 127 s (installs the environment)
def test_fresh_clone_test_installs_once_then_lab_starts_offline(tmp_path: Path, capsys) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = tmp_path / "gradbook"
    copy_checkout(clone)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "VIRTUAL_ENV", "JUPYTER"))}
    env |= {"JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data")}  # nothing from this machine's ~/.jupyter

    # 1. The README's `test`: installs everything (quietly), then runs pytest (collecting one file: enough
    #    to show that pytest and the suite's imports work from the new environment).
    started = time.monotonic()
    test = subprocess.run([sys.executable, "workbook.py", "test", "-n", "0", "-q", "--co", "tests/test_packaging.py"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=1800)
    install_seconds = time.monotonic() - started
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    lines = test.stdout.splitlines()
    assert lines[0].startswith("gradbook: installing what `lab` and `test` need") and "about 2 minutes" in lines[0]
    assert lines[1].startswith("gradbook: installed in ") and "tests collected" in test.stdout
    noise = [line for line in lines + test.stderr.splitlines()
             if re.search(r"^(Collecting|Requirement already|Installing|Successfully)|Warning", line)]
    assert not noise, noise[:10]  # pip's chatter and warnings went to .venv/install.log

    # 2. `lab` with every package source out of reach: nothing to install, JupyterLab answers.
    port, token = free_port(), "t" + os.urandom(8).hex()
    lab = subprocess.Popen([sys.executable, "workbook.py", "lab", f"--ServerApp.port={port}",
                            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
                            "--ServerApp.open_browser=False"],
                           cwd=clone, env=offline(env, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, start_new_session=True)
    watchdog = threading.Timer(600, lab.kill)  # a safety net only: the wait below is for an event
    watchdog.start()
    base = f"http://127.0.0.1:{port}"
    try:
        said = await_jupyter(lab, port)
        status = json.loads(urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=60).read())
        assert "started" in status
        page = urllib.request.urlopen(f"{base}/lab?token={token}", timeout=60).read().decode()
        assert '"@jupyter/nbgrader:menu"' in page.split('"disabledExtensions"')[1].split("]")[0]
        with pytest.raises(urllib.error.HTTPError, match="404"):  # no formgrader for students
            urllib.request.urlopen(f"{base}/formgrader?token={token}", timeout=60)
    finally:
        stop_jupyter(lab, base, token)
        watchdog.cancel()
    output = said
    assert "installing" not in output  # the one environment was already complete
    if os.geteuid() == 0:
        assert "--allow-root" in output
    assert sorted(p.name for p in (clone / "my-work").glob("*.ipynb")) == sorted(
        p.name for p in (clone / "notebooks").glob("*.ipynb"))
    with capsys.disabled():
        print(f"\nfresh clone: `workbook.py test` installed and collected in {install_seconds:.0f} s")
    remove_in_background(clone)


def remove_in_background(path: Path) -> None:
    """Delete a directory tree without waiting: a whole environment (2 GB of small files) takes a minute or
    more to delete on a busy machine, and nothing in the test depends on it being gone."""
    if os.name == "posix":
        subprocess.Popen(["rm", "-rf", str(path)], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        shutil.rmtree(path, ignore_errors=True)

