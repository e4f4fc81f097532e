"""The chapters in every language of the table (gradbook.i18n.LANGUAGES; Chinese here) come from the one English
source and a catalog per chapter (solutions/i18n/<code>/NN-topic.po): every Markdown cell and every code comment a student sees has a
current translation, an edited English cell or comment loses its translation until a translator
updates it, and a translated notebook differs from its source in Markdown and comments only."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from babel.messages.catalog import Catalog

from conftest import ROOT
from gradbook import i18n
from gradbook_grader import comments, translate
from gradbook_grader.restore import restore, student_version

SOLUTIONS = ROOT / "solutions"
CHAPTERS = sorted(SOLUTIONS.glob("*.ipynb"))
CHINESE = "zh_CN"  # the tests of the translation machinery use the Chinese catalogs
TRANSLATIONS = [language.code for language in i18n.translations()]
# What a translation's text must contain, for the languages whose script tells it from English at a glance.
SCRIPT = {CHINESE: re.compile("[\u4e00-\u9fff]")}
_WORDS = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}")  # two English words in a row: a sentence, not code


def source(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_the_release_writes_every_language_of_the_table() -> None:
    assert translate.translated_languages(SOLUTIONS) == TRANSLATIONS and CHINESE in TRANSLATIONS


@pytest.mark.parametrize("language", TRANSLATIONS)
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_markdown_cell_of_every_chapter_has_a_current_translation(path: Path, language: str) -> None:
    english = source(path)
    result = translate.translate_assignment(SOLUTIONS, path.stem, english, language)
    catalog = translate.catalog_path(SOLUTIONS, path.stem, language).relative_to(ROOT)
    assert result.untranslated == [], (
        f"cells {result.untranslated} of {path.name} changed or are new: run `python tools/i18n.py notebooks`, "
        f"then translate their empty and fuzzy entries in {catalog}")
    for mine, theirs in zip(translate.markdown_cells(result.notebook), translate.markdown_cells(english)):
        assert mine.source != theirs.source or not _WORDS.search(theirs.source), f"{path.name} cell {mine.id}"
        assert language not in SCRIPT or SCRIPT[language].search(mine.source), f"{path.name} cell {mine.id}"


@pytest.mark.parametrize("language", TRANSLATIONS)
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_code_comment_a_student_sees_is_translated_or_code(path: Path, language: str) -> None:
    """A comment's translation differs from its English (and is in the language's script), or the comment
    is code (``# self - other``, ``# (N, 1, 28, 28)``, ``# sigmoid(w x + b)``): no two English words in a row,
    no English sentence left behind."""
    english = source(path)
    translated = translate.translate_assignment(SOLUTIONS, path.stem, english, language).notebook
    for mine, theirs in zip(translated.cells, english.cells):
        if mine.cell_type != "code":
            continue
        assert len(comments.texts(mine.source)) == len(comments.texts(theirs.source))
        for said, original in zip(comments.texts(mine.source), comments.texts(theirs.source)):
            in_script = SCRIPT[language].search(said) if language in SCRIPT else said != original
            assert in_script or not _WORDS.search(said), f"{path.name} cell {mine.id}: {said!r}"


@pytest.mark.parametrize("language", TRANSLATIONS)
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_a_translation_changes_the_markdown_and_comments_and_nothing_else(path: Path, language: str) -> None:
    english = source(path)
    chinese = translate.translate_assignment(SOLUTIONS, path.stem, english, language).notebook
    assert chinese.metadata["gradbook"]["language"] == language and "gradbook" not in english.metadata
    assert [c.get("id") for c in chinese.cells] == [c.get("id") for c in english.cells]
    for mine, theirs in zip(chinese.cells, english.cells):
        assert mine.cell_type == theirs.cell_type and mine.metadata == theirs.metadata
        if mine.cell_type == "code":  # the same code, line for line, column for column up to each '#'
            assert comments.without_comments(mine.source) == comments.without_comments(theirs.source)
            assert [(c.line, c.start, c.prefix) for c in comments.comments(mine.source)] == [
                (c.line, c.start, c.prefix) for c in comments.comments(theirs.source)]
        elif mine.cell_type != "markdown":
            assert mine.source == theirs.source


def _chapter() -> tuple[nbformat.NotebookNode, Catalog]:
    nb = source(CHAPTERS[0])
    path = translate.catalog_path(SOLUTIONS, CHAPTERS[0].stem, CHINESE)
    return nb, translate.read_catalog(path, CHINESE)


def test_an_edited_english_cell_stays_english_until_its_entry_is_translated_again() -> None:
    nb, catalog = _chapter()
    first = translate.markdown_cells(nb)[0]
    first.source += "\n\nA sentence the translator has not seen."
    result = translate.translate(nb, catalog, CHINESE)
    assert result.untranslated == [first.id]
    assert result.notebook.cells[nb.cells.index(first)].source == first.source  # English, not a stale translation

    updated = translate.update_catalog(nb, catalog, CHINESE)
    entry = updated.get(first.source, context=first.id)
    assert entry.fuzzy and entry.string and entry.previous_id  # the old translation and old English, to revise
    assert translate.translate(nb, updated, CHINESE).untranslated == [first.id]  # fuzzy is not used
    entry.string, entry.flags = "修订后的译文。", set()
    assert translate.translate(nb, updated, CHINESE).untranslated == []


def test_new_cells_get_empty_entries_and_removed_cells_lose_theirs() -> None:
    nb, catalog = _chapter()
    removed = translate.markdown_cells(nb)[-1]
    nb.cells.remove(removed)
    nb.cells.append(nbformat.v4.new_markdown_cell("A new closing remark.", id="new-cell"))
    updated = translate.update_catalog(nb, copy.deepcopy(catalog), CHINESE)
    assert not updated.get("A new closing remark.", context="new-cell").string
    assert updated.get(removed.source, context=removed.id) is None
    said = [text for c in nb.cells if c.cell_type == "code" for text in comments.texts(c.source)]
    assert len([m for m in updated if m.id]) == len(translate.markdown_cells(nb)) + len(said) and said


def test_an_entry_for_another_cell_with_the_same_text_is_not_used() -> None:
    """Entries are keyed by cell id and text: two cells with equal text are translated separately."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Same.", id="a"),
                                         nbformat.v4.new_markdown_cell("Same.", id="b")])
    catalog = Catalog(locale=CHINESE)
    catalog.add("Same.", "一样。", context="a")
    result = translate.translate(nb, catalog, CHINESE)
    assert [c.source for c in result.notebook.cells] == ["一样。", "Same."] and result.untranslated == ["b"]


