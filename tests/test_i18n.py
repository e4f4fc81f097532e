"""The library speaks the student's language: every message has a Chinese translation with the same
placeholders, the shipped catalogues are current, the checks judge in the language asked for, and
the bundled CJK font draws every character the catalogues use."""

from __future__ import annotations

import ast
import gettext
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo

from conftest import ROOT
from gradbook import i18n
from gradbook.checks import load_all
from gradbook.checks.core import VISIBLE_SEED, collect, judge, known_mistake
from gradbook.fonts import FAMILY, FONT

sys.path.insert(0, str(ROOT / "tools"))
import i18n as catalogs  # noqa: E402 - tools/i18n.py: extraction and the catalogue checks

CHINESE = "zh_CN"  # the tests of what the Chinese translation says; the rest hold for every language of the table


@pytest.fixture(scope="module", params=[language.code for language in i18n.translations()])
def language(request) -> str:  # noqa: ANN001 - each translated language of the table
    return request.param


@pytest.fixture(scope="module")
def catalogue(language: str):  # noqa: ANN201 - its library catalogue
    return catalogs.read(catalogs.po_path(language), language)


def _ids(catalog) -> set:  # noqa: ANN001
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


def test_every_message_has_a_translation_with_the_same_placeholders(language: str, catalogue) -> None:  # noqa: ANN001
    assert len(_ids(catalogue)) > 400
    assert catalogs.untranslated(catalogue) == [], f"translate these in {catalogs.po_path(language)}"
    assert catalogs.placeholder_problems(catalogue) == []


def test_the_placeholder_check_catches_a_renamed_or_missing_placeholder() -> None:
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale=CHINESE)
    catalog.add("expected {want}, got {have}", "期望 {want}，得到 {got}")
    catalog.add("{count} cases", "{count} 个")
    problems = catalogs.placeholder_problems(catalog)
    assert len(problems) == 1 and "expected {want}" in problems[0]


def test_the_template_and_the_catalogue_hold_exactly_the_marked_messages(language: str, catalogue) -> None:  # noqa: ANN001
    """A message marked in the code but not extracted (or extracted and since removed) fails here:
    run `python tools/i18n.py update`, translate, `python tools/i18n.py compile`."""
    extracted = _ids(catalogs.extract_messages())
    assert extracted == _ids(catalogs.read(catalogs.TEMPLATE)), "lib/gradbook/locale/gradbook.pot is out of date"
    assert extracted == _ids(catalogue), f"the {language} catalogue is out of date: python tools/i18n.py update"


def test_the_shipped_mo_file_is_the_compiled_po_file(language: str, catalogue) -> None:  # noqa: ANN001
    with open(catalogs.po_path(language).with_suffix(".mo"), "rb") as handle:
        compiled = read_mo(handle)
    shipped = {m.id if isinstance(m.id, str) else tuple(m.id): _strings(m) for m in compiled if m.id}
    source = {m.id if isinstance(m.id, str) else tuple(m.id): _strings(m) for m in catalogue if m.id}
    assert shipped == source, "run `python tools/i18n.py compile` and commit the .mo file"


def _strings(message) -> tuple:  # noqa: ANN001
    return tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string,)


def test_messages_that_begin_with_the_exercise_title_still_do_in_translation(catalogue) -> None:
    """The grader's reports find the exercise a verdict is about from the title it begins with."""
    for message in catalogue:
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        if ids[0].startswith("{title}"):
            assert all(s.startswith("{title}") for s in strings), ids[0]


def test_every_hint_label_and_title_shown_to_a_student_is_in_the_catalogue(catalogue) -> None:
    """Hints and case labels are kept in English where they are defined and translated where shown,
    so each must be a message id: an unmarked one would stay English in a Chinese notebook."""
    from gradbook import surfaces

    ids = _ids(catalogue)
    for exercise in load_all().values():
        for mistake in exercise.mistakes:
            assert mistake.hint in ids, f"{exercise.name}: mark the hint with N_(): {mistake.hint!r}"
        for hidden in (False, True):
            for case in exercise.make_cases(VISIBLE_SEED, hidden):
                assert case.label in ids or not _has_words(case.label), f"{exercise.name}: mark {case.label!r}"
    for surface in surfaces.SURFACES.values():
        assert surface.title in ids or surface.name == "rosenbrock", surface.title


