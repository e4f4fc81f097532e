"""`gradbook-grader grade-by-question`: one local page per written-answer question, every student's answer
on it, similar answers grouped (`answer_groups`), scored a group at a time into nbgrader's gradebook (`written`).

A standalone server (the standard library's, no JupyterLab extension): it needs no build step and
no Jupyter server, works with any gradebook `--db` names, and one TA can run it over SSH
(`ssh -L`). It listens on 127.0.0.1 only and answers only under a random token in the path
(`http://127.0.0.1:PORT/TOKEN/`), so another user of the machine, or a web page in the grader's
browser, cannot reach it; requests naming another Host are refused (DNS rebinding). The page
is static (`static/byquestion.*`) and shows every student text with `textContent`, never as HTML,
under a Content-Security-Policy that allows only its own script.

    GET  /TOKEN/                      the page (and byquestion.js, byquestion.css)
    GET  /TOKEN/api/questions         the assignment's written-answer questions, with progress
    GET  /TOKEN/api/question?id=GID   one question: prompt, model answer, rubric, groups, progress
    POST /TOKEN/api/grade             {question, answers: {student: digest}, score, rubric: [ids], comment}
    POST /TOKEN/api/rubric            {question, items: [{id?, text, points}]}
"""

from __future__ import annotations

import hmac
import json
import secrets
import signal
import sys
import threading
from collections import Counter
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from gradbook_grader import rubric
from gradbook_grader.course import Course, GraderError
from gradbook_grader.answer_groups import Group, diff, group, normalise
from gradbook_grader.written import AnswerReader, Answers, Question, answers, apply, question, questions

STATIC = Path(__file__).with_name("static")
FILES = {"": ("byquestion.html", "text/html"), "byquestion.js": ("byquestion.js", "text/javascript"),
         "byquestion.css": ("byquestion.css", "text/css")}
MAX_BODY = 4 << 20  # a group of 2,000 answers' digests is about 100 kB
SECURITY = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never sent on
    "Cache-Control": "no-store",
}


class Grading:
    """The state behind the page: the course, the questions, one gradebook session (used under a lock)."""

    def __init__(self, course: Course, assignment: str, only: str | None = None) -> None:
        from gradbook_grader.gradebook import open_gradebook

        self.course, self.assignment = course, assignment
        self.questions = [question(course, assignment, only)] if only else questions(course, assignment)
        if not self.questions:
            raise GraderError(f"{assignment} has no written-answer questions (manually graded answer cells): "
                              "nothing to grade by question")
        self.reader = AnswerReader(course, assignment)
        self.gb = open_gradebook(course)
        self.lock = threading.Lock()
        self._groups: dict[str, tuple[tuple[tuple[str, str, bool], ...], list[Group]]] = {}  # per question, until answers change

    def close(self) -> None:
        self.gb.close()

    def _question(self, gid: str) -> Question:
        for q in self.questions:
            if q.grade_id == gid:
                return q
        raise LookupError(f"no written-answer question {gid!r} here")

    def _locked(self, work: Callable[[], Any]) -> Any:
        """One request's gradebook work; its transaction ends with it, so the formgrader can write meanwhile."""
        with self.lock:
            try:
                result = work()
                self.gb.db.commit()
                return result
            except BaseException:
                from gradbook_grader.gradebook import rollback

                rollback(self.gb)  # the next request starts from what the database holds
                raise

    def overview(self) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            listed = []
            for q in self.questions:
                found = answers(self.gb, self.reader, q)
                listed.append({"id": q.grade_id, "points": q.points, "graded": sum(a.graded for a in found.answers),
                               "total": len(found.answers)})
            return {"assignment": self.assignment, "questions": listed}
        return self._locked(work)

    def view(self, gid: str) -> dict[str, Any]:
        q = self._question(gid)
        items = rubric.load(self.course, self.assignment).get(gid, [])
        found: Answers = self._locked(lambda: answers(self.gb, self.reader, q))
        return {"assignment": self.assignment,
                "question": {"id": q.grade_id, "points": q.points, "prompt": q.prompt, "model": q.model},
                "rubric": [asdict(i) for i in items],
                "progress": {"graded": sum(a.graded for a in found.answers), "total": len(found.answers)},
                "missing": found.missing,
                "groups": groups(found, items, self._grouped(gid, found))}

    def _grouped(self, gid: str, found: Answers) -> list[Group]:
        """The question's groups, computed again only when its answers changed (2,000 answers: seconds)."""
        key = tuple((a.student, a.digest, a.blank) for a in found.answers)
        if gid not in self._groups or self._groups[gid][0] != key:
            self._groups[gid] = (key, group([a.text for a in found.answers],
                                            [n for n, a in enumerate(found.answers) if a.blank]))
        return self._groups[gid][1]

    def grade(self, body: dict[str, Any]) -> dict[str, Any]:
        q = self._question(str(body.get("question")))
        seen, score, picked = _scoring(body)
        items = {i.id: i for i in rubric.load(self.course, self.assignment).get(q.grade_id, [])}
        chosen = [items[i] for i in picked if i in items]
        comment = rubric.compose(chosen, str(body.get("comment") or ""))
        done = self._locked(lambda: apply(self.gb, self.reader, q, {str(k): v for k, v in seen.items()},
                                          float(score), comment))
        return {"saved": done.saved, "stale": done.stale, "comment": comment}

    def set_rubric(self, body: dict[str, Any]) -> dict[str, Any]:
        q = self._question(str(body.get("question")))
        items = rubric.clean(body.get("items"))
        with self.lock:
            rubric.save(self.course, self.assignment, q.grade_id, items)
        return {"rubric": [asdict(i) for i in items]}


