"""Languages are data: one table (lib/gradbook/locale/languages.json) that every part reads.

Each language of the table is complete (its catalogues, its released chapters, JupyterLab's language pack
installed and declared), and a language added the documented way (docs/authoring.md, "Adding a
language": its catalogues and one table entry) is spoken by `workbook.py lab --lang`, the library and
the release with no code changed."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import tomllib
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from gradbook import i18n

TRANSLATIONS = [language.code for language in i18n.translations()]
CHAPTERS = sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))


def test_the_table_has_english_and_every_entry_names_what_the_parts_need() -> None:
    assert i18n.ENGLISH in i18n.LANGUAGES and TRANSLATIONS, "the source's language and at least one translation"
    shorts = [language.short for language in i18n.LANGUAGES.values()]
    assert len(set(shorts)) == len(shorts)
    for code, language in i18n.LANGUAGES.items():
        assert language.code == code and language.name and language.english_name
        assert i18n.normalize(code) == i18n.normalize(language.short) == code
        for alias in language.aliases:
            assert i18n.normalize(alias) == code, alias


@pytest.mark.parametrize("code", TRANSLATIONS)
def test_every_language_of_the_table_has_its_catalogues_and_chapters(code: str) -> None:
    language = i18n.LANGUAGES[code]
    assert language.library_catalogue.is_file() and language.library_catalogue.with_suffix(".mo").is_file()
    assert sorted(p.stem for p in (ROOT / "solutions" / "i18n" / code).glob("*.po")) == CHAPTERS
    assert sorted(p.stem for p in (ROOT / "notebooks" / code).glob("*.ipynb")) == CHAPTERS


@pytest.mark.parametrize("code", [c for c in TRANSLATIONS if i18n.LANGUAGES[c].lab_language_pack])
def test_jupyterlab_speaks_the_language_through_its_pack_declared_and_installed(code: str) -> None:
    pack = i18n.LANGUAGES[code].lab_language_pack
    lab_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["lab"]
    assert any(re.match(rf"{re.escape(pack)}\b", requirement) for requirement in lab_extra), f"add {pack} to the lab extra"
    assert re.search(rf"^\s*- {re.escape(pack)}\b", (ROOT / "environment.yml").read_text(), re.M), \
        f"add {pack} to environment.yml (pip section)"
    assert importlib.util.find_spec(pack.replace("-", "_")) is not None  # the lab extra installs it


def test_the_package_ships_the_table_and_every_compiled_catalogue() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["gradbook"]
    package = ROOT / "lib" / "gradbook"
    shipped = {p for pattern in globs for p in package.glob(pattern)}
    assert i18n.LOCALE_DIR / i18n.TABLE in shipped
    assert {i18n.LANGUAGES[code].library_catalogue.with_suffix(".mo") for code in TRANSLATIONS} <= shipped


# --- a new language, added the documented way -------------------------------------------------------------

PSEUDO = {"name": "Pseudo", "english_name": "Pseudo-locale", "short": "xx", "aliases": ["pseudo"]}
SAID = {"loss": "[ƚöšš]", "your notebooks are in {work}/: save with Ctrl+S, hand in the .ipynb files":
        "[ýöüř ñöţëƀöökš: {work}/]"}


@pytest.fixture
def pseudo_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The course's locale folder with an "xx" entry in its table and a tiny library catalogue, and a
    solutions folder whose one chapter has an "xx" catalogue; returns that solutions folder."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from gradbook_grader import translate

    locale = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, locale, ignore=shutil.ignore_patterns("*.po", "*.pot"))
    table = json.loads((locale / i18n.TABLE).read_text(encoding="utf-8"))
    (locale / i18n.TABLE).write_text(json.dumps({**table, "xx": PSEUDO}, ensure_ascii=False), encoding="utf-8")
    library = Catalog(locale="xx", domain=i18n.DOMAIN)
    for english, pseudo in SAID.items():
        library.add(english, pseudo)
    (locale / "xx" / "LC_MESSAGES").mkdir(parents=True)
    with open(locale / "xx" / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo", "wb") as handle:
        write_mo(handle, library)
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)

    solutions = tmp_path / "solutions"
    chapter = Catalog(locale="xx", domain="chapters")
    chapter.add("Hello, world.", "Ħëľľö, ŵöřľđ.", context="intro")
    translate.write_catalog(chapter, translate.catalog_path(solutions, "00-tiny", "xx"))
    return solutions


def test_a_language_added_to_the_table_is_spoken_with_no_code_changed(pseudo_language: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from gradbook_grader import translate
    from test_packaging import load_workbook

    # the library: the names people write, its messages, the list it offers
    assert i18n.normalize("Pseudo") == i18n.normalize("XX.UTF-8") == "xx" and "xx (Pseudo)" in i18n.known_languages()
    with i18n.using("xx"):
        assert i18n._("loss") == "[ƚöšš]" and i18n._("accuracy") == "accuracy"  # untranslated: English
    assert i18n.notebook_language({"gradbook": {"language": "xx"}}) == "xx"
    # workbook.py: `lab --lang`, what it says, and the lab it starts (no JupyterLab pack, no CJK font: none named)
    workbook = load_workbook()
    assert workbook.take_language(["--lang", "pseudo", "--x"]) == ("xx", ["--x"])
    args, env = workbook.lab_command(Path("python"), ["--lang=xx"])
    assert env["GRADBOOK_LANG"] == "xx" and not any("app_settings_dir" in a for a in args)
    assert str(workbook.CJK_FONT_CONFIG) not in env.get("JUPYTER_CONFIG_PATH", "")
    monkeypatch.setattr(workbook, "_speaking", "xx")
    assert workbook._("your notebooks are in {work}/: save with Ctrl+S, hand in the .ipynb files") == \
        "[ýöüř ñöţëƀöökš: {work}/]"
    # the release: the languages it writes, and the chapter translated and tagged
    assert translate.translated_languages(pseudo_language) == ["xx"]
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Hello, world.", id="intro")])
    released = translate.translate_assignment(pseudo_language, "00-tiny", source, "xx").notebook
    assert released.cells[0].source == "Ħëľľö, ŵöřľđ." and released.metadata["gradbook"]["language"] == "xx"


def test_catalogues_of_a_language_the_table_lacks_are_refused_with_what_to_do(tmp_path: Path) -> None:
    from gradbook_grader import translate

    (tmp_path / "i18n" / "fr").mkdir(parents=True)
    (tmp_path / "i18n" / "fr" / "00-tiny.po").write_text('msgid ""\nmsgstr ""\n', encoding="utf-8")
    with pytest.raises(i18n.UnknownLanguage, match=r"catalogs for fr, which the language table lacks: add an entry"):
        translate.translated_languages(tmp_path)


def test_tools_i18n_update_creates_the_library_catalogue_of_a_new_language(pseudo_language: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`python tools/i18n.py update`, the documented step after the table entry: the catalogue to translate."""
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import i18n as catalogs  # tools/i18n.py

    monkeypatch.setattr(catalogs, "TEMPLATE", tmp_path / "gradbook.pot")
    catalogs.update()
    created = catalogs.read(i18n.LANGUAGES["xx"].library_catalogue, "xx")
    assert i18n.LANGUAGES["xx"].library_catalogue.is_relative_to(tmp_path)
    assert "loss" in {m.id for m in created} and catalogs.untranslated(created)  # every message, to translate
