"""Copying between students: a per-assignment similarity report, built on copydetect.

`gradbook-grader similarity --assignment A` compares every two submissions of A, solution cell by
solution cell, with copydetect (Lingenfelter's implementation of MOSS's winnowing, maintained on
PyPI): its tokenizer (names become V, F, O; strings S; comments and layout vanish, so renaming
variables and rewriting comments change nothing), its k-gram fingerprints (`CodeFingerprint`, k =
NOISE characters of that filtered code: no shorter match counts), its boilerplate filter, its
`compare_files` (what two cells share, as slices of the code) and its highlighter.

What is compared is only what a student wrote: the code of each solution cell (nbgrader's
metadata, `nbcells`), matched across students by grade id. Whatever the instructor wrote is
copydetect's boilerplate and never counts: the released template of every solution cell (its
`def` line, docstring and asserts, the `raise NotImplementedError()` stub) and every other code
cell of the instructor's source.

Why it is scored on *unusual* code, and how. In a deep-learning chapter many exercises have one
natural answer (a three-line relu, the double loop of an element-wise add), and a class writes
them alike: compared as plain text (copydetect's own similarity), every pair of students who
picked the same idiom looks like a copy, and the one pair that shares a long, odd solution drowns
among them. So what two cells share is weighted by how many students' cells hold it (its
document frequency, df), at two scales:

* copydetect's fingerprints (k = NOISE) say *what* two cells share, as MOSS does; those that
  more than half the class (and more than two students) hold are the class's boilerplate and
  are dropped like the template;
* short fingerprints (k = SHORT) say how unusual each shared character is. One held by df
  students counts for a pair of them by the pair's share of its holders, 2/df: 1 when only
  the two wrote it, 2/3 for three, 0.4 for five (five students who wrote the same common loop
  are not five copies); the instructor's and the class's boilerplate count 0. A
  character counts at the *least* unusual short fingerprint covering it: two honest students
  who happen to combine the same common idioms share long fingerprints that only they have
  (the combination), but every piece of them is common, so it counts little; a copied
  solution is unusual piece by piece.

A pair's score in a cell is the rarity-weighted count of the characters they share, divided by
the student's own code in that cell (its characters not covered by boilerplate) or FLOOR if
that is less, for whichever of the two gives more: "this share of one student's own code is
code that only the other (or few others) wrote too". FLOOR (four or five lines) keeps a coincidence of one short line from scoring high in a cell with little code
of its own. The pair's score is its best cell (one copied exercise is copying, however honest
the rest), ties broken by all they share. 0 is nothing unusual in common; 1 an unusual solution
shared whole.

The result is written beside the gradebook (autograder/similarity/<assignment>.json, with the
digest of each notebook compared), and an HTML report with each flagged pair's cells side by
side, the shared code highlighted. `grades.read` adds each flagged pair to both students'
evidence (`report`, the export's evidence column); nothing here changes a score or nbgrader's flag.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from gradbook_grader.course import Course, GraderError
from gradbook_grader.files import write_atomic
from gradbook_grader.nbcells import grade_id, is_solution, stub_solution, strip_hidden_tests
from gradbook_grader.text import printable, scrub

if TYPE_CHECKING:
    import numpy as np
    from copydetect import CodeFingerprint
    from nbformat import NotebookNode

# copydetect's noise threshold k: characters of filtered code, no shorter match counts. Its default, 25,
# spans two or three statements of filtered Python (`V=V.V(V)` is one), so reordering statements
# would break most matches; 15 keeps them, and coincidences are the rarity weighting's to discount.
NOISE = 15
SHORT = 10  # the short fingerprints whose document frequency says how unusual each character is
FLOOR = 100  # characters of filtered code (four or five lines): a cell with less of its own is measured against this
COMMON_SHARE = 0.5  # a fingerprint in more than this share of the class is the class's boilerplate
DEFAULT_THRESHOLD = 0.5  # half of one student's own code in a cell shared with few or none but the other
MAX_CELL_CHARS = 20_000  # of one cell's code (an honest answer is a few hundred): the rest is not compared
MAX_EVIDENCE = 3  # flagged pairs named in one student's evidence (the report has them all)
MAX_STORED = 200  # pairs kept in the JSON and the HTML report, best first
VERSION = 1


@dataclass
class CellMatch:
    """What two students share in one solution cell."""

    grade_id: str
    score: float  # rarity-weighted share of one side's own code, the larger (see the module)
    shared: float  # rarity-weighted characters of filtered code they share (the larger side's count)


@dataclass
class Pair:
    a: str
    b: str
    score: float  # the best cell's
    cells: list[CellMatch]  # best first

    @property
    def shared(self) -> float:
        return sum(c.shared for c in self.cells)


@dataclass
class Similarity:
    """The similarity of one assignment's submissions, as stored beside the gradebook."""

    assignment: str
    threshold: float
    created: str
    students: dict[str, str]  # student -> sha256 of the notebook compared
    cells: list[str]  # the solution cells compared, in the notebook's order
    pairs: list[Pair]  # every pair that shares unusual code, best first (at most MAX_STORED)
    notes: list[str] = field(default_factory=list)  # submissions not compared, and why
    html: str = ""  # where the HTML report was written

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.score >= self.threshold]

    def to_json(self) -> str:
        return json.dumps({"version": VERSION, **asdict(self)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Similarity":
        data = json.loads(text)
        if data.pop("version", None) != VERSION:
            raise ValueError("a similarity report of another version of the grader")
        data["pairs"] = [Pair(p["a"], p["b"], p["score"], [CellMatch(**c) for c in p["cells"]]) for p in data["pairs"]]
        return cls(**data)


def stored_path(course: Course, assignment: str) -> Path:
    return course.root / "similarity" / f"{assignment}.json"


# ---------------------------------------------------------------- what the students wrote


def instructor_code(source: "NotebookNode") -> tuple[list[str], str]:
    """The solution code cells' grade ids (in order) and everything the instructor wrote into code
    cells as students receive it: each solution cell's released template, every other code cell."""
    cells, given = [], []
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        if is_solution(cell) and grade_id(cell):
            cells.append(str(grade_id(cell)))
            given.append(stub_solution(cell.source))
        else:
            given.append(strip_hidden_tests(cell.source))
    return cells, "\n".join(given)


def _student_cells(data: bytes, wanted: set[str]) -> dict[str, str]:
    """grade id -> the code of that solution cell in the submitted notebook (cells that lost their
    metadata are not matched; a grade id given twice is both cells' code)."""
    import nbformat

    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    code: dict[str, list[str]] = defaultdict(list)
    for cell in nb.cells:
        gid = grade_id(cell)
        if cell.get("cell_type") == "code" and gid in wanted and isinstance(cell.get("source"), str):
            code[gid].append(cell.source)
    return {gid: scrub("\n".join(parts))[:MAX_CELL_CHARS] for gid, parts in code.items()}


def read_class(course: Course, assignment: str, folder: Path,
               cells: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, str], list[str]]:
    """Every submission of `assignment` under `folder`, found and read as `grade` finds and reads
    them: student -> grade id (of `cells`) -> code; student -> notebook digest; notes on those not compared."""
    from gradbook_grader.submissions import discover, load

    found, notes = discover(folder, assignment, course.assignments)
    code: dict[str, dict[str, str]] = {}
    digests: dict[str, str] = {}
    for submission in found:
        loaded = load(submission)
        who = printable(submission.student)
        if loaded.data is None:
            notes.append(f"{who}: not compared: {printable(loaded.problem or 'no notebook')}")
            continue
        try:
            code[submission.student] = _student_cells(loaded.data, set(cells))
        except Exception as exc:  # anything a submission holds: its own note, the class goes on
            notes.append(f"{who}: not compared: the notebook cannot be read ({type(exc).__name__})")
            continue
        digests[submission.student] = hashlib.sha256(loaded.data).hexdigest()
    return code, digests, notes


# ---------------------------------------------------------------- comparing


def _fingerprint(name: str, code: str, k: int, boilerplate: "np.ndarray | None" = None,
                 filtered: bool = False) -> "CodeFingerprint":
    """copydetect's fingerprint of `code` (`filtered`: already tokenized and filtered by copydetect)."""
    from copydetect import CodeFingerprint

    # window 1 (copydetect's guarantee threshold = its noise threshold): every k-gram, so a
    # fingerprint's document frequency counts every student who has it.
    return CodeFingerprint(name, k, 1, boilerplate=boilerplate, filter=not filtered, language="python",
                           fp=io.StringIO(code))


def _drop(fp: "CodeFingerprint", boilerplate: set) -> None:
    """Drop the `boilerplate` fingerprints from `fp`, as copydetect's boilerplate argument does (without
    tokenizing the code again)."""
    from copydetect.utils import get_token_coverage

    fp.hashes -= boilerplate
    for h in boilerplate:
        fp.hash_idx.pop(h, None)
    fp.token_coverage = get_token_coverage(fp.hash_idx, fp.k, len(fp.filtered_code))


def _rarity(fp: "CodeFingerprint", weight: dict) -> "np.ndarray":
    """Per character of `fp`'s filtered code: how unusual it is, the weight of the least unusual
    short fingerprint covering it (0 where the instructor's or most of the class's code covers it)."""
    import numpy as np

    rarity = np.full(len(fp.filtered_code), np.inf)
    for h, starts in fp.hash_idx.items():
        for i in starts:
            np.minimum(rarity[i:i + fp.k], weight[h], out=rarity[i:i + fp.k])
    rarity[np.isinf(rarity)] = 0.0
    return rarity


def _covered(fp: "CodeFingerprint", shared: Iterable[int]) -> "np.ndarray":
    """Which characters of `fp`'s filtered code the `shared` fingerprints cover."""
    import numpy as np

    mask = np.zeros(len(fp.filtered_code), dtype=bool)
    for h in shared:
        for i in fp.hash_idx[h]:
            mask[i:i + fp.k] = True
    return mask


def _weight(df: int) -> float:
    """What a short fingerprint held by `df` students counts for a pair of them: the pair's share of its holders."""
    return min(1.0, 2.0 / df)


def compare_cell(gid: str, code: dict[str, str], given: "CodeFingerprint") -> tuple[list[tuple[str, str, CellMatch]],
                                                                                   dict[str, "CodeFingerprint"]]:
    """Every pair of students who share unusual code in the cell `gid` (code: student -> their code;
    `given`: the instructor's code, fingerprinted); and each student's fingerprint of the cell, the
    boilerplate dropped (for `compare_files`)."""
    import numpy as np

    # What is shared: copydetect's fingerprints (k = NOISE), the instructor's and the class's common ones dropped.
    template = np.array(sorted(given.hashes), dtype=np.int64)
    long = {s: _fingerprint(f"{s}/{gid}.py", text, NOISE, template) for s, text in code.items()}
    wrote = sum(1 for fp in long.values() if fp.hashes)  # the class, for this cell: who wrote anything in it
    limit = max(2, COMMON_SHARE * wrote)  # held by more students than this: the class's boilerplate
    common = {h for h, n in Counter(h for fp in long.values() for h in fp.hashes).items() if n > limit}
    for fp in long.values():
        _drop(fp, common)
    rarity = _rarities(gid, long, given, limit)
    holders: dict[int, list[str]] = defaultdict(list)
    for student, fp in long.items():
        for h in fp.hashes:
            holders[h].append(student)
    candidates = {tuple(sorted(p)) for students in holders.values() for p in combinations(students, 2)}
    matches = [(a, b, _match(gid, long, rarity, a, b)) for a, b in sorted(candidates)]
    return matches, long


def _rarities(gid: str, long: dict[str, "CodeFingerprint"], given: "CodeFingerprint", limit: float) -> dict[str, Any]:
    """How unusual each character of each student's code is: the document frequency of the short fingerprints
    covering it (the instructor's and the class's common ones weigh nothing)."""
    given_short = set(_fingerprint("given.py", given.filtered_code, SHORT, filtered=True).hashes)
    short = {s: _fingerprint(f"{s}/{gid}.py", fp.filtered_code, SHORT, filtered=True) for s, fp in long.items()}
    df = Counter(h for fp in short.values() for h in fp.hashes)
    weight = {h: 0.0 if h in given_short or n > limit else _weight(n) for h, n in df.items()}
    return {s: _rarity(fp, weight) for s, fp in short.items()}


def _match(gid: str, long: dict[str, "CodeFingerprint"], rarity: dict[str, Any], a: str, b: str) -> CellMatch:
    """How much unusual code students `a` and `b` share in cell `gid` (the larger of the two shares)."""
    import numpy as np

    shared = long[a].hashes & long[b].hashes
    score, most = 0.0, 0.0
    for s in (a, b):
        unusual = float(rarity[s][_covered(long[s], shared)].sum())
        own = int(np.count_nonzero(rarity[s]))
        score, most = max(score, unusual / max(own, FLOOR)), max(most, unusual)
    return CellMatch(gid, round(score, 4), round(most, 1))


def compare(code: dict[str, dict[str, str]], cells: list[str],
            given: str) -> tuple[list[Pair], dict[str, dict[str, "CodeFingerprint"]]]:
    """Every pair that shares unusual code in some cell, best first; and the fingerprints, by cell and student."""
    per_pair: dict[tuple[str, str], list[CellMatch]] = defaultdict(list)
    prints = {}
    instructor = _fingerprint("given.py", given, NOISE)
    for gid in cells:
        wrote = {s: c[gid] for s, c in code.items() if c.get(gid, "").strip()}
        matches, prints[gid] = compare_cell(gid, wrote, instructor)
        for a, b, match in matches:
            per_pair[(a, b)].append(match)
    pairs = [Pair(a, b, max(m.score for m in ms), sorted(ms, key=lambda m: -m.score)) for (a, b), ms in per_pair.items()]
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.a, p.b))
    return [p for p in pairs if p.score > 0], prints


