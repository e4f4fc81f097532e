"""`gradbook-grader`: the instructor's command line (release, grade, feedback, export, report, misconceptions,
extend, similarity, grade-by-question).

    gradbook-grader release [ASSIGNMENT ...] [--no-manifests] [--student-edition DIR]
    gradbook-grader grade SUBMISSIONS [--assignment A] [--student S] [--workers N | --scheduler ADDRESS] [--db URL] [--force]
    gradbook-grader feedback [--assignment A] [--student S] [--workers N | --scheduler ADDRESS] [--force]
    gradbook-grader export --csv grades.csv [--format long|cells|canvas|moodle] [--assignment A ...] [--match username|email|idnumber]
    gradbook-grader report [--assignment A] [--student S]
    gradbook-grader misconceptions [--assignment A]
    gradbook-grader extend --student S --assignment A --hours N
    gradbook-grader hub [--demo | --roster FILE] [--port N] [--root DIR]
    gradbook-grader similarity --assignment A [--threshold T] [--html PATH] [--submissions DIR]
    gradbook-grader grade-by-question --assignment A [--question GRADE_ID] [--port P]

`grade` exits with 3 when a submission could not be graded (each is listed, with its reason),
1 when grading could not run at all. report, feedback, export and misconceptions read nbgrader's
gradebook (a person's scores and comments from the formgrader included); docs/lifecycle.md
walks through a course.

The course is --course PATH, else $GRADBOOK_COURSE, else the nbgrader course in the current
directory or a parent (a repository root finds its autograder/). The gradebook is autograder/gradebook.db unless
--db gives a database URL (sqlite:///path or postgresql://user@host:port/db).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gradbook_grader.course import Course, GraderError, find_course
from gradbook_grader.text import printable
from gradbook_grader.types import Limits

if TYPE_CHECKING:
    from gradbook_grader.batch import BatchReport
    from gradbook_grader.cluster import DaskEngine


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", type=Path, help="the nbgrader course directory (default: $GRADBOOK_COURSE, else found from the current directory)")
    common.add_argument("--db", default="", metavar="URL", help="gradebook database URL (default: sqlite in the course)")

    parser = argparse.ArgumentParser(
        prog="gradbook-grader", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", parents=[common], help="generate notebooks/ from solutions/")
    release.add_argument("assignments", nargs="*", help="assignments to release (default: all)")
    release.add_argument("--no-manifests", action="store_true",
                         help="do not build the grading manifests now (the first grade of each assignment builds its own)")
    release.add_argument("--student-edition", type=Path, metavar="DIR",
                         help="then write the student edition (no answers, no grader) into the git repository DIR "
                              "and commit it: what students clone (docs/lifecycle.md)")

    grade = commands.add_parser("grade", parents=[common], help="grade a folder of submissions")
    grade.add_argument("submissions", type=Path, help="submitted/<student>/<assignment>/*.ipynb, or <student>.ipynb files")
    grade.add_argument("--assignment", help="grade only this assignment (required for a flat folder)")
    grade.add_argument("--student", action="append", metavar="S", help="grade only this student (repeatable); with --force, again even if unchanged")
    grade.add_argument("--workers", type=int, default=2, help="parallel worker processes (default 2)")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on a Dask cluster instead: tcp://HOST:8786, or local:N to start N workers here "
                            "(docs/grading-on-a-cluster.md)")
    grade.add_argument("--force", action="store_true", help="regrade submissions already in the journal")
    grade.add_argument("--timeout", type=float, help="wall-clock seconds per submission, all its cells, questions "
                                                     "and restarts together (default 600)")
    grade.add_argument("--stall-seconds", type=float,
                       help="a runner that neither replies nor uses CPU this long is stalled: its wait ends "
                            "(default 10; 0: never, for notebooks that wait idle on purpose)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")

    for name, text in [("feedback", "write feedback HTML per graded submission"), ("report", "print grades and reasons")]:
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.add_argument("--assignment")
        sub.add_argument("--student")
    feedback = commands.choices["feedback"]
    feedback.add_argument("--workers", type=int, default=2, help="parallel worker processes (default 2)")
    feedback.add_argument("--scheduler", metavar="ADDRESS", help="render on a Dask cluster instead (as grade --scheduler)")
    feedback.add_argument("--force", action="store_true", help="render every page again, even those already written "
                                                               "for the same grade")
    feedback.add_argument("--page-seconds", type=float, help="seconds one page may take to render (default 60); "
                                                              "a slower one is replaced by a short page that says so")
    feedback.add_argument("--no-progress", action="store_true", help="no progress bar")

    export = commands.add_parser("export", parents=[common], help="export the gradebook as CSV")
    export.add_argument("--csv", type=Path, required=True, metavar="FILE")
    export.add_argument("--format", default="long", choices=["long", "cells", "canvas", "moodle"],
                        help="long: nbgrader's export table and the grader's columns; cells: one row per graded cell; "
                             "canvas, moodle: gradebook imports (default long)")
    export.add_argument("--assignment", action="append", metavar="A",
                        help="export this assignment (repeatable; default: those with submissions or past due)")
    export.add_argument("--match", default="username", choices=["username", "email", "idnumber"],
                        help="moodle: the column Moodle finds each student by (default username; idnumber is the "
                             "gradebook's lms_user_id)")

    misconceptions = commands.add_parser("misconceptions", parents=[common],
                                         help="per exercise, how many submissions made each known mistake")
    misconceptions.add_argument("--assignment")

    extend = commands.add_parser("extend", parents=[common], help="give a student more time on an assignment")
    extend.add_argument("--student", required=True)
    extend.add_argument("--assignment", required=True)
    extend.add_argument("--hours", type=float, required=True, help="hours past the due date (0 takes it back)")

    similar = commands.add_parser("similarity", parents=[common],
                                  help="pairs of students who share unusual code (copying between students)")
    similar.add_argument("--assignment", required=True, help="compare the submissions of this assignment")
    similar.add_argument("--threshold", type=float, default=None, metavar="T",
                         help="flag pairs scoring at least T, 0 < T <= 1 (default 0.5; see docs/lifecycle.md)")
    similar.add_argument("--html", type=Path, metavar="PATH",
                         help="write the report here (default: autograder/similarity/<assignment>.html)")
    similar.add_argument("--submissions", type=Path, metavar="DIR",
                         help="the submissions, as `grade` reads them (default: the course's submitted/)")

    by_question = commands.add_parser("grade-by-question", parents=[common],
                                      help="grade written answers a question at a time, similar answers together (a local page)")
    by_question.add_argument("--assignment", required=True)
    by_question.add_argument("--question", metavar="GRADE_ID", help="only this written-answer question (default: all)")
    by_question.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")

    hub = commands.add_parser("hub", parents=[common], help="the course hub on this machine: JupyterHub for a roster "
                                                          "(as root; docs/course-hub.md)")
    hub.add_argument("--roster", type=Path, metavar="FILE", help="CSV: name,role,password,language (role: instructor, "
                                                                  "ta or student)")
    hub.add_argument("--demo", action="store_true", help="a demo class: one instructor, one TA, two students; "
                                                         "their passwords are printed")
    hub.add_argument("--port", type=int, default=8000, help="the hub's port on 127.0.0.1 (default 8000)")
    hub.add_argument("--root", type=Path, default=Path("/srv/gradbook-hub"),
                     help="the hub's folder: exchange, student edition, homes, state (default /srv/gradbook-hub)")
    return parser


EXIT_NOT_ALL_GRADED = 3


def _feedback_command(course: Course, args: argparse.Namespace) -> int:
    """`feedback`, on this machine's worker processes or, with --scheduler, on a Dask cluster."""
    from contextlib import nullcontext

    from gradbook_grader.feedback import run_feedback
    from gradbook_grader.pagebudget import PageBudget

    if args.workers < 1:
        raise GraderError(f"--workers must be at least 1 (got {args.workers}).")
    budget = PageBudget(**({"seconds": args.page_seconds} if args.page_seconds else {}))
    if args.scheduler:
        from gradbook_grader.cluster import connect

        engine_context = connect(args.scheduler)
    else:
        engine_context = nullcontext()
    with engine_context as engine:
        run = run_feedback(course, args.assignment, args.student, workers=args.workers, engine=engine, budget=budget,
                           progress=not args.no_progress, force=args.force)
    print(f"wrote {len(run.written) - run.reused} feedback pages under {course.root / 'feedback'} "
          f"({run.reused} unchanged, not rendered again)")
    for path in run.short:
        print(f"  {printable(str(path))}: over its budget; a short page says so", file=sys.stderr)
    for (student, assignment), why in run.failed.items():
        print(f"  no feedback for {printable(student)} / {printable(assignment)}: {printable(why)}", file=sys.stderr)
    return 0


