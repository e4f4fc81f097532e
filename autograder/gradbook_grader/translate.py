"""The chapters in other languages, from the one source per chapter and a translation catalog.

A chapter has one source, `solutions/NN-topic.ipynb` (English). Its translation into a language
is a gettext catalog, `solutions/i18n/<lang>/NN-topic.po`: one entry per Markdown cell, with the
cell's id as context (``msgctxt``) and the cell's whole English text as ``msgid``. A translated
notebook is the source with each Markdown cell's text replaced by its entry's ``msgstr``; code
cells, grade ids, points and tests are the source's own, so the two languages can never differ
in what is graded.

An entry is found only for the cell's id AND its current English text, so an edited English cell
has no translation until a translator updates its entry (`tools/i18n.py notebooks` marks it
fuzzy, with the old English beside it). Such a cell stays English in the translated notebook,
`release` names it, and `tests/test_i18n_notebooks.py` fails until the entry is translated.

The language of a notebook is `metadata.gradbook.language` (`gradbook.i18n.notebook_language`);
`release` writes it into every student notebook, and the grader reads it from a submission.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gradbook.i18n import CHINESE, ENGLISH, LANGUAGES, NBGRADER_PLACEHOLDERS, _, normalize, using

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog
    from nbformat import NotebookNode

CATALOGS = "i18n"  # under solutions/


def catalog_path(solutions: Path, assignment: str, language: str) -> Path:
    return solutions / CATALOGS / normalize(language) / f"{assignment}.po"


def translated_languages(solutions: Path) -> list[str]:
    """The languages that have a catalog directory under solutions/i18n/ (never English, the source's)."""
    root = solutions / CATALOGS
    found = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.is_dir() and any(path.glob("*.po")):
            code = normalize(path.name)
            if code != ENGLISH and code in LANGUAGES:
                found.append(code)
    return found


def text_digest(text: str) -> str:
    """A short digest of a cell's English text: written beside each entry, so a reader of the catalog
    (and a diff) sees at once which cells changed."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def markdown_cells(nb: "NotebookNode") -> list["NotebookNode"]:
    """The cells a catalog translates: Markdown with text, in order."""
    return [c for c in nb.cells if c.get("cell_type") == "markdown" and c.get("source", "").strip()]


# A chapter's first code cell calls `start_chapter()`; a translated release names its language there.
_START_CHAPTER = re.compile(r"^(\s*)start_chapter\(\)", re.MULTILINE)


def declare_language(nb: "NotebookNode", language: str) -> int:
    """Write the notebook's language into its `start_chapter()` call (in place; returns how many calls).

    The kernel cannot read the notebook it runs (nbclient and nbconvert do not say which file it is),
    so the call carries the language of `metadata.gradbook.language` and the chapter speaks it
    wherever it is executed. English, the source's language, keeps the plain call."""
    language = normalize(language)
    if language == ENGLISH:
        return 0
    count = 0
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.source, n = _START_CHAPTER.subn(rf'\1start_chapter(language="{language}")', cell.source)
            count += n
    return count


def localize_placeholders(text: str, language: str) -> str:
    """`text` with nbgrader's English placeholders ("YOUR ANSWER HERE", "# YOUR CODE HERE") in `language`."""
    with using(normalize(language)):
        for placeholder in NBGRADER_PLACEHOLDERS:
            text = text.replace(placeholder, _(placeholder))
    return text


def placeholder_variants(text: str) -> set[str]:
    """`text` as every language releases it: a written answer left as released is unanswered in any of them."""
    return {text} | {localize_placeholders(text, language) for language in LANGUAGES}


@dataclass
class Translation:
    notebook: "NotebookNode"
    language: str
    untranslated: list[str] = field(default_factory=list)  # ids of cells left in English (missing, fuzzy, stale)


def read_catalog(path: Path, language: str) -> "Catalog":
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        return read_po(handle, locale=language, abort_invalid=True)


def translate(source: "NotebookNode", catalog: "Catalog | None", language: str) -> Translation:
    """The source with every Markdown cell whose entry is translated (and not fuzzy) in `language`.

    The notebook is tagged `metadata.gradbook.language`; cells without a current translation keep
    their English text and are listed in `untranslated`."""
    language = normalize(language)
    nb = copy.deepcopy(source)
    nb.metadata.setdefault("gradbook", {})["language"] = language
    result = Translation(nb, language)
    if language == ENGLISH:
        return result
    for cell in markdown_cells(nb):
        message = catalog.get(cell.source, context=cell.get("id")) if catalog is not None else None
        if message is None or message.fuzzy or not message.string:
            result.untranslated.append(str(cell.get("id")))
            continue
        cell.source = message.string
    return result


def translate_assignment(solutions: Path, assignment: str, source: "NotebookNode", language: str) -> Translation:
    """`translate` with the assignment's catalog for `language` (every cell untranslated when it has none)."""
    path = catalog_path(solutions, assignment, language)
    catalog = read_catalog(path, normalize(language)) if path.is_file() else None
    return translate(source, catalog, language)


def update_catalog(source: "NotebookNode", catalog: "Catalog | None", language: str) -> "Catalog":
    """The catalog for `source`'s Markdown cells now: kept translations, new cells untranslated,
    changed cells fuzzy with their old English (``#| msgid``) and old translation, removed cells dropped."""
    from babel.messages.catalog import Catalog

    template = Catalog(locale=None, project="gradbook", domain="chapters", fuzzy=False)
    for cell in markdown_cells(source):
        template.add(cell.source, context=cell.get("id"), auto_comments=[f"cell {cell.get('id')}, English text "
                                                                         f"sha256:{text_digest(cell.source)}"])
    fresh = Catalog(locale=language, project="gradbook", domain="chapters", fuzzy=False)
    if catalog is not None:
        fresh = catalog
    fresh.update(template, no_fuzzy_matching=False, update_header_comment=False, update_creation_date=False)
    # Babel's fuzzy matching works on text alone; a changed cell keeps its id, so match by id first.
    by_context = {m.context: m for m in getattr(fresh, "obsolete", {}).values() if m.context}
    for message in fresh:
        old = by_context.get(message.context)
        if message.id and not message.string and old is not None and old.string:
            message.string = old.string
            message.previous_id = [old.id]
            message.flags.add("fuzzy")
    fresh.obsolete.clear()
    return fresh


def write_catalog(catalog: "Catalog", path: Path) -> None:
    from babel.messages.pofile import write_po

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        write_po(handle, catalog, width=0, include_previous=True, omit_header=False, sort_output=False)


__all__ = ["CATALOGS", "CHINESE", "Translation", "catalog_path", "declare_language", "localize_placeholders", "markdown_cells", "read_catalog",
           "translate", "translate_assignment", "translated_languages", "update_catalog", "placeholder_variants", "write_catalog"]
