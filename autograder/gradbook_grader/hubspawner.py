"""Each student's server on the course hub: their own account, their own control group, the student edition.

Runs inside the JupyterHub process (deploy/hub/jupyterhub_config.py names it). JupyterHub's LocalProcessSpawner
starts the server as the person's system account (setuid); this one adds
* a control group per server (cgroups.py: the same groups the grading sandbox uses) holding `mem_limit` and
  `cpu_limit`, which the LocalProcessSpawner itself only advertises;
* the student edition: its library first on PYTHONPATH (the instructor's, with the answers, is in the closed
  checkout), its chapters pulled into the home by nbgitpuller on every login (`default_url`), in the person's
  language: the roster's, else the browser's first choice;
* the environment JupyterHub gives a server and nothing of the hub's: no hub, proxy or service token.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlencode

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Unicode

from gradbook import i18n
from gradbook_grader import cgroups

MAX_PIDS = 512  # a student's server, its kernels and their threads


def browser_language(accept_language: str) -> str:
    """The table's language a browser asks for first (RFC 9110 Accept-Language, by weight): a tag gradbook
    speaks (`zh-CN`, `en-AU`), or its primary subtag (`zh-TW` reads the Chinese edition); English otherwise."""
    ranked = []
    for order, part in enumerate(accept_language.split(",")):
        tag, _, weight = part.strip().partition(";q=")
        try:
            ranked.append((-float(weight or 1), order, tag.strip()))
        except ValueError:
            continue
    for _weight, _order, tag in sorted(ranked):
        for spelling in (tag, tag.split("-")[0]):
            try:
                return i18n.normalize(spelling)
            except i18n.UnknownLanguage:
                continue
    return i18n.ENGLISH


def _edition_folder(language: str) -> str:
    """The edition's chapters in `language`: notebooks/ for the source's language, notebooks/<code>/ for another."""
    return "notebooks" if language == i18n.ENGLISH else f"notebooks/{language}"


def first_chapter(edition: Path, language: str) -> str:
    folder = _edition_folder(language)
    chapters = sorted(p.name for p in (edition / folder).glob("[0-9][0-9]-*.ipynb"))
    return f"{folder}/{chapters[0] if chapters else ''}"


def pull_url(edition: Path, language: str) -> str:
    """nbgitpuller's link: clone or update ~/<edition> from the edition's repository, then open a chapter."""
    return "/git-pull?" + urlencode({"repo": f"file://{edition}", "branch": "main",
                                     "urlpath": f"lab/tree/{edition.name}/{first_chapter(edition, language)}"})


class CourseSpawner(LocalProcessSpawner):
    settings_file = Unicode(os.environ.get("GRADBOOK_HUB_SETTINGS", ""), config=True,
                            help="the hub's settings (hub.py writes them)")

    _group: cgroups.Cgroup | None = None

    @property
    def settings(self) -> dict:
        return json.loads(Path(self.settings_file).read_text())

    def language(self) -> str:
        chosen = self.settings["languages"].get(self.user.name, "")
        if chosen:
            return chosen
        handler = getattr(self, "handler", None)
        return browser_language(handler.request.headers.get("Accept-Language", "") if handler is not None else "")

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        settings, language = self.settings, self.language()
        edition = settings["edition"]
        env["PYTHONPATH"] = str(Path(edition) / "lib")
        config = [str(Path(settings["root"]) / "student-config")]
        if i18n.LANGUAGES[language].cjk_font:
            config.append(str(Path(edition) / "jupyter" / "cjk-font"))
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(config)
        env["GRADBOOK_LANG"] = language
        # git reads a repository another account owns (the edition is root's) only where the system or global
        # configuration says it is safe: the hub's system configuration says so, and includes the machine's
        env["GIT_CONFIG_SYSTEM"] = str(Path(settings["root"]) / "student-config" / "gitconfig")
        # As many math-library threads as the server's CPU limit allows (not one per core of the machine), unless
        # the hub's configuration (`Spawner.environment`) says otherwise.
        for name, value in cgroups.thread_variables(float(self.cpu_limit or 1.0)).items():
            env.setdefault(name, value)
        return env

    def get_args(self) -> list[str]:
        args = super().get_args()
        language = i18n.LANGUAGES[self.language()]
        if language.lab_locale:  # JupyterLab's own menus in the student's language too, as `workbook.py lab --lang`
            args.append(f"--LabApp.app_settings_dir={Path(self.settings['root']) / 'student-config' / 'lab-settings' / language.code}")
        return args

    async def start(self):  # type: ignore[no-untyped-def]
        self.default_url = pull_url(Path(self.settings["edition"]), self.language())
        group, why = cgroups.create(int(self.mem_limit or 2 << 30), MAX_PIDS, float(self.cpu_limit or 1.0))
        if group is None:
            self.log.warning("%s's server runs without its memory and CPU limits: %s", self.user.name, why)
        self._group = group
        return await super().start()

    def make_preexec_fn(self, name: str):  # type: ignore[no-untyped-def]
        become, group = super().make_preexec_fn(name), self._group

        def preexec() -> None:  # in the child, before exec: into the group, then the person's account
            if group is not None:
                group.join()
            become()

        return preexec

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        if self._group is not None:
            self._group.destroy()
            self._group = None