def _grade_command(course: Course, args: argparse.Namespace) -> int:
    """`grade`, on this machine's worker processes or, with --scheduler, on a Dask cluster."""
    if not args.scheduler:
        return _grade(course, args)
    from gradbook_grader.cluster import connect

    with connect(args.scheduler) as engine:
        print(f"grading on the Dask cluster at {engine.client.scheduler.address}; dashboard: {engine.dashboard}",
              file=sys.stderr, flush=True)
        return _grade(course, args, engine)


def _grade(course: Course, args: argparse.Namespace, engine: "DaskEngine | None" = None) -> int:
    from gradbook_grader.batch import discover, grade_assignment

    if args.assignment is not None:
        course.source(args.assignment)  # unknown assignment: say so before any work
    found, skipped = discover(args.submissions, args.assignment, course.assignments, args.student)
    for line in skipped:
        print(f"skipped {printable(line)}", file=sys.stderr)
    limits = Limits(**({"total_timeout": args.timeout} if args.timeout else {}),
                    **({"stall_seconds": args.stall_seconds} if args.stall_seconds is not None else {}))
    failed = False
    for assignment in sorted({s.assignment for s in found}):
        report = grade_assignment(
            course, assignment, found, workers=args.workers, limits=limits, force=args.force, progress=not args.no_progress,
            engine=engine,
        )
        _say_report(assignment, report)
        failed |= bool(report.errors)
        print(_next_steps(course, assignment, report))
    return EXIT_NOT_ALL_GRADED if failed else 0


