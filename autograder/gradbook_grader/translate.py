"""The chapters in other languages, from the one source per chapter and a translation catalog.

A chapter has one source, `solutions/NN-topic.ipynb` (English). Its translation into a language
is a gettext catalog, `solutions/i18n/<lang>/NN-topic.po`, with the cell's id as context
(``msgctxt``) of every entry: one entry per Markdown cell (its whole English text as ``msgid``)
and one per comment of a code cell (the comment's text after ``# `` as ``msgid``;
`gradbook_grader.comments`), so the same comment in two cells can be translated differently. A
translated notebook is the source with each Markdown cell's text and each comment's text replaced
by its entry's ``msgstr``; the code itself, grade ids, points and tests are the source's own, so
the two languages can never differ in what is graded. Comments inside a solution or hidden-test
region and nbgrader's delimiters have no entry: no student's notebook shows them.

An entry is found only for the cell's id AND its current English text, so an edited English cell
or comment has no translation until a translator updates its entry (`tools/i18n.py notebooks`
marks it fuzzy, with the old English beside it). Such a cell or comment stays English in the
translated notebook, `release` names it, and `tests/test_i18n_notebooks.py` fails until the entry
is translated.

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

from gradbook.i18n import ENGLISH, LANGUAGES, NBGRADER_PLACEHOLDERS, UnknownLanguage, _, normalize, translations, using

from gradbook_grader import comments

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog
    from nbformat import NotebookNode

CATALOGS = "i18n"  # under solutions/


def catalog_path(solutions: Path, assignment: str, language: str) -> Path:
    return solutions / CATALOGS / normalize(language) / f"{assignment}.po"


def translated_languages(solutions: Path) -> list[str]:
    """The languages a release writes besides English: those of the language table (gradbook.i18n.LANGUAGES)
    with chapter catalogs under solutions/i18n/<code>/. A folder there that the table lacks is an error."""
    root = solutions / CATALOGS
    folders = {path.name for path in root.iterdir() if path.is_dir() and any(path.glob("*.po"))} if root.is_dir() else set()
    unknown = sorted(folders - set(LANGUAGES))
    if unknown:
        raise UnknownLanguage(f"{root}: catalogs for {', '.join(unknown)}, which the language table lacks: add an entry to "
                              "lib/gradbook/locale/languages.json (docs/authoring.md, 'Adding a language') or name the "
                              f"folder by a language's code ({', '.join(LANGUAGES)})")
    return [language.code for language in translations() if language.code in folders]


def text_digest(text: str) -> str:
    """A short digest of a cell's English text: written beside each entry, so a reader of the catalog
    (and a diff) sees at once which cells changed."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def markdown_cells(nb: "NotebookNode") -> list["NotebookNode"]:
    """The cells a catalog translates: Markdown with text, in order."""
    return [c for c in nb.cells if _is_text(c)]


def _is_text(cell: "NotebookNode") -> bool:
    return cell.get("cell_type") == "markdown" and bool(cell.get("source", "").strip())


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


def code_cells(nb: "NotebookNode") -> list["NotebookNode"]:
    """The cells whose comments a catalog translates: code with at least one comment a student sees."""
    return [c for c in nb.cells if c.get("cell_type") == "code" and comments.texts(c.get("source", ""))]


@dataclass
class Translation:
    notebook: "NotebookNode"
    language: str
    # ids of cells left in English, wholly or in part (a missing, fuzzy or stale entry)
    untranslated: list[str] = field(default_factory=list)
    # per code cell id: each comment's English text -> its translation (what `localized_release` applies
    # to nbgrader's release of the cell, whose comments outside the solution regions are the source's)
    comments: dict[str, dict[str, str]] = field(default_factory=dict)


def read_catalog(path: Path, language: str) -> "Catalog":
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        return read_po(handle, locale=language, abort_invalid=True)


def _current(catalog: "Catalog | None", text: str, context: object) -> str | None:
    """The translation of `text` in the cell `context`, or None (no entry, fuzzy, empty)."""
    message = catalog.get(text, context=context) if catalog is not None else None
    return None if message is None or message.fuzzy or not message.string else str(message.string)


def translate(source: "NotebookNode", catalog: "Catalog | None", language: str) -> Translation:
    """The source with every Markdown cell and every code comment whose entry is translated (and not
    fuzzy) in `language`.

    The notebook is tagged `metadata.gradbook.language`; a cell or comment without a current
    translation keeps its English text, and its cell is listed in `untranslated`."""
    language = normalize(language)
    nb = copy.deepcopy(source)
    nb.metadata.setdefault("gradbook", {})["language"] = language
    result = Translation(nb, language)
    if language == ENGLISH:
        return result
    for cell in nb.cells:
        if _is_text(cell):
            text = _current(catalog, cell.source, cell.get("id"))
            if text is None:
                result.untranslated.append(str(cell.get("id")))
            else:
                cell.source = text
        elif cell.get("cell_type") == "code":
            english = comments.texts(cell.source)
            done = {t: text for t in english if (text := _current(catalog, t, cell.get("id"))) is not None}
            if len(done) < len(english):
                result.untranslated.append(str(cell.get("id")))
            if done:
                result.comments[str(cell.get("id"))] = done
                cell.source = comments.replace(cell.source, done)
    return result


def translate_assignment(solutions: Path, assignment: str, source: "NotebookNode", language: str) -> Translation:
    """`translate` with the assignment's catalog for `language` (every cell untranslated when it has none)."""
    path = catalog_path(solutions, assignment, language)
    catalog = read_catalog(path, normalize(language)) if path.is_file() else None
    return translate(source, catalog, language)


def update_catalog(source: "NotebookNode", catalog: "Catalog | None", language: str) -> "Catalog":
    """The catalog for `source`'s Markdown cells and code comments now: kept translations, new cells and
    comments untranslated, changed ones fuzzy with their old English (``#| msgid``) and old translation,
    removed ones dropped."""
    from babel.messages.catalog import Catalog

    template = Catalog(locale=None, project="gradbook", domain="chapters", fuzzy=False)
    for cell in source.cells:
        if _is_text(cell):
            template.add(cell.source, context=cell.get("id"), auto_comments=[
                f"cell {cell.get('id')}, English text sha256:{text_digest(cell.source)}"])
        elif cell.get("cell_type") == "code":
            for text in comments.texts(cell.source):  # one line of code comment: translate it as one line
                template.add(text, context=cell.get("id"), auto_comments=[f"cell {cell.get('id')}, code comment"])
    fresh = Catalog(locale=language, project="gradbook", domain="chapters", fuzzy=False)
    if catalog is not None:
        fresh = catalog
    fresh.update(template, no_fuzzy_matching=False, update_header_comment=False, update_creation_date=False)
    # Babel's fuzzy matching works on text alone; a changed cell keeps its id, so match by id first
    # (a code cell has an entry per comment: its changed comment is offered one of the cell's old ones).
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


__all__ = ["CATALOGS", "Translation", "catalog_path", "code_cells", "declare_language", "localize_placeholders", "markdown_cells", "read_catalog",
           "translate", "translate_assignment", "translated_languages", "update_catalog", "placeholder_variants", "write_catalog"]
