"""Runs INSIDE the sandbox: execute notebook cells one by one with IPython, no Jupyter kernel.

    python -s -E /opt/gradbook/runner.py      (this file, bound alone into the sandbox)

It imports nothing of the grader: only IPython, `gradbook.checks` (the sandbox's answer-free
view) and `watch` (bound beside it, alone), so the grader's package and where it is installed stay
outside the sandbox.

Protocol (JSON lines). The supervisor sends the notebook's cells one at a time on stdin (never
the test cells), then asks the checks' questions, one at a time, with inputs it made outside:

    -> {"op": "run", "cell": 7, "source": "..."}
    <- {"type": "done", "cell": 7, "status": "ok" | "error", "outputs": [...], "truncated": bool}
    -> {"op": "ask", "id": 3, "expr": "naive_relu", "driver": "call", "value": false, "cases": [...]}
    <- {"type": "answers", "id": 3, "results": [{"out": ..., "error": ..., "inputs": "<digest>"}],
        "calls": {"frameworks": ["torch.softmax"], "replaced": [...]}}     (`watch`; only when it saw any)
    -> {"op": "exit"}

A warm runner (`gradbook_grader.warm`) is asked, before the submission is known and before any
student code, to import the modules the instructor's notebook imports, so the notebook finds them
loaded (sys.modules only: nothing enters the shell's namespace or history):

    -> {"op": "import", "modules": ["numpy", "matplotlib.pyplot", ...]}
    <- {"type": "imported", "failed": [...]}

Cases and outputs travel as plain data (`gradbook.checks.plain.to_wire`). Replies go to a private
duplicate of the original stdout; fds 0/1 of the student's code are /dev/null and stderr.
EVERYTHING this process says is untrusted once student code has run: the supervisor validates and
size-limits it and judges the answers itself, outside.

Standalone use for debugging: ``python -m gradbook_grader.runner notebook.ipynb outdir``
runs every code cell and writes ``outdir/results.jsonl``.
"""

from __future__ import annotations

import json
import os
import sys

_UID_ENV = "GRADBOOK_SANDBOX_UID"


def _drop_privileges() -> None:
    """In a root-run sandbox, become the unprivileged uid before any student code (RLIMIT_NPROC needs it)."""
    uid = os.environ.pop(_UID_ENV, "")
    if not uid or os.getuid() != 0:
        return
    n = int(uid)
    os.setgroups([])
    os.setgid(n)
    os.setuid(n)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("gradbook runner: could not drop root privileges")


_drop_privileges()

try:  # bound beside this file; its audit hook is in place before any student code
    import watch  # noqa: E402
except ModuleNotFoundError:  # `python -m gradbook_grader.runner` (standalone, for debugging and the bench)
    from gradbook_grader import watch  # noqa: E402

WATCH = watch.Watch()

from IPython.core.displayhook import DisplayHook  # noqa: E402
from IPython.core.displaypub import DisplayPublisher  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

OUTPUT_BUDGET = int(os.environ.pop("GRADBOOK_OUTPUT_BUDGET", "1000000"))
MAX_ANSWER_BYTES = 4 * 1024 * 1024  # below the supervisor's line cap (process.MAX_ANSWER_LINE)
TRUNCATED = "\n[output truncated: the submission printed more than {:,} bytes]\n"


