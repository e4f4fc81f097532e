"""A feedback page's budget: what of a graded notebook fits on one page, and what was left out, in words.

One submission must not cost any other student their feedback page (issue 23): a 20,000-cell
notebook or one of tens of megabytes once took minutes to render. `within` cuts the graded
notebook (plain JSON, untrusted) to a `PageBudget` before anything renders it: graded cells (with
their verdicts) are always kept, the student's own cells past `max_cells` are counted in a note
where they were, long texts and outputs are cut. The page then says what was left out
(`left_out_html`); `feedback` bounds the time and the size of what is rendered from it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from gradbook_grader.nbcells import grade_id


@dataclass(frozen=True)
class PageBudget:
    """What one feedback page may cost. Over it, the page says what was left out (never silently)."""

    seconds: float = 60.0  # to render one page; past it, a short page says so (honest pages take 1-3 s)
    max_bytes: int = 10_000_000  # of the page; a larger one is replaced by a short page
    max_cells: int = 200  # of the student's own cells shown (graded cells always are; a chapter has < 50 in all)
    max_cell_chars: int = 20_000  # of one cell's text (a chapter's longest is ~5,000)
    max_output_chars: int = 50_000  # of one output's text (an image counts its encoded size)
    max_outputs_chars: int = 2_000_000  # of all outputs together


def left_out_html(left_out: list[str]) -> str:
    if not left_out:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in left_out)
    return (f'<section class="gradbook-feedback" style="margin: 1em 2em"><h2>Left out of this page</h2>'
            f"<p>The notebook is larger than a feedback page holds:</p><ul>{items}</ul></section><hr>")


def within(graded: Any, budget: PageBudget) -> tuple[dict, list[str]]:
    """The graded notebook (plain JSON, untrusted) cut to `budget`, and what was left out, in words.

    Graded cells (nbgrader's, with the verdicts) are always kept; the student's own cells past
    `max_cells` are counted in one note cell where they were; long texts and outputs are cut.
    """
    nb = dict(graded) if isinstance(graded, dict) else {}
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    kept: list[Any] = []
    own = dropped = cut_text = cut_outputs = 0
    room = [budget.max_outputs_chars]
    graded: set[str] = set()
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        gid = grade_id(cell)
        if gid is None or gid in graded:  # a copy of a graded cell is the student's own
            own += 1
            if own > budget.max_cells:
                dropped += 1
                continue
        else:
            graded.add(gid)
        if dropped:
            kept.append(_note_cell(f"[{dropped:,} of the student's cells are not shown here]"))
            dropped = 0
        cell = dict(cell)
        text = _joined(cell.get("source"))
        if len(text) > budget.max_cell_chars:
            cell["source"] = text[: budget.max_cell_chars] + f"\n[{len(text) - budget.max_cell_chars:,} more characters]"
            cut_text += 1
        if isinstance(cell.get("outputs"), list):
            cell["outputs"], cut = _outputs_within(cell["outputs"], budget, room)
            cut_outputs += cut
        kept.append(cell)
    if dropped:
        kept.append(_note_cell(f"[{dropped:,} of the student's cells are not shown here]"))
    nb["cells"] = kept
    left_out = []
    if own > budget.max_cells:
        left_out.append(f"{own - budget.max_cells:,} of the notebook's {own:,} own cells (beyond the first "
                        f"{budget.max_cells:,}) are summarised, not shown; every graded cell is shown")
    if cut_text:
        left_out.append(f"the text of {cut_text:,} cell(s) is cut at {budget.max_cell_chars:,} characters")
    if cut_outputs:
        left_out.append(f"{cut_outputs:,} output(s) are truncated or left out (at most {budget.max_output_chars:,} "
                        f"characters each, {budget.max_outputs_chars:,} in all)")
    return nb, left_out


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _note_cell(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _outputs_within(outputs: list, budget: PageBudget, room: list[int]) -> tuple[list, int]:
    """Outputs cut to the budget; how many were cut or dropped."""
    kept, cut = [], 0
    for out in outputs:
        if not isinstance(out, dict):
            continue
        size = len(json.dumps(out, default=str)) if room[0] > 0 else 0
        if room[0] <= 0:
            cut += 1
            continue
        if size > budget.max_output_chars or size > room[0]:
            cut += 1
            out = {"output_type": "stream", "name": "stdout",
                   "text": _output_text(out)[: min(budget.max_output_chars, room[0])]
                   + f"\n[output truncated: {size:,} characters]"}
            size = len(out["text"])
        room[0] -= size
        kept.append(out)
    return kept, cut


def _output_text(out: dict) -> str:
    """An output's text for a truncated view: its stream text, traceback, or plain text (never its images)."""
    if out.get("output_type") == "stream":
        return _joined(out.get("text"))
    if out.get("output_type") == "error":
        return "\n".join(str(line) for line in out.get("traceback", [])[:50] if isinstance(line, str))
    data = out.get("data") if isinstance(out.get("data"), dict) else {}
    return _joined(data.get("text/plain"))
