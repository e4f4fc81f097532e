"""Grading written answers by question (`gradbook-grader grade-by-question`): the grouping against the labels
of a synthetic class (written_helpers), and the page in headless Chromium driven by its keys, its scores
read back through nbgrader's own API and through `gradbook-grader report` and `export`.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from conftest import ignoring_sigint, require
from gradbook_grader import rubric
from gradbook_grader.byquestion import Server
from gradbook_grader.cli import main as cli
from gradbook_grader.course import Course
from gradbook_grader.gradebook import open_gradebook
from gradbook_grader.answer_groups import THRESHOLD, diff, group, jaccard, normalise, shingles, similar_pairs
from lifecycle_helpers import BIN
from written_helpers import CH05, FAMILIES, FLIPPED, QUESTION, Written, graded_class, synthetic_class

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> [x](javascript:window.__pwned=3)'


def expected_groups(answers: list[Written]) -> set[frozenset[str]]:
    """The grouping the labels call for: a family together (its copies, re-typings and small edits), the
    flipped edit of the full answer beside it (near-identical: the page marks the difference), every
    unique answer alone, the blank ones together."""
    families = {a.family for a in answers}
    label = {a.student: "full" if a.family == "flipped" and "full" in families else a.family for a in answers}
    out: dict[str, set[str]] = {}
    for student, name in label.items():
        out.setdefault(name, set()).add(student)
    return {frozenset(v) for v in out.values()}


def test_a_class_is_grouped_as_its_answers_were_made() -> None:
    answers = synthetic_class(200, seed=3)
    blank = [n for n, a in enumerate(answers) if normalise(a.text) in ("", normalise("YOUR ANSWER HERE"))]
    groups = group([a.text for a in answers], blank)
    got = {frozenset(answers[n].student for n in g.members) for g in groups}
    assert got == expected_groups(answers)
    kinds = {g.kind for g in groups if any(answers[n].family == "blank" for n in g.members)}
    assert kinds == {"blank"}
    assert all(g.kind == "unique" for g in groups if len(g.members) == 1)


def test_a_variant_shows_what_differs_from_the_representative_and_nothing_else() -> None:
    full = FAMILIES["full"][0]
    flipped = full.replace(FLIPPED[1], FLIPPED[2])
    marks = [(piece.strip(), how) for piece, how in diff(full, flipped) if how]
    assert marks == [("not", "-")], "the dropped word shows, struck through"
    assert "".join(piece for piece, how in diff(full, flipped) if how != "-") == flipped, "the answer itself, whole"
    assert [how for _, how in diff(full, "  " + full.upper().replace(",", " ,") + "\n") if how] == []
    assert [(p.strip(), how) for p, how in diff("it does overflow", "it does not overflow") if how] == [("not", "+")]


def test_the_similarity_join_finds_every_pair_a_brute_force_finds() -> None:
    rng = random.Random(5)
    words = "the max logit overflow cancel mean shift sum exp large small and so it".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 25))) for _ in range(150)]
    texts += [t[:-1] + "x" for t in texts[:60]]  # near-identical twins
    sets = [shingles(normalise(t)) for t in texts]
    pairs = similar_pairs(sets)
    found = {(i, j) for i in pairs for j in pairs[i]}
    brute = {(i, j) for i in range(len(sets)) for j in range(len(sets)) if i != j and jaccard(sets[i], sets[j]) >= THRESHOLD}
    assert found == brute and len(brute) > 60


# --- the page ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> tuple[Course, list[Written]]:
    answers = synthetic_class(16, seed=7)
    answers.append(Written("mallory", HOSTILE, "hostile", "unique", 0.0, ""))
    return graded_class(tmp_path_factory.mktemp("byquestion"), answers), answers


@pytest.fixture()
def server(classroom: tuple[Course, list[Written]]) -> Iterator[Server]:
    with Server(classroom[0], CH05) as started:
        yield started


@pytest.mark.slow  # the class's gradebook is made and graded first
def test_only_the_token_opens_the_page(server: Server) -> None:
    base = f"http://127.0.0.1:{server.port}"
    wrong = server.token[:-1] + ("y" if server.token.endswith("x") else "x")  # the token with its last character changed
    for path in ("/", "/api/questions", f"/{wrong}/api/questions", f"/{server.token}/../api/questions"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + path, timeout=30)
        assert refused.value.code == 404, path
    ok = json.loads(urllib.request.urlopen(f"{base}/{server.token}/api/questions", timeout=30).read())
    assert [q["id"] for q in ok["questions"]] == [QUESTION]
    forged_host = urllib.request.Request(f"{base}/{server.token}/api/questions", headers={"Host": "evil.example:80"})
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(forged_host, timeout=30)


def post(server: Server, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/{server.token}/{path}", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=60).read())


@pytest.mark.slow
def test_an_answer_changed_since_it_was_seen_is_not_scored(classroom: tuple[Course, list[Written]], server: Server) -> None:
    course, answers = classroom
    student = next(a.student for a in answers if a.family == "hostile")
    done = post(server, "api/grade", {"question": QUESTION, "answers": {student: "not-what-it-is-now"}, "score": 1})
    assert (done["saved"], done["stale"]) == ([], [student])
    with pytest.raises(urllib.error.HTTPError) as refused:  # more than the question's points
        post(server, "api/grade", {"question": QUESTION, "answers": {student: "x"}, "score": 3})
    assert refused.value.code == 400 and "between 0 and 2" in json.loads(refused.value.read())["error"]
    with open_gradebook(course) as gb:
        grade = gb.find_grade(QUESTION, CH05, CH05, student)
        assert (grade.manual_score, grade.needs_manual_grade) == (None, True)


def test_a_rubric_item_is_a_comment_line_read_back_as_the_item() -> None:
    items = rubric.clean([{"text": "  Names   the overflow ", "points": 1}, {"text": "Wrong sign", "points": -0.5},
                          {"text": "Mean", "points": 1.5, "id": "m"}])
    assert [i.text for i in items] == ["Names the overflow", "Wrong sign", "Mean"] and items[2].id == "m"
    comment = rubric.compose([items[0], items[1]], " see the notes ")
    assert comment == "Names the overflow (+1)\nWrong sign (-0.5)\nsee the notes"
    assert rubric.split(comment, items) == ([items[0].id, items[1].id], "see the notes")
    for bad in ([{"text": "", "points": 1}], [{"text": "x", "points": "1"}], [{"text": "x", "points": float("nan")}], {}):
        with pytest.raises(ValueError):
            rubric.clean(bad)


@pytest.mark.slow
def test_the_documented_command_serves_the_page_until_ctrl_c(classroom: tuple[Course, list[Written]],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    course = classroom[0]
    args = ["grade-by-question", "--course", str(course.root), "--assignment", CH05]
    assert cli([*args, "--question", "nope"]) == 1
    assert f"no written-answer question 'nope'; its questions: {QUESTION}" in capsys.readouterr().err
    command = [str(BIN / "gradbook-grader"), *args]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=ignoring_sigint)  # Ctrl-C stops it all the same
    try:
        lines = iter(server.stdout.readline, "")  # type: ignore[union-attr]
        url = next(line.split()[1] for line in lines if line.startswith("open http://127.0.0.1:"))
        listed = json.loads(urllib.request.urlopen(url.split("#")[0] + "api/questions", timeout=60).read())
        assert listed["questions"][0]["id"] == QUESTION and listed["questions"][0]["total"] == len(classroom[1])
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0


@pytest.mark.browser
@pytest.mark.slow
def test_keys_score_a_group_into_nbgraders_gradebook(classroom: tuple[Course, list[Written]], server: Server,
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require(importlib.util.find_spec("playwright") is not None, "the playwright package is not installed")
    from playwright.sync_api import sync_playwright

    from test_browser import CHROMIUM, CHROMIUM_ARGS

    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    course, answers = classroom
    by_student = {a.student: a for a in answers}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server.url.split("#")[0])
                       else route.abort())
            page.goto(server.url)
            page.wait_for_selector(".group.current")
            shown = page.evaluate("""() => [...document.querySelectorAll('.group')].map(g =>
                [...g.querySelectorAll('.student')].map(s => s.dataset.student))""")
            assert {frozenset(g) for g in shown} == expected_groups(answers), "the page shows the class's groups"

            # The hostile answer is shown as its text; nothing in it became an element or ran.
            assert HOSTILE in page.inner_text("#groups")
            assert page.evaluate("() => document.querySelectorAll('#groups img, #groups script, #groups a').length") == 0
            assert page.evaluate("() => window.__pwned === undefined")

            # A rubric item, made with the keyboard: r, its text, tab, its points, enter.
            page.keyboard.press("r")
            page.keyboard.type("Cancels, no overflow, and why not the mean")
            page.keyboard.press("Tab")
            page.keyboard.press("Control+a")
            page.keyboard.type("2")
            page.keyboard.press("Enter")
            page.wait_for_selector("#rubric li")
            page.keyboard.press("Escape")

            # The current group is the first still to grade; j/k move, ? shows the keys.
            page.keyboard.press("?")
            assert page.is_visible("#help")
            page.keyboard.press("Escape")
            page.keyboard.press("j")
            page.keyboard.press("k")
            members = page.evaluate("() => [...document.querySelectorAll('.group.current .student')].map(s => s.dataset.student)")
            assert members and not any(by_student[s].family == "blank" for s in members)
            family = next(by_student[s].family for s in members if by_student[s].family != "flipped")

            # 1 applies the item (its points become the score), enter saves the whole group.
            page.keyboard.press("1")
            assert page.input_value("#score") == "2"
            with page.expect_response(lambda r: "/api/grade" in r.url) as saved:
                page.keyboard.press("Enter")
            assert saved.value.ok
            page.wait_for_function("() => document.body.dataset.saves === '1'")  # saved, and the page moved on
            assert page.inner_text("#message") == f"saved {len(members)} answers: 2"

            # One answer of the group alone (each flipped one): back with k, n to the answer, 1 takes the item
            # it got with its group off, s and a score, enter.
            flipped = [s for s in members if by_student[s].family == "flipped"]
            for n, student in enumerate(flipped):
                page.keyboard.press("k")
                page.wait_for_function(f"() => [...document.querySelectorAll('.group.current .student')].some("
                                       f"s => s.dataset.student === '{student}')")
                order = page.evaluate("() => [...document.querySelectorAll('.group.current .student')].map(s => s.dataset.student)")
                for _ in range(order.index(student) + 1):
                    page.keyboard.press("n")
                assert page.inner_text("#target").startswith(f"Scoring {student}")
                page.keyboard.press("1")
                assert page.input_value("#score") == "", "the score follows the items it came from"
                page.keyboard.press("s")
                page.keyboard.press("Control+a")
                page.keyboard.type("0.5")
                with page.expect_response(lambda r: "/api/grade" in r.url) as saved:
                    page.keyboard.press("Enter")
                assert saved.value.ok
                page.wait_for_function(f"() => document.body.dataset.saves === '{n + 2}'")
                assert page.inner_text("#message") == "saved 1 answer: 0.5"
            done = page.inner_text("#progress")
            graded_before = sum(1 for a in answers if a.family == "blank")
            assert done.startswith(f"{QUESTION}: {graded_before + len(members)} / {len(answers)} answers graded")

            # The blank answers' group (the first): already 0, and one key confirms it as a person's 0.
            for _ in range(len(shown)):
                page.keyboard.press("k")
            blanks = page.evaluate("() => [...document.querySelectorAll('.group.current .student')].map(s => s.dataset.student)")
            assert {by_student[s].family for s in blanks} == {"blank"} and page.input_value("#score") == "0"
            with page.expect_response(lambda r: "/api/grade" in r.url) as saved:
                page.keyboard.press("Enter")
            assert saved.value.ok
        finally:
            browser.close()

    comment = "Cancels, no overflow, and why not the mean (+2)"
    expected = {s: (0.5 if s in flipped else 2.0) for s in members}
    with open_gradebook(course) as gb:  # nbgrader's own API
        for student, score in expected.items():
            grade = gb.find_grade(QUESTION, CH05, CH05, student)
            assert (grade.manual_score, grade.needs_manual_grade) == (score, False), student
            assert gb.find_comment(QUESTION, CH05, CH05, student).manual_comment == (comment if score == 2.0 else None)
        assert all(gb.find_grade(QUESTION, CH05, CH05, s).manual_score == 0 for s in blanks)
        others = [a.student for a in answers if a.student not in expected and a.family != "blank"]
        assert all(gb.find_grade(QUESTION, CH05, CH05, s).manual_score is None for s in others)
    assert family in {a.family for a in answers}

    # The command line's report and export (in this process: the same code as the command, without its start-up).
    one = next(s for s, score in expected.items() if score == 2.0)
    capsys.readouterr()
    assert cli(["report", "--course", str(course.root), "--student", one]) == 0
    report = capsys.readouterr().out
    assert f"{QUESTION}: 2 / 2 (by hand)" in report and f"comment: {comment}" in report, report
    assert cli(["export", "--course", str(course.root), "--csv", str(tmp_path / "c.csv"), "--format", "cells"]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "c.csv").open(encoding="utf-8")) if r["cell"] == QUESTION}
    assert {s: float(rows[s]["manual_score"]) for s in expected} == expected
    assert all(rows[s]["comment"] == comment for s, score in expected.items() if score == 2.0)