def _has_words(label: str) -> bool:
    """A label made only of code (``x (2, 3, 5, 5), W (4, 3, 3, 3), stride=1``) needs no translation."""
    import re

    words = re.findall(r"[A-Za-z]{3,}", re.sub(r"\b\w+=", "", label))
    return any(word not in {"dout", "pad", "stride", "size"} for word in words)


def test_a_lesson_is_in_the_language_asked_for_and_its_hint_is_found_in_either() -> None:
    relu = load_all()["ch02.naive_relu"]

    def as_abs(x):  # noqa: ANN001, ANN202 - the listed mistake "absolute value", with loops
        z = x.copy()
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                z[i, j] = abs(x[i, j])
        return z

    observation = collect(relu, as_abs, VISIBLE_SEED, False)
    english, chinese = judge(relu, observation, "en"), judge(relu, observation, "zh")
    assert english.passed is chinese.passed is False and english.cases == chinese.cases
    assert english.message.startswith("naive_relu is not right yet:") and "Hint: this is the absolute value" in english.message
    assert chinese.message.startswith("naive_relu 还不对：") and "提示：这是绝对值 |x|" in chinese.message
    assert "期望" in chinese.message and "expected" not in chinese.message
    index = next(i for i, m in enumerate(relu.mistakes) if "absolute value" in m.hint)
    assert known_mistake(relu, english.message) == known_mistake(relu, chinese.message) == index
    # judging in Chinese changes nothing outside: the next message is English again
    assert judge(relu, observation).message == english.message


def test_the_passed_line_and_the_drivers_messages_follow_the_language() -> None:
    from gradbook.checks.drivers import unpack

    predict = load_all()["ch00.predict"]
    observation = collect(predict, lambda w, b, x: w * x + b, VISIBLE_SEED, False)
    with i18n.using("zh_CN"):
        assert judge(predict, observation).message.endswith("个用例全部通过")
        with pytest.raises(TypeError, match="请返回这 3 个值"):
            unpack(1.0, "w, b, losses")
    assert judge(predict, observation).message.endswith("cases passed")


@pytest.mark.parametrize("written, code", [("zh", "zh_CN"), ("zh-CN", "zh_CN"), ("zh_Hans", "zh_CN"),
                                           ("zh_CN.UTF-8", "zh_CN"), ("en_US", "en"), ("C", "en")])
def test_language_names_people_write_are_understood(written: str, code: str) -> None:
    assert i18n.normalize(written) == code


def test_an_unknown_language_is_refused_with_the_languages_there_are(monkeypatch) -> None:  # noqa: ANN001
    with pytest.raises(i18n.UnknownLanguage, match=r"unknown language 'fr'") as refused:
        i18n.set_language("fr")
    assert all(f"{language.short} ({language.name})" in str(refused.value) for language in i18n.LANGUAGES.values())
    assert "zh (简体中文)" in str(refused.value)
    monkeypatch.setenv(i18n.ENV, "klingon")
    monkeypatch.setattr(i18n, "_chosen", None)
    monkeypatch.setattr(i18n, "_warned", set())
    with pytest.warns(UserWarning, match="GRADBOOK_LANG.*Using English"):
        assert i18n.current() == "en"


