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
  (Markdown, LaTeX, HTML, SVG, JavaScript, JSON, widgets) is shown as its plain text. This is the
  grader's one allow-list of outputs: what the runner reports for a cell passes through it too, as it
  leaves the sandbox (`sanitize_outputs`: sizes capped first, within the submission's output budget);
* cell metadata keeps only nbgrader's (from the source, for a known grade_id) and the grader's
  own verdict marker; attachments only on the instructor's Markdown; every string is scrubbed.

Idempotent: a notebook that went through it comes out unchanged. What it builds is checked against
nbformat's own v4 schema, compiled once by fastjsonschema (nbformat's fast validator): the whole
notebook once, each output as it leaves the sandbox; what the schema rejects is refused, never written.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import html
import json
import re
from pathlib import Path
from typing import Any, Callable

import nbformat
from nbformat import NotebookNode, from_dict

from gradbook_grader.text import scrub

_PRE = '<pre class="gradbook-text tex2jax_ignore" style="white-space: pre-wrap">'
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IMAGES = {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8"}
_TEXTS = ("text/plain", "text/markdown", "text/latex")  # shown as text, in this order of preference
_VERDICT = {"trusted_verdict": True}
MAX_OUTPUTS = 1000


@functools.cache
def _schema(definition: str | None) -> Callable[[Any], None]:
    """nbformat's v4 schema (the whole notebook, or one of its definitions), compiled once by fastjsonschema
    (nbformat's own wrapper); the check raises nbformat's ValidationError. Nodes are built here as dicts, not by
    nbformat's helpers, which check every cell and output anew with jsonschema: that was most of the writer's time
    per submission (issue 30)."""
    from nbformat.json_compat import FastJsonSchemaValidator
    from nbformat.validator import get_validator

    if definition is None:
        return get_validator(nbformat.v4.nbformat, nbformat.v4.nbformat_minor, name="fastjsonschema").validate
    v4 = Path(nbformat.v4.__file__).parent
    schema = json.loads((v4 / nbformat.v4.nbformat_schema[(None, None)]).read_text(encoding="utf-8"))
    return FastJsonSchemaValidator({"definitions": schema["definitions"], "$ref": f"#/definitions/{definition}"}).validate


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
    """The one allow-list of outputs: an untrusted output as a safe nbformat output, or None."""
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream":
        name = "stderr" if out.get("name") == "stderr" else "stdout"
        return from_dict({"output_type": kind, "name": name, "text": _text(out.get("text"))})
    if kind == "error":
        traceback = out.get("traceback")
        return from_dict({"output_type": kind, "ename": _text(out.get("ename")) or "Error",
                          "evalue": _text(out.get("evalue")),
                          "traceback": [_text(t) for t in traceback] if isinstance(traceback, list) else []})
    if kind not in ("display_data", "execute_result"):
        return None
    safe = {"output_type": kind, "data": _display(out.get("data") if isinstance(out.get("data"), dict) else {}),
            "metadata": {}}
    if kind == "execute_result":
        count = out.get("execution_count")
        safe["execution_count"] = count if type(count) is int else None
    return from_dict(safe)


def _display(data: dict) -> dict[str, str]:
    """A display's data: PNG/JPEG images (checked), and text/plain: the first text, else a rich type's source."""
    safe = {mime: image for mime in _IMAGES if mime in data and (image := _image(data[mime], mime))}
    text = next((_text(data[m]) for m in _TEXTS if _text(data.get(m))), "") or _rich_as_text(data)
    if text or not safe:
        safe["text/plain"] = text
    return safe


def _rich_as_text(data: dict) -> str:
    """What a display with no text shows of its other types (e.g. only text/html: its source, as text)."""
    rich = sorted(str(m) for m in data if m not in _IMAGES and m not in _TEXTS)
    if not rich:
        return ""
    return next((_text(data[m]) for m in rich if _text(data[m])), "") or f"[{scrub(', '.join(rich))[:200]} output: not shown]"


# ---------------------------------------------------------------- outputs leaving the sandbox

_TRUNCATED = "\n[output truncated: the submission's output is over the grader's limit]\n"
MAX_FIELD = {"ename": 200, "evalue": 2000}  # characters of an error's name and value
MAX_TRACEBACK = (50, 20_000)  # lines of a traceback, characters of each


def _bounded(out: dict, limit: int) -> dict:
    """The untrusted output cut to sizes that cannot cost more than `limit` (and the fields' own caps)
    before anything reads it: the allow-list (`_output`) then sees nothing larger."""
    def cut(value: Any, n: int) -> Any:
        if isinstance(value, list):
            value = "".join(v for v in value if isinstance(v, str))
        return value[:n] if isinstance(value, str) else ""

    bounded = {k: out.get(k) for k in ("output_type", "name", "execution_count")}
    bounded["text"] = cut(out.get("text"), limit + 1)
    data = out.get("data")
    bounded["data"] = {str(m): cut(v, limit + 1) for m, v in list(data.items())[:50]} if isinstance(data, dict) else {}
    bounded.update({k: cut(out.get(k), n) for k, n in MAX_FIELD.items()})
    tb = out.get("traceback")
    lines, width = MAX_TRACEBACK
    bounded["traceback"] = [t[:width] for t in tb[:lines] if isinstance(t, str)] if isinstance(tb, list) else []
    return bounded


def _cost(output: NotebookNode) -> int:
    if output.output_type == "stream":
        return len(output.text)
    if output.output_type == "error":
        return len(output.evalue) + sum(map(len, output.traceback))
    return sum(len(v) for v in output.data.values())


def sanitize_outputs(outputs: Any, budget: list[int], truncated: list[bool]) -> list[NotebookNode]:
    """A cell's untrusted outputs, from the runner, as safe nbformat outputs (`_output`) within the submission's
    output `budget` (characters left, shared by its cells); past it, a note that says so, and `truncated`."""
    clean: list[NotebookNode] = []
    for out in outputs[:MAX_OUTPUTS] if isinstance(outputs, list) else []:
        output = _output(_bounded(out, budget[0])) if isinstance(out, dict) and budget[0] > 0 else None
        if output is not None:
            _schema("output")(output)
        if budget[0] > 0 and output is None:
            continue  # not an output at all
        if output is None or _cost(output) > budget[0]:
            truncated[0] = True
            if output is not None and output.output_type == "stream":  # what fits is shown, then the note
                output.text = output.text[:budget[0]] + _TRUNCATED
                clean.append(output)
            else:
                clean.append(from_dict({"output_type": "stream", "name": "stderr", "text": _TRUNCATED}))
            budget[0] = 0
            break
        budget[0] -= _cost(output)
        clean.append(output)
    return clean


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
    """A new notebook holding what `graded` may safely show (see the module), checked against nbformat's schema
    (ValidationError); `graded` is untouched."""
    metadata = source.get("metadata", {})
    nb = from_dict({"nbformat": nbformat.v4.nbformat, "nbformat_minor": nbformat.v4.nbformat_minor, "cells": [],
                    "metadata": {k: copy.deepcopy(metadata[k]) for k in ("kernelspec", "language_info") if k in metadata}})
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
        if isinstance(cell, dict):
            new = _safe_cell(cell, _metadata(cell, source_meta, seen_gids), trusted)
            new.id = _cell_id(cell.get("id"), index, seen_ids)
            nb.cells.append(new)
    _schema(None)(nb)
    return nb


def _safe_cell(cell: dict, meta: dict, trusted: dict[str, dict]) -> NotebookNode:
    """The cell as nbformat's v4 helpers would build it (its id is set by the caller); the notebook is checked whole."""
    text = _text(cell.get("source"))
    if cell.get("cell_type") == "code":
        outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        count = cell.get("execution_count")
        return from_dict({"cell_type": "code", "metadata": meta, "source": text,
                          "execution_count": count if type(count) is int else None,
                          "outputs": [o for o in map(_output, outputs[:MAX_OUTPUTS]) if o is not None]})
    if cell.get("cell_type") == "markdown" and text in trusted:
        new = from_dict({"cell_type": "markdown", "metadata": meta, "source": text})
        if trusted[text]:
            new.attachments = copy.deepcopy(trusted[text])
        return new
    # the student's Markdown, a raw cell, anything else: shown as text
    return from_dict({"cell_type": "markdown", "metadata": meta, "source": text if _is_as_text(text) else as_text(text)})


def _cell_id(cell_id: Any, index: int, seen: set[str]) -> str:
    """The cell's id if it is valid and new, else one made from its place; unique either way."""
    new = cell_id if isinstance(cell_id, str) and _ID.match(cell_id) and cell_id not in seen else f"cell-{index}"
    while new in seen:
        new += "x"
    seen.add(new)
    return new


def safe_json(graded: Any, source: NotebookNode) -> str:
    """`safe_notebook` as nbformat writes a notebook (`nbformat.writes`: lines split, keys sorted, indent 1), without
    its second schema check and deep copy: the notebook is this call's own and was checked once already."""
    from nbformat.v4.rwbase import split_lines

    return json.dumps(split_lines(safe_notebook(graded, source)), indent=1, sort_keys=True, separators=(",", ": "),
                      ensure_ascii=False)
