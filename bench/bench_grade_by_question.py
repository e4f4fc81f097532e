#!/usr/bin/env python3
"""Seconds per written answer: `gradbook-grader grade-by-question` against nbgrader's formgrader, one class.

    .venv/bin/python bench/bench_grade_by_question.py                    200 answers, every one in both flows
    .venv/bin/python bench/bench_grade_by_question.py --formgrader-sample 40
                                                 the formgrader on the first 40 submissions, extrapolated

A class of 200 synthetic answers to chapter 5's `softmax-shift` (tests/written_helpers.py: five common
answers copied, re-typed and edited a little, a few unique ones, some blank, two near-identical but
wrong) is graded by the stand-in execution side, so every written answer waits for a person. Two copies
of the course are then graded to the same scores and comments, as a grader who knows the right score of
each answer (its label) would, with headless Chromium driven by Playwright pressing the keys a person
presses:

* **by question**: the page, as documented (docs/lifecycle.md): a rubric item per common answer typed in
  (r, text, tab, points, enter), then per group: its digit and enter; a member that deserves another
  score: k back, n to it, its digit off, s, the score, enter; a unique answer: s, the score, enter.
* **formgrader**: nbgrader's own page per submission, its fastest keyboard flow: the score field, tab
  (saved), the comment (pasted: no rubric there), tab (saved), ctrl+. to the next submission; a blank
  answer ("No response.", already 0) is passed with ctrl+. alone.

Both times are wall-clock seconds of the machine (page loads, saves, rendering), not of a person's
reading and deciding. The second pair of figures adds a person by the Keystroke-Level Model (Card, Moran
and Newell 1980): 0.28 s per key (an average typist), 1.35 s of mental preparation per decision, and
reading at 238 words a minute (Brysbaert 2019, silent reading of non-fiction): in the formgrader every
answer that is not blank is read; by question every distinct answer (once normalised) is read in full,
although the page shows a variant as its differences from the group's first answer. The last line is
JSON. Figures are printed, never asserted: machines differ.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlsplit
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from written_helpers import CH05, FAMILIES, FLIPPED, QUESTION, Written, graded_class, synthetic_class  # noqa: E402

from gradbook_grader.course import Course  # noqa: E402
from gradbook_grader.gradebook import open_gradebook  # noqa: E402
from gradbook_grader.answer_groups import normalise  # noqa: E402

KEY_S, DECISION_S, WORDS_PER_S = 0.28, 1.35, 238 / 60  # the Keystroke-Level Model's K and M; reading speed
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
MATHJAX = "window.MathJax = {Hub: {Startup: {signal: {Interest: function () {}}}, Queue: function () {}, Config: function () {}}};"


def copy_course(root: Path, target: Path) -> Course:
    shutil.copytree(root, target, symlinks=True)
    course = target / "autograder"
    return Course(course, target / "solutions", target / "notebooks", f"sqlite:///{course / 'gradebook.db'}")


def by_question(course: Course, answers: list[Written], page_factory) -> tuple[float, int, int]:
    """The page's flow; (seconds, decisions, keys)."""
    from gradbook_grader.byquestion import Server

    label = {a.student: a for a in answers}
    items = [(name, f"{why}", score) for name, (_, score, why) in FAMILIES.items()] + [("flipped", FLIPPED[4], FLIPPED[3])]
    digit = {name: str(n + 1) for n, (name, _, _) in enumerate(items)}
    keys = decisions = 0
    with Server(course, CH05) as server:
        page = page_factory(server.url.split("#")[0])
        started = time.perf_counter()
        page.goto(server.url)
        page.wait_for_selector(".group.current")

        def press(key: str) -> None:
            nonlocal keys
            keys += 1
            page.keyboard.press(key)

        def typed(text: str, pasted: bool = False) -> None:
            nonlocal keys
            keys += 1 if pasted else len(text)
            page.keyboard.type(text)

        saves = 0

        def save() -> None:
            nonlocal saves
            with page.expect_response(lambda r: "/api/grade" in r.url) as saved:
                press("Enter")
            assert saved.value.ok, saved.value.text()
            saves += 1
            page.wait_for_function(f"() => document.body.dataset.saves === '{saves}'")  # and the page moved on

        for n, (_, why, score) in enumerate(items):
            press("r")
            typed(why, pasted=True)  # a comment's text counts as one key in both flows (pasted)
            press("Tab")
            press("Control+a")
            typed(f"{score:g}")
            press("Enter")
            page.wait_for_function(f"() => document.querySelectorAll('#rubric li').length === {n + 1}")
        press("Escape")
        while True:
            members = page.evaluate("() => [...document.querySelectorAll('.group.current .student')]"
                                    ".map(s => [s.dataset.student, s.classList.contains('graded')])")
            if all(graded for _, graded in members):
                break  # the page went back to a graded group: nothing is left to grade
            students = [s for s, _ in members]
            families = Counter(label[s].family for s in students)
            family = families.most_common(1)[0][0]
            decisions += 1
            if family in digit:
                press(digit[family])
            else:  # a unique answer: its own score
                press("s")
                typed(f"{label[students[0]].score:g}")
            save()
            odd = [s for s in students if label[s].family != family and label[s].family in digit]
            for student in odd:
                decisions += 1
                press("k")
                page.wait_for_function(f"() => !!document.querySelector('.group.current [data-student=\"{student}\"]')")
                order = page.evaluate("() => [...document.querySelectorAll('.group.current .student')].map(s => s.dataset.student)")
                for _ in range(order.index(student) + 1):
                    press("n")
                press(digit[family])
                press(digit[label[student].family])
                save()
        seconds = time.perf_counter() - started
        page.close()
    return seconds, decisions, keys


