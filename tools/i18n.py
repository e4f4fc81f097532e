"""Keep the message catalogues current (Babel), for authors and translators.

    python tools/i18n.py update      # extract messages -> lib/gradbook/locale/gradbook.pot, merge into each .po
    python tools/i18n.py compile     # each lib/gradbook/locale/<lang>/LC_MESSAGES/gradbook.po -> .mo (committed)
    python tools/i18n.py notebooks   # solutions/i18n/<lang>/NN-topic.po: one entry per Markdown cell and code comment
    python tools/i18n.py check       # every message in the code has a current translation, compiled (no update needed)

Two kinds of catalogue:

* the library's, domain ``gradbook``: every message marked ``_()``, ``N_()``, ``ngettext()`` or
  ``tr()`` in lib/gradbook/, in the grader's student-facing modules, and in the chapters' code
  cells (``tr("loss curve")``). The compiled .mo files are committed, so an install needs no
  build step and no Babel (`gradbook.i18n` reads them with the standard library's gettext).
* the chapters', one per chapter and language: the Markdown cells and the code cells' comments
  (`gradbook_grader.translate`).

After `update`, translate the new (empty) and fuzzy entries of the .po files, then `compile`.
"""

from __future__ import annotations

import io
import re
import string
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "lib" / "gradbook"
LOCALE = LIBRARY / "locale"
TEMPLATE = LOCALE / "gradbook.pot"
SOLUTIONS = ROOT / "solutions"
# The grader's modules whose messages a student reads (verdicts, notes in the graded notebook).
GRADER_MESSAGES = [ROOT / "autograder" / "gradbook_grader" / name for name in ("verdict.py", "execute.py")]
KEYWORDS = {"_": None, "N_": None, "tr": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
FIXED_DATE = datetime(2025, 1, 1, tzinfo=timezone.utc)  # no churn in the header on every run
_MAGIC = re.compile(r"^\s*[%!].*$", re.M)  # IPython magics and shell lines are not Python


def python_files() -> list[Path]:
    files = [p for p in sorted(LIBRARY.rglob("*.py")) if "__pycache__" not in p.parts]
    return files + [p for p in GRADER_MESSAGES if p.is_file()] + [ROOT / "workbook.py"]  # `lab --lang`'s lines


def _messages_in(code: str) -> Iterator[tuple[int, str | tuple[str, str], list[str], str | None]]:
    from babel.messages.extract import extract

    for lineno, message, comments, context in extract("python", io.BytesIO(code.encode("utf-8")),
                                                     keywords=KEYWORDS, comment_tags=("i18n:",)):
        yield lineno, message, comments, context  # context: pgettext's, where one word has two meanings


def extract_messages():  # -> babel.messages.catalog.Catalog
    """Every marked message of the library, the grader's student-facing modules and the chapters' code cells."""
    import nbformat
    from babel.messages.catalog import Catalog

    catalog = Catalog(project="gradbook", domain="gradbook", creation_date=FIXED_DATE, revision_date=FIXED_DATE,
                      msgid_bugs_address="", copyright_holder="gradbook", fuzzy=False)
    for path in python_files():
        where = path.relative_to(ROOT).as_posix()
        for lineno, message, comments, context in _messages_in(path.read_text(encoding="utf-8")):
            catalog.add(message, locations=[(where, lineno)], auto_comments=comments, context=context)
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code" or "tr(" not in cell.source:
                continue
            where = f"{path.relative_to(ROOT).as_posix()}#{cell.get('id')}"
            for lineno, message, comments, context in _messages_in(_MAGIC.sub("", cell.source)):
                catalog.add(message, locations=[(where, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    from gradbook.i18n import LANGUAGES

    return LANGUAGES[language].library_catalogue


def shown(path: Path) -> Path:
    """A catalogue's path as printed: from the repository's root when it lies there."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def languages() -> list[str]:
    """The languages of the table (lib/gradbook/locale/languages.json) that have catalogues: all but English."""
    from gradbook.i18n import translations

    return [language.code for language in translations()]


def read(path: Path, language: str | None = None):  # -> Catalog
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        return read_po(handle, locale=language)


def write(catalog, path: Path) -> None:  # noqa: ANN001
    from babel.messages.pofile import write_po

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        write_po(handle, catalog, width=100, sort_output=True, include_previous=True, ignore_obsolete=True)


def update() -> None:
    template = extract_messages()
    write(template, TEMPLATE)
    for language in languages():
        catalog = read(po_path(language), language) if po_path(language).is_file() else new_catalog(language)
        catalog.update(template, update_header_comment=False, update_creation_date=False)
        write(catalog, po_path(language))
        print(f"{shown(po_path(language))}: {len(untranslated(catalog))} to translate")


def new_catalog(language: str):  # -> babel.messages.catalog.Catalog
    """An empty catalogue for a language the table has just gained (`update` fills it with the messages)."""
    from babel.messages.catalog import Catalog

    return Catalog(locale=language, project="gradbook", domain="gradbook", creation_date=FIXED_DATE,
                   revision_date=FIXED_DATE, msgid_bugs_address="", copyright_holder="gradbook", fuzzy=False)


def compile_all() -> None:
    from babel.messages.mofile import write_mo

    for language in languages():
        catalog = read(po_path(language), language)
        with open(po_path(language).with_suffix(".mo"), "wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        print(f"compiled {shown(po_path(language).with_suffix('.mo'))}")


def update_notebooks(language_list: Iterable[str] = ()) -> None:
    import nbformat

    from gradbook_grader import translate

    wanted = list(language_list) or languages()  # a language the table has just gained gets its catalogs
    for language in wanted:
        for source_path in sorted(SOLUTIONS.glob("*.ipynb")):
            source = nbformat.read(source_path, as_version=4)
            path = translate.catalog_path(SOLUTIONS, source_path.stem, language)
            old = translate.read_catalog(path, language) if path.is_file() else None
            catalog = translate.update_catalog(source, old, language)
            translate.write_catalog(catalog, path)
            print(f"{path.relative_to(ROOT)}: {len(untranslated(catalog))} to translate")


def untranslated(catalog) -> list[str]:  # noqa: ANN001
    """The ids of entries with no translation, or a fuzzy one (which gettext does not use)."""
    found = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        if message.fuzzy or not all(strings):
            found.append(message.id if isinstance(message.id, str) else message.id[0])
    return found


def placeholders(text: str) -> list[str]:
    """The ``{name}`` fields of a message, in order (str.format's own parser; ``{{`` is a brace)."""
    try:
        return sorted(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)
    except ValueError:  # not a format string at all: its braces are text
        return []


def translated(catalog):  # noqa: ANN001, ANN201 - a Babel Catalog; yields (message, its ids, its translations)
    """Each translated message with its msgid forms and translations as tuples (a plural has several)."""
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, (tuple, list)) else (message.id,)
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        yield message, tuple(ids), tuple(strings)


def placeholder_problems(catalog) -> list[str]:  # noqa: ANN001
    problems = []
    for message, ids, strings in translated(catalog):
        want = placeholders(ids[-1])
        for text in strings:
            if text and sorted(set(placeholders(text))) != sorted(set(want)):
                problems.append(f"{ids[0]!r}: placeholders {sorted(set(want))} but the translation has "
                                f"{sorted(set(placeholders(text)))}")
    return problems


def not_translated(template, catalog) -> list[str]:  # noqa: ANN001
    """The messages the code marks now (`template`, freshly extracted) that `catalog` has no current translation
    for: absent, empty or fuzzy. Needs no `update` first: a new message is found the moment it is written."""
    found = []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id, context=message.context)
        strings = () if entry is None else entry.string if isinstance(entry.string, (tuple, list)) else (entry.string,)
        if entry is None or entry.fuzzy or not strings or not all(strings):
            found.append(message.id if isinstance(message.id, str) else message.id[0])
    return found


def compiled(catalog) -> bytes:  # noqa: ANN001
    from babel.messages.mofile import write_mo

    handle = io.BytesIO()
    write_mo(handle, catalog, use_fuzzy=False)
    return handle.getvalue()


def check() -> int:
    """Print what is missing and return 1 if anything is: a message of the code without a current translation,
    a translation whose placeholders differ, a .mo that is not the compiled .po (what students get)."""
    template = extract_messages()
    bad = 0
    for language in languages():
        if not po_path(language).is_file():
            print(f"{shown(po_path(language))}: missing (a language of the table): run `python tools/i18n.py update`")
            bad += 1
            continue
        catalog = read(po_path(language), language)
        missing = dict.fromkeys(not_translated(template, catalog) + untranslated(catalog))
        problems = [f"no current translation: {m!r}" for m in missing] + placeholder_problems(catalog)
        mo = po_path(language).with_suffix(".mo")
        if not missing and (not mo.is_file() or mo.read_bytes() != compiled(catalog)):
            problems.append(f"{shown(mo)} is not the compiled .po: run `python tools/i18n.py compile`")
        for problem in problems:
            print(f"{shown(po_path(language))}: {problem}")
        bad += len(problems)
    if bad:
        print("to fix: python tools/i18n.py update, translate the empty and fuzzy entries, python tools/i18n.py compile")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "autograder"))
    command = argv[0] if argv else ""
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "notebooks":
        update_notebooks(argv[1:])
    elif command == "check":
        return check()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
