"""The student's language: what the checks, hints, widgets and plots say, through gettext.

    from gradbook.i18n import _, N_, ngettext, tr
    _("expected shape {want}, got {have}").format(want=..., have=...)   # in the library
    ax.set_title(tr("loss curve"))                                       # in a chapter's code cell

The messages are English in the code (the msgids) and translated through the message
catalogue `locale/<lang>/LC_MESSAGES/gradbook.mo` (gettext; the .po beside it is the source,
`tools/i18n.py` extracts, updates and compiles them). English is the fallback for anything
untranslated.

Which language, first that applies:

1. `using(lang)`, for a block: the grader judges a Chinese submission in Chinese without
   touching anything global (`judge(..., language=...)`);
2. `set_language(lang)`: `start_chapter(language=...)` calls it with the notebook's own language
   (`metadata.gradbook.language`, which `release` writes into every translated chapter's first cell);
3. `$GRADBOOK_LANG` (`workbook.py lab --lang zh` sets it; the grader sets it in the sandbox);
4. English.

Messages are kept in English where they are defined (a `Mistake`'s hint, a case's label: marked
with `N_` so that extraction finds them) and translated where they are shown, so one process
can judge in several languages.
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext
import json
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from collections.abc import Iterator, Mapping
from typing import Any

DOMAIN = "gradbook"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
TABLE = "languages.json"  # in LOCALE_DIR: the languages, one entry each (see Language)
ENGLISH = "en"  # the source's language: the msgids are English, so it has no catalogue
ENV = "GRADBOOK_LANG"


@dataclass(frozen=True)
class Language:
    """One entry of the language table (`locale/languages.json`): what every part of gradbook needs to
    speak a language. Adding a language is its catalogues and one entry there, no code."""

    code: str  # the gettext locale: names its catalogues and folders (zh_CN)
    name: str  # in itself (简体中文): what a student picks it by
    english_name: str  # (Simplified Chinese)
    short: str  # what `workbook.py lab --lang` is shown (zh)
    aliases: tuple[str, ...] = ()  # what else people type for it, normalised (lower case, `_` for `-`)
    any_region: bool = False  # `<short>_<region>` (en_AU) is this language too
    lab_locale: str | None = None  # JupyterLab's locale, from its language pack
    lab_language_pack: str | None = None  # the language pack's distribution on PyPI
    cjk_font: bool = False  # plots and the browser need the bundled CJK font (gradbook.fonts)

    @property
    def library_catalogue(self) -> Path:
        """The library's messages in this language (the compiled .mo lies beside it)."""
        return LOCALE_DIR / self.code / "LC_MESSAGES" / f"{DOMAIN}.po"

    def spellings(self) -> set[str]:
        """Every normalised spelling that means this language."""
        return {_key(self.code), _key(self.short), *(_key(alias) for alias in self.aliases)}


def _key(written: str) -> str:
    """What a person wrote, normalised: ``zh-CN.UTF-8`` -> ``zh_cn``."""
    return str(written).strip().split(".")[0].split("@")[0].replace("-", "_").lower()


@lru_cache(maxsize=None)
def _read_table(path: Path) -> dict[str, Language]:
    table = {}
    for code, entry in json.loads(path.read_text(encoding="utf-8")).items():
        if code.startswith("/"):  # "//": the table's own comment
            continue
        try:
            table[code] = Language(code=code, **{k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()})
        except TypeError as error:  # a field missing or misspelt
            raise ValueError(f"{path}: the entry {code!r}: {error} (the fields are Language's, gradbook/i18n.py)") from None
    return table


class _Table(Mapping[str, Language]):
    """`LANGUAGES`: code -> Language, read from the table in LOCALE_DIR when first used."""

    def _entries(self) -> dict[str, Language]:
        return _read_table(LOCALE_DIR / TABLE)

    def __getitem__(self, code: str) -> Language:
        return self._entries()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())

    def __repr__(self) -> str:
        return f"LANGUAGES({', '.join(self)})"


LANGUAGES: Mapping[str, Language] = _Table()


def translations() -> list[Language]:
    """The languages other than the source's English: those with catalogues to translate."""
    return [language for code, language in LANGUAGES.items() if code != ENGLISH]


# nbgrader's placeholders in a student's notebook (autograder/nbgrader_config.py's ClearSolutions stubs): a
# translated release writes them in its language (gradbook_grader.translate.localize_placeholders).
NBGRADER_PLACEHOLDERS = ("YOUR ANSWER HERE", "YOUR CODE HERE")

_scoped: contextvars.ContextVar[str | None] = contextvars.ContextVar("gradbook_language", default=None)
_chosen: str | None = None  # set_language's choice for this process
_warned: set[str] = set()


def lab_settings(language: Language, parent: Path) -> Path:
    """JupyterLab's app settings folder for `language` under `parent` (`--LabApp.app_settings_dir`): its
    overrides.json sets the lab's locale from the table, so a language's menus need no code."""
    folder = parent / language.code
    folder.mkdir(parents=True, exist_ok=True)
    overrides = {"@jupyterlab/translation-extension:plugin": {"locale": language.lab_locale}}
    (folder / "overrides.json").write_text(json.dumps(overrides, indent=2) + "\n", encoding="utf-8")
    return folder


