"""Runs INSIDE the sandbox, beside runner.py: which framework functions an answer calls while the grader asks it.

    import watch      (bound alone beside runner.py at /opt/gradbook/watch.py; imports nothing of the grader)

The course's exercises are answered in NumPy; a framework (torch, tensorflow, jax, keras) that computes an answer
for the student is shown to a person, never scored (docs/architecture.md). `integrity.py` reads the notebook's
text for calls through names bound by `import`; this module sees what the answer actually calls, however it
reached the framework (`__import__("to" + "rch")`, `sys.modules`, `getattr`, `exec`, a `functools.partial`, a
tensor a library layer returned, autograd), while the runner asks it the checks' questions, and only then:
demo and comparison cells may use the frameworks freely.

Recorders, on only while an answer is asked (`Watch.ask`):

* while torch is loaded, a `TorchFunctionMode`: every torch function, tensor method and operator the answer
  calls, also from C (`functools.partial(torch.softmax)`, `map(torch.exp, ...)`), in its thread and in those it
  starts (`threading.setprofile`: the mode is per thread; it leaves with the thread);
* a profiler (`sys.setprofile`): each ENTRY into a framework, a Python function whose code is in a framework's
  package or a C function that belongs to one, called from code that is not the framework's own. It costs every
  Python call the answer makes (chapter 8's grade took 25-40 % longer with it always on), so it is on
  only where a loaded framework has no function mode (tensorflow, jax, keras; a torch whose mode could not be
  entered), and from the moment an answer imports a framework while it is asked;
* an audit hook (installed before any student code; it cannot be removed): a framework imported while an answer
  is asked, and the answer calling `sys.setprofile` or `sys.settrace`, which is evidence itself, as is the
  grader's profiler, thread hook or torch mode gone (or torch's function modes turned off) when it returns.

Whose call it is (`Watch.counts`): from the call outward, frames of the installed Python (the standard library,
numpy, IPython, ...) and of this folder are passed through; the first other frame decides. The notebook's cells,
the student's own files and the checks' drivers (which call the answer, and convert a tensor it returned) count:
recorded. The library's own code (`gradbook` outside its checks: the torch path, `device="cpu"`) is not the
student's choice, and a framework's frame is the framework calling itself (its entry was recorded): not recorded.
Code compiled from a string (`exec`, a dataclass's `__init__`) is judged by the module whose globals it runs in.
A thread's bottom (nothing decides) is the answer's own thread: recorded. Finalizers the garbage collector runs
during an answer are nobody's choice: not recorded.

What a hostile answer can still do (it runs in this process): tamper with this recorder by other means than
those above (patch its objects; turn torch's function modes off for a while, `torch._C.DisableTorchFunction`, or
pop the mode and push it back; compile code under the library's or a framework's file or module name), or hand a
framework function to the library's own code to call. docs/architecture.md, "Not guaranteed".
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from importlib.util import find_spec
from typing import Any, Callable

FRAMEWORKS = ("torch", "tensorflow", "jax", "keras")  # as `gradbook_grader.integrity.FRAMEWORKS`
MAX_NAMES = 20  # of each kind, per question: enough to show a person what was called
PROFILER_EVENTS = {"sys.setprofile": "sys.setprofile", "sys.settrace": "sys.settrace",
                   "sys._setprofileallthreads": "threading.setprofile_all_threads",
                   "sys._settraceallthreads": "threading.settrace_all_threads"}
FRAMEWORK, LIBRARY, PASS, COUNTS, GENERATED = "framework", "library", "pass", "counts", "generated"  # kinds of code
MACHINERY = {"torch.overrides"}  # how torch calls a function mode (ours): the mode records the function itself
# The interpreter's ways into objects the answer was not given (the driver's frames and inputs, the checks' own
# objects), which honest answers never need: called from the answer's own code while it is asked, they are recorded
# as it calls them (a rule its driver keeps, chapter 2's loops, is kept in this process, where these reach past it).
INSPECTION_EVENTS = {"gc.get_referents", "gc.get_referrers", "gc.get_objects", "sys._getframe", "sys._current_frames",
                     "object.__getattr__"}
# A process the answer starts while asked computes out of the recorders' sight (torch in a forked child): recorded
# when the answer's code starts it, however (`multiprocessing`, `subprocess`, `os.fork`).
PROCESS_EVENTS = {"os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.spawn", "os.system", "subprocess.Popen"}
_TORCH_NAMES = {"_VariableFunctionsClass": "", "TensorBase": "Tensor"}  # torch's C classes, as torch names them


def _package_dir(name: str) -> str | None:
    """Where package `name` is installed (without importing it), or None."""
    try:
        spec = find_spec(name)
    except (ImportError, ValueError):
        return None
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    return os.path.join(os.path.realpath(places[0]), "") if places else None


def _prefixes(path: str) -> tuple[str, ...]:
    """A folder as code objects may name it: as given and with links resolved."""
    return tuple({os.path.join(path, ""), os.path.join(os.path.realpath(path), "")})


class Watch:
    """The recorders of one runner process (see the module)."""

    def __init__(self) -> None:
        self.asking = False
        self.called: dict[str, None] = {}  # framework functions, in the order first called
        self.replaced: dict[str, None] = {}  # the grader's recorders the answer replaced
        self._kinds: dict[str, str] = {}
        self._generated: dict[Any, str] = {}  # code compiled from a string -> its kind (`kind_of`)
        here = os.path.dirname(os.path.abspath(__file__))
        self._frameworks = tuple(p for p in (_package_dir(n) for n in FRAMEWORKS) if p)
        library = _package_dir("gradbook") or "//no library//"
        self._harness = _prefixes(os.path.join(library, "checks"))
        self._library = _prefixes(library)
        installed = [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) != os.getcwd()]
        self._installed = tuple(q for p in [*installed, here, sys.prefix, sys.base_prefix] for q in _prefixes(p)
                                if q != "/")  # never everything: the student's files are not installed
        self._on = [False]  # asking, and not in the garbage collector's finalizers: what the recorders read
        self._hook = self._profiler()  # one object: `sys.getprofile() is self._hook` says it is still in place
        self._own_code = {self._hook.__code__, self._profile_on.__code__, self._stop.__code__, self.thread.__code__,
                          _ThreadEnd.__call__.__code__}
        self._profiling = False  # the profiler is on (`_start`)
        self._profiled = 0  # in which thread `_profile_on` turned it on
        self._thread_hook = self.thread
        self._mode: Any = None
        self._torch: Any = None  # the torch the mode was made with
        self._old_thread_profile: Any = None
        sys.addaudithook(self._auditor())
        gc.callbacks.append(self._gc)

    # --- whose code ---------------------------------------------------------------------------------

    def kind_of(self, frame: Any) -> str:
        """Whose code a frame runs: by its file; code compiled from a string (a dataclass's `__init__`, `exec`) by
        the file of the module whose globals it runs in (the notebook's are the runner's: passed through)."""
        code = frame.f_code
        kind = self._kinds.get(code.co_filename) or self.kind(code.co_filename)
        if kind != GENERATED:
            return kind
        kind = self._generated.get(code)
        if kind is None:
            module = sys.modules.get(str(frame.f_globals.get("__name__")))
            file = getattr(module, "__file__", None)
            kind = self._generated[code] = self.kind(file) if isinstance(file, str) and file[:1] == "/" else COUNTS
        return kind

    def kind(self, filename: str) -> str:
        """Whose code a file holds (`GENERATED`: a string's, see `kind_of`)."""
        kind = self._kinds.get(filename)
        if kind is None:
            real = os.path.realpath(filename) if filename.startswith("/") else filename

            def under(prefixes: tuple[str, ...]) -> bool:  # as the code names the file, or with links resolved
                return real.startswith(prefixes) or filename.startswith(prefixes)

            if under(self._frameworks):
                kind = FRAMEWORK
            elif under(self._harness):
                kind = COUNTS  # the checks' drivers: they call the answer and read what it returned
            elif under(self._library):
                kind = LIBRARY
            elif under(self._installed) or filename.startswith("<frozen "):
                kind = PASS
            elif filename.startswith("<") and not filename.startswith("<ipython-input-"):
                kind = GENERATED
            else:
                kind = COUNTS  # the notebook's cells, code compiled from strings, the student's own files
            self._kinds[filename] = kind
        return kind

    def counts(self, frame: Any, leading: bool = False) -> bool:
        """Whether a framework call made in `frame` is the answer's: walking outward past the installed Python's
        frames and this folder's, the first other frame is neither the library's nor a framework's (a framework
        calling itself through the standard library is not a new entry; its entry was recorded). `leading`: the
        framework frames right above are passed too (torch's function mode is asked from inside torch's own
        dispatch, or from a module's `__call__` that nothing else names)."""
        while leading and frame is not None and self.kind_of(frame) == FRAMEWORK:
            if frame.f_code.co_name == "__del__":
                return False  # a framework object's finalizer, run where its last reference was dropped
            frame = frame.f_back
        while frame is not None:
            kind = self.kind_of(frame)
            if kind == COUNTS:
                return True
            if kind != PASS:
                return False
            frame = frame.f_back
        return True  # the bottom of a thread the answer started

    # --- the profiler -------------------------------------------------------------------------------

    def _profiler(self) -> Callable[[Any, str, Any], None]:
        """The profile function. It runs on every call and return while an answer is asked, so it is a closure
        that looks up nothing it can keep, and decides once per owner (a module, a class) whether a C function
        is a framework's."""
        on, kinds, kind_of, counts, record = self._on, self._kinds, self.kind_of, self.counts, self._record
        decided: dict[Any, bool] = {}
        builtin, module = type(len), type(sys)

        def c_call(frame: Any, arg: Any) -> None:
            owner = arg.__self__ if type(arg) is builtin else arg.__objclass__  # a method descriptor
            key = arg.__module__ if owner is None else owner if type(owner) in (module, type) else type(owner)
            hit = decided.get(key)
            if hit is None:
                hit = decided[key] = _framework_owner(key)
            if hit and kind_of(frame) != FRAMEWORK and counts(frame):
                record(framework_name(arg) or repr(arg)[:80])

        def call(frame: Any) -> None:
            code, caller = frame.f_code, frame.f_back
            if kinds.get(code.co_filename, GENERATED) not in (FRAMEWORK, GENERATED) or kind_of(frame) != FRAMEWORK:
                return
            if code.co_name == "__del__" or (caller is not None and kind_of(caller) == FRAMEWORK):
                return  # a finalizer, or the framework calling itself: not an entry
            name = str(frame.f_globals.get("__name__", "?"))
            if name not in MACHINERY and counts(caller):
                record(f"import {name.partition('.')[0]}" if code.co_name == "<module>" else f"{name}.{code.co_qualname}")

        def profile(frame: Any, event: str, arg: Any) -> None:
            try:
                if event == "c_call" and on[0]:
                    c_call(frame, arg)
                elif event == "call" and on[0]:
                    call(frame)
            except Exception:  # noqa: BLE001 - an odd object (a hash that raises): never the answer's failure
                pass

        return profile

    def thread(self, frame: Any, event: str, arg: Any) -> None:
        """The first event of a thread started while an answer is asked: torch's function mode in it too (a mode is
        per thread, and left in a thread that ends it aborts the process), then the profiler where it is on."""
        hook = self._hook if self._profiling else None
        torch = sys.modules.get("torch") if self.asking else None
        mode = None
        if torch is not None:
            try:
                mode = _torch_mode(torch, self)
                mode.__enter__()
            except Exception:  # noqa: BLE001 - the profiler sees it
                mode, hook = None, self._hook
        sys.setprofile(hook if mode is None else _ThreadEnd(hook, torch, mode, frame))
        if hook is not None:
            hook(frame, event, arg)

    def _record(self, name: str) -> None:
        if len(self.called) < MAX_NAMES:
            self.called.setdefault(name[:200])

    def _gc(self, phase: str, info: dict) -> None:
        self._on[0] = self.asking and phase != "start"

    # --- asking -------------------------------------------------------------------------------------

    def ask(self, call: Any) -> tuple[Any, dict[str, list[str]]]:
        """`call()` with the recorders on; its result, and what they recorded (empty when nothing)."""
        self.called, self.replaced = {}, {}
        self._start()
        try:
            result = call()
        finally:
            self._stop()
        found = {"frameworks": list(self.called), "replaced": list(self.replaced)}
        return result, {k: v for k, v in found.items() if v}

    def _start(self) -> None:
        torch = self._torch = sys.modules.get("torch")
        if torch is not None:  # entered first (and left last): its own code is not the answer's
            try:
                self._mode = _torch_mode(torch, self)
                self._mode.__enter__()
            except Exception:  # noqa: BLE001 - a torch without modes: the profiler sees it
                self._mode = None
        self._old_thread_profile = getattr(threading, "_profile_hook", None)
        threading.setprofile(self._thread_hook)
        self.asking = self._on[0] = True
        # The profiler costs every Python call of the answer (a third more grading time for chapter 8's): on only
        # where a loaded framework has no function mode; and from an import of one while asked (`_audit`).
        self._profiling = False
        if any(name in sys.modules for name in FRAMEWORKS if name != "torch" or self._mode is None):
            self._profile_on()

    def _profile_on(self) -> None:
        """The profiler on in this thread, and in the threads started from now on (`thread`)."""
        self._profiling = True
        self._profiled = threading.get_ident()
        sys.setprofile(self._hook)

    def _stop(self) -> None:
        if self._profiling and self._profiled == threading.get_ident():  # (not when a thread of the answer imported)
            if sys.getprofile() is not self._hook:
                self.replaced.setdefault("sys.setprofile (the grader's profiler was not in place when the answer "
                                         "returned)")
            sys.setprofile(None)
        self.asking = self._on[0] = self._profiling = False
        if getattr(threading, "_profile_hook", None) is not self._thread_hook:
            self.replaced.setdefault("threading.setprofile (threads it started were not watched)")
        threading.setprofile(self._old_thread_profile)
        if self._mode is not None:
            self._leave_torch_mode()

    def _leave_torch_mode(self) -> None:
        mode, torch, self._mode = self._mode, self._torch, None
        try:  # the torch of `_start` (the answer may have taken it out of sys.modules)
            stack = _take_off(torch, mode)
            enabled = torch._C._is_torch_function_enabled()
        except Exception as error:  # noqa: BLE001 - an answer that broke them: said, never the runner's end
            self.replaced.setdefault(f"torch's function modes (they could not be read: {type(error).__name__})")
            return
        if not stack or stack[-1] is not mode:
            self.replaced.setdefault("torch's function modes (the grader's torch mode was removed or covered)")
        if not enabled:
            self.replaced.setdefault("torch's function modes (turned off: torch._C.DisableTorchFunction)")

    def _auditor(self) -> Callable[[str, tuple], None]:
        """The audit hook: a closure that does nothing but a set lookup for the events it does not watch (the
        process's every `id()` is one: chapter 8's answers make millions), `_audit` for the others while asked."""
        on, audit = self._on, self._audit
        watched = frozenset({"import", *PROFILER_EVENTS, *INSPECTION_EVENTS, *PROCESS_EVENTS})

        def auditor(event: str, args: tuple) -> None:
            if event in watched and on[0]:
                audit(event, args)

        return auditor

    def _audit(self, event: str, args: tuple) -> None:
        """A framework imported while an answer is asked (then the profiler is on for the rest of it); student code
        replacing the grader's profiler or tracer is evidence itself."""
        if event == "import":
            top = str(args[0]).partition(".")[0] if args else ""
            if top in FRAMEWORKS and self.counts(sys._getframe(2)):
                self._record(f"import {top}")
                if not self._profiling:
                    self._profile_on()
            return
        if event in INSPECTION_EVENTS or event in PROCESS_EVENTS:
            self._inspected(event, args)
            return
        if event not in PROFILER_EVENTS:
            return
        caller = sys._getframe(2)  # past `auditor`
        if caller.f_code in self._own_code or caller.f_code.co_filename.startswith(self._library):
            return  # the grader's, or the library's (chapter 8's driver traces an answer for recursion)
        if caller.f_code.co_name == "_bootstrap_inner" and getattr(threading, "_profile_hook", None) is self._thread_hook:
            return  # a thread the answer started, taking the grader's profiler (`threading.setprofile`)
        self.replaced.setdefault(f"{PROFILER_EVENTS[event]} (called by the answer)")

    def _inspected(self, event: str, args: tuple) -> None:
        """An inspection (`INSPECTION_EVENTS`) the answer's own code made (its frame is the notebook's or the
        student's files, not the library's, the checks' drivers', the installed Python's or this folder's), or a
        process it started (`PROCESS_EVENTS`)."""
        self._on[0] = False  # what follows reads frames itself: not an event of the answer's
        try:
            caller = sys._getframe(3)  # past `auditor` and `_audit`
            if event in PROCESS_EVENTS:  # however the answer started it (through the standard library)
                if self.counts(caller):
                    self._record(f"{event} (a process started: what it computes there is not seen)")
            elif self.kind_of(caller) == COUNTS and not caller.f_code.co_filename.startswith(self._harness):
                what = f"{event}({str(args[1])[:40]})" if event == "object.__getattr__" and len(args) > 1 else event
                self._record(f"{what} (an inspection of objects it was not given)")
        finally:
            self._on[0] = self.asking


class _ThreadEnd:
    """The profile function of a thread holding torch's function mode: the profiler's (if on), and when the thread's
    bottom frame returns, the mode taken off its stack."""

    def __init__(self, hook: Any, torch: Any, mode: Any, frame: Any) -> None:
        self.hook, self.torch, self.mode, self.bottom = hook, torch, mode, frame
        while frame is not None and frame.f_code.co_name != "_bootstrap_inner":  # threading's, below `run`
            frame = frame.f_back
        self.bottom = frame or self.bottom

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if self.hook is not None:
            self.hook(frame, event, arg)
        if event == "return" and frame is self.bottom:
            sys.setprofile(None)
            try:
                _take_off(self.torch, self.mode)
            except Exception:  # noqa: BLE001 - the answer broke torch's modes: its own thread's concern
                pass


def _take_off(torch: Any, mode: Any) -> list[Any]:
    """This thread's torch function modes as they were; `mode` taken off them (and any pushed above it)."""
    stack = list(torch.overrides._get_current_function_mode_stack())
    if any(m is mode for m in stack):
        while torch._C._pop_torch_function_stack() is not mode:
            pass
    return stack


def framework_name(function: Any) -> str | None:
    """`torch.softmax`, `torch.Tensor.sum`, `torch.nn.functional.softmax`: the framework function a callable is, or None."""
    module = getattr(function, "__module__", None)
    owner = getattr(function, "__self__", None)
    if owner is None or isinstance(owner, type(sys)):
        owner = getattr(function, "__objclass__", None)  # an unbound C method (`torch.Tensor.sum`)
    cls = owner if isinstance(owner, type) else type(owner) if owner is not None else None
    if not isinstance(module, str) or not module:
        module = getattr(cls, "__module__", None)
    if not isinstance(module, str) or module.partition(".")[0] not in FRAMEWORKS:
        return None
    if hasattr(function, "__code__"):  # a Python function: where it is defined
        return f"{module}.{getattr(function, '__qualname__', '?')}"
    name = str(getattr(function, "__name__", None) or type(function).__name__)
    where = _TORCH_NAMES.get(cls.__name__, cls.__name__) if cls is not None else ""
    return ".".join(p for p in (module if cls is None else module.partition(".")[0], where, name) if p)


def _framework_owner(owner: Any) -> bool:
    """Whether what a C function belongs to (a module's name, a module, a class) is a framework's."""
    if isinstance(owner, str):
        name = owner
    else:
        name = owner.__name__ if isinstance(owner, type(sys)) else getattr(owner, "__module__", "")
    return isinstance(name, str) and name.partition(".")[0] in FRAMEWORKS


def _torch_name(func: Any) -> str:
    """The name of what torch's function mode was asked to call: a function, a method, a property's getter."""
    name = framework_name(func)
    if name:
        return name
    owner = getattr(func, "__self__", None)
    cls = getattr(owner, "__objclass__", None)  # `Tensor.shape`, read through its descriptor's `__get__`
    if isinstance(cls, type):
        return f"torch.{_TORCH_NAMES.get(cls.__name__, cls.__name__)}.{getattr(owner, '__name__', '?')}"
    return f"torch.{getattr(func, '__qualname__', type(func).__name__)}"


def _torch_mode(torch: Any, watch: Watch) -> Any:
    """A torch function mode that records each torch call the answer makes (from Python or from C)."""

    class Recorder(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
            if watch._on[0] and watch.counts(sys._getframe(1), leading=True):
                watch._record(_torch_name(func))
            return func(*args, **(kwargs or {}))

    return Recorder()
