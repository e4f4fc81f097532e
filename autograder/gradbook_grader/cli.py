"""`gradbook-grader`: the instructor's command line (release, grade, feedback, export, report).

    gradbook-grader release [ASSIGNMENT ...]
    gradbook-grader grade SUBMISSIONS [--assignment A] [--workers N] [--db URL] [--force]
    gradbook-grader feedback [--assignment A] [--student S]
    gradbook-grader export --csv grades.csv
    gradbook-grader report [--assignment A] [--student S]

The course is --course PATH, else $GRADBOOK_COURSE, else the nbgrader course in the current
directory or a parent (a repository root finds its autograder/). The gradebook is autograder/gradebook.db unless
--db gives a database URL (sqlite:///path or postgresql://user@host:port/db).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gradbook_grader.course import Course, GraderError, find_course
from gradbook_grader.text import printable
from gradbook_grader.types import Limits


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

    grade = commands.add_parser("grade", parents=[common], help="grade a folder of submissions")
    grade.add_argument("submissions", type=Path, help="submitted/<student>/<assignment>/*.ipynb, or <student>.ipynb files")
    grade.add_argument("--assignment", help="grade only this assignment (required for a flat folder)")
    grade.add_argument("--workers", type=int, default=2, help="parallel worker processes (default 2)")
    grade.add_argument("--force", action="store_true", help="regrade submissions already in the journal")
    grade.add_argument("--timeout", type=float, help="wall-clock seconds per submission")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")

    for name, text in [("feedback", "write feedback HTML per graded submission"), ("report", "print grades and reasons")]:
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.add_argument("--assignment")
        sub.add_argument("--student")

    export = commands.add_parser("export", parents=[common], help="export the gradebook as CSV")
    export.add_argument("--csv", type=Path, required=True, metavar="FILE")
    return parser


def _grade(course: Course, args: argparse.Namespace) -> int:
    from gradbook_grader.batch import discover, grade_assignment

    if args.assignment is not None:
        course.source(args.assignment)  # unknown assignment: say so before any work
    found, skipped = discover(args.submissions, args.assignment, course.assignments)
    for line in skipped:
        print(f"skipped {printable(line)}", file=sys.stderr)
    limits = Limits(total_timeout=args.timeout) if args.timeout else Limits()
    for assignment in sorted({s.assignment for s in found}):
        report = grade_assignment(
            course, assignment, found, workers=args.workers, limits=limits, force=args.force, progress=not args.no_progress
        )
        flagged = [r for r in report.results if r.evidence]
        print(
            f"{assignment}: {len(report.results)} submissions ({report.graded} graded, {report.reused} unchanged since "
            f"the last run), {len(report.errors)} could not be graded, {len(flagged)} flagged for a look, "
            f"{report.seconds:.1f} s"
        )
        for result in report.errors:
            print(f"  {printable(result.student)}: {printable(result.error or '')}")
        for result in report.results:
            for note in result.notes:
                print(f"  {printable(result.student)}: {printable(note)}")
        if flagged:
            print(f"  flagged (see `gradbook-grader report`): {', '.join(printable(r.student) for r in flagged)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        course = find_course(args.course, args.db)
        if args.command == "release":
            from gradbook_grader.course import release

            for path in release(course, args.assignments or None):
                print(f"wrote {path}")
            return 0
        if args.command == "grade":
            return _grade(course, args)
        if args.command == "feedback":
            from gradbook_grader.feedback import run_feedback

            run = run_feedback(course, args.assignment, args.student)
            print(f"wrote {len(run.written)} feedback files under {course.root / 'feedback'}")
            for (student, assignment), why in run.failed.items():
                print(f"  no feedback for {printable(student)} / {printable(assignment)}: {printable(why)}", file=sys.stderr)
            return 0
        if args.command == "export":
            from gradbook_grader.export import export_csv

            print(f"wrote {export_csv(course, args.csv)} rows to {args.csv}")
            return 0
        if args.command == "report":
            from gradbook_grader.feedback import report_text
            from gradbook_grader.journal import journal

            results = [r for r in journal(course, args.assignment) if args.student in (None, r.student)]
            print(report_text(results) if results else "nothing graded yet: run `gradbook-grader grade` first")
            return 0
    except GraderError as error:
        print(f"gradbook-grader: {printable(str(error), newlines=True)}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