def run(course: Course, assignment: str, folder: Path | None = None, threshold: float = DEFAULT_THRESHOLD,
        html_path: Path | None = None) -> Similarity:
    """Compare the submissions of `assignment` (nbgrader's submitted/ by default); store the result
    beside the gradebook and write the HTML report (autograder/similarity/<assignment>.html by default)."""
    if not 0 < threshold <= 1:
        raise GraderError(f"--threshold {threshold:g} is not a score: give a number above 0 and at most 1.")
    import nbformat

    folder = folder if folder is not None else course.root / "submitted"
    if not folder.is_dir():
        raise GraderError(f"no submissions at {printable(str(folder))}: collect them first (`nbgrader collect "
                          f"{assignment}`) or name their folder with --submissions DIR.")
    cells, given = instructor_code(nbformat.read(course.source(assignment), as_version=4))
    code, digests, notes = read_class(course, assignment, folder, cells)
    if len(code) < 2:
        raise GraderError(f"{len(code)} readable submission{'s' * (len(code) != 1)} of {assignment} in "
                          f"{printable(str(folder))}: similarity needs two or more." + "".join(f"\n  {n}" for n in notes))
    pairs, prints = compare(code, cells, given)
    html_path = Path(os.path.abspath(html_path if html_path is not None else course.root / "similarity" / f"{assignment}.html"))
    result = Similarity(assignment, threshold, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                        digests, cells, pairs[:MAX_STORED], notes, str(html_path))
    write_atomic(html_path, render_html(result, code, prints))
    write_atomic(stored_path(course, assignment), result.to_json())
    return result