def formgrader(course: Course, answers: list[Written], page_factory, sample: int) -> tuple[float, int, int, int]:
    """nbgrader's formgrader, submission after submission; (seconds, submissions visited, decisions, keys)."""
    label = {a.student: a for a in answers}
    with open_gradebook(course) as gb:
        ids = {nb.id: nb.student.id for nb in gb.notebook_submissions(CH05, CH05)}
    first = sorted(ids)[0]
    keys = decisions = visited = 0
    with jupyter(course.root) as (base, token):
        page = page_factory(base, token)
        started = time.perf_counter()
        page.goto(f"{base}/formgrader/submissions/{first}/?token={token}")
        while visited < sample:
            page.wait_for_function("() => window.formgrader && formgrader.loaded && formgrader.grades.loaded "
                                   "&& formgrader.comments.loaded", timeout=120_000)
            submission = urlsplit(page.url).path.rstrip("/").split("/")[-1]
            answer = label[ids[submission]]
            visited += 1
            if answer.family != "blank":  # "No response." is already 0: the grader only moves on
                decisions += 1
                score = page.locator(f"input.score#{QUESTION}")
                score.focus()
                with page.expect_response(lambda r: "/api/grade/" in r.url and r.request.method == "PUT"):
                    score.fill(f"{answer.score:g}")
                    page.keyboard.press("Tab")
                comment = page.locator(f"textarea#{QUESTION}-comment")
                with page.expect_response(lambda r: "/api/comment/" in r.url and r.request.method == "PUT"):
                    comment.fill(answer.why)  # pasted: one key press
                    page.keyboard.press("Tab")
                keys += len(f"{answer.score:g}") + 3
            if visited == len(ids):
                break
            page.locator(f"input.score#{QUESTION}").focus()
            with page.expect_navigation():
                page.keyboard.press("Control+.")
            keys += 1
        seconds = time.perf_counter() - started
    return seconds, visited, decisions, keys


class jupyter:  # noqa: N801 - used as a context manager, like open()
    """A Jupyter server with nbgrader's formgrader over the course (as tests/test_browser_grading.py starts it)."""

    def __init__(self, course_root: Path) -> None:
        self.root = course_root

    def __enter__(self) -> tuple[str, str]:
        self.work = work = Path(tempfile.mkdtemp(prefix="bench-formgrader-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        token = secrets.token_hex(16)
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
                   JUPYTER_DATA_DIR=str(work / "data"))
        command = [sys.executable, "-m", "jupyter", "server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
                   f"--ServerApp.root_dir={self.root}"] + (["--allow-root"] if os.geteuid() == 0 else [])
        self.log = open(work / "server.log", "wb")
        self.server = subprocess.Popen(command, cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.base, self.token = f"http://127.0.0.1:{port}", token
        deadline = time.monotonic() + 180
        while True:
            if self.server.poll() is not None:
                raise SystemExit(f"the Jupyter server exited:\n{(work / 'server.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.base}/formgrader/?token={token}", timeout=5)
                return self.base, token
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the Jupyter server did not answer within 180 s")
                time.sleep(0.3)

    def __exit__(self, *_: object) -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(f"{self.base}/api/shutdown?token={self.token}", method="POST"),
                                   timeout=5)
            self.server.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.server.pid, 9)
            self.server.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)


