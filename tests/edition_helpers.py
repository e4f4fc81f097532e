"""A student edition's environment without the network: the distributions its pyproject.toml declares.

`declared_closure` follows the edition's own requirements (its dependencies, its `dev` extra with the
extras it names, the build requirements workbook.py installs) through the installed distributions'
metadata, transitively: the distributions, at this environment's versions, that its install command
would install. `link_closure` makes exactly those importable from a directory of links (and their
data files, such as JupyterLab's assets, under the new environment's prefix), so that the edition's
own `workbook.py` install runs with no package index (`PIP_NO_INDEX`) and anything the edition
uses but does not declare (nbgrader, the grader) is missing there, as on a student's machine.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10; pip vendors tomli, so it is always there
    from pip._vendor import tomli as tomllib


def declared_closure(pyproject: Path, build_requirements: list[str], extra: str = "dev") -> dict[str, Distribution]:
    """name -> installed distribution, for everything `pip install -e .[extra]` of `pyproject` needs."""
    project = tomllib.loads(pyproject.read_text())["project"]
    own, extras = canonicalize_name(project["name"]), project.get("optional-dependencies", {})
    todo = [(Requirement(r), "") for r in [*project["dependencies"], *extras[extra], *build_requirements]]
    own_done, seen, found = {extra}, set(), {}
    while todo:
        requirement, wanted_by = todo.pop()
        name = canonicalize_name(requirement.name)
        if name == own:  # the project's own extras: their requirements are the project's
            for more in sorted(requirement.extras - own_done):
                own_done.add(more)
                todo += [(Requirement(r), name) for r in extras[more]]
            continue
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            raise AssertionError(f"{requirement} (needed by {wanted_by or 'the edition'}) is not installed here") from None
        assert requirement.specifier.contains(dist.version, prereleases=True), (requirement, dist.version)
        found[name] = dist
        for line in dist.requires or []:
            needed = Requirement(line)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in requirement.extras or {""}):
                todo.append((needed, name))
    return found


def site_packages(venv: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


def link_closure(dists: dict[str, Distribution], site: Path, prefix: Path) -> int:
    """Link each distribution's top-level entries into `site`, and its data files (share/, etc/) into `prefix`;
    the number of links made."""
    site.mkdir(parents=True, exist_ok=True)
    made = 0
    for dist in dists.values():
        assert dist.files is not None, f"{dist.metadata['Name']} has no RECORD: cannot tell its files"
        for file in dist.files:
            if file.parts[0] == "..":
                real = Path(os.path.normpath(dist.locate_file(file)))
                relative = real.relative_to(sys.prefix) if real.is_relative_to(sys.prefix) else None
                if relative is None or relative.parts[0] not in ("share", "etc"):
                    continue  # scripts (bin/) are the old environment's: workbook.py runs `python -m`
                target = prefix / relative
            elif file.parts[0] == "__pycache__":
                continue
            else:
                real, target = Path(dist.locate_file(file.parts[0])), site / file.parts[0]
            if not target.is_symlink() and real.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(real)
                made += 1
        made += _scripts(dist, prefix)
    return made


def _scripts(dist: Distribution, prefix: Path) -> int:
    """The distribution's console scripts in the new environment, as pip writes them (`jupyter lab` runs
    `jupyter-lab`)."""
    scripts = [ep for ep in dist.entry_points if ep.group == "console_scripts"]
    folder = prefix / ("Scripts" if os.name == "nt" else "bin")
    for ep in scripts:
        module, _, attr = ep.value.partition(":")
        script = folder / ep.name
        script.write_text(f"#!{folder / 'python'}\nimport sys\nfrom {module} import {attr.split('.')[0]}\n"
                          f"sys.exit({attr}())\n")
        script.chmod(0o755)
    return len(scripts)
