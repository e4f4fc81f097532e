"""Make lib/gradbook/fonts/NotoSansCJKsc-Regular-subset.otf: Noto Sans CJK SC cut to what the course uses.

    apt-get install fonts-noto-cjk           # development only: the source font
    python tools/subset_cjk_font.py          # after the Chinese catalogues change

Kept: every character of the Chinese catalogues (the library's messages and the chapters'
Markdown), the 3,755 common hanzi of GB 2312 level 1 (a student's own Chinese label renders
too), CJK and full-width punctuation, and printable ASCII. The subset is renamed (OFL 1.1 asks
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


def gb2312_level1() -> str:
    """The 3,755 most common hanzi (GB 2312 level 1: rows 16-55)."""
    chars = []
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                chars.append(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # row 55 ends early
    return "".join(chars)


def catalogue_text(notebooks: bool = True) -> str:
    """The translations of the library's catalogues (what plots and widgets show), and of the chapters'."""
    from babel.messages.pofile import read_po

    text = []
    paths = [*(ROOT / "lib" / "gradbook" / "locale").glob("*/LC_MESSAGES/gradbook.po")]
    paths += [*(ROOT / "solutions" / "i18n").glob("*/*.po")] if notebooks else []
    for path in paths:
        with open(path, "rb") as handle:
            for message in read_po(handle):
                strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
                text.extend(s for s in strings if s)
    return "".join(text)


def wanted_characters() -> set[str]:
    ascii_printable = "".join(chr(c) for c in range(0x20, 0x7F))
    punctuation = "".join(chr(c) for c in range(0x3000, 0x3040)) + "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    extra = "·—–…“”‘’×→←²³⁴√≈≤≥±∞°"
    return set(gb2312_level1() + catalogue_text() + ascii_printable + punctuation + extra)


def main() -> int:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    if not SOURCE.is_file():
        print(f"no {SOURCE}: install it first (apt-get install fonts-noto-cjk)", file=sys.stderr)
        return 1
    font = TTFont(str(SOURCE), fontNumber=SOURCE_INDEX_SC)
    have = set(font.getBestCmap())
    chars = {c for c in wanted_characters() if ord(c) in have}
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
    font.save(str(TARGET))
    print(f"{TARGET.relative_to(ROOT)}: {len(chars)} characters, {TARGET.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
