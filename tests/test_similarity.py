"""Copying between students (`gradbook-grader similarity`, issue 22 item 4).

A synthetic class of chapter 2: twenty honest students, each writing every exercise as one of
several distinct correct implementations (loops over indices or over rows, accumulators,
comprehensions, zip, while, the student's own earlier functions), each with the student's own
names, copy idiom, loop bounds, comments and blank lines, all drawn at random; and two students
who share one unusual solution, the second with renamed variables, independent statements
reordered and other comments. Nothing below knows how the report scores: the assertions are
the issue's (the pair first, no honest pair at the threshold, both named in the HTML report,
in `report` and in the export, no score changed), and a class that all writes the same three-line
relu flags no one.
"""

from __future__ import annotations

import csv
import io
import random
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest

from fake_grading import CH02, expected_score, honest, model_answers, small_course
from fake_grading import grade_submission as fake_grade
from gradbook_grader import similarity
from gradbook_grader.batch import grade_assignment
from gradbook_grader.cli import main
from gradbook_grader.course import Course
from gradbook_grader.export import export_csv
from gradbook_grader.feedback import report_text
from gradbook_grader.grades import read
from gradbook_grader.nbcells import grade_id, is_solution, stub_solution

STUB = "# YOUR CODE HERE\n    raise NotImplementedError()"
COPIERS = ("quinn", "rosa")
HONEST = tuple(f"s{n:02d}" for n in range(20))


# ---------------------------------------------------------------- honest students, generated


class Style:
    """One student's habits: names, how they copy an array, write loop bounds, comment."""

    def __init__(self, r: random.Random) -> None:
        self.r = r
        self.out = r.choice(["z", "out", "result", "res", "answer", "y_new", "acc"])
        self.i, self.j, self.k = r.choice([("i", "j", "k"), ("r", "c", "t"), ("row", "col", "idx"), ("a", "b", "p"),
                                           ("ii", "jj", "kk")])
        self.bounds = r.choice(["shape", "len", "unpack"])
        self.copy = r.choice(["x.copy()", "np.copy(x)", "np.array(x, copy=True)", "x.astype(x.dtype)"])
        self.chatty = r.random()

    def rows_cols(self, a: str = "x") -> tuple[list[str], str, str]:
        """Lines that name the bounds, and the two bounds, of the 2-D array `a`."""
        if self.bounds == "shape":
            return [], f"{a}.shape[0]", f"{a}.shape[1]"
        if self.bounds == "len":
            return [], f"len({a})", f"len({a}[0])"
        n, m = self.r.choice([("n", "m"), ("rows", "cols"), ("h", "w"), ("n_rows", "n_cols")])
        return [f"{n}, {m} = {a}.shape"], n, m

    def comment(self) -> list[str]:
        pool = ["# loop over every entry", "# work on a copy so x stays the same", "# accumulate the sum",
                "# go through the rows", "# TODO check shapes?", "# the naive way, as asked", "# build the result"]
        return [self.r.choice(pool)] if self.r.random() < self.chatty else []


def _nest(header: list[str], body: list[str]) -> list[str]:
    """`header` lines each indenting what follows, then `body` innermost."""
    out, pad = [], ""
    for line in header:
        out.append(pad + line)
        pad += "    "
    return out + [pad + line for line in body]


def _elementwise(s: Style, value: str, family: int) -> list[str]:
    """An element-wise exercise (relu, add, add a vector) written as one of four families;
    `value` is the new entry in terms of `x[i, j]`, `y[i, j]`, `y[j]` (spelled `X`, `YIJ`, `YJ`)."""
    i, j, o = s.i, s.j, s.out
    pre, n, m = s.rows_cols()
    v = value.replace("X", f"x[{i}, {j}]").replace("YIJ", f"y[{i}, {j}]").replace("YJ", f"y[{j}]")
    if family == 0:  # a copy, updated in place
        body = [f"{o}[{i}, {j}] = {v.replace(f'x[{i}, {j}]', f'{o}[{i}, {j}]')}"]
        return s.comment() + pre + [f"{o} = {s.copy}"] + _nest([f"for {i} in range({n}):", f"for {j} in range({m}):"], body) + [f"return {o}"]
    if family == 1:  # a new array of zeros, filled
        zeros = s.r.choice(["np.zeros_like(x)", "np.zeros(x.shape)", "np.zeros(x.shape, dtype=x.dtype)"])
        return pre + [f"{o} = {zeros}"] + s.comment() + _nest(
            [f"for {i} in range({n}):", f"for {j} in range({m}):"], [f"{o}[{i}, {j}] = {v}"]) + [f"return {o}"]
    if family == 2:  # rows and entries by enumerate
        row, e = s.r.choice([("xrow", "v"), ("line", "val"), ("xs", "e")])
        w = v.replace(f"x[{i}, {j}]", e)
        return [f"{o} = np.empty_like(x)"] + s.comment() + _nest(
            [f"for {i}, {row} in enumerate(x):", f"for {j}, {e} in enumerate({row}):"], [f"{o}[{i}, {j}] = {w}"]) + [f"return {o}"]
    pre, n, m = s.rows_cols()  # a comprehension
    return pre + s.comment() + [f"return np.array([[{v} for {j} in range({m})] for {i} in range({n})])"]


