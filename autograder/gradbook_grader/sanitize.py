"""A graded notebook made safe to store and render: nothing a student wrote runs in a browser.

nbgrader's formgrader renders autograded/ notebooks with nbconvert's classic template, which
passes raw HTML in Markdown, `text/html`, SVG and JavaScript outputs, raw cells, cell tags and
image metadata straight into a page that holds the instructor's Jupyter token; the feedback
pages are rendered the same way. So the graded notebook is rebuilt from an allow-list before it
is written or rendered:

* the notebook's metadata is the source's (no student widget state, title or language);
* a Markdown cell renders as Markdown only if the instructor's source has the very same text;
  every other Markdown or raw cell becomes `as_text` (escaped, shown as text, never parsed);
* outputs keep plain text, PNG/JPEG images (checked base64) and errors; rich text
  (Markdown, LaTeX, HTML, SVG, JavaScript, JSON, widgets) is shown as its plain text;
* cell metadata keeps only nbgrader's (from the source, for a known grade_id) and the grader's
  own verdict marker; attachments only on the instructor's Markdown; every string is scrubbed.

Idempotent: a notebook that went through it comes out unchanged.
"""

from __future__ import annotations

import base64
import binascii
import copy
import html
import re
from typing import Any

import nbformat
from nbformat import NotebookNode

from gradbook_grader.text import scrub

_PRE = '<pre class="gradbook-text tex2jax_ignore" style="white-space: pre-wrap">'
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IMAGES = {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8"}
_TEXTS = ("text/plain", "text/markdown", "text/latex")  # shown as text, in this order of preference
_VERDICT = {"trusted_verdict": True}
MAX_OUTPUTS = 1000


def as_text(text: str) -> str:
    """Markdown that shows `text` verbatim and can do nothing else.

    Every character but letters, digits and spaces becomes a numeric character reference, on
    one line inside a <pre>: no tag can open, no Markdown syntax (link, image, autolink) can
    form, and MathJax skips <pre> and the tex2jax_ignore class.
    """
    body = "".join(c if c.isalnum() or c == " " else f"&#{ord(c)};" for c in scrub(text))
    return f"{_PRE}{body}</pre>"


def _is_as_text(text: str) -> bool:
    if not (text.startswith(_PRE) and text.endswith("</pre>")):
        return False
    return as_text(html.unescape(text[len(_PRE): -len("</pre>")])) == text


def shown_text(markdown: str) -> str:
    """The text a Markdown cell of a safe notebook shows: what `as_text` escaped, else the cell itself."""
    if _is_as_text(markdown):
        return html.unescape(markdown[len(_PRE): -len("</pre>")])
    return markdown


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    return scrub(value) if isinstance(value, str) else ""


def _image(value: Any, mime: str) -> str | None:
    data = "".join(_text(value).split())
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if decoded.startswith(_IMAGES[mime]) else None


def _output(out: Any) -> NotebookNode | None:
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream":
        name = "stderr" if out.get("name") == "stderr" else "stdout"
        return nbformat.v4.new_output("stream", name=name, text=_text(out.get("text")))
    if kind == "error":
        traceback = out.get("traceback")
        return nbformat.v4.new_output(
            "error", ename=_text(out.get("ename")) or "Error", evalue=_text(out.get("evalue")),
            traceback=[_text(t) for t in traceback] if isinstance(traceback, list) else [])
    if kind not in ("display_data", "execute_result"):
        return None
    data = out.get("data") if isinstance(out.get("data"), dict) else {}
    safe: dict[str, str] = {}
    for mime in _IMAGES:
        image = _image(data.get(mime), mime) if mime in data else None
        if image:
            safe[mime] = image
    text = next((_text(data[m]) for m in _TEXTS if _text(data.get(m))), "")
    rich = sorted(str(m) for m in data if m not in _IMAGES and m not in _TEXTS)
    if not text and rich:  # e.g. only text/html: its source, as text
        text = next((_text(data[m]) for m in rich if _text(data[m])), "")
        text = text or f"[{scrub(', '.join(rich))[:200]} output: not shown]"
    if text or not safe:
        safe["text/plain"] = text
    if kind == "execute_result":
        count = out.get("execution_count")
        return nbformat.v4.new_output(kind, data=safe, execution_count=count if type(count) is int else None)
    return nbformat.v4.new_output(kind, data=safe)


def _metadata(cell: dict, source_meta: dict[str, dict], seen: set[str]) -> dict:
    meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    ours: dict = {}
    nbgrader = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
    gid = nbgrader.get("grade_id")
    if isinstance(gid, str) and gid in source_meta and gid not in seen:
        seen.add(gid)
        ours["nbgrader"] = copy.deepcopy(source_meta[gid])
    if meta.get("gradbook") == _VERDICT:
        ours["gradbook"] = dict(_VERDICT)
    return ours


def safe_notebook(graded: Any, source: NotebookNode) -> NotebookNode:
    """A new notebook holding what `graded` may safely show (see the module); `graded` is untouched."""
    metadata = source.get("metadata", {})
    nb = nbformat.v4.new_notebook(
        metadata={k: copy.deepcopy(metadata[k]) for k in ("kernelspec", "language_info") if k in metadata})
    source_meta: dict[str, dict] = {}
    trusted: dict[str, dict] = {}  # the instructor's Markdown: text -> attachments
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            source_meta.setdefault(meta["grade_id"], meta)
        if cell.cell_type == "markdown":
            trusted.setdefault(cell.source, cell.get("attachments", {}))
    cells = graded.get("cells") if isinstance(graded, dict) else None
    seen_gids: set[str] = set()
    seen_ids: set[str] = set()
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict):
            continue
        text = _text(cell.get("source"))
        meta = _metadata(cell, source_meta, seen_gids)
        if cell.get("cell_type") == "code":
            outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
            count = cell.get("execution_count")
            new = nbformat.v4.new_code_cell(text, metadata=meta,
                                            execution_count=count if type(count) is int else None)
            new.outputs = [o for o in map(_output, outputs[:MAX_OUTPUTS]) if o is not None]
        elif cell.get("cell_type") == "markdown" and text in trusted:
            new = nbformat.v4.new_markdown_cell(text, metadata=meta)
            if trusted[text]:
                new.attachments = copy.deepcopy(trusted[text])
        else:  # the student's Markdown, a raw cell, anything else: shown as text
            new = nbformat.v4.new_markdown_cell(text if _is_as_text(text) else as_text(text), metadata=meta)
        cell_id = cell.get("id")
        new.id = cell_id if isinstance(cell_id, str) and _ID.match(cell_id) and cell_id not in seen_ids else f"cell-{index}"
        while new.id in seen_ids:
            new.id += "x"
        seen_ids.add(new.id)
        nb.cells.append(new)
    return nb