def _say_report(assignment: str, report: "BatchReport") -> None:
    """What a batch did: counts, each submission that could not be graded, notes, who is flagged."""
    flagged = [r for r in report.results if r.evidence]
    print(
        f"{assignment}: {len(report.results)} submissions ({report.graded} graded, {report.reused} unchanged since "
        f"the last run), {len(report.errors)} could not be graded, {len(flagged)} flagged for a look, "
        f"{report.seconds:.1f} s"
    )
    for result in report.errors:
        print(f"  {printable(result.student)}: {printable(result.error or '')}")
    for result in report.results:
        for note in result.shown_notes:
            print(f"  {printable(result.student)}: {printable(note)}")
    if flagged:
        print(f"  flagged (see `gradbook-grader report`): {', '.join(printable(r.student) for r in flagged)}")


def _next_steps(course: Course, assignment: str, report: "BatchReport") -> str:
    """What the instructor does next, from what the gradebook now holds for this batch's students."""
    from gradbook_grader.grades import read

    students = {r.student for r in report.results}
    entries = [e for e in read(course, assignment).graded if e.student in students]
    awaiting = sum(len(e.awaiting) for e in entries)
    late = [e for e in entries if e.seconds_late > 0]
    a = printable(assignment)
    steps = []
    if report.errors:
        steps.append(f"{len(report.errors)} could not be graded (see above): fix what each line says and run the same "
                     "command again (what is graded is not graded again; --student S grades one student)")
    if late:
        steps.append(f"{len(late)} late ({', '.join(printable(e.student) for e in late)}): penalties are the course's "
                     "LateSubmissionPlugin's (nbgrader_config.py); an extension: "
                     f"`gradbook-grader extend --student S --assignment {a} --hours N`")
    if awaiting:
        steps.append(f"{awaiting} written answer{'s' if awaiting != 1 else ''} to grade by hand: "
                     f"`gradbook-grader grade-by-question --assignment {a}` (similar answers together), or the "
                     f"formgrader (Manual Grading > {a})")
    steps.append(f"then `gradbook-grader feedback --assignment {a}` and `nbgrader release_feedback {a}`; "
                 f"`gradbook-grader report --assignment {a}` gives every reason, "
                 f"`gradbook-grader misconceptions --assignment {a}` the commonest mistakes, "
                 "`gradbook-grader export --csv grades.csv` the grades")
    return "next:\n" + "\n".join(f"  - {step}" for step in steps)