def test_the_language_comes_from_the_block_then_the_process_then_the_environment(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(i18n, "_chosen", None)
    monkeypatch.setenv(i18n.ENV, "zh")
    assert i18n.current() == "zh_CN" and i18n._("loss") == "损失"
    monkeypatch.setattr(i18n, "_chosen", "en")
    assert i18n.current() == "en" and i18n._("loss") == "loss"
    with i18n.using("zh"):
        assert i18n.tr("learned w = {w:.3f}, b = {b:.3f}   (the data were made with w = 3, b = 0.5, plus noise)",
                       w=1.0, b=2.0).startswith("学到的 w = 1.000，b = 2.000")
    assert i18n.current() == "en"


def test_a_notebook_says_its_language_in_its_metadata(tmp_path: Path) -> None:
    from gradbook.notebook import notebook_file_language

    assert i18n.notebook_language({"gradbook": {"language": "zh_CN"}}) == "zh_CN"
    assert i18n.notebook_language({"gradbook": {"language": "tlh"}}) is None  # untrusted: never raises
    assert i18n.notebook_language({"gradbook": "zh"}) is None and i18n.notebook_language(None) is None
    assert i18n.notebook_language(["not", "a", "dict"]) is None  # type: ignore[arg-type]
    chinese = next((ROOT / "notebooks" / "zh_CN").glob("*.ipynb"))
    assert notebook_file_language(str(chinese)) == "zh_CN"
    assert notebook_file_language(str(ROOT / "notebooks" / chinese.name)) is None
    assert notebook_file_language(str(tmp_path / "missing.ipynb")) is None


def test_the_font_draws_every_character_of_the_library_catalogue_and_stays_small() -> None:
    """Every message a plot or widget can show (the chapters' Markdown is drawn by the browser)."""
    from fontTools.ttLib import TTFont

    sys.path.insert(0, str(ROOT / "tools"))
    from subset_cjk_font import displayed_text

    cmap = set(TTFont(str(FONT))["cmap"].getBestCmap())
    # everything the Chinese UI shows: the catalogues, the docs, JupyterLab's language pack (browser and plots)
    # (the CJK blocks and Chinese punctuation: Latin and symbols such as ✔ come from the default fonts, and
    # the browser takes only these ranges from the bundled font, fonts/custom.css)
    chinese = {c for c in displayed_text() if 0x2E80 <= ord(c) <= 0x9FFF or 0xFE10 <= ord(c) <= 0xFFEF or c in "“”‘’…—·"}
    missing = sorted(c for c in chinese if ord(c) not in cmap)
    assert missing == [], f"run python tools/subset_cjk_font.py: the font lacks {''.join(missing)!r}"
    assert FONT.stat().st_size < 3_000_000
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONT.parent / "OFL.txt").read_text()


