"""The deployment recipes start the workers that tests/test_cluster.py runs for real (`cluster.WORKER_ARGS`).

Slurm, Kubernetes and a container runtime are not available where the suite runs; what can be
checked here is that each recipe says what the tested command does. The Slurm recipe is built with
dask-jobqueue (optional) and its job script read, without submitting anything.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from pathlib import Path

import yaml

from gradbook_grader.cluster import WORKER_ARGS

DEPLOY = Path(__file__).resolve().parents[1] / "autograder" / "deploy"


def test_the_kubernetes_workers_run_the_tested_worker_command_next_to_a_reachable_scheduler() -> None:
    documents = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text())}
    service = documents["Service", "gradbook-scheduler"]
    scheduler = documents["Deployment", "gradbook-scheduler"]["spec"]["template"]
    workers = documents["Deployment", "gradbook-workers"]["spec"]["template"]
    assert service["spec"]["selector"].items() <= scheduler["metadata"]["labels"].items()
    assert {p["port"] for p in service["spec"]["ports"]} == {8786, 8787}
    (scheduler_container,) = scheduler["spec"]["containers"]
    assert scheduler_container["command"][:4] == ["dask", "scheduler", "--port", "8786"]
    (worker,) = workers["spec"]["containers"]
    assert worker["command"] == ["dask", "worker", "tcp://gradbook-scheduler:8786", *WORKER_ARGS]
    assert "SYS_ADMIN" in worker["securityContext"]["capabilities"]["add"]  # bubblewrap's namespaces
    assert worker["securityContext"]["seccompProfile"] == {"type": "Unconfined"}


def test_the_image_has_bubblewrap_the_course_both_projects_and_starts_the_tested_worker() -> None:
    lines = [line.strip() for line in (DEPLOY / "Containerfile").read_text().splitlines()]
    assert lines[[n for n, line in enumerate(lines) if line and not line.startswith("#")][0]].startswith("FROM python:3.11")
    text = "\n".join(lines)
    assert "install -y --no-install-recommends bubblewrap" in text
    assert 'pip install -c requirements/constraints.txt "./[grader]" ./autograder' in text
    assert "COPY solutions ./solutions" in text
    command = shlex.split(yaml.safe_load(next(line for line in lines if line.startswith("CMD")).removeprefix("CMD"))[2])
    assert command[:3] == ["exec", "dask", "worker"] and " ".join(WORKER_ARGS) in " ".join(command)


def test_the_slurm_recipe_builds_a_job_script_that_starts_the_tested_worker() -> None:
    spec = importlib.util.spec_from_file_location("slurm_recipe", DEPLOY / "slurm.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    cluster = recipe.slurm_cluster(4, queue="teaching", account="course42", walltime="01:00:00",
                                   scheduler_options={"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p teaching" in script and "#SBATCH -A course42" in script and "#SBATCH --cpus-per-task=4" in script
    (command,) = [line for line in script.splitlines() if "distributed.cli.dask_worker" in line]
    words = shlex.split(command)
    assert words[:3] == [sys.executable, "-m", "distributed.cli.dask_worker"]
    assert words[words.index("--nworkers") + 1] == "4"
    for flag, value in zip(WORKER_ARGS[::2], WORKER_ARGS[1::2]):
        assert words[words.index(flag) + 1] == value, flag
