"""Make lib/gradbook/fonts/NotoSansCJKsc-Regular-subset.otf: Noto Sans CJK SC cut to what the course uses.

    apt-get install fonts-noto-cjk           # development only: the source font
    python tools/subset_cjk_font.py          # after the Chinese catalogues change

    python tools/subset_cjk_font.py --source /path/to/NotoSansCJK-Regular.ttc   # another copy of it

Kept: every character the UI of a language with `cjk_font` in the language table
(lib/gradbook/locale/languages.json) shows: its catalogues (the library's messages, the chapters'
Markdown), the course docs a student opens (docs/*.md), the symbols the library prints (✔, ✘, ⓘ),
and JupyterLab's own language pack (the table's lab_language_pack, as installed in this environment); then all
6,763 hanzi of GB 2312 (a student's own Chinese text and labels render too), CJK and full-width
punctuation, and printable ASCII. The browser gets the same file (`fonts/custom.css`,
`fonts/lab.py`); why a subset and not the whole font: docs/architecture.md, "Plots and the UI". The subset is renamed (OFL 1.1 asks
a modified font to be distinguishable) and its licence ships beside it (`OFL.txt`).
`tests/test_i18n.py` checks that every character of the library's catalogue (what plots and
widgets show) is in the font; the chapters' characters are kept where Noto has them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_INDEX_SC = 2  # the collection's Simplified Chinese face (fontTools lists: JP, KR, SC, TC, HK, ...)
TARGET = ROOT / "lib" / "gradbook" / "fonts" / "NotoSansCJKsc-Regular-subset.otf"
FAMILY = "Noto Sans CJK SC Subset"


def gb2312_hanzi() -> str:
    """The 6,763 hanzi of GB 2312 (level 1, the 3,755 most common: rows 16-55; level 2: rows 56-87)."""
    chars = []
    for row in range(0xB0, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                chars.append(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # rows 55 and 87 end early
    return "".join(chars)


def cjk_languages() -> list:  # -> list[gradbook.i18n.Language]
    """The languages of the table whose text the font must draw."""
    from gradbook.i18n import LANGUAGES

    return [language for language in LANGUAGES.values() if language.cjk_font]


def language_pack_text() -> str:
    """Every translation in JupyterLab's language packs of those languages (their JSON catalogues), as installed."""
    return "".join(_language_pack_text(language.lab_language_pack, language.lab_locale)
                   for language in cjk_languages() if language.lab_language_pack)


def _language_pack_text(distribution: str, locale: str) -> str:
    import importlib.util
    import json

    spec = importlib.util.find_spec(distribution.replace("-", "_"))  # the distribution's module
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{distribution} is not installed: run `python3 workbook.py test --co` first")
    folder = Path(next(iter(spec.submodule_search_locations))) / "locale" / locale / "LC_MESSAGES"
    text: list[str] = []

    def strings(value: object) -> None:
        if isinstance(value, str):
            text.append(value)
        elif isinstance(value, list):
            for item in value:
                strings(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key:  # "" is the catalogue's header
                    strings(item)

    for path in sorted(folder.glob("*.json")):
        strings(json.loads(path.read_text(encoding="utf-8")))
    return "".join(text)


def catalogue_text(notebooks: bool = True) -> str:
    """The translations of the library's catalogues (what plots and widgets show), and of the chapters'."""
    from babel.messages.pofile import read_po

    text = []
    languages = cjk_languages()
    paths = [language.library_catalogue for language in languages]
    paths += [path for language in languages for path in (ROOT / "solutions" / "i18n" / language.code).glob("*.po")] \
        if notebooks else []
    for path in paths:
        with open(path, "rb") as handle:
            for message in read_po(handle):
                strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
                text.extend(s for s in strings if s)
    return "".join(text)


def docs_text() -> str:
    """The course docs `workbook.py lab` puts beside the chapters (the glossary, ...)."""
    return "".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md")))


def library_text() -> str:
    """What the library prints beside its messages (symbols such as ✔, ✘, ⓘ in its code, written as escapes)."""
    import ast

    text = []
    for path in sorted((ROOT / "lib" / "gradbook").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text.append("".join(c for c in node.value if ord(c) > 0x7F))
    return "".join(text)


def displayed_text() -> str:
    """What the CJK UI shows: the catalogues, the docs, the library's symbols, JupyterLab's language packs."""
    return catalogue_text() + docs_text() + library_text() + language_pack_text()


def wanted_characters() -> set[str]:
    ascii_printable = "".join(chr(c) for c in range(0x20, 0x7F))
    punctuation = "".join(chr(c) for c in range(0x3000, 0x3040)) + "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    extra = "·—–…“”‘’×→←↑↓²³⁴√≈≤≥±∞°©✔✘✎"
    return set(gb2312_hanzi() + displayed_text() + ascii_printable + punctuation + extra)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from fontTools import subset
    from fontTools.ttLib import TTFont

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help=f"Noto Sans CJK's collection (default {SOURCE})")
    parser.add_argument("--full", action="store_true", help="keep every character (to measure the whole face)")
    parser.add_argument("--target", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"no {args.source}: install it first (apt-get install fonts-noto-cjk), or name it with --source",
              file=sys.stderr)
        return 1
    font = TTFont(str(args.source), fontNumber=SOURCE_INDEX_SC)
    have = set(font.getBestCmap())
    chars = {chr(c) for c in have} if args.full else {c for c in wanted_characters() if ord(c) in have}
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False  # smaller; matplotlib renders with FreeType's auto-hinter anyway
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 16):
            names.setName(FAMILY, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 4:
            names.setName(f"{FAMILY} Regular", record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            names.setName("NotoSansCJKscSubset-Regular", record.nameID, record.platformID, record.platEncID,
                          record.langID)
    if "CFF " in font:  # the PostScript name inside the CFF table too
        cff = font["CFF "].cff
        cff.fontNames = ["NotoSansCJKscSubset-Regular"]
        top = cff.topDictIndex[0]
        top.FamilyName, top.FullName = FAMILY, f"{FAMILY} Regular"
    font.save(str(args.target))
    print(f"{args.target}: {len(chars)} characters, {args.target.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