CODE = ('import numpy as np  # the library\n'
        'def f(x):\n'
        '    # returns "#1" unchanged\n'
        '    s = "# not a comment"  #   keep the indentation   \n'
        '    ### BEGIN SOLUTION\n'
        '    return x  # inside the answer\n'
        '    ### END SOLUTION\n'
        '%timeit f(1)  # a magic\n'
        't = "\u2028"  # after a line separator\n')  # a break for str.splitlines, not for Python


def test_a_code_cell_gives_one_entry_per_comment_a_student_sees() -> None:
    """The tokenizer finds the comments: not a '#' inside a string, not nbgrader's delimiters, not what
    is inside a solution region (the release drops it), not an IPython line's."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE, id="c")])
    catalog = translate.update_catalog(nb, None, CHINESE)
    assert [(m.context, m.id) for m in catalog if m.id] == [
        ("c", "the library"), ("c", 'returns "#1" unchanged'), ("c", "keep the indentation"),
        ("c", "after a line separator")]


def test_translated_comments_change_only_the_comments_words() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE, id="c")])
    catalog = Catalog(locale=CHINESE)
    for english, chinese in (("the library", "库"), ('returns "#1" unchanged', "原样返回“#1”"),
                             ("keep the indentation", "保留缩进"), ("after a line separator", "在行分隔符之后")):
        catalog.add(english, chinese, context="c")
    result = translate.translate(nb, catalog, CHINESE)
    assert result.untranslated == [] and len(result.comments["c"]) == 4
    assert result.notebook.cells[0].source == CODE.replace("# the library", "# 库").replace(
        '# returns "#1" unchanged', "# 原样返回“#1”").replace("#   keep the indentation   ", "#   保留缩进").replace(
        "# after a line separator", "# 在行分隔符之后")
    with pytest.raises(ValueError, match="line break"):
        comments.replace(CODE, {"the library": "库\nimport os"})  # a translation can never add code


def test_an_edited_comment_stays_english_and_the_same_comment_in_two_cells_is_translated_apart() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1  # or the library's", id="a"),
                                         nbformat.v4.new_code_cell("y = 2  # or the library's", id="b")])
    catalog = translate.update_catalog(nb, None, CHINESE)
    catalog.get("or the library's", context="a").string = "或者库里的"
    catalog.get("or the library's", context="b").string = "否则用库里的"
    assert [c.source for c in translate.translate(nb, catalog, CHINESE).notebook.cells] == [
        "x = 1  # 或者库里的", "y = 2  # 否则用库里的"]
    nb.cells[1].source = "y = 2  # or the library's answer"
    result = translate.translate(nb, catalog, CHINESE)
    assert result.untranslated == ["b"] and result.notebook.cells[1].source == nb.cells[1].source
    updated = translate.update_catalog(nb, catalog, CHINESE)
    entry = updated.get("or the library's answer", context="b")
    assert entry.fuzzy and entry.string == "否则用库里的" and translate.translate(nb, updated, CHINESE).untranslated == ["b"]


def test_a_locked_cell_with_translated_comments_is_not_tampered_and_an_edit_of_its_code_is() -> None:
    """The grader restores locked cells from the English source: a Chinese release's test cell, whose
    comments alone differ, is the cell as given; a change of its code is still reported."""
    test_cell = nbformat.v4.new_code_cell("# the check of f\ncheck.f(f)  # every case\n### BEGIN HIDDEN TESTS\n"
                                          "check.f(f, hidden=True)  # more cases\n### END HIDDEN TESTS", id="t")
    test_cell.metadata.nbgrader = {"grade": True, "solution": False, "locked": True, "grade_id": "test-f",
                                   "points": 1, "schema_version": 3}
    demo = nbformat.v4.new_code_cell("print(f(2))  # a demo", id="d")
    demo.metadata.nbgrader = {"grade": False, "solution": False, "locked": True, "grade_id": "demo",
                              "schema_version": 3}
    english = nbformat.v4.new_notebook(cells=[test_cell, demo])
    catalog = translate.update_catalog(english, None, CHINESE)
    assert sorted(m.id for m in catalog if m.id) == ["a demo", "every case", "the check of f"]  # not the hidden one
    for message, chinese in zip(sorted((m for m in catalog if m.id), key=lambda m: m.id), ("演示", "每个用例", "f 的检查")):
        message.string = chinese
    released = student_version(translate.translate(english, catalog, CHINESE).notebook)
    assert released.cells[0].source == "# f 的检查\ncheck.f(f)  # 每个用例"
    restored = restore(copy.deepcopy(released), english)
    assert restored.tamper == [] and restored.events == []
    assert [c.source for c in restored.notebook.cells] == [test_cell.source, demo.source]  # the source's, as graded

    released.cells[0].source = "# f 的检查\ncheck.f(g)  # 每个用例"
    released.cells[1].source = "print(f(3))  # a demo"
    assert restore(released, english).tamper == ["cell test-f was edited: restored from source",
                                                 "cell demo was edited: restored from source"]


def test_the_catalog_round_trips_through_its_file(tmp_path: Path) -> None:
    nb, catalog = _chapter()
    path = tmp_path / "zh_CN" / "00.po"
    translate.write_catalog(catalog, path)
    again = translate.read_catalog(path, CHINESE)
    assert translate.translate(nb, again, CHINESE).notebook == translate.translate(nb, catalog, CHINESE).notebook


def test_the_glossary_has_both_languages_and_chapter_0_links_it_in_both() -> None:
    glossary = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1:4] for line in glossary.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) > 80
    chinese_chapters = "\n".join(c.source for path in sorted((ROOT / "notebooks" / CHINESE).glob("*.ipynb"))
                                  for c in source(path).cells if c.cell_type == "markdown")
    for english, chinese, _chapter in rows:
        assert english.strip() and chinese.strip(), (english, chinese)
        if SCRIPT[CHINESE].search(chinese):
            continue
        # a term kept in English (im2col, softmax) is the term itself in the Chinese chapters: **im2col**, where a
        # translated one is **张量**（tensor）
        kept = [term.strip() for term in re.split(r"[,、/]", chinese) if term.strip()]
        assert all(term in english and f"**{term}**" in chinese_chapters for term in kept), (
            f"the glossary's row {english.strip()!r} has no Chinese: {chinese.strip()!r}")
    for term in ("张量", "广播", "反向传播", "交叉熵", "卷积", "梯度下降", "动量", "激活函数", "损失函数", "小批量", "过拟合"):
        assert term in glossary
    chapter0 = [ROOT / "notebooks" / "00-what-is-deep-learning.ipynb",
                ROOT / "notebooks" / CHINESE / "00-what-is-deep-learning.ipynb"]
    for path in chapter0:
        text = "\n".join(c.source for c in source(path).cells if c.cell_type == "markdown")
        assert "](docs/glossary.md)" in text, path  # where `workbook.py lab` puts it (test below)


_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def links(markdown: str) -> list[str]:
    """Every link target of the Markdown (inline links and images; code spans and blocks excluded)."""
    markdown = re.sub(r"```.*?```|`[^`]*`", "", markdown, flags=re.S)
    return _LINK.findall(markdown)


@pytest.mark.parametrize("language", ["en", CHINESE])
def test_every_link_of_every_chapter_opens_a_file_the_students_lab_serves(language: str, tmp_path: Path) -> None:
    """What `workbook.py lab` gives the student: the chapters and the course docs in my-work/, the folder
    JupyterLab serves. A relative link must name a file there; a web link must be a full https URL."""
    from test_packaging import load_workbook

    workbook = load_workbook()
    work = tmp_path / "my-work"
    workbook.prepare_work(ROOT / "notebooks" / ("" if language == "en" else language), work)
    workbook.copy_docs(ROOT / "docs", work)
    pages = sorted(work.glob("*.ipynb")) + sorted(work.rglob("*.md"))
    assert len(pages) >= 10
    followed = 0
    for page in pages:
        if page.suffix == ".ipynb":
            text = "\n".join(c.source for c in source(page).cells if c.cell_type == "markdown")
        else:
            text = page.read_text(encoding="utf-8")
        for target in links(text):
            followed += 1
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                assert target.startswith("https://"), f"{page.name}: {target}"
                continue
            relative = target.split("#")[0]
            if relative:
                resolved = (page.parent / relative).resolve()
                assert resolved.is_file() and resolved.is_relative_to(work.resolve()), (
                    f"{page.relative_to(work)} links to {target}, which is not a file in my-work/")
    assert followed >= 2  # chapter 0's glossary link and chapter 8's, at least


@pytest.mark.slow  # a kernel start: ~5 s idle, 15 s on a loaded 2-core machine
def test_a_chinese_chapter_executed_by_nbclient_speaks_chinese() -> None:
    """No JupyterLab, no $JPY_SESSION_NAME, no $GRADBOOK_LANG: the released chapter names its language."""
    from nbclient import NotebookClient

    from notebook_helpers import errors, output_text

    nb = source(ROOT / "notebooks" / CHINESE / "00-what-is-deep-learning.ipynb")
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert 'start_chapter(language="zh_CN")' in first.source
    ids = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
    nb.cells = [first, nb.cells[ids["predict"]], nb.cells[ids["test-predict"]]]  # the stub, and its check
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    check = nb.cells[-1]
    said = output_text(check)
    assert errors(check) and "还没有实现" in said and "not implemented" not in said, said
    english = source(ROOT / "notebooks" / "00-what-is-deep-learning.ipynb")
    assert "start_chapter()" in next(c for c in english.cells if c.cell_type == "code").source
