"""The student edition's checks are recordings (gradbook_grader.recording, gradbook.checks.recorded):
they must judge exactly as the instructor's checks, which compute.

Each chapter's module is generated as the edition holds it, loaded from its own files, and every
exercise's verdict (passed, message, the known mistake named) is compared with the real exercise's on
the same answers: the model answer, every listed mistake, and an untouched stub, in English and Chinese.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from gradbook.checks.drivers import Case
from gradbook.notebook import yours
from gradbook.checks.core import REGISTRY, VISIBLE_SEED, Exercise, collect, judge
from gradbook.checks.recorded import NotRecorded, Recorded
from gradbook.i18n import LANGUAGES
from gradbook.checks import load_all
from gradbook.checks.registry import Chapter, chapters
from gradbook_grader.recording import RECORDING, recorded_module
from run_helpers import chapter_files

pytestmark = pytest.mark.slow  # every chapter is recorded once a run, shared with the edition's build (run_helpers)


def _stub(*args: object, **kwargs: object) -> object:
    raise NotImplementedError


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exercise]:
    """Every exercise as the edition's generated modules define it (the real registry left as it was)."""
    load_all()
    folder, saved, found = tmp_path_factory.mktemp("checks"), dict(REGISTRY), {}
    try:
        for chapter in chapters():
            (folder / chapter.key).mkdir()
            # The files the edition's build writes (recording._chapter_files), recorded once a run (run_helpers).
            for name, data in chapter_files(chapter).items():
                (folder / chapter.key / Path(name).name).write_bytes(data)
            assert (folder / chapter.key / RECORDING).is_file()
            spec = importlib.util.spec_from_file_location(f"edition_{chapter.key}", folder / chapter.key / "__init__.py")
            loaded = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded)
            found.update({e.name: e for e in vars(loaded).values() if isinstance(e, Exercise)})
    finally:
        REGISTRY.clear()
        REGISTRY.update(saved)
    return found


def verdict(exercise: Exercise, observation: dict, language: str) -> tuple:
    v = judge(exercise, observation, language)
    return v.passed, v.message, v.mistake


def test_every_recorded_exercise_judges_as_the_real_one(recorded: dict[str, Exercise]) -> None:
    real = dict(REGISTRY)
    assert set(real) == set(recorded) and len(real) >= 50
    compared = 0
    for name, exercise in real.items():
        twin = recorded[name]
        assert isinstance(twin.reference, Recorded) and all(isinstance(m.wrong, Recorded) for m in twin.mistakes)
        answers = [("reference", exercise.reference), ("stub", _stub)]
        answers += [(f"mistake {i}", m.wrong) for i, m in enumerate(exercise.mistakes)]
        for what, answer in answers:
            observation = collect(exercise, answer, VISIBLE_SEED, False)
            for language in LANGUAGES:  # every language of the table
                expected = verdict(exercise, observation, language)
                assert verdict(twin, observation, language) == expected, (name, what, language)
                compared += 1
            if what in ("reference", "stub"):  # the edition's own questions (its recorded cases) too
                own = collect(twin, answer, VISIBLE_SEED, False)
                assert verdict(twin, own, "en") == verdict(exercise, observation, "en"), (name, what)
    print(f"\n{compared} verdicts of {len(real)} exercises equal")


def test_a_mistake_replayed_as_the_students_run_went_judges_as_the_real_one(recorded: dict[str, Exercise]) -> None:
    """A student's kernel that raises on numpy's errors, or turns runtime warnings into errors: the judge replays
    each mistake the same way (`core._reproduces`), and the recording holds those outcomes too."""
    replayed = 0
    for name, exercise in REGISTRY.items():
        for mistake in exercise.mistakes:
            for strict in ("raise", "error"):
                with warnings.catch_warnings(), np.errstate(all="raise" if strict == "raise" else "warn"):
                    warnings.simplefilter(strict if strict == "error" else "default", RuntimeWarning)
                    observation = collect(exercise, mistake.wrong, VISIBLE_SEED, False)
                errors = [str(r["error"] or "") for r in observation["results"]]
                if not any(e.startswith(("FloatingPointError", "RuntimeWarning")) for e in errors):
                    continue
                replayed += 1
                assert verdict(recorded[name], observation, "en") == verdict(exercise, observation, "en"), name
    assert replayed >= 3  # softmax's and cross-entropy's unstable mistakes at least
    print(f"\n{replayed} mistakes replayed as a strict kernel ran them")


def test_a_recording_holds_the_visible_cases_only_and_runs_nothing(recorded: dict[str, Exercise]) -> None:
    softmax = recorded["ch05.softmax"]
    with pytest.raises(NotRecorded, match="visible cases only"):
        softmax.make_cases(VISIBLE_SEED, True)
    with pytest.raises(NotRecorded):
        softmax.make_cases(VISIBLE_SEED + 1, False)
    real = REGISTRY["ch05.softmax"].reference
    z = np.array([[1.0, 2.0, 30.0], [-4.0, 0.0, 0.5]])  # not a recorded case: a demo's own input
    with pytest.raises(NotRecorded):
        softmax.answer(softmax.reference, Case((z,)))
    # A demo cell's fallback (notebook.yours) runs the public library's answer where it passed the visible
    # checks when recorded; otherwise it says that the edition holds no answer.
    assert softmax.reference.library == "gradbook.reference.activations.softmax"
    np.testing.assert_allclose(softmax.reference(z), real(z))
    predict = recorded["ch00.predict"]
    assert predict.reference.library is None
    fallback = yours("predict", predict, {})  # the student's `predict` unfinished: the library's stands in
    with pytest.raises(NotImplementedError, match="`predict`"):  # Run All goes on past it (notebook.py)
        fallback(2.0, 1.0, z)