def scores(course: Course) -> dict[str, tuple[float | None, str | None]]:
    with open_gradebook(course) as gb:
        return {nb.student.id: (next(g.score for g in nb.grades if g.name == QUESTION),
                                next(c.comment for c in nb.comments if c.name == QUESTION))
                for nb in gb.notebook_submissions(CH05, CH05)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=200, help="answers in the class (default 200)")
    parser.add_argument("--formgrader-sample", type=int, default=0,
                        help="drive the formgrader on this many submissions and extrapolate (default: all)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-byquestion-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    from playwright.sync_api import sync_playwright

    answers = synthetic_class(args.size)
    t = time.perf_counter()
    graded_class(work / "a", answers)
    print(f"class of {args.size} graded (stand-in execution side) in {time.perf_counter() - t:.0f} s; "
          f"{Counter(a.how for a in answers)}", file=sys.stderr)
    base_course = Course(work / "a" / "autograder", work / "a" / "solutions", work / "a" / "notebooks",
                         f"sqlite:///{work / 'a' / 'autograder' / 'gradebook.db'}")
    fg_course = copy_course(work / "a", work / "b")
    sample = args.formgrader_sample or args.size

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def local_page(base: str, token: str = ""):
            page = browser.new_page(extra_http_headers={"Authorization": f"token {token}"} if token else {})
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else
                       route.fulfill(body=MATHJAX, content_type="application/javascript")
                       if "mathjax" in route.request.url.lower() else route.abort())
            return page

        bq_seconds, bq_decisions, bq_keys = by_question(base_course, answers, local_page)
        fg_seconds, visited, fg_decisions, fg_keys = formgrader(fg_course, answers, local_page, sample)
        browser.close()

    answered = [a for a in answers if a.family != "blank"]
    read_fg = sum(len(a.text.split()) for a in answered) / WORDS_PER_S
    read_bq = sum(len(text.split()) for text in {normalise(a.text) for a in answered}) / WORDS_PER_S
    person_bq = (bq_seconds + bq_keys * KEY_S + bq_decisions * DECISION_S + read_bq) / len(answers)
    per_bq = bq_seconds / len(answers)
    per_fg = fg_seconds / visited  # a sample's figures scale to the class
    person_fg = per_fg + (fg_keys * KEY_S + fg_decisions * DECISION_S) / visited + read_fg / len(answers)
    ours, theirs = scores(base_course), scores(fg_course)
    same = sum(ours[s][0] == theirs[s][0] for s in ours) if visited == len(answers) else None
    print(f"{len(answers)} written answers ({QUESTION}), headless Chromium, this machine")
    print(f"  by question:  {bq_seconds:7.1f} s  {per_bq:6.2f} s/answer  {bq_decisions:4d} decisions  {bq_keys:5d} keys")
    extrapolated = " (extrapolated from %d submissions)" % visited if visited < len(answers) else ""
    print(f"  formgrader:   {per_fg * len(answers):7.1f} s  {per_fg:6.2f} s/answer  {fg_decisions:4d} decisions  "
          f"{fg_keys:5d} keys{extrapolated}")
    print(f"  ratio:        {per_fg / per_bq:.1f}x fewer machine seconds per answer by question")
    print("with a person (Keystroke-Level Model, reading at 238 words/min):")
    print(f"  by question:  {person_bq:6.2f} s/answer   formgrader: {person_fg:6.2f} s/answer   "
          f"ratio {person_fg / person_bq:.1f}x")
    print(f"  6,000 answers (3 questions x 2,000 students) at these rates: {person_bq * 6000 / 3600:.1f} h by question "
          f"(fewer: groups grow with the class), {person_fg * 6000 / 3600:.1f} h in the formgrader")
    if same is not None:
        print(f"  same scores in both gradebooks: {same} / {len(answers)}")
    print(json.dumps({"answers": len(answers), "by_question_s_per_answer": round(per_bq, 3),
                      "formgrader_s_per_answer": round(per_fg, 3), "formgrader_sampled": visited,
                      "ratio": round(per_fg / per_bq, 2),
                      "person_s_per_answer": {"by_question": round(person_bq, 2), "formgrader": round(person_fg, 2)},
                      "decisions": {"by_question": bq_decisions, "formgrader": fg_decisions},
                      "keys": {"by_question": bq_keys, "formgrader": fg_keys}, "same_scores": same}))


if __name__ == "__main__":
    main()