def test_a_chinese_plot_label_renders_with_the_bundled_font_and_no_missing_glyph() -> None:
    """In a fresh process (rcParams are global): only the bundled font, never a system one."""
    code = (
        "import warnings, matplotlib\n"
        "matplotlib.use('Agg')\n"
        "from matplotlib import font_manager\n"
        "font_manager.fontManager.ttflist = [f for f in font_manager.fontManager.ttflist if 'CJK' not in f.name]\n"
        "import matplotlib.pyplot as plt\n"
        "from gradbook import i18n\n"
        "i18n.set_language('zh')\n"
        "fig, ax = plt.subplots()\n"
        "ax.set_title(i18n.tr('loss curve'))\n"
        "warnings.simplefilter('error')\n"
        "fig.canvas.draw()\n"
        "found = font_manager.fontManager.findfont(font_manager.FontProperties(family=" + repr(FAMILY) + "))\n"
        "print(ax.get_title(), found)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("损失曲线") and str(FONT) in result.stdout


def test_no_function_both_rebinds_and_calls_the_translation_function() -> None:
    """``_`` is the translation function: ``x, _ = ...`` in a function that also calls ``_()`` breaks it."""
    files = [*(ROOT / "lib" / "gradbook").rglob("*.py"), *(ROOT / "autograder" / "gradbook_grader").glob("*.py")]
    bad = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                names = [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == "_"]
                if any(isinstance(n.ctx, ast.Store) for n in names) and any(
                        isinstance(c, ast.Call) and getattr(c.func, "id", "") == "_" for c in ast.walk(node)):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bad == []


def test_the_package_ships_the_compiled_catalogue_and_the_font() -> None:
    """What pyproject's package-data globs pick up (an install has no Babel and no build step for them)."""
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["gradbook"]
    package = ROOT / "lib" / "gradbook"
    shipped = {p for pattern in globs for p in package.glob(pattern)}
    assert catalogs.po_path(CHINESE).with_suffix(".mo") in shipped and FONT in shipped
    assert FONT.parent / "OFL.txt" in shipped
    translation = gettext.translation("gradbook", str(package / "locale"), languages=["zh_CN"])
    assert translation.gettext("loss curve") == "损失曲线"


def test_the_chapters_own_plot_labels_are_extracted_from_their_code_cells(catalogue) -> None:
    assert "classical programming" in _ids(catalogue)  # chapter 0's cell: tr("classical programming")


def test_lab_lang_zh_opens_the_chinese_chapters_with_jupyterlab_in_chinese(monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    import importlib.util
    import json

    from test_packaging import load_workbook

    workbook = load_workbook()
    monkeypatch.delenv("GRADBOOK_LANG", raising=False)
    monkeypatch.setattr(workbook, "LAB_SETTINGS", tmp_path / "lab-settings")
    args, env = workbook.lab_command(Path("python"), ["--lang", "zh", "--port=9999"])
    assert env["GRADBOOK_LANG"] == "zh_CN" and "--port=9999" in args and "--lang" not in args and "zh" not in args
    settings = Path(next(a for a in args if a.startswith("--LabApp.app_settings_dir=")).partition("=")[2])
    overrides = json.loads((settings / "overrides.json").read_text())
    assert overrides["@jupyterlab/translation-extension:plugin"]["locale"] == "zh_CN"
    assert importlib.util.find_spec("jupyterlab_language_pack_zh_CN") is not None  # the lab extra installs it
    english_args, english_env = workbook.lab_command(Path("python"), [])
    assert "GRADBOOK_LANG" not in english_env and not any("app_settings_dir" in a for a in english_args)
    assert workbook.take_language(["--lang=zh-CN", "--x"]) == ("zh_CN", ["--x"])
    with pytest.raises(SystemExit, match="unknown language 'fr' for --lang"):
        workbook.take_language(["--lang", "fr"])
    # the chapters a Chinese lab copies into my-work/ are the Chinese ones
    work = tmp_path / "my-work"
    said = workbook.prepare_work(ROOT / "notebooks" / "zh_CN", work)
    assert said and "from zh_CN/" in said[0]
    copied = (work / "00-what-is-deep-learning.ipynb").read_text(encoding="utf-8")
    assert '"language": "zh_CN"' in copied


def test_switching_language_keeps_the_students_copies_and_says_how_to_get_the_other_language(tmp_path: Path) -> None:
    from test_packaging import load_workbook

    workbook = load_workbook()
    work = tmp_path / "my-work"
    workbook.prepare_work(ROOT / "notebooks", work)  # `lab` first, in English
    english = (work / "00-what-is-deep-learning.ipynb").read_bytes()
    said = workbook.prepare_work(ROOT / "notebooks" / "zh_CN", work)  # then `lab --lang zh`
    assert (work / "00-what-is-deep-learning.ipynb").read_bytes() == english  # nothing of the student's is replaced
    assert len(said) == 1 and "another language" in said[0] and "简体中文" in said[0] and "lab --lang zh" in said[0]
    assert "has changed since your copy" not in "".join(said)  # not a course update
    (work / "00-what-is-deep-learning.ipynb").rename(work / "00-mine-in-english.ipynb")
    said = workbook.prepare_work(ROOT / "notebooks" / "zh_CN", work)
    assert said[0].startswith("copied 00-what-is-deep-learning.ipynb from zh_CN/")
    assert '"language": "zh_CN"' in (work / "00-what-is-deep-learning.ipynb").read_text(encoding="utf-8")


def test_lab_in_chinese_serves_the_bundled_font_to_the_browser(monkeypatch) -> None:
    """`lab --lang zh` adds jupyter/cjk-font to the config path: JupyterLab links custom.css, and the
    extension serves gradbook/fonts/ (custom.css and the font it names) under /custom/."""
    import json
    import types

    from gradbook.fonts import lab
    from test_packaging import load_workbook

    workbook = load_workbook()
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    _args, env = workbook.lab_command(Path("python"), ["--lang", "zh"])
    paths = env["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    assert str(workbook.CJK_FONT_CONFIG) in paths and str(workbook.STUDENT_JUPYTER_CONFIG) in paths
    config = json.loads((workbook.CJK_FONT_CONFIG / "jupyter_server_config.json").read_text())
    assert config["ServerApp"]["jpserver_extensions"] == {"gradbook.fonts.lab": True}
    assert config["LabApp"]["custom_css"] is True
    assert str(workbook.CJK_FONT_CONFIG) not in workbook.lab_command(Path("python"), [])[1].get("JUPYTER_CONFIG_PATH", "")
    css = (lab.FOLDER / "custom.css").read_text()
    named = re.findall(r'url\("([^"]+)"\)', css)
    assert named == [FONT.name] and (lab.FOLDER / named[0]).is_file()
    handler_paths = ["/home/someone/.jupyter/custom"]  # JupyterLab's /custom/ handler reads this very list
    app = types.SimpleNamespace(web_app=types.SimpleNamespace(settings={"static_custom_path": handler_paths}),
                                log=types.SimpleNamespace(info=lambda *a: None))
    lab._load_jupyter_server_extension(app)
    lab._load_jupyter_server_extension(app)
    assert handler_paths == [str(lab.FOLDER), "/home/someone/.jupyter/custom"]


def test_a_chinese_release_writes_nbgraders_placeholders_in_chinese() -> None:
    """nbgrader's stubs are in the Chinese notebooks' language, with checksums nbgrader agrees with; the
    grader reads an untouched Chinese written answer as unanswered."""
    import nbformat
    from nbgrader.utils import compute_checksum

    from gradbook_grader.translate import placeholder_variants

    nb = nbformat.read(ROOT / "notebooks" / "zh_CN" / "03-perceptron-and-xor.ipynb", as_version=4)
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    written = [c for c in solutions if c.cell_type == "markdown"]
    assert [c.source for c in written] == ["在此写下你的答案"]
    assert all("# 在此写下你的代码" in c.source and "YOUR CODE" not in c.source
               for c in solutions if c.cell_type == "code")
    assert all(c.metadata.nbgrader["checksum"] == compute_checksum(c) for c in nb.cells
               if "checksum" in c.metadata.get("nbgrader", {}))
    assert placeholder_variants("YOUR ANSWER HERE") == {"YOUR ANSWER HERE", "在此写下你的答案"}


def test_lab_in_chinese_says_its_lines_in_chinese_and_copies_the_docs(monkeypatch, tmp_path) -> None:
    from test_packaging import load_workbook

    workbook = load_workbook()
    monkeypatch.setattr(workbook, "_speaking", "zh_CN")
    work = tmp_path / "my-work"
    said = workbook.prepare_work(ROOT / "notebooks" / "zh_CN", work) + workbook.copy_docs(ROOT / "docs", work)
    assert said[0].startswith("已把 00-what-is-deep-learning.ipynb") and said[-1] == "已把 glossary.md 从 docs/ 复制到 my-work/docs/"
    assert (work / "docs" / "glossary.md").read_bytes() == (ROOT / "docs" / "glossary.md").read_bytes()
    assert workbook.copy_docs(ROOT / "docs", work) == []  # current: nothing to say
    monkeypatch.setattr(workbook, "_speaking", "en")
    (work / "docs" / "glossary.md").write_text("old")
    assert workbook.copy_docs(ROOT / "docs", work) == ["copied glossary.md from docs/ into my-work/docs/"]