def _relu(s: Style, f: int) -> list[str]:
    value = s.r.choice(["max(X, 0)", "max(0, X)", "X if X > 0 else 0", "(X > 0) * X"])
    return _elementwise(s, value, f)


def _vector_dot(s: Style, f: int) -> list[str]:
    o, i = s.out, s.i
    start = s.r.choice(["0.0", "0", "float(0)"])
    if f == 0:
        return s.comment() + [f"{o} = {start}", f"for {i} in range(len(x)):", f"    {o} += x[{i}] * y[{i}]", f"return {o}"]
    if f == 1:
        return [f"{o} = {start}"] + s.comment() + [f"for a_, b_ in zip(x, y):", f"    {o} = {o} + a_ * b_", f"return float({o})"]
    if f == 2:
        return s.comment() + [f"return sum(x[{i}] * y[{i}] for {i} in range(x.shape[0]))"]
    return [f"{i} = 0", f"{o} = {start}", f"while {i} < len(x):", f"    {o} += x[{i}] * y[{i}]", f"    {i} += 1",
            f"return {o}"]


def _matrix_vector_dot(s: Style, f: int) -> list[str]:
    i, j, o = s.i, s.j, s.out
    pre, n, m = s.rows_cols()
    if f == 0:
        return pre + [f"{o} = np.zeros({n})"] + s.comment() + _nest(
            [f"for {i} in range({n}):", f"for {j} in range({m}):"], [f"{o}[{i}] += x[{i}, {j}] * y[{j}]"]) + [f"return {o}"]
    if f == 1:
        row = s.r.choice([f"x[{i}]", f"x[{i}, :]"])
        return pre + [f"{o} = np.zeros({n})", f"for {i} in range({n}):", f"    {o}[{i}] = naive_vector_dot({row}, y)",
                      f"return {o}"]
    if f == 2:
        acc = s.r.choice(["total", "s", "running"])
        return pre + s.comment() + [f"{o} = np.empty({n})", f"for {i} in range({n}):", f"    {acc} = 0.0",
                                    f"    for {j} in range({m}):", f"        {acc} += x[{i}, {j}] * y[{j}]",
                                    f"    {o}[{i}] = {acc}", f"return {o}"]
    return pre + [f"return np.array([sum(x[{i}, {j}] * y[{j}] for {j} in range({m})) for {i} in range({n})])"]


def _matrix_dot(s: Style, f: int) -> list[str]:
    i, j, k, o = s.i, s.j, s.k, s.out
    n, inner, m = s.r.choice([("x.shape[0]", "x.shape[1]", "y.shape[1]"), ("len(x)", "len(y)", "len(y[0])")])
    if f == 0:
        loops = [f"for {i} in range({n}):", f"for {j} in range({m}):", f"for {k} in range({inner}):"]
        return [f"{o} = np.zeros(({n}, {m}))"] + s.comment() + _nest(loops, [f"{o}[{i}, {j}] += x[{i}, {k}] * y[{k}, {j}]"]) + [f"return {o}"]
    if f == 1:
        return [f"{o} = np.zeros(({n}, {m}))"] + _nest([f"for {i} in range({n}):", f"for {j} in range({m}):"],
                                                       [f"{o}[{i}, {j}] = naive_vector_dot(x[{i}, :], y[:, {j}])"]) + [f"return {o}"]
    if f == 2:
        return s.comment() + [f"{o} = np.zeros(({n}, {m}))", f"for {j} in range({m}):",
                              f"    {o}[:, {j}] = naive_matrix_vector_dot(x, y[:, {j}])", f"return {o}"]
    acc = s.r.choice(["total", "s", "dot"])
    return [f"{o} = np.empty(({n}, {m}))"] + _nest([f"for {i} in range({n}):", f"for {j} in range({m}):"], [
        f"{acc} = 0.0", f"for {k} in range({inner}):", f"    {acc} += x[{i}, {k}] * y[{k}, {j}]", f"{o}[{i}, {j}] = {acc}"]) + [f"return {o}"]