class Sink:
    """The current cell's outputs, nbformat-shaped, under a per-submission byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.outputs: list[dict] = []
        self.truncated = False

    def reset(self) -> None:
        self.outputs = []

    def _mark(self) -> None:
        """Say once, where it happens, that output was cut."""
        if not self.truncated:
            self.truncated = True
            self.outputs.append({"output_type": "stream", "name": "stderr", "text": TRUNCATED.format(OUTPUT_BUDGET)})
        self.budget = 0

    def _take(self, n: int) -> bool:
        if n <= self.budget:
            self.budget -= n
            return True
        self._mark()
        return False

    def stream(self, name: str, text: str) -> None:
        cut = len(text) > self.budget
        if cut:
            text = text[: self.budget]
        self.budget -= len(text)
        if text:
            last = self.outputs[-1] if self.outputs else None
            if last and last["output_type"] == "stream" and last["name"] == name:
                last["text"] += text
            else:
                self.outputs.append({"output_type": "stream", "name": name, "text": text})
        if cut:
            self._mark()

    def rich(self, output_type: str, data: dict, metadata: dict | None, count: int | None = None) -> None:
        data = {str(k): v if isinstance(v, str) else json.dumps(v, default=str) for k, v in (data or {}).items()}
        if not self._take(64 + sum(len(v) for v in data.values())):  # every output costs something
            return
        out = {"output_type": output_type, "data": data, "metadata": {}}
        if output_type == "execute_result":
            out["execution_count"] = count
        self.outputs.append(out)

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        text = "\n".join(traceback)
        if not self._take(min(len(text), 20_000) + len(evalue[:2000])):
            return
        self.outputs.append(
            {"output_type": "error", "ename": ename[:200], "evalue": evalue[:2000], "traceback": [text[-20_000:]]}
        )

    def clear(self) -> None:
        self.outputs = []


SINK = Sink(OUTPUT_BUDGET)


class Stream:
    """sys.stdout / sys.stderr for student code."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: object) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        SINK.stream(self.name, text)
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 2

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


class Hook(DisplayHook):
    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict: dict, md_dict: dict | None = None) -> None:
        SINK.rich("execute_result", format_dict, md_dict, self.prompt_count)

    def finish_displayhook(self) -> None:
        pass


class Publisher(DisplayPublisher):
    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:  # noqa: ANN001
        SINK.rich("display_data", data, metadata)

    def clear_output(self, wait: bool = False) -> None:
        SINK.clear()


class Shell(InteractiveShell):
    def _showtraceback(self, etype, evalue, stb) -> None:  # noqa: ANN001
        SINK.error(getattr(etype, "__name__", str(etype)), str(evalue), list(stb))

    def enable_gui(self, gui=None) -> None:  # noqa: ANN001 - no event loops in a batch run
        pass


def _make_shell() -> InteractiveShell:
    from traitlets.config import Config

    config = Config({"HistoryManager": {"enabled": False}})
    shell = Shell.instance(
        config=config,
        displayhook_class=Hook,
        display_pub_class=Publisher,
        colors="NoColor",
        cache_size=1000,
    )
    return shell


def run_cell(shell: InteractiveShell, index: int, source: str) -> dict:
    SINK.reset()
    status = "ok"
    try:
        result = shell.run_cell(source, store_history=True)
        if not result.success:
            status = "error"
    except BaseException as exc:  # a SystemExit or KeyboardInterrupt that escaped IPython
        status = "error"
        SINK.error(type(exc).__name__, str(exc), [f"{type(exc).__name__}: {exc}"])
    finally:
        sys.stdout, sys.stderr = STDOUT, STDERR
    return {"type": "done", "cell": index, "status": status, "outputs": SINK.outputs, "truncated": SINK.truncated}


def answer_question(shell: InteractiveShell, request: dict) -> dict:
    """Call the student's answer on the grader's cases through the exercise's driver; plain outputs back."""
    from gradbook.checks.ask import answer
    from gradbook.checks.diagnose import describe_exception
    from gradbook.checks.core import Case
    from gradbook.checks.registry import driver
    from gradbook.checks.plain import from_wire, to_wire

    cases = [Case(tuple(args), dict(kwargs)) for args, kwargs in from_wire(request["cases"])]
    calls: dict[str, list[str]] = {}
    try:
        student = eval(compile(str(request["expr"]), "<the check's answer>", "eval"), shell.user_ns)  # noqa: S307
    except BaseException as exc:  # noqa: BLE001 - not defined, or it raised: the student's problem
        error = describe_exception(exc)
        if isinstance(exc, NameError):
            error += ": the notebook never defined it (did its cell run without errors?)"
        results = [{"out": None, "error": error, "inputs": ""}]
    else:
        if request.get("value"):
            constant = student
            student = lambda *args, **kwargs: constant  # noqa: E731 - the answer is a value
        SINK.reset()
        try:  # the framework functions the answer calls, however it reaches them (`watch`)
            run = driver(str(request["driver"]))
            results, calls = WATCH.ask(lambda: answer(run, student, cases))
        except BaseException as exc:  # noqa: BLE001 - past `answer`'s own catch (KeyboardInterrupt, a BaseException of
            # its own, an input it made unreadable): the answer's error, not the runner's end and a fresh run
            results = [{"out": None, "error": describe_exception(exc), "inputs": ""}]
        finally:
            sys.stdout, sys.stderr = STDOUT, STDERR
            SINK.reset()  # what the answer printed is not part of the notebook's output
    wire = [{"out": to_wire(r["out"]), "error": r["error"], "inputs": r["inputs"]} for r in results]
    size = len(json.dumps(wire))
    if size > MAX_ANSWER_BYTES:  # the grader would drop the line; say why instead
        wire = [{"out": None, "error": f"the answer is too large to check ({size:,} bytes of data)", "inputs": ""}]
    return {"type": "answers", "id": request.get("id"), "results": wire, **({"calls": calls} if calls else {})}


