#!/usr/bin/env python3
"""Grade on a Slurm cluster: Dask workers as Slurm jobs (dask-jobqueue), the grader here.

    pip install dask-jobqueue                   # optional: not one of gradbook's dependencies
    python autograder/deploy/slurm.py submitted/ --jobs 8 --cores 16 --queue normal --account course42 \\
        -- --db postgresql://grader@dbhost/gradebook

Each Slurm job runs `--cores` grading processes (as `cluster.WORKER_ARGS` says: one thread each), on nodes
where bubblewrap works and gradbook is installed as here (same versions; the same Python path, or
--python). Everything after `--` goes to `gradbook-grader grade`. docs/grading-on-a-cluster.md
explains the set-up; this script was not run on a real Slurm cluster (see there).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gradbook_grader.cluster import WORKER_PRELOAD, WORKER_THREADS

MEMORY_PER_CORE_GB = 4  # a 2 GiB sandbox, the next one warm beside it, the grader process


def slurm_cluster(cores: int, *, queue: str | None = None, account: str | None = None, walltime: str = "04:00:00",
                  python: str = sys.executable, **options: Any) -> Any:
    """A dask_jobqueue.SLURMCluster whose jobs start gradbook's workers (nothing is submitted yet)."""
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(
        cores=cores, processes=cores // WORKER_THREADS,  # so each process has WORKER_THREADS threads (--nthreads)
        memory=f"{MEMORY_PER_CORE_GB * cores}GB", queue=queue, account=account, walltime=walltime, python=python,
        worker_extra_args=list(WORKER_PRELOAD), **options,
    )


def main(argv: list[str] | None = None) -> int:
    from gradbook_grader.cli import main as grader

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions")
    parser.add_argument("--jobs", type=int, default=4, help="Slurm jobs (nodes) to start (default 4)")
    parser.add_argument("--cores", type=int, default=16, help="cores per job, one grading process each (default 16)")
    parser.add_argument("--queue")
    parser.add_argument("--account")
    parser.add_argument("--walltime", default="04:00:00")
    parser.add_argument("--python", default=sys.executable, help="the Python with gradbook on the compute nodes")
    args, rest = parser.parse_known_args(argv)
    cluster = slurm_cluster(args.cores, queue=args.queue, account=args.account, walltime=args.walltime,
                            python=args.python)
    try:
        cluster.scale(jobs=args.jobs)
        return grader(["grade", args.submissions, "--scheduler", cluster.scheduler_address,
                       *[a for a in rest if a != "--"]])
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