def _transpose(s: Style, f: int) -> list[str]:
    i, j, o = s.i, s.j, s.out
    pre, n, m = s.rows_cols()
    if f == 0:
        new = s.r.choice(["np.zeros", "np.empty"])
        return pre + [f"{o} = {new}(({m}, {n}), dtype=x.dtype)"] + s.comment() + _nest(
            [f"for {i} in range({n}):", f"for {j} in range({m}):"], [f"{o}[{j}, {i}] = x[{i}, {j}]"]) + [f"return {o}"]
    if f == 1:
        return pre + [f"{o} = np.empty(({m}, {n}), dtype=x.dtype)", f"for {j} in range({m}):", f"    {o}[{j}] = x[:, {j}]",
                      f"return {o}"]
    if f == 2:
        return pre + s.comment() + [f"return np.array([[x[{i}, {j}] for {i} in range({n})] for {j} in range({m})], dtype=x.dtype)"]
    return [f"{o} = np.empty((x.shape[1], x.shape[0]), dtype=x.dtype)",
            f"for {i}, line_ in enumerate(x):", f"    for {j}, v in enumerate(line_):", f"        {o}[{j}, {i}] = v",
            f"return {o}"]


WRITERS = {
    "naive-relu": _relu,
    "naive-add": lambda s, f: _elementwise(s, s.r.choice(["X + YIJ", "YIJ + X"]), f),
    "naive-add-matrix-and-vector": lambda s, f: _elementwise(s, s.r.choice(["X + YJ", "YJ + X"]), f),
    "naive-vector-dot": _vector_dot,
    "naive-matrix-vector-dot": _matrix_vector_dot,
    "naive-matrix-dot": _matrix_dot,
    "naive-transpose": _transpose,
}

# The unusual solution two students share: a flat walk over the result with divmod and index arithmetic.
ORIGINAL = """\
# walk over the flat result, one entry at a time
flat_x = x.ravel()
flat_y = y.ravel()
n_out, depth = x.shape
m_out = y.shape[1]
out = np.empty(n_out * m_out)
pos = 0
while pos < n_out * m_out:
    r, c = divmod(pos, m_out)  # which row and column
    total = 0.0
    for t in range(depth):
        total += flat_x[r * depth + t] * flat_y[t * m_out + c]
    out[pos] = total
    pos += 1
return out.reshape(n_out, m_out)"""
COPY = """\
cols = y.shape[1]
rows, inner = x.shape
b_flat = y.ravel()
a_flat = x.ravel()
# every output cell in turn
result = np.empty(rows * cols)
k = 0
while k < rows * cols:
    acc = 0.0
    i, j = divmod(k, cols)
    for p in range(inner):
        acc += a_flat[i * inner + p] * b_flat[p * cols + j]  # multiply and add
    result[k] = acc
    k += 1
return result.reshape(rows, cols)"""


def _cell(template: str, body: list[str] | str) -> str:
    lines = body.splitlines() if isinstance(body, str) else body
    assert STUB in template, template
    return template.replace(STUB, "\n    ".join(lines))


