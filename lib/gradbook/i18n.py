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
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

DOMAIN = "gradbook"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
ENGLISH = "en"
CHINESE = "zh_CN"
LANGUAGES: dict[str, str] = {ENGLISH: "English", CHINESE: "简体中文"}  # code -> the language's own name
ENV = "GRADBOOK_LANG"

# What people type for each language (lower case, `-` read as `_`, any `.UTF-8` dropped).
_ALIASES = {
    "en": ENGLISH, "en_us": ENGLISH, "en_gb": ENGLISH, "english": ENGLISH, "c": ENGLISH, "posix": ENGLISH,
    "zh": CHINESE, "zh_cn": CHINESE, "zh_hans": CHINESE, "zh_hans_cn": CHINESE, "zh_sg": CHINESE,
    "chinese": CHINESE, "cn": CHINESE, "简体中文": CHINESE, "中文": CHINESE,
}

# nbgrader's placeholders in a student's notebook (autograder/nbgrader_config.py's ClearSolutions stubs): a
# translated release writes them in its language (gradbook_grader.translate.localize_placeholders).
NBGRADER_PLACEHOLDERS = ("YOUR ANSWER HERE", "YOUR CODE HERE")

_scoped: contextvars.ContextVar[str | None] = contextvars.ContextVar("gradbook_language", default=None)
_chosen: str | None = None  # set_language's choice for this process
_warned: set[str] = set()


class UnknownLanguage(ValueError):
    """A language gradbook has no catalogue for; the message lists those it has."""


def normalize(language: str) -> str:
    """The catalogue code for what a person wrote: ``zh``, ``zh-CN``, ``zh_Hans``, ``zh_CN.UTF-8`` -> ``zh_CN``."""
    key = str(language).strip().split(".")[0].split("@")[0].replace("-", "_").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    if key.startswith("en_"):
        return ENGLISH
    known = ", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())
    raise UnknownLanguage(f"unknown language {language!r}: gradbook speaks {known}; `zh` is short for zh_CN.")


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


@lru_cache(maxsize=None)
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of a language (English: none, the msgids are English)."""
    if language == ENGLISH:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[language], fallback=True)


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
    """Make matplotlib able to draw the current language (Chinese: the bundled CJK font); for code that
    is about to make a figure, such as the widgets."""
    if current() == CHINESE:
        from gradbook.fonts import use_cjk_font

        use_cjk_font()


def _use_cjk_font_if_plotting() -> None:
    """Chinese plot labels need a CJK font: register the bundled one once matplotlib is in use
    (never importing matplotlib for it: the grader's judge translates too)."""
    import sys

    if "matplotlib" in sys.modules and current() == CHINESE:
        from gradbook.fonts import use_cjk_font

        use_cjk_font()


__all__ = ["CHINESE", "ENGLISH", "LANGUAGES", "NBGRADER_PLACEHOLDERS", "N_", "UnknownLanguage", "_", "catalog", "current", "ngettext",
           "normalize", "notebook_language", "pgettext", "plot_font", "set_language", "tr", "using"]