def preload(modules: object) -> dict:
    """Import `modules` ahead of the submission (a warm runner); what fails is left to the notebook."""
    import importlib

    failed = []
    for name in modules[:100] if isinstance(modules, list) else []:
        try:
            importlib.import_module(str(name))
        except BaseException:  # noqa: BLE001 - the notebook's own import will say what is wrong
            failed.append(str(name))
        finally:
            sys.stdout, sys.stderr = STDOUT, STDERR
    SINK.reset()  # what an import printed belongs to no cell
    return {"type": "imported", "failed": failed}


def set_language(language: object) -> dict:
    """Speak the submission's language (`gradbook.i18n`): what the notebook prints and what the checks'
    drivers say comes back in it. Before any student code; an unknown language leaves English."""
    try:
        from gradbook import i18n

        i18n.set_language(str(language))
        return {"type": "language", "language": i18n.current()}
    except Exception as error:  # noqa: BLE001 - the grader asks for known languages only
        return {"type": "language", "language": "en", "error": str(error)[:200]}


STDOUT = Stream("stdout")
STDERR = Stream("stderr")


def _setup_process() -> tuple[object, object]:
    """Keep private copies of the protocol pipes; give student code /dev/null and stderr."""
    proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8", errors="replace")
    proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    sys.stdout, sys.stderr = STDOUT, STDERR
    return proto_in, proto_out


def serve() -> None:
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        sys.path[0] = ""  # the notebook's folder, as in a kernel: files beside it import; the runner's do not
    proto_in, proto_out = _setup_process()
    shell = _make_shell()

    me = os.getpid()

    def send(message: dict) -> None:
        if os.getpid() != me:  # a child the student's code forked, back in this loop: it must not speak
            os._exit(0)
        proto_out.write(json.dumps(message, default=str) + "\n")
        proto_out.flush()

    send({"type": "ready", "uid": os.getuid()})
    for line in proto_in:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        if request.get("op") == "exit":
            break
        if request.get("op") == "run":
            send({**run_cell(shell, int(request["cell"]), str(request["source"])), "nonce": request.get("nonce")})
        elif request.get("op") == "ask":
            send({**answer_question(shell, request), "nonce": request.get("nonce")})
        elif request.get("op") == "import":
            send({**preload(request.get("modules")), "nonce": request.get("nonce")})
        elif request.get("op") == "language":
            send({**set_language(request.get("language")), "nonce": request.get("nonce")})
    proto_out.flush()
    os._exit(0)  # skip atexit handlers registered by student code


def standalone(notebook: str, outdir: str) -> None:
    with open(notebook, encoding="utf-8") as f:
        nb = json.load(f)
    os.makedirs(outdir, exist_ok=True)
    shell = _make_shell()
    sys.stdout, sys.stderr = STDOUT, STDERR
    with open(os.path.join(outdir, "results.jsonl"), "w", encoding="utf-8") as out:
        for index, cell in enumerate(nb.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            message = run_cell(shell, index, src)
            out.write(json.dumps(message, default=str) + "\n")
            out.flush()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2:
        standalone(args[0], args[1])
    else:
        serve()


if __name__ == "__main__":
    main()
