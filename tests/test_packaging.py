"""Packaging promises: environment.yml mirrors pyproject.toml, `import gradbook` stays free of
torch, and the README, workbook.py and CI agree on the commands."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
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
        if spec == "-e .":
            continue
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        duplicates += [name] if name in found else []
        found[name] = requirement.specifier
    return found, duplicates


def test_environment_yml_mirrors_pyproject() -> None:
    env = parse_environment((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert "-e ." in env["pip"], "environment.yml must install gradbook itself (pip: - -e .)"
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
    assert sorted(argv[2] for argv in argvs) == sorted(load_workbook().PROFILES)
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