def groups(found: Answers, items: list[rubric.Item], grouped: list[Group]) -> list[dict[str, Any]]:
    """The answers as the page shows them: groups, each of variants (equal once normalised), each of answers."""
    texts = [a.text for a in found.answers]
    shown = []
    for g in grouped:
        variants: dict[str, list[int]] = {}
        for n in g.members:
            variants.setdefault(normalise(texts[n]), []).append(n)
        # A variant reads as its commonest spelling (a verbatim copy rather than one re-typed).
        spelt = [Counter(texts[n] for n in ns).most_common(1)[0][0] for ns in variants.values()]
        shown.append({"kind": g.kind, "variants": [
            {"text": spelt[v], "diff": diff(spelt[0], spelt[v]) if v and g.kind != "blank" else None,
             "answers": [_answer(found.answers[n], items) for n in ns]}
            for v, ns in enumerate(variants.values())]})
    return shown


def _answer(a: Any, items: list[rubric.Item]) -> dict[str, Any]:
    chosen, free = rubric.split(a.comment, items)
    return {"student": a.student, "digest": a.digest, "graded": a.graded, "score": a.score, "comment": a.comment,
            "rubric": chosen, "free": free, "blank": a.blank}


def make_handler(grading: Grading, token: str, port_of: Callable[[], int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 60  # an idle connection (a browser's preconnect) does not hold a thread forever
        server_version = "gradbook-grade-by-question"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # the token is in every path: keep it out of the terminal's scrollback

        def _route(self) -> tuple[str, dict[str, list[str]]] | None:
            """The path after the token, and the query; None (404) without the right token or Host."""
            allowed = {f"127.0.0.1:{port_of()}", f"localhost:{port_of()}"}
            if self.headers.get("Host", "") not in allowed:
                return None
            url = urlsplit(self.path)
            first, _, rest = url.path.lstrip("/").partition("/")
            if not hmac.compare_digest(first.encode(), token.encode()):
                return None
            return rest, parse_qs(url.query)

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in SECURITY.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json")

        def _answer(self, work: Callable[[], Any]) -> None:
            try:
                self._json(200, work())
            except (ValueError, LookupError) as error:
                self._json(400, {"error": str(error)})
            except GraderError as error:
                self._json(409, {"error": str(error)})
            except Exception as error:  # the page shows it; the server goes on
                self._json(500, {"error": f"{type(error).__name__}: {error}"})

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            route = self._route()
            if route is None:
                return self._send(404, b"not found", "text/plain")
            rest, query = route
            if rest == "" and not urlsplit(self.path).path.endswith("/"):  # /TOKEN: the page's relative URLs need /TOKEN/
                self.send_response(301)
                self.send_header("Location", f"/{token}/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if rest in FILES:
                name, kind = FILES[rest]
                return self._send(200, (STATIC / name).read_bytes(), kind)
            if rest == "api/questions":
                return self._answer(grading.overview)
            if rest == "api/question":
                return self._answer(lambda: grading.view((query.get("id") or [""])[0]))
            self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            route = self._route()
            actions = {"api/grade": grading.grade, "api/rubric": grading.set_rubric}
            if route is None or route[0] not in actions:
                return self._send(404, b"not found", "text/plain")
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
                return self._json(415, {"error": "send application/json"})  # no cross-site form posts
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                return self._json(413, {"error": f"a request body of 1 to {MAX_BODY} bytes"})
            try:
                body = json.loads(self.rfile.read(length))
                if not isinstance(body, dict):
                    raise ValueError("a JSON object")
            except ValueError as error:
                return self._json(400, {"error": f"not a JSON object: {error}"})
            self._answer(lambda: actions[route[0]](body))

    return Handler


class Server:
    """The page's server on 127.0.0.1 (a free port for 0), in the background or in the foreground."""

    def __init__(self, course: Course, assignment: str, only: str | None = None, port: int = 0) -> None:
        self.grading = Grading(course, assignment, only)
        self.token = secrets.token_urlsafe(24)
        try:
            self.httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(self.grading, self.token, lambda: self.port))
        except OSError as error:
            self.grading.close()
            raise GraderError(f"cannot listen on 127.0.0.1:{port} ({error}): choose another --port, or 0 for any free one")
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        first = self.grading.questions[0].grade_id
        return f"http://127.0.0.1:{self.port}/{self.token}/#{first}"

    def start(self) -> "Server":
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.grading.close()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()


def serve(course: Course, assignment: str, only: str | None = None, port: int = 0) -> int:
    """The command: serve until Ctrl-C."""
    server = Server(course, assignment, only, port)
    print(f"grading {assignment}'s written answers by question ({', '.join(q.grade_id for q in server.grading.questions)})\n"
          f"open {server.url}\n(only this machine's 127.0.0.1 is served; from elsewhere: ssh -L {server.port}:127.0.0.1:"
          f"{server.port} this-host, then the same URL). Ctrl-C stops; every score is saved as it is given.", flush=True)
    # Ctrl-C (SIGINT) stops it even where it was started with SIGINT ignored, as a background job of a script is:
    # otherwise only SIGTERM or SIGKILL would, with no "stopped" and the grading left open.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.httpd.server_close()
        server.grading.close()
    return 0


def _scoring(body: dict[str, Any]) -> tuple[dict, float, list[str]]:
    """A scoring request's (answers seen: {student: digest}, score, rubric item ids), or ValueError saying what is
    wrong."""
    seen = body.get("answers")
    score = body.get("score")
    if not isinstance(seen, dict) or not seen or not all(isinstance(v, str) for v in seen.values()):
        raise ValueError("answers: {student: digest} of the answers to score")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise ValueError("score: a number")
    picked = body.get("rubric") or []
    if not isinstance(picked, list) or not all(isinstance(i, str) for i in picked):
        raise ValueError("rubric: a list of rubric item ids")
    return seen, score, picked
