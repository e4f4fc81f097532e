"""A CJK font that installs with gradbook, so Chinese plot labels render without a system font.

`NotoSansCJKsc-Regular-subset.otf` is Noto Sans CJK SC (SIL Open Font License 1.1, `OFL.txt`),
cut down by `tools/subset_cjk_font.py` to what the Chinese UI shows (the catalogues, the docs, the
library's symbols, JupyterLab's language pack) and all 6,763 hanzi of GB 2312, so a student's own
Chinese label renders too. JupyterLab's pages get the same file (`custom.css`, `lab.py`). `use_cjk_font()` registers it with matplotlib and adds it to the font
family list after the default sans-serif font: Latin text looks as before, and a character
that font lacks is drawn from this one (matplotlib's per-glyph fallback).
"""

from __future__ import annotations

from pathlib import Path

FONT = Path(__file__).resolve().parent / "NotoSansCJKsc-Regular-subset.otf"
FAMILY = "Noto Sans CJK SC Subset"  # the subset's own family name (tools/subset_cjk_font.py sets it)
_registered = False


def use_cjk_font() -> str:
    """Register the bundled CJK font with matplotlib and use it as the fallback family; returns its name.

    Idempotent and cheap after the first call. Text made before the call keeps the font it had."""
    global _registered
    from matplotlib import font_manager, rcParams

    if not _registered:
        font_manager.fontManager.addfont(str(FONT))
        _registered = True
    families = [f for f in rcParams["font.family"] if f != FAMILY]
    rcParams["font.family"] = [*families, FAMILY]
    return FAMILY


__all__ = ["FAMILY", "FONT", "use_cjk_font"]