def _notebook(src: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The student notebook with each answer (a body, or a model answer: a whole cell) in its cell."""
    model = model_answers(src)
    return honest(src, {gid: answers[gid] if answers.get(gid) == model[gid] else
                        _cell(stub_solution(c.source), answers.get(gid, STUB.replace("    ", "")))
                        for c in src.cells if is_solution(c) and (gid := grade_id(c))})


def honest_answers(seed: int) -> dict[str, str]:
    """Every exercise of chapter 2 as one honest student writes it (their own style, a family per exercise)."""
    s = Style(random.Random(seed))
    return {gid: "\n".join(write(s, s.r.randrange(4))) for gid, write in WRITERS.items()}


def synthetic_class(course: Course, folder: Path) -> None:
    """The class; two of them (one honest, one of the pair) wrote one exercise exactly as the model
    answer, which the stand-in grader scores (it scores nothing else)."""
    src = nbformat.read(course.source(CH02), as_version=4)
    model = model_answers(src)
    for n, student in enumerate(HONEST):
        answers = honest_answers(1000 + n)
        if n == 0:
            answers["naive-relu"] = model["naive-relu"]
        (folder / student / CH02).mkdir(parents=True)
        nbformat.write(_notebook(src, answers), folder / student / CH02 / f"{CH02}.ipynb")
    for n, (student, shared) in enumerate(zip(COPIERS, (ORIGINAL, COPY))):
        answers = honest_answers(2000 + n)  # their other exercises are their own
        answers["naive-matrix-dot"] = shared
        if n == 0:
            answers["naive-vector-dot"] = model["naive-vector-dot"]
        (folder / student / CH02).mkdir(parents=True)
        nbformat.write(_notebook(src, answers), folder / student / CH02 / f"{CH02}.ipynb")


def test_the_generator_writes_correct_varied_solutions() -> None:
    """The honest class is honest (every answer right) and varied (no two students alike)."""
    import numpy as np

    rng = np.random.default_rng(0)
    x, y, v = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=4)
    b = rng.normal(size=(4, 2))
    expected = {"naive_relu": ((x,), np.maximum(x, 0)), "naive_add": ((x, y), x + y),
                "naive_add_matrix_and_vector": ((x, v), x + v), "naive_vector_dot": ((v, v), v @ v),
                "naive_matrix_vector_dot": ((x, v), x @ v), "naive_matrix_dot": ((x, b), x @ b),
                "naive_transpose": ((x,), x.T)}
    seen = set()
    for seed in [*(1000 + n for n in range(20)), 2000, 2001]:
        answers = honest_answers(seed)
        seen.add(tuple(answers.values()))
        if seed == 2001:
            answers["naive-matrix-dot"] = COPY
        if seed == 2000:
            answers["naive-matrix-dot"] = ORIGINAL
        scope: dict = {"np": np}
        for gid, body in answers.items():
            name = gid.replace("-", "_")
            exec(f"def {name}(x{', y' if name not in ('naive_relu', 'naive_transpose') else ''}):\n    "
                 + "\n    ".join(body.splitlines()), scope)
        for name, (args, want) in expected.items():
            np.testing.assert_allclose(scope[name](*args), want, err_msg=f"seed {seed}: {name}")
    assert len(seen) == 22


# ---------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Course, str]:
    """The synthetic class, compared by the command an instructor runs; what it printed."""
    tmp = tmp_path_factory.mktemp("similarity")
    course = small_course(tmp / "course")
    synthetic_class(course, course.root / "submitted")
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["similarity", "--course", str(course.root), "--assignment", CH02, "--html", str(tmp / "report.html")])
    assert code == 0
    return course, out.getvalue()


def _exported(course: Course, path: Path) -> list[dict[str, str]]:
    export_csv(course, path)
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_pair_ranks_first_and_no_honest_pair_is_flagged(compared: tuple[Course, str]) -> None:
    course, printed = compared
    result = similarity.Similarity.from_json(similarity.stored_path(course, CH02).read_text(encoding="utf-8"))
    assert sorted(result.students) == sorted([*HONEST, *COPIERS])
    first = result.pairs[0]
    assert {first.a, first.b} == set(COPIERS)
    assert first.score >= result.threshold == similarity.DEFAULT_THRESHOLD
    assert first.cells[0].grade_id == "naive-matrix-dot"
    honest_pairs = [p for p in result.pairs if {p.a, p.b} != set(COPIERS)]
    assert all(p.score < result.threshold for p in honest_pairs), [(p.a, p.b, p.score) for p in honest_pairs[:3]]
    # the ranked list on the console: the pair first, flagged, and no one else
    ranked = [line for line in printed.splitlines() if line.strip().startswith("1.")]
    assert ranked and "quinn ~ rosa" in ranked[0] and "FLAGGED" in ranked[0]
    assert printed.count("FLAGGED") == 1
    # the HTML report names both, their shared cell side by side with the shared code highlighted
    page = Path(result.html).read_text(encoding="utf-8")
    assert "quinn" in page and "rosa" in page and "divmod" in page and "class=hl" in page


@pytest.mark.slow  # spawns a grading worker
def test_report_and_export_show_the_pair_and_no_score_changes(compared: tuple[Course, str], tmp_path: Path) -> None:
    course, _ = compared
    src = nbformat.read(course.source(CH02), as_version=4)
    graded = [*COPIERS, *HONEST[:2]]
    grade_assignment(course, CH02, course.root / "submitted", workers=1, progress=False, grade=fake_grade, students=graded)
    pair = similarity.Similarity.from_json(similarity.stored_path(course, CH02).read_text(encoding="utf-8")).pairs[0]

    text = report_text(read(course, CH02).graded)
    for me, other in (COPIERS, COPIERS[::-1]):
        block = text.split(f"{me} / {CH02}:")[1].split(f"\n{HONEST[0]} / ")[0].split(f"\n{other} / ")[0]
        assert f"similarity: {pair.score:.2f} with {other} in naive-matrix-dot" in block
    assert "similarity:" not in text.split(f"{HONEST[0]} / {CH02}:")[1]

    rows = {r["student_id"]: r for r in _exported(course, tmp_path / "with.csv")}
    assert sorted(rows) == sorted(graded)
    for me, other in (COPIERS, COPIERS[::-1]):
        assert f"similarity: {pair.score:.2f} with {other} in naive-matrix-dot" in rows[me]["evidence"]
    assert not any("similarity" in rows[s]["evidence"] for s in HONEST[:2])
    # the scores are the grader's (the stand-in's, computed independently), with or without the report
    model = model_answers(src)
    wrote = {s: nbformat.read(course.root / "submitted" / s / CH02 / f"{CH02}.ipynb", as_version=4) for s in graded}
    expected = {s: expected_score(src, {grade_id(c): c.source for c in nb.cells
                                        if is_solution(c) and c.source != model[grade_id(c)]}) for s, nb in wrote.items()}
    assert sum(score > 0 for score in expected.values()) == 2  # two of them score
    assert {s: float(r["score"]) for s, r in rows.items()} == expected
    assert {s: r["flagged"] for s, r in rows.items()} == {s: "" for s in graded}  # nbgrader's flag is the grader's
    # a report of another notebook than the one graded (a resubmission graded since) says so
    stored = similarity.stored_path(course, CH02)
    kept = stored.read_text(encoding="utf-8")
    stale = similarity.Similarity.from_json(kept)
    stale.students[COPIERS[0]] = "0" * 64
    stored.write_text(stale.to_json(), encoding="utf-8")
    lines = [line for line in report_text(read(course, CH02).graded).splitlines() if "similarity:" in line]
    assert len(lines) == 2 and sum("of an earlier submission" in line for line in lines) == 1
    stored.unlink()
    without = {r["student_id"]: r for r in _exported(course, tmp_path / "without.csv")}
    assert {s: r["score"] for s, r in without.items()} == {s: r["score"] for s, r in rows.items()}
    assert not any("similarity" in r["evidence"] for r in without.values())


def test_a_class_that_writes_the_same_short_relu_flags_no_one(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    src = nbformat.read(course.source(CH02), as_version=4)
    folder = tmp_path / "submitted"
    r = random.Random(7)
    for n in range(20):
        name = r.choice(["z", "out", "result", "res", "y"])
        relu = f"{name} = x.copy()\n{name}[{name} < 0] = 0\nreturn {name}"
        (folder / f"p{n:02d}" / CH02).mkdir(parents=True)
        nbformat.write(_notebook(src, {"naive-relu": relu}), folder / f"p{n:02d}" / CH02 / f"{CH02}.ipynb")
    result = similarity.run(course, CH02, folder)
    assert len(result.students) == 20 and not result.flagged
    assert "0 pairs at or above the threshold" in similarity.console_text(result)
    assert Path(result.html).is_file()


def test_unreadable_submissions_are_noted_and_the_rest_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    course = small_course(tmp_path / "course")
    src = nbformat.read(course.source(CH02), as_version=4)
    folder = tmp_path / "submitted"
    for student, nb in (("ann", _notebook(src, {"naive-matrix-dot": ORIGINAL})), ("bo", _notebook(src, {"naive-matrix-dot": COPY}))):
        (folder / student / CH02).mkdir(parents=True)
        nbformat.write(nb, folder / student / CH02 / f"{CH02}.ipynb")
    (folder / "cy" / CH02).mkdir(parents=True)
    (folder / "cy" / CH02 / f"{CH02}.ipynb").write_bytes(b"\xff not a notebook")
    result = similarity.run(course, CH02, folder)
    assert sorted(result.students) == ["ann", "bo"] and any(n.startswith("cy: not compared") for n in result.notes)
    assert [(p.a, p.b) for p in result.flagged] == [("ann", "bo")]
    with pytest.raises(similarity.GraderError, match="two or more"):
        similarity.run(course, CH02, folder / "ann")
    with pytest.raises(similarity.GraderError, match="threshold"):
        similarity.run(course, CH02, folder, threshold=0)
    assert main(["similarity", "--course", str(course.root), "--assignment", "99-nope"]) == 1
    assert main(["similarity", "--course", str(course.root), "--assignment", CH02]) == 1  # no submitted/ there
    assert "unknown assignment '99-nope'" in capsys.readouterr().err