class UnknownLanguage(ValueError):
    """A language gradbook has no catalogue for; the message lists those it has."""


def normalize(language: str) -> str:
    """The catalogue code for what a person wrote: ``zh``, ``zh-CN``, ``zh_Hans``, ``zh_CN.UTF-8`` -> ``zh_CN``."""
    key = _key(language)
    for code, entry in LANGUAGES.items():
        if key in entry.spellings():
            return code
    for code, entry in LANGUAGES.items():
        if entry.any_region and key.startswith(f"{_key(entry.short)}_"):
            return code
    raise UnknownLanguage(f"unknown language {language!r}: gradbook speaks {known_languages()}.")


def known_languages() -> str:
    """The languages, as a person may ask for them: ``en (English), zh (简体中文)``."""
    return ", ".join(f"{entry.short} ({entry.name})" for entry in LANGUAGES.values())


def set_language(language: str | None) -> None:
    """Choose the language for this process (None: back to $GRADBOOK_LANG, else English)."""
    global _chosen
    _chosen = None if language is None else normalize(language)
    _use_cjk_font_if_plotting()


@contextlib.contextmanager
def using(language: str | None) -> Iterator[str]:
    """Speak `language` inside the block (None: whatever applies outside it); yields the code."""
    code = current() if language is None else normalize(language)
    token = _scoped.set(code)
    try:
        yield code
    finally:
        _scoped.reset(token)


def current() -> str:
    """The language messages are translated into now (see the module docstring for the order)."""
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    if _chosen is not None:
        return _chosen
    return _from_environment()


def _from_environment() -> str:
    wanted = os.environ.get(ENV, "").strip()
    if not wanted:
        return ENGLISH
    try:
        return normalize(wanted)
    except UnknownLanguage as error:
        if wanted not in _warned:  # once: every message would say it again
            _warned.add(wanted)
            warnings.warn(f"${ENV}: {error} Using English.", stacklevel=3)
        return ENGLISH


def notebook_language(metadata: Mapping[str, Any] | None) -> str | None:
    """The language a notebook's metadata declares (``metadata.gradbook.language``), or None.

    None also for a language gradbook does not know: a notebook is untrusted input (a
    submission), and an unknown tag must not stop it being read."""
    section = metadata.get("gradbook") if isinstance(metadata, Mapping) else None
    value = section.get("language") if isinstance(section, Mapping) else None
    if not isinstance(value, str):
        return None
    try:
        return normalize(value)
    except UnknownLanguage:
        return None


def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of a language (English: none, the msgids are English)."""
    return _catalog(language, LOCALE_DIR)


@lru_cache(maxsize=None)
def _catalog(language: str, folder: Path) -> gettext.NullTranslations:
    if language == ENGLISH:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(folder), languages=[language], fallback=True)


def _(message: str) -> str:
    """`message` in the current language (itself when untranslated)."""
    return catalog(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for `n` things (Chinese has one form; English two)."""
    return catalog(current()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` in the current language, where the same English word means different things:
    ``pgettext("button", "step")`` (do one step) is not the axis label ``_("step")`` (a step's number)."""
    return catalog(current()).pgettext(context, message)


def N_(message: str) -> str:
    """Marks a message for extraction without translating it now: it is translated where it is shown."""
    return message


_EXTRACTED = (N_("YOUR ANSWER HERE"), N_("YOUR CODE HERE"))  # NBGRADER_PLACEHOLDERS, for the catalogue


def tr(message: str, /, **values: Any) -> str:
    """For the chapters' own cells: `message` translated, then filled in with `values` (str.format).

    ``tr("learned w = {w:.3f}", w=w)``: the catalogue holds the message with its placeholders,
    so a translation can put them where its language needs them. A translated label is usually
    a plot's, so the plots get the CJK font first when the language needs it."""
    text = _(message)
    _use_cjk_font_if_plotting()
    return text.format(**values) if values else text


def plot_font() -> None:
    """Make matplotlib able to draw the current language (Chinese: the bundled CJK font, as the table says); for code that
    is about to make a figure, such as the widgets."""
    if LANGUAGES[current()].cjk_font:
        from gradbook.fonts import use_cjk_font

        use_cjk_font()


def _use_cjk_font_if_plotting() -> None:
    """Chinese plot labels need a CJK font (the table's `cjk_font`): register the bundled one once matplotlib is in use
    (never importing matplotlib for it: the grader's judge translates too)."""
    import sys

    if "matplotlib" in sys.modules and LANGUAGES[current()].cjk_font:
        from gradbook.fonts import use_cjk_font

        use_cjk_font()


__all__ = ["ENGLISH", "LANGUAGES", "Language", "NBGRADER_PLACEHOLDERS", "N_", "UnknownLanguage", "_", "catalog", "current",
           "known_languages", "ngettext", "normalize", "translations", "notebook_language", "pgettext", "plot_font", "set_language", "tr", "using"]
