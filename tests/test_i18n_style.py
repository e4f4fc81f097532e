"""The Chinese edition's house style, checked over every Chinese catalogue (the chapters' and the library's):
one term per concept (docs/glossary.md), full-width punctuation in Chinese prose, formulas in Chinese
(`\\text{...}` holds Chinese or a name from the code, never an English word), and a message context where
one English word has two meanings."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from conftest import ROOT
from gradbook import i18n

sys.path.insert(0, str(ROOT / "tools"))
import i18n as catalogs  # noqa: E402 - tools/i18n.py: the catalogues' own reader

GLOSSARY = ROOT / "docs" / "glossary.md"
CHAPTERS = sorted((ROOT / "solutions" / "i18n" / "zh_CN").glob("*.po"))
LIBRARY = ROOT / "lib" / "gradbook" / "locale" / "zh_CN" / "LC_MESSAGES" / "gradbook.po"
HAN = re.compile(r"[\u3400-\u9fff]")
# Names from the code that a formula may keep in \text{...}: functions and variables the chapters define.
CODE_NAMES = {"softmax", "relu", "logits", "out", "dout", "in", "expr", "var", "XOR", "AND", "OR", "NAND", "CE",
              "size", "stride", "sign", "rel", "true"}


def entries(path: Path) -> list[tuple[str, str, str]]:
    """(where, English, Chinese) for every translated entry (plural forms: each form)."""
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    found = []
    for message, ids, strings in catalogs.translated(catalog):
        found += [(f"{path.name} {message.context or ids[0][:40]!r}", ids[0], s) for s in strings if s]
    return found


ALL = [e for path in [*CHAPTERS, LIBRARY] for e in entries(path)]
CHAPTER_ENTRIES = [e for path in CHAPTERS for e in entries(path)]
# A code comment that is a line of code for the student to complete (`# shapes = [x0 的形状, ...]`) is
# Python: its commas and quotes are the code's. Every other comment is prose like the Markdown.
CODE_LINE = re.compile(r"^[A-Za-z_]\w* = ")
PROSE_ENTRIES = [e for e in CHAPTER_ENTRIES if not (CODE_LINE.match(e[1]) and CODE_LINE.match(e[2]))]


def prose(text: str) -> str:
    """Markdown without what is not prose: code blocks and spans, formulas, link targets, placeholders."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    for pattern in (r"`[^`]*`", r"\$\$.*?\$\$", r"\$[^$]*\$", r"\{[a-z_0-9:.>,+-]*\}"):
        text = re.sub(pattern, "\u25a1", text, flags=re.S)
    return re.sub(r"\]\([^)]*\)", "]", text)


def glossary_rows(section: int) -> list[list[str]]:
    """The rows of the glossary's `section`-th table (0: the terms, 1: the variants not used)."""
    tables, current = [], None
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            current.append([cell.strip() for cell in line.strip("|").split("|")])
        else:
            current = None
    return [row for row in tables[section][1:] if not set(row[0]) <= set("-")]


def names(cell: str) -> list[str]:
    """The names a glossary cell lists: `loss, loss function` / `rules / data` / `轮次（一轮）`."""
    cell = re.sub(r"`[^`]*`", "", cell)
    parts = re.split(r"\s*(?:,|/|、|（|）|\(|\))\s*", cell)
    return [p.strip().lower() for p in parts if p.strip()]


def test_each_term_a_chapter_introduces_in_bold_has_the_glossarys_chinese_term() -> None:
    terms = {}
    for english, chinese, *_ in glossary_rows(0):
        for name in names(english):
            terms.setdefault(name, set()).update(names(chinese))
    checked, wrong = 0, []
    for where, english, chinese in CHAPTER_ENTRIES:
        for bold in re.findall(r"\*\*([^*]+?)\*\*", english):
            term = re.sub(r"\s*\([^)]*\)\s*$", "", bold).strip().lower()  # "**weight (权重)**" -> "weight"
            for candidate in (term, term.rstrip("s"), term[:-2] if term.endswith("es") else term):
                if candidate in terms:
                    checked += 1
                    if not any(zh in chinese.lower() for zh in terms[candidate]):
                        wrong.append(f"{where}: **{bold}** should be {' / '.join(sorted(terms[candidate]))}")
                    break
    assert checked > 80  # the chapters introduce most of the glossary in bold
    assert wrong == []


def test_no_variant_the_glossary_rules_out_appears() -> None:
    variants = [(row[1], v) for row in glossary_rows(1) for v in names(row[2])]
    assert ("批量（一批）", "批次") in variants
    found = [f"{where}: {variant!r} (use {term})" for where, _en, chinese in ALL for term, variant in variants
             if variant in prose(chinese).lower()]
    assert found == []


@pytest.mark.parametrize("where,english,chinese", PROSE_ENTRIES, ids=lambda v: v if " " not in str(v) else None)
def test_chinese_prose_has_full_width_punctuation_and_formulas_in_chinese(where: str, english: str, chinese: str) -> None:
    text = prose(chinese)
    assert '"' not in text, f"{where}: ASCII quotes in Chinese prose: use “…”"
    halfwidth = re.findall(rf"{HAN.pattern}[,;:!]|[,;:!]\s*{HAN.pattern}|{HAN.pattern}\s+[（）]", text)
    assert halfwidth == [], f"{where}: half-width punctuation (or a space before full-width brackets) {halfwidth}"
    for formula in re.findall(r"\$\$.*?\$\$|\$[^$]*\$", chinese, flags=re.S):
        for words in re.findall(r"\\text\{([^}]*)\}", formula):
            english_words = [w for w in re.findall(r"[A-Za-z]+", words) if w not in CODE_NAMES]
            assert HAN.search(words) or not english_words, f"{where}: English in a formula: \\text{{{words}}}"


def test_the_library_catalogue_has_no_ascii_quotes_around_chinese() -> None:
    quoted = [where for where, _en, chinese in entries(LIBRARY)
              if re.search(rf'"[^"]*{HAN.pattern}[^"]*"', chinese)]
    assert quoted == []


def test_one_english_word_with_two_meanings_has_two_contexts() -> None:
    """The step button does one step; the axis counts steps; the box says how many steps a click makes."""
    with i18n.using("zh_CN"):
        button, axis, per_click = i18n.pgettext("button", "step"), i18n._("step"), i18n.pgettext("steps per click",
                                                                                                  "steps")
    assert len({button, axis, per_click}) == 3 and all(HAN.search(t) for t in (button, axis, per_click))
    with i18n.using("en"):
        assert (i18n.pgettext("button", "step"), i18n.pgettext("steps per click", "steps")) == ("step", "steps")
