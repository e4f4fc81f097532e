"""The supervisor: run one submission in the sandbox, cell by cell, and grade it from plain data.

`grade_submission` never raises for a bad submission: invalid JSON, a notebook that
kills its own process, loops forever, eats memory or disk, prints gigabytes or lies about
its results all end as a `SubmissionGrade` with reasons. What the sandboxed process
says is untrusted: outputs are validated and size-limited, records are plain data judged
here, and each graded test cell's outputs are replaced by the trusted verdict.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from gradbook_grader import sandbox
from gradbook_grader.restore import (
    SubmissionError,
    grade_id,
    is_graded,
    is_test_cell,
    parse_submission,
    restore,
    strip_hidden_tests,
)
from gradbook_grader.types import CellGrade, Limits, Manifest, SubmissionGrade
from gradbook_grader.verdict import judge_records, load_record, manual_cell, source_digest

STARTUP_TIMEOUT = 60.0
MAX_RECORDS_PER_CELL = 200
MAX_RECORD_BYTES = 16 * 1024 * 1024
MAX_MESSAGES = 100_000
MAX_MESSAGE = 4000  # a cell's verdict text (the student's exception text can be long)
MAX_EVENTS = 100
MAX_RECORDS_TOTAL = 256 * 1024 * 1024  # per submission, held in the supervisor's memory
_RECORD_SLACK = 70 * 1024 * 1024  # base64 records may ride on one protocol line
_ALLOWED_MIME = ("text/plain", "image/png", "image/jpeg", "text/latex", "text/markdown")

_TRUNCATED = "\n[output truncated: the submission's output is over the grader's limit]\n"
_FAIL = "\u2718"


@dataclass
class CellRun:
    index: int
    status: str  # ok | error | timeout | died | not run
    outputs: list[dict] = field(default_factory=list)
    records: list[tuple[str, bytes]] = field(default_factory=list)
    reason: str = ""  # why it did not finish / did not run
    seconds: float = 0.0


@dataclass
class Run:
    cells: dict[int, CellRun]
    events: list[str]
    sandboxed: bool
    stopped: str | None = None  # why execution stopped early
    seconds: float = 0.0


def strip_outputs(nb: NotebookNode) -> NotebookNode:
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in copy.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return copy


class _Reader(threading.Thread):
    """Reads the runner's JSON lines with a cap on every line; untrusted input."""

    def __init__(self, stream: Any, line_cap: int) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.line_cap = line_cap
        self.messages: queue.Queue = queue.Queue()
        self.dropped = 0
        self.bytes = 0
        self.count = 0

    def run(self) -> None:
        buf = bytearray()
        skipping = False
        try:
            while True:
                chunk = self.stream.read1(1 << 16) if hasattr(self.stream, "read1") else self.stream.read(1 << 16)
                if not chunk:
                    break
                self.bytes += len(chunk)
                start = 0
                while True:
                    nl = chunk.find(b"\n", start)
                    piece = chunk[start:] if nl < 0 else chunk[start:nl]
                    if not skipping:
                        buf += piece
                        if len(buf) > self.line_cap:
                            buf.clear()
                            skipping = True
                            self.dropped += 1
                    if nl < 0:
                        break
                    if not skipping and buf:
                        self._parse(bytes(buf))
                    buf.clear()
                    skipping = False
                    start = nl + 1
        except (OSError, ValueError):
            pass
        finally:
            self.messages.put(None)  # EOF

    def _parse(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            self.dropped += 1
            return
        if isinstance(message, dict):
            self.count += 1
            if self.count > MAX_MESSAGES:  # a flood: keep only what can end the wait
                if message.get("type") != "done":
                    self.dropped += 1
                    return
            self.messages.put(message)


class _Drain(threading.Thread):
    """Keeps the head of the sandbox's stderr (diagnostics), discards the rest."""

    def __init__(self, stream: Any, keep: int = 16_384) -> None:
        super().__init__(daemon=True)
        self.stream, self.keep, self.head = stream, keep, bytearray()

    def run(self) -> None:
        try:
            while True:
                chunk = self.stream.read(1 << 16)
                if not chunk:
                    break
                if len(self.head) < self.keep:
                    self.head += chunk[: self.keep - len(self.head)]
        except (OSError, ValueError):
            pass


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    try:
        proc.kill()
    except OSError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _dir_usage(path: Path, max_entries: int = 20_000) -> tuple[int, int]:
    total, entries = 0, 0
    stack = [str(path)]
    while stack and entries < max_entries:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    entries += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += getattr(st, "st_blocks", 0) * 512 or st.st_size
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            pass
    return total, entries


def _describe_exit(code: int | None, limits: Limits) -> str:
    if code is None:
        return "it did not exit"
    sig = -code if code < 0 else (code - 128 if code > 128 else 0)
    if sig:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        hint = {
            "SIGXCPU": f" (CPU time limit of {limits.cpu_seconds} s)",
            "SIGKILL": f" (killed; a memory limit of {limits.memory_mb} MB or a time limit is the likely cause)",
            "SIGSEGV": " (crashed; running out of memory is a likely cause)",
            "SIGABRT": " (aborted; running out of memory is a likely cause)",
            "SIGXFSZ": f" (file size limit of {limits.max_file_mb} MB)",
        }.get(name, "")
        return f"it was ended by {name}{hint}"
    return f"it exited with status {code}"


def run_notebook(
    nb: NotebookNode,
    limits: Limits = Limits(),
    *,
    seed: int,
    sandbox_mode: str | None = None,
    data_dir: Path | None = None,
    extra_files: dict[str, Path] | None = None,
    workdir: Path | None = None,
) -> Run:
    """Execute the code cells of `nb` in a fresh sandboxed runner; per-cell outputs and records."""
    start = time.monotonic()
    deadline = start + limits.total_timeout
    events: list[str] = []
    code_cells = [i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]
    cells: dict[int, CellRun] = {}
    own_tmp = None
    if workdir is None:
        own_tmp = Path(tempfile.mkdtemp(prefix="gradbook-run-"))
        workdir = own_tmp
    host_scratch = Path(workdir) / "scratch"
    if data_dir is None:  # the datasets cache ($GRADBOOK_DATA or the user cache), read-only at /data
        try:
            from gradbook.datasets.mnist import data_directory

            candidate = data_directory()
            data_dir = candidate if candidate.is_dir() else None
        except Exception:  # noqa: BLE001 - no datasets: notebooks fall back or say what is missing
            data_dir = None
    try:
        cmd = sandbox.build_command(
            limits, mode=sandbox_mode, data_dir=data_dir, extra_files=extra_files,
            host_scratch=host_scratch, env={"GRADBOOK_SEED": str(seed)},
        )
    except (RuntimeError, ValueError, OSError) as error:
        for i in code_cells:
            cells[i] = CellRun(i, "not run", reason=f"not run: {error}")
        if own_tmp:
            shutil.rmtree(own_tmp, ignore_errors=True)
        return Run(cells, [str(error)], False, str(error))
    events.extend(cmd.events)
    records_root = sandbox.RECORDS if cmd.sandboxed else str(host_scratch / ".gradbook")

    try:
        proc = subprocess.Popen(
            cmd.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=cmd.env, cwd=cmd.cwd, preexec_fn=cmd.preexec, start_new_session=True, close_fds=True,  # noqa: PLW1509
        )
    except (OSError, ValueError, subprocess.SubprocessError) as error:
        reason = f"the sandbox could not be started: {error}"
        for i in code_cells:
            cells[i] = CellRun(i, "not run", reason=f"not run: {reason}")
        if own_tmp:
            shutil.rmtree(own_tmp, ignore_errors=True)
        return Run(cells, [*events, reason], cmd.sandboxed, reason)
    reader = _Reader(proc.stdout, limits.max_output_bytes + _RECORD_SLACK)
    drain = _Drain(proc.stderr)
    reader.start()
    drain.start()
    # writes go through a thread: a runner that stops reading (its code forged a "done" and is still
    # busy) must never block the supervisor past its deadlines
    outbox: queue.Queue = queue.Queue()

    def write_loop() -> None:
        while True:
            data = outbox.get()
            try:
                if data is None:
                    proc.stdin.close()
                    return
                proc.stdin.write(data)
                proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return

    writer = threading.Thread(target=write_loop, daemon=True)
    writer.start()
    stopped: str | None = None
    eof = False
    budget = [limits.max_output_bytes + 4096]  # the runner's own truncation notes fit
    records_budget = [MAX_RECORDS_TOTAL]
    truncated = [False]

    def next_message(until: float) -> dict | None | str:
        """A message, None at EOF, 'timeout' at the deadline, 'disk' when scratch overflows."""
        nonlocal eof
        last_check = 0.0
        while True:
            now = time.monotonic()
            if now >= until:
                return "timeout"
            if not cmd.sandboxed and now - last_check > 0.5:
                last_check = now
                used, entries = _dir_usage(host_scratch)
                if used > limits.max_file_mb * 1024 * 1024 or entries >= 20_000:
                    return "disk"
            try:
                message = reader.messages.get(timeout=min(0.25, max(until - now, 0.01)))
            except queue.Empty:
                continue
            if message is None:
                eof = True
                return None
            return message

    try:
        ready = next_message(min(deadline, start + STARTUP_TIMEOUT))
        if not isinstance(ready, dict) or ready.get("type") != "ready":
            detail = drain.head.decode("utf-8", "replace").strip()[-1500:]
            stopped = f"the sandboxed Python did not start ({_describe_exit(proc.poll(), limits)}): {detail}"
            events.append(stopped)
        elif cmd.sandboxed and os.geteuid() == 0 and ready.get("uid") == 0:
            stopped = "the sandboxed runner still runs as root: refusing to run student code"
            events.append(stopped)
        for n, index in enumerate(code_cells):
            if stopped:
                cells[index] = CellRun(index, "not run", reason=f"not run: {stopped}")
                continue
            cell = nb.cells[index]
            record_dir = f"{records_root}/{secrets.token_hex(8)}-{index}"
            request = {"op": "run", "cell": index, "source": cell.get("source", ""), "record_dir": record_dir}
            if "HIDDEN TESTS" in request["source"]:
                request["shown"] = strip_hidden_tests(request["source"])
            cell_start = time.monotonic()
            outbox.put((json.dumps(request) + "\n").encode())
            cell_deadline = min(deadline, cell_start + limits.cell_timeout)
            while True:
                message = next_message(cell_deadline)
                if isinstance(message, dict) and (message.get("type") != "done" or message.get("cell") != index):
                    continue  # stale or forged chatter
                break
            elapsed = time.monotonic() - cell_start
            if isinstance(message, dict):
                run = CellRun(index, "error" if message.get("status") != "ok" else "ok", seconds=elapsed)
                run.outputs = _sanitize_outputs(message.get("outputs"), budget, truncated)
                run.records = _decode_records(message.get("records"))
                size = sum(len(d) for _, d in run.records)
                if size > records_budget[0]:
                    events.append(f"cell {index}: records over the grader's limit of {MAX_RECORDS_TOTAL:,} bytes were dropped")
                    run.records = []
                records_budget[0] -= size if run.records else 0
                cells[index] = run
                errors = [o for o in run.outputs if o["output_type"] == "error"]
                said = " ".join(f"{o.get('ename')} {o.get('evalue')}" for o in errors)
                said += " ".join(o.get("text", "") for o in run.outputs if o["output_type"] == "stream")[-4000:]
                if any(o.get("ename") == "MemoryError" for o in errors) or "Cannot allocate memory" in said:
                    events.append(f"memory limit hit in cell {index} ({limits.memory_mb} MB)")
                if "No space left on device" in said or "File too large" in said:
                    events.append(f"disk limit hit in cell {index} ({limits.max_file_mb} MB)")
                if any(o.get("ename") == "BlockingIOError" for o in errors) or "can't start new thread" in said:
                    events.append(f"process limit hit in cell {index} ({limits.max_processes} processes)")
                continue
            if message == "timeout":
                if time.monotonic() >= deadline - 1e-3 and deadline < cell_start + limits.cell_timeout:
                    stopped = f"cell {index} timed out: the submission's total time limit of {limits.total_timeout:g} s was reached"
                    events.append(f"killed: total time limit of {limits.total_timeout:g} s reached in cell {index}")
                else:
                    stopped = f"cell {index} timed out after {limits.cell_timeout:g} s"
                    events.append(f"killed: cell {index} exceeded {limits.cell_timeout:g} s")
                status = "timeout"
            elif message == "disk":
                stopped = f"cell {index} wrote more than {limits.max_file_mb} MB to disk"
                events.append(f"killed: disk limit hit in cell {index} ({limits.max_file_mb} MB)")
                status = "died"
            else:  # EOF: the process ended
                _kill(proc)
                stopped = f"the notebook's process ended in cell {index}: {_describe_exit(proc.returncode, limits)}"
                events.append(stopped)
                status = "died"
            _kill(proc)
            cells[index] = CellRun(index, status, reason=stopped, seconds=elapsed)
        if not stopped:
            outbox.put(b'{"op": "exit"}\n')
            outbox.put(None)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
    finally:
        _kill(proc)
        outbox.put(None)
        writer.join(timeout=5)
        reader.join(timeout=5)
        drain.join(timeout=5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        if own_tmp:
            shutil.rmtree(own_tmp, ignore_errors=True)
    if reader.dropped:
        events.append(f"{reader.dropped} oversized or malformed message(s) from the sandbox were dropped")
    if truncated[0]:
        events.append(f"output truncated (limit {limits.max_output_bytes:,} bytes)")
    return Run(cells, events, cmd.sandboxed, stopped, time.monotonic() - start)


def _text(value: Any, cap: int) -> str:
    if isinstance(value, list):
        value = "".join(v for v in value if isinstance(v, str))
    return value[:cap] if isinstance(value, str) else ""


def _sanitize_outputs(outputs: Any, budget: list[int], truncated: list[bool]) -> list[dict]:
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


def _decode_records(records: Any) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    if not isinstance(records, list):
        return out
    for rec in records[:MAX_RECORDS_PER_CELL]:
        if not isinstance(rec, dict) or not isinstance(rec.get("name"), str) or not isinstance(rec.get("data"), str):
            continue
        if len(rec["data"]) > MAX_RECORD_BYTES * 4 // 3 + 8:
            continue
        try:
            out.append((rec["name"][:200], base64.b64decode(rec["data"], validate=True)))
        except (binascii.Error, ValueError):
            continue
    return out


_HIDDEN_BLOCK = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*#+[ \t]*END HIDDEN TESTS", re.M | re.S)
REDACTED = "[a line of a hidden test was removed]"


def hidden_lines(nb: NotebookNode) -> list[str]:
    """The lines of every hidden test region (stripped), to keep them out of whatever is returned."""
    lines = {"BEGIN HIDDEN TESTS", "END HIDDEN TESTS"}
    for cell in nb.cells:
        for block in _HIDDEN_BLOCK.findall(cell.get("source", "")):
            lines.update(line.strip() for line in block.splitlines() if len(line.strip()) >= 6)
    return sorted(lines, key=len, reverse=True)


def redact(text: str, lines: list[str]) -> str:
    if not text or not any(line in text for line in lines):
        return text
    return "\n".join(REDACTED if any(h in row for h in lines) else row for row in text.split("\n"))


def _redact_outputs(outputs: list, lines: list[str]) -> bool:
    """Remove hidden test lines from outputs, in place; True if there were any."""
    changed = False

    def clean(text: Any) -> Any:
        nonlocal changed
        if not isinstance(text, str):
            return text
        cleaned = redact(text, lines)
        changed |= cleaned != text
        return cleaned

    for out in outputs:
        if "text" in out:
            out["text"] = clean(out["text"])
        if out.get("output_type") == "error":
            out["evalue"] = clean(out.get("evalue", ""))
            out["traceback"] = [clean(t) for t in out.get("traceback", [])]
        for mime, value in list(out.get("data", {}).items()):
            if not mime.startswith("image/"):
                out["data"][mime] = clean(value)
    return changed


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20] + " ... [shortened]"


def _verdict_outputs(passed: bool, message: str) -> list[NotebookNode]:
    if passed:
        return [nbformat.v4.new_output("stream", name="stdout", text=message.rstrip("\n") + "\n")]
    lines = message.splitlines() or [message]
    return [nbformat.v4.new_output("error", ename="AssertionError", evalue=message,
                                   traceback=[f"{_FAIL} AssertionError: {lines[0]}", *lines[1:]])]


def _cell_problem(run: CellRun | None) -> str | None:
    if run is None:
        return "the cell did not run"
    if run.status in ("not run", "timeout", "died"):
        return run.reason
    for out in run.outputs:
        if out.get("output_type") == "error":
            return f"the test cell stopped with {out.get('ename')}: {str(out.get('evalue'))[:300]}"
    return None


def grade_submission(
    submission: Path | bytes | NotebookNode,
    source_nb: NotebookNode,
    manifest: Manifest,
    *,
    limits: Limits = Limits(),
    seed: int | None = None,
    workdir: Path | None = None,
    extra_files: dict[str, Path] | None = None,
    sandbox_mode: str | None = None,
    data_dir: Path | None = None,
) -> SubmissionGrade:
    """Restore, execute in the sandbox, judge outside it. Never raises for a bad submission."""
    from gradbook.checks import load_all

    registry = load_all()
    seed = secrets.randbelow(2**31 - 1) + 1 if seed is None else int(seed)
    events: list[str] = []
    if manifest.source_digest and manifest.source_digest != source_digest(source_nb):
        events.append("the manifest was built from a different version of the source notebook")
    error: str | None = None
    try:
        submitted = parse_submission(submission)
    except SubmissionError as exc:
        error = str(exc)
        submitted = nbformat.v4.new_notebook()
    restored = restore(submitted, source_nb)
    events.extend(restored.events)
    nb = restored.notebook

    run: Run | None = None
    if error is None:
        run = run_notebook(nb, limits, seed=seed, sandbox_mode=sandbox_mode, data_dir=data_dir,
                           extra_files=extra_files, workdir=workdir)
        events.extend(run.events)

    cells: dict[str, CellGrade] = {}
    for index, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        if not gid or not is_graded(cell):
            continue
        max_points = float(manifest.points.get(gid, cell.metadata.nbgrader.get("points", 0) or 0))
        if manual_cell(cell):
            cells[gid] = CellGrade(gid, 0.0, max_points, False, "graded by hand")
            continue
        if not is_test_cell(cell):
            continue
        if error is not None:
            cells[gid] = CellGrade(gid, 0.0, max_points, False, f"not graded: {error}")
            cell.outputs = _verdict_outputs(False, f"not graded: {error}")
            continue
        cell_run = run.cells.get(index) if run else None
        records = [load_record(n, d) for n, d in (cell_run.records if cell_run else [])]
        if cell_run is not None and cell_run.status == "not run":
            judgement_passed, message, tampered = False, cell_run.reason, []
        else:
            j = judge_records(manifest.expected.get(gid, []), records, seed, registry,
                              cell_problem=_cell_problem(cell_run))
            judgement_passed, message, tampered = j.passed, j.message, j.tampered
        message = _cap(message, MAX_MESSAGE)
        for t in tampered:
            events.append(f"cell {gid}: {t}")
        cells[gid] = CellGrade(gid, max_points if judgement_passed else 0.0, max_points, judgement_passed, message)
        cell.outputs = _verdict_outputs(judgement_passed, message)
        cell.metadata["gradbook"] = {"trusted_verdict": True}

    # missing graded cells of the source (cannot happen after restore, but never silently)
    for gid, pts in manifest.points.items():
        if gid not in cells:
            cells[gid] = CellGrade(gid, 0.0, float(pts), False, "this graded cell was not found")

    count = 0
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        count += 1
        cell_run = run.cells.get(index) if run else None
        if cell_run is not None and cell_run.status != "not run":
            cell.execution_count = count
        if is_test_cell(cell):
            cell.source = strip_hidden_tests(cell.source)
            continue
        if cell_run is None:
            continue
        outputs = list(cell_run.outputs)
        if cell_run.status in ("timeout", "died", "not run"):
            outputs.append(nbformat.v4.new_output("error", ename="GraderStop", evalue=cell_run.reason,
                                                  traceback=[f"{_FAIL} {cell_run.reason}"]))
        cell.outputs = outputs
    sandboxed = bool(run and run.sandboxed)
    if run is not None and not sandboxed:
        first = next((c for c in nb.cells if c.get("cell_type") == "code"), None)
        if first is not None:
            first.outputs.insert(0, nbformat.v4.new_output(
                "stream", name="stderr", text="WARNING: this submission was graded WITHOUT a sandbox.\n"))
    # hidden tests never leave the grader: not in sources, outputs, messages or events
    secret = hidden_lines(source_nb)
    for cell in nb.cells:
        if "HIDDEN TESTS" in cell.get("source", ""):
            cell.source = strip_hidden_tests(cell.source)
        if _redact_outputs(cell.get("outputs", []), secret) and not is_test_cell(cell):
            events.append(f"cell {nb.cells.index(cell)} printed lines of a hidden test: removed from the output")
    for grade in cells.values():
        grade.message = _cap(redact(grade.message, secret), MAX_MESSAGE)
    events = [_cap(redact(e, secret), 500) for e in events[:MAX_EVENTS]] + (
        [f"... and {len(events) - MAX_EVENTS} more events"] if len(events) > MAX_EVENTS else []
    )
    score = sum(c.points for c in cells.values())
    max_score = sum(c.max_points for c in cells.values())
    return SubmissionGrade(nb, cells, events, error, sandboxed, score, max_score)