# ---------------------------------------------------------------- what people see


def console_text(result: Similarity, top: int = 10) -> str:
    """The ranked pairs for a terminal (the flagged ones and at least `top`), then where the report is."""
    one = printable
    flagged = result.flagged
    out = [f"{one(result.assignment)}: {len(result.students)} submissions compared, {len(result.cells)} solution cells; "
           f"{len(flagged)} pair{'s' * (len(flagged) != 1)} at or above the threshold {result.threshold:g}"]
    for n, pair in enumerate(result.pairs[:max(top, len(flagged))], 1):
        cells = one(_cells_text(pair))
        mark = "  FLAGGED" if pair.score >= result.threshold else ""
        out.append(f"  {n:>3}. {pair.score:.2f}  {one(pair.a)} ~ {one(pair.b)}  ({cells}){mark}")
    if not result.pairs:
        out.append("  no two submissions share unusual code")
    out.extend(f"  note: {n}" for n in result.notes)
    out.append(f"report: {one(result.html)}")
    if flagged:
        out.append("next: open the report and read each flagged pair's cells side by side (docs/lifecycle.md, "
                   "\"Copying between students\"); the pairs are also in `gradbook-grader report` and the export's "
                   "evidence column. No score was changed.")
    return "\n".join(out)


_STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{padding:.2em .6em;
border-bottom:1px solid #ddd;text-align:left}.pair{margin:1.5em 0;border-top:2px solid #444}
.side{display:flex;gap:1em}.side>div{flex:1;min-width:0}pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:90%}
.hl{background:#ffd27a}.flag{color:#b00;font-weight:bold}"""


def _cells_text(pair: Pair, most: int = 3) -> str:
    return ", ".join(f"{c.grade_id} {c.score:.2f}" for c in pair.cells[:most] if c.score >= 0.005)


def render_html(result: Similarity, code: dict[str, dict[str, str]], prints: dict[str, dict[str, "CodeFingerprint"]],
                table: int = 50) -> str:
    """A self-contained page: each flagged pair's cells side by side, the shared code highlighted by
    copydetect (the closest pairs when none is flagged), then the ranking."""
    from copydetect import compare_files
    from copydetect.utils import highlight_overlap

    e = html.escape
    flagged = result.flagged
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>Similarity: {e(result.assignment)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>Similarity of {e(result.assignment)}</h1>",
             f"<p>{len(result.students)} submissions compared {e(result.created)}, solution cells "
             f"{e(', '.join(result.cells))}. A pair's score in a cell is the share of one student's own code there "
             "that the other has too, each shared piece counted by how few in the class have it (the instructor's "
             "code and what most of the class wrote count nothing); the pair's score is its best cell. "
             f"<b>{len(flagged)} pair(s) at or above the threshold {result.threshold:g}.</b> This is evidence for a "
             "person to read, not a verdict: no score was changed (docs/lifecycle.md, \"Copying between "
             "students\").</p>"]
    parts += [f"<p>Not compared: {e(n)}</p>" for n in result.notes]
    shown = flagged or result.pairs[:3]
    if shown and not flagged:
        parts.append("<h2>No pair reaches the threshold; the closest:</h2>")
    for p in shown:
        parts.append(f"<div class=pair><h2>{e(p.a)} and {e(p.b)}: {p.score:.2f}</h2>")
        for c in p.cells:
            if c.score < 0.005:
                continue
            _, shares, cut = compare_files(prints[c.grade_id][p.a], prints[c.grade_id][p.b])
            sides = []
            for who, part in ((p.a, 0), (p.b, 1)):
                text = code[who].get(c.grade_id, "")
                marked = highlight_overlap(text, cut[part], "<span class=hl>", "</span>", escape_html=True)[0] \
                    if cut[part].size else e(text)
                sides.append(f"<div><h4>{e(who)}</h4><pre>{marked}</pre></div>")
            parts.append(f"<h3>{e(c.grade_id)}: {c.score:.2f} (copydetect alone, unweighted: {shares[0]:.0%} / "
                         f"{shares[1]:.0%})</h3><div class=side>{''.join(sides)}</div>")
        parts.append("</div>")
    rows = "".join(
        f"<tr><td>{n}</td><td>{p.score:.2f}</td><td>{e(p.a)}</td><td>{e(p.b)}</td><td>{e(_cells_text(p))}</td>"
        f"<td>{'<span class=flag>flagged</span>' if p.score >= result.threshold else ''}</td></tr>"
        for n, p in enumerate(result.pairs[:table], 1))
    parts.append("<h2>Ranking</h2><table><tr><th>#</th><th>score</th><th>student</th><th>student</th><th>best cells</th>"
                 f"<th></th></tr>{rows}</table>" if result.pairs else "<p>No two submissions share unusual code.</p>")
    parts.append("</body></html>")
    return "".join(parts)


def evidence(course: Course, assignments: Iterable[str]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(student, assignment) -> (the evidence line, the digest of the notebook compared) for each flagged pair
    of the stored reports (at most MAX_EVIDENCE per student, best first). An unreadable report gives none."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for assignment in sorted(set(assignments)):
        try:
            result = Similarity.from_json(stored_path(course, assignment).read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError, KeyError):
            continue
        for pair in result.flagged:
            cells = ", ".join(f"{c.grade_id} {c.score:.2f}" for c in pair.cells if c.score >= result.threshold)
            for me, other in ((pair.a, pair.b), (pair.b, pair.a)):
                lines = found[(me, assignment)]
                if len(lines) < MAX_EVIDENCE:
                    lines.append((f"{pair.score:.2f} with {other} in {cells} (compared {result.created}; "
                                  f"{result.html})", result.students.get(me, "")))
    return dict(found)