def _student_edition(course: Course, target: Path) -> None:
    from gradbook_grader.edition import build_edition

    edition = build_edition(course, target)
    if edition.commit is None:
        print(f"the student edition in {edition.path} is up to date ({edition.files} files); nothing to commit")
    else:
        print(f"wrote the student edition ({edition.files} files, no answers) to {edition.path}, commit "
              f"{edition.commit[:12]}: push it where students get it (git -C {edition.path} push)")


def _release_command(course: Course, args: argparse.Namespace) -> int:
    from gradbook_grader.course import release
    from gradbook_grader.edition import check_target
    from gradbook_grader.manifests import build_manifests, require_sandbox
    from gradbook_grader.secret import ensure_secret

    if not args.no_manifests:
        require_sandbox()  # before anything is written
    if args.student_edition is not None:
        check_target(course, args.student_edition)  # before the release's minutes, not after
    ensure_secret(course)  # the first release makes the course secret (secret.py)
    for path in release(course, args.assignments or None):
        print(f"wrote {path}")
    if not args.no_manifests:
        build_manifests(course, args.assignments or course.assignments)
    if args.student_edition is not None:
        _student_edition(course, args.student_edition)
    return 0


def _export_command(course: Course, args: argparse.Namespace) -> int:
    from gradbook_grader.export import export_csv

    print(f"wrote {export_csv(course, args.csv, args.format, args.assignment, args.match)} rows to {args.csv}")
    return 0


def _report_command(course: Course, args: argparse.Namespace) -> int:
    from gradbook_grader.feedback import report_text
    from gradbook_grader.grades import read

    entries = read(course, args.assignment, args.student).graded
    print(report_text(entries) if entries else "nothing graded yet: run `gradbook-grader grade` first")
    return 0


def _misconceptions_command(course: Course, args: argparse.Namespace) -> int:
    from gradbook_grader.misconceptions import report as misconceptions

    print(misconceptions(course, args.assignment))
    return 0


def _extend_command(course: Course, args: argparse.Namespace) -> int:
    from gradbook_grader.late import extend

    print(extend(course, args.student, args.assignment, args.hours))
    return 0


def _similarity_command(course: Course, args: argparse.Namespace) -> int:
    from gradbook_grader import similarity

    course.source(args.assignment)  # unknown assignment: say so before any work
    threshold = similarity.DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    print(similarity.console_text(similarity.run(course, args.assignment, args.submissions, threshold, args.html)))
    return 0


def _hub_command(course: Course, args: argparse.Namespace) -> int:
    from gradbook_grader import hub

    return hub.main(course, args.roster, args.demo, args.port, args.root)


def _by_question_command(course: Course, args: argparse.Namespace) -> int:
    from gradbook_grader.byquestion import serve

    course.source(args.assignment)  # unknown assignment: say so
    return serve(course, args.assignment, args.question, args.port)


COMMANDS: dict[str, Callable[[Course, argparse.Namespace], int]] = {
    "release": _release_command,
    "grade": _grade_command,
    "feedback": _feedback_command,
    "export": _export_command,
    "report": _report_command,
    "misconceptions": _misconceptions_command,
    "extend": _extend_command,
    "similarity": _similarity_command,
    "hub": _hub_command,
    "grade-by-question": _by_question_command,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        course = find_course(args.course, args.db)
        command = COMMANDS.get(args.command)
        return command(course, args) if command is not None else 2
    except GraderError as error:
        print(f"gradbook-grader: {printable(str(error), newlines=True)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
