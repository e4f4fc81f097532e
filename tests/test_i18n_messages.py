"""Every message template of the checks' lessons (core, diagnose, display, meaning), rendered in Chinese with
sample values as a student reads it: the seams a Chinese reader notices where a template meets its values
(issue 25). No ASCII , ; : ? ! ( ) between Chinese characters, no 第一值 / 最后一样本 (a noun that needs its
measure word, 个), and no English word left over (code in backticks, names from the code and numbers apart).
The values come from the library itself (each axis's word and label, as `meaning` gives them), so a new axis
or template is checked as soon as it exists."""

from __future__ import annotations

import re
import string
import sys

import pytest

from conftest import ROOT
from gradbook.checks import meaning
from gradbook.i18n import using

sys.path.insert(0, str(ROOT / "tools"))
import i18n as catalogs  # noqa: E402 - tools/i18n.py: how the catalogues find their messages

MODULES = [ROOT / "lib" / "gradbook" / "checks" / f"{name}.py" for name in ("core", "diagnose", "display", "meaning")]
CJK = "\u3400-\u9fff"
ASCII_BETWEEN = re.compile(rf"[{CJK}]\s?[,;:?!]|[,;:?!]\s?[{CJK}]|[{CJK}]\s?[()]\s?[{CJK}]")
NO_MEASURE_WORD = re.compile(r"(第|最后|每)一(值|样本|节点|参数|类别|特征|通道|索引|时间步|单元|元素|输入)")
WORD_ORDER = re.compile(r"的恰好")  # 恰好 comes before 是: 结果恰好是期望值的 1/3, not 结果是期望值的恰好 1/3
CODE = re.compile(r"`[^`]*`|\S*[._()\[\]=*/<>+\-\d]\S*")  # code in backticks, and anything that looks like code
NAMES = {"None", "NaN", "nan", "inf", "Python", "NumPy", "numpy", "PyTorch", "Keras", "TensorFlow", "softmax", "relu", "log",
         "exp", "sqrt", "keepdims", "False", "True", "axis", "epsilon", "uint8", "int", "float", "abs", "sum", "mean",
         "max", "return", "range", "reshape", "for", "dict", "list", "tuple", "array", "got", "expected", "np",
         "astype", "float32", "logits"}


def _templates() -> list[tuple[str | None, str, str | None]]:
    """(context, msgid, plural msgid) of every message of the modules."""
    found = []
    for path in MODULES:
        for _line, message, _comments, context in catalogs._messages_in(path.read_text()):
            if isinstance(message, str):
                found.append((context, message, None))
            else:
                found.append((context, message[0], message[1]))
    return sorted(set(found), key=str)


def _renderings(template: tuple[str | None, str, str | None]) -> list[str]:
    """The template in Chinese (each plural form), filled in once per axis meaning (its word, label), numbers elsewhere."""
    context, msgid, plural = template
    out = []
    with using("zh_CN"):
        from gradbook.i18n import _, ngettext, pgettext

        forms = [ngettext(msgid, plural, n) for n in (1, 3)] if plural else [pgettext(context, msgid) if context else _(msgid)]
        head = _("expected shape {want}, got {have}").format(want=(2, 3), have=(3, 2))
        for translated, key in [(t, k) for t in forms for k in sorted(meaning.LABELS)]:
            names = {name for _text, name, _spec, _conv in string.Formatter().parse(translated) if name}
            axis = meaning.Axis(key)
            values = {name: "3" for name in names}
            values.update(what=meaning.word(axis), axes=meaning.word(axis, plural=True), where=axis.name(2),
                          next=axis.name(3), also="", name="x", sign="", stale="", head=head)
            values = {k: v for k, v in values.items() if k in names}
            out.append(translated.format(**values))
    return out


TEMPLATES = _templates()


def test_the_templates_are_found() -> None:
    assert len(TEMPLATES) > 80 and (None, "only the last {what} ({where}) is wrong{also}.", None) in TEMPLATES


def test_the_seams_are_seen() -> None:
    """The patterns find what a Chinese reader found (the issue's examples), and pass the corrected text."""
    for seam in ("只有最后一值是错的", "只有第一值是对的", "结果是期望值的恰好 1/3", "检查循环的边界:是不是", "输入 1,输入 2"):
        assert ASCII_BETWEEN.search(seam) or NO_MEASURE_WORD.search(seam) or WORD_ORDER.search(seam), seam
    assert CODE.sub(" ", "input 1 的值").split()[0] == "input"
    for right in ("只有最后一个值是错的", "结果恰好是期望值的 1/3", "检查循环的边界：是不是"):
        assert not (ASCII_BETWEEN.search(right) or NO_MEASURE_WORD.search(right) or WORD_ORDER.search(right)), right


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t[1][:60])
def test_a_template_reads_as_chinese(template: str) -> None:
    for text in _renderings(template):
        assert not ASCII_BETWEEN.search(text), f"ASCII punctuation between Chinese characters: {text!r}"
        assert not NO_MEASURE_WORD.search(text), f"a measure word is missing: {text!r}"
        assert not WORD_ORDER.search(text), f"word order: {text!r}"
        left = [w for w in re.findall(r"[A-Za-z]{3,}", CODE.sub(" ", text)) if w not in NAMES]
        assert not left, f"English left in {text!r}: {left}"