def planted_build_stops(tmp_path: Path, key: str, source: str, match: str) -> None:
    """The edition's build of a planted chapter `key` (its checks: `source`) stops with GraderError matching `match`."""
    from gradbook_grader.course import GraderError

    (tmp_path / f"{key}_planted.py").write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"{key}_planted", tmp_path / f"{key}_planted.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        with pytest.raises(GraderError, match=match):
            recorded_module(Chapter(key, f"{key[2:]}-planted", "Planted", "nothing"), module)
    finally:
        REGISTRY.pop(f"{key}.double", None)


def test_a_compare_that_uses_an_answer_stops_the_build(tmp_path: Path) -> None:
    """A compare function is copied into the edition with what it uses: never a reference or a mistake."""
    planted_build_stops(tmp_path, "ch99", (
        "import numpy as np\n"
        "from gradbook.checks.core import Exercise, Mistake, compare_values\n\n"
        "def _double(x):\n    return 2 * x\n\n"
        "def _triple(x):\n    return 3 * x\n\n"
        "def _compare(expected, got, case):\n    return compare_values(_double(case.args[0]), got)\n\n"
        "double = Exercise('ch99.double', reference=_double, cases=lambda rng, hidden: [], compare=_compare,\n"
        "                  mistakes=[Mistake(_triple, 'three times')])\n"), "_double, a reference or a mistake")


def test_outputs_declared_by_a_lambda_stop_the_build(tmp_path: Path) -> None:
    """A function that declares a case's outputs is copied into the edition by its name: a lambda has none, and
    would be written as `<lambda>` (a syntax error in every student's copy), so the build stops and says why."""
    planted_build_stops(tmp_path, "ch98", (
        "from gradbook.checks.core import Exercise\n"
        "from gradbook.checks.meaning import Output\n\n"
        "def _double(x):\n    return 2 * x\n\n"
        "double = Exercise('ch98.double', reference=_double, cases=lambda rng, hidden: [],\n"
        "                  outputs=lambda case: Output('y'))\n"),
        "its outputs function is not a function of .*a lambda")

CHECK_CALL = re.compile(r"^check\.(\w+)\((.*)\)\s*$", re.M)


def visible_checks(notebook: Path, chapter: str, exercises: dict[str, Exercise]) -> tuple[dict[str, str], list[str]]:
    """Run a notebook's visible checks in-process with `exercises`: each exercise's outcome ("passed" or the
    error), and the checks whose answer could not be built here (a cell that needs a demo's data).

    Run: the exercise cells, cells that only import or define, and every cell's imports; not the demos."""
    import contextlib
    import io

    import nbformat

    from gradbook.checks import CheckFailed

    space: dict = {}
    outcome, unbuilt = {}, []
    for cell in (c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            for call in CHECK_CALL.finditer(cell.source.split("### BEGIN HIDDEN TESTS")[0]):
                exercise = exercises[f"{chapter}.{call.group(1)}"]
                try:
                    answer = eval(call.group(2) if exercise.value else call.group(2).split(",")[0], space)
                except NameError:
                    unbuilt.append(exercise.name)
                    continue
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        exercise(answer)
                    outcome[exercise.name] = "passed"
                except CheckFailed as failed:
                    outcome[exercise.name] = str(failed)
            continue
        tree = ast.parse(cell.source)
        defines = all(isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) for n in tree.body)
        imports = ast.Module(body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], type_ignores=[])
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(cell.source if meta.get("solution") or defines else ast.unparse(imports), space)
        except (NameError, NotImplementedError):  # needs a demo's data; or a stub, untouched
            pass
    return outcome, unbuilt


def test_the_recorded_checks_pass_the_model_solutions_and_fail_the_released_stubs(
        recorded: dict[str, Exercise]) -> None:
    """The solutions' own code (solutions/, their exercise cells) passes every visible check of the edition;
    the released notebooks' untouched stubs (notebooks/) fail each one."""
    from conftest import ROOT

    passed, unbuilt, stubs = {}, [], {}
    for chapter in chapters():
        name = f"{chapter.notebook}.ipynb"
        outcome, missing = visible_checks(ROOT / "solutions" / name, chapter.key, recorded)
        passed.update(outcome)
        unbuilt += missing
        stubs.update(visible_checks(ROOT / "notebooks" / name, chapter.key, recorded)[0])
    assert {name: why for name, why in passed.items() if why != "passed"} == {}
    assert len(passed) >= 45 and len(unbuilt) <= 3, unbuilt  # only cells that need a demo's data (chapter 1's x0)
    assert stubs and not [name for name, why in stubs.items() if why == "passed"]
    print(f"\n{len(passed)} visible checks passed on the solutions' code ({unbuilt} need a demo's data); "
          f"{len(stubs)} failed on the stubs")
