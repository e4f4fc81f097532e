"""Outputs that leave the sandbox: validated, size-limited, of known safe types; and the verdict outputs.

What the runner reports as a cell's outputs is untrusted: only nbformat-shaped stream, display,
result and error outputs survive, display data only in MIME types that cannot run code in a
browser (plain text, PNG/JPEG checked as base64, LaTeX, Markdown), all within the submission's
output budget. A graded test cell's outputs are the grader's own verdict, never the student's.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import nbformat
from nbformat import NotebookNode

_ALLOWED_MIME = ("text/plain", "image/png", "image/jpeg", "text/latex", "text/markdown")
_TRUNCATED = "\n[output truncated: the submission's output is over the grader's limit]\n"
FAIL = "\u2718"


def _text(value: Any, cap: int) -> str:
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    return value[:cap] if isinstance(value, str) else ""


def sanitize_outputs(outputs: Any, budget: list[int], truncated: list[bool]) -> list[dict]:
    """Untrusted outputs to valid nbformat outputs: known types, known safe MIME types, within budget."""
    clean: list[dict] = []
    if not isinstance(outputs, list):
        return clean
    for out in outputs[:1000]:
        if budget[0] <= 0:
            truncated[0] = True
            clean.append({"output_type": "stream", "name": "stderr", "text": _TRUNCATED})
            break
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream":
            text = _text(out.get("text"), budget[0])
            if len(text) < len(_text(out.get("text"), budget[0] + 1)):
                truncated[0] = True
                text += _TRUNCATED
            name = "stderr" if out.get("name") == "stderr" else "stdout"
            if "[output truncated" in text:  # the runner's own note
                truncated[0] = True
            item: dict = {"output_type": "stream", "name": name, "text": text}
            cost = len(text)
        elif kind in ("display_data", "execute_result"):
            data = out.get("data") if isinstance(out.get("data"), dict) else {}
            safe = {}
            for mime in _ALLOWED_MIME:
                value = _text(data.get(mime), budget[0] + 1)
                if not value:
                    continue
                if mime.startswith("image/"):
                    try:
                        base64.b64decode(value, validate=True)
                    except (binascii.Error, ValueError):
                        continue
                safe[mime] = value
            if not safe:
                continue
            item = {"output_type": kind, "data": safe, "metadata": {}}
            if kind == "execute_result":
                count = out.get("execution_count")
                item["execution_count"] = count if type(count) is int else None
            cost = sum(len(v) for v in safe.values())
            if cost > budget[0]:
                truncated[0] = True
                item = {"output_type": "stream", "name": "stderr", "text": _TRUNCATED}
        elif kind == "error":
            tb = out.get("traceback")
            tb = [t[:20_000] for t in tb[:50] if isinstance(t, str)] if isinstance(tb, list) else []
            item = {"output_type": "error", "ename": _text(out.get("ename"), 200) or "Error",
                    "evalue": _text(out.get("evalue"), 2000), "traceback": tb}
            cost = len(item["evalue"]) + sum(len(t) for t in tb)
        else:
            continue
        budget[0] -= cost
        clean.append(item)
    return [nbformat.from_dict(o) for o in clean]


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20] + " ... [shortened]"


def verdict_outputs(passed: bool, message: str) -> list[NotebookNode]:
    if passed:
        return [nbformat.v4.new_output("stream", name="stdout", text=message.rstrip("\n") + "\n")]
    lines = message.splitlines() or [message]
    return [nbformat.v4.new_output("error", ename="AssertionError", evalue=message,
                                   traceback=[f"{FAIL} AssertionError: {lines[0]}", *lines[1:]])]


