"""The course hub on Kubernetes (autograder/deploy/hub/): the Zero to JupyterHub values against the chart's own
schema, and the formgrader's Deployment (formgrader.yaml) against the values and against what JupyterHub reads.

No cluster here: the values are merged over the chart's defaults as Helm merges them and validated with the
chart's values.schema.yaml (JSON Schema draft 7, as `helm install` does), both vendored from the chart's release
(tests/data/z2jh/README.md says which); the manifests, and the Kubernetes objects inside the values, against the
Kubernetes API's own schemas (tests/data/kubernetes/README.md), as the API server would.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "autograder" / "deploy" / "hub"
CHART = Path(__file__).resolve().parent / "data" / "z2jh"
KUBERNETES = Path(__file__).resolve().parent / "data" / "kubernetes"


def helm_merge(defaults: Any, given: Any) -> Any:
    """Helm's values merge: maps merge key by key, a null deletes the default, anything else replaces it."""
    if not (isinstance(defaults, dict) and isinstance(given, dict)):
        return copy.deepcopy(given)
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = helm_merge(defaults.get(key), value)
    return merged


@pytest.fixture(scope="module")
def chart() -> tuple[Any, dict]:
    schema = yaml.safe_load((CHART / "values.schema.yaml").read_text())
    return jsonschema.Draft7Validator(schema), yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((HUB / "z2jh-values.yaml").read_text())


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict]:
    documents = [d for d in yaml.safe_load_all((HUB / "formgrader.yaml").read_text()) if d]
    for d in documents:
        assert {"apiVersion", "kind", "metadata", "spec"} <= d.keys() and d["metadata"].get("name"), d
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def errors(validator: Any, values: dict) -> list[str]:
    return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values))


def test_the_values_pass_the_charts_schema(chart: tuple[Any, dict], values: dict) -> None:
    validator, defaults = chart
    assert errors(validator, defaults) == []  # the chart's own defaults: the schema and merge are read right
    assert errors(validator, helm_merge(defaults, values)) == []


@pytest.mark.parametrize("path, wrong, said", [
    (("singleuser", "memroy"), {"limit": "2G"}, "Additional properties are not allowed ('memroy'"),
    (("cull", "timeout"), "an hour", "'an hour' is not of type 'integer'"),
    (("hub", "db", "type"), "postgresql", "'postgresql' is not one of"),
    (("scheduling", "userPlaceholder", "replicas"), "20", "'20' is not of type 'integer'"),
    (("hub", "servicez"), {}, "Additional properties are not allowed ('servicez'"),
])
def test_a_wrong_value_is_caught_by_the_schema(chart: tuple[Any, dict], values: dict, path: tuple, wrong: object,
                                               said: str) -> None:
    validator, defaults = chart
    broken = copy.deepcopy(values)
    place = broken
    for key in path[:-1]:
        place = place.setdefault(key, {})
    place[path[-1]] = wrong
    found = errors(validator, helm_merge(defaults, broken))
    assert any(said in e for e in found), found


def container(manifests: dict) -> dict:
    (only,) = manifests["Deployment", "formgrader-gradbook"]["spec"]["template"]["spec"]["containers"]
    return only


def test_the_formgrader_deployment_is_the_service_the_values_name(values: dict, manifests: dict) -> None:
    service = values["hub"]["services"]["gradbook"]
    url = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", service["url"])
    assert url, service["url"]
    deployment = manifests["Deployment", "formgrader-gradbook"]
    pod = deployment["spec"]["template"]
    kube_service = manifests["Service", url.group(1)]  # the values' URL reaches this Service...
    assert any(p["port"] == int(url.group(2)) for p in kube_service["spec"]["ports"])
    labels = pod["metadata"]["labels"]
    for selector in (kube_service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"],
                     manifests["NetworkPolicy", "formgrader-gradbook"]["spec"]["podSelector"]["matchLabels"]):
        assert selector.items() <= labels.items()  # ...whose pods are the formgrader's
    ports = {p["name"]: p["containerPort"] for p in container(manifests)["ports"]}
    assert all(p["targetPort"] in ports for p in kube_service["spec"]["ports"])
    # the chart's hub NetworkPolicy admits pods with this label to the hub's API
    assert labels["hub.jupyter.org/network-access-hub"] == "true"
    # the role that opens it names this service; the pod's OAuth client is the one the values register
    roles = values["hub"]["loadRoles"]
    assert roles["formgrade-gradbook"]["scopes"] == ["access:services!service=gradbook"]
    env = {e["name"]: e for e in container(manifests)["env"]}
    assert env["JUPYTERHUB_SERVICE_NAME"]["value"] == "gradbook"
    assert env["JUPYTERHUB_CLIENT_ID"]["value"] == service["oauth_client_id"]
    assert env["JUPYTERHUB_OAUTH_CALLBACK_URL"]["value"] == service["oauth_redirect_uri"]
    assert env["JUPYTERHUB_SERVICE_PREFIX"]["value"] == "/services/gradbook/"
    # the token the chart generates for hub.services.gradbook, in the hub's Secret (named `hub` when
    # fullnameOverride is "", the chart's default the values keep)
    assert "fullnameOverride" not in values
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hub",
                                                                       "key": "hub.services.gradbook.apiToken"}


def test_the_formgrader_pod_sets_what_jupyterhubs_service_auth_reads(manifests: dict) -> None:
    """Every JUPYTERHUB_* variable the pod sets is one JupyterHub's singleuser server or service auth reads (its
    source, as installed), and those without a default there are all set."""
    jupyterhub = pytest.importorskip("jupyterhub")
    package = Path(jupyterhub.__file__).parent
    read = set()
    for source in [package / "services" / "auth.py", *(package / "singleuser").glob("*.py")]:
        read |= set(re.findall(r"JUPYTERHUB_[A-Z_]+", source.read_text()))
    env = {e["name"] for e in container(manifests)["env"]}
    assert {name for name in env if name.startswith("JUPYTERHUB_")} <= read
    assert {"JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_SERVICE_PREFIX",
            "JUPYTERHUB_OAUTH_CALLBACK_URL", "JUPYTERHUB_SERVICE_URL"} <= env


def test_the_formgrader_runs_unprivileged_with_every_volume_it_mounts(values: dict, manifests: dict) -> None:
    pod = manifests["Deployment", "formgrader-gradbook"]["spec"]["template"]["spec"]
    security, box = pod["securityContext"], container(manifests)
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0 and security["fsGroup"] != 0
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    assert box["securityContext"]["capabilities"] == {"drop": ["ALL"]}  # nothing added: no SYS_ADMIN
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert {m["name"] for m in box["volumeMounts"]} == volumes.keys()
    claims = {v["persistentVolumeClaim"]["claimName"] for v in volumes.values() if "persistentVolumeClaim" in v}
    students = {v["persistentVolumeClaim"]["claimName"] for v in values["singleuser"]["storage"]["extraVolumes"]
                if "persistentVolumeClaim" in v}
    made_here = {name for kind, name in manifests if kind == "PersistentVolumeClaim"}
    assert claims | students == made_here  # every volume either side mounts is made here
    exchange = manifests["PersistentVolumeClaim", "nbgrader-exchange"]["spec"]
    assert exchange["accessModes"] == ["ReadWriteMany"]  # every student's pod and the formgrader at once
    mounts = {m["name"]: m["mountPath"] for m in box["volumeMounts"]}
    assert box["workingDir"] == mounts["course"] and f"--ServerApp.root_dir={mounts['course']}" in box["command"]
    secret = next(m for m in box["volumeMounts"] if m["name"] == "course-secret")
    assert secret["readOnly"] is True and secret["mountPath"] == f"{mounts['course']}/.gradbook-secret"
    assert volumes["course-secret"]["secret"]["defaultMode"] & 0o007 == 0


def exchange_setting(text: str) -> dict[str, str]:
    return dict(re.findall(r'^c\.(\w+\.\w+) = "([^"]*)"$', text, re.MULTILINE))


def test_each_students_pod_mounts_only_its_own_folders_where_nbgrader_looks(values: dict, manifests: dict) -> None:
    """Every pod runs as uid 1000, so the mounts are the isolation: outbound/ read-only, and only the student's
    own folders of inbound/ and feedback/, each at the place nbgrader's exchange looks in the pod."""
    student = values["singleuser"]
    pod_config = exchange_setting(student["extraFiles"]["nbgrader-config"]["stringData"])
    formgrader_config = exchange_setting((HUB / "pod_nbgrader_config.py").read_text())
    assert pod_config.items() <= formgrader_config.items() and len(pod_config) == 2  # one exchange, one course
    root, course = pod_config["Exchange.root"], pod_config["CourseDirectory.course_id"]
    assert {m["name"]: m["mountPath"] for m in container(manifests)["volumeMounts"]}["exchange"] == root
    mounts = student["storage"]["extraVolumeMounts"]
    assert {"name": "exchange-root", "mountPath": root} in mounts  # writable, the pod's own (nbgrader checks it)
    seen = {m["mountPath"]: m for m in mounts if m["name"] == "exchange"}
    assert seen.keys() == {f"{root}/{course}/{part}" for part in ("outbound", "inbound", "feedback")}
    assert all("subPath" in m for m in seen.values())  # never the whole volume
    for part, own, read_only in (("outbound", False, True), ("inbound", True, False), ("feedback", True, True)):
        mount = seen[f"{root}/{course}/{part}"]
        assert mount["subPath"] == f"{course}/{part}" + ("/{username}" if own else ""), mount
        assert mount.get("readOnly", False) is read_only, mount
    # the init container makes exactly the student's two folders, the only ones the pod mounts
    (init,) = student["initContainers"]
    made = set(re.findall(r"/exchange/(\S+/\{username\})", init["command"][-1]))
    assert made == {m["subPath"] for m in seen.values() if "{username}" in m["subPath"]}


def test_a_students_pod_starts_as_many_math_threads_as_its_cpu_limit(values: dict) -> None:
    """A pod sees every core of its node: without these, numpy and torch start a thread per core in a 1-CPU quota."""
    from gradbook_grader.cgroups import thread_variables

    single = values["singleuser"]
    assert thread_variables(float(single["cpu"]["limit"])).items() <= single["extraEnv"].items()


def test_the_hub_reads_the_roster_it_mounts(values: dict) -> None:
    hub = values["hub"]
    read = re.search(r'Path\("([^"]+)"\)', hub["extraConfig"]["groups"]).group(1)
    (mount,) = hub["extraVolumeMounts"]
    volume = next(v for v in hub["extraVolumes"] if v["name"] == mount["name"])
    assert str(Path(read).parent) == mount["mountPath"] and "configMap" in volume
    assert "c.Authenticator.allowed_users = set(everyone)" in hub["extraConfig"]["groups"]


def test_pod_exchange_keeps_each_students_submission_and_feedback_theirs(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """nbgrader's own submit and fetch-feedback in each student's view of the volume (their mounts, made here with
    symbolic links); pod_exchange's collect and feedback on the formgrader's whole volume. A file that names
    another student, left in one's own folder, stays one's own."""
    exchange = pytest.importorskip("nbgrader.exchange.default")
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import notebook_hash

    import nbgrader.api
    # collect opens the gradebook (for the due date); a new one asks `alembic` its schema's version in a process of
    # its own, seconds on a busy machine, and that version is not what this test is about
    monkeypatch.setattr(nbgrader.api, "get_alembic_version", lambda: "not-asked")
    sys.path.insert(0, str(HUB))  # as pod_nbgrader_config.py puts it on the path in the formgrader's pod
    try:
        import pod_exchange
    finally:
        sys.path.remove(str(HUB))
    volume, course = tmp_path / "volume", tmp_path / "course"
    (volume / "gradbook" / "outbound" / "ps1").mkdir(parents=True)
    course.mkdir()
    (volume / "gradbook" / "outbound" / "ps1" / "ps1.ipynb").write_text("{}")
    views = {}
    for name in ("alice", "bob"):
        view = tmp_path / f"{name}-pod" / "exchange"
        (view / "gradbook").mkdir(parents=True)
        for part, own in (("outbound", False), ("inbound", True), ("feedback", True)):
            folder = volume / "gradbook" / part / (name if own else "")
            folder.mkdir(parents=True, exist_ok=True)
            (view / "gradbook" / part).symlink_to(folder)
        views[name] = view
        work = tmp_path / f"{name}-home"
        (work / "ps1").mkdir(parents=True)
        (work / "ps1" / "ps1.ipynb").write_text(f'{{"by": "{name}"}}')
        exchange.ExchangeSubmit(coursedir=CourseDirectory(course_id="gradbook", assignment_id="ps1", student_id=name),
                                authenticator=Authenticator(), root=str(view), assignment_dir=str(work),
                                cache=str(tmp_path / f"{name}-cache")).start()
        assert len(list((volume / "gradbook" / "inbound" / name).iterdir())) == 1  # in their own folder only
    planted = volume / "gradbook" / "inbound" / "alice" / "bob+ps1+2099-01-01 00:00:00.000000 UTC"
    shutil.copytree(next((volume / "gradbook" / "inbound" / "alice").iterdir()), planted)  # alice's, naming bob
    (planted / "ps1.ipynb").write_text('{"by": "alice, as bob"}')
    formgrader = CourseDirectory(root=str(course), course_id="gradbook", assignment_id="ps1")
    pod_exchange.PodCollect(coursedir=formgrader, authenticator=Authenticator(), root=str(volume)).start()
    submitted = {p.parent.parent.name: p.read_text() for p in (course / "submitted").glob("*/ps1/ps1.ipynb")}
    assert submitted == {"alice": '{"by": "alice, as bob"}', "bob": '{"by": "bob"}'}
    for name in ("alice", "bob"):  # feedback as nbgrader's generate_feedback leaves it
        folder = course / "feedback" / name / "ps1"
        folder.mkdir(parents=True)
        (folder / "ps1.html").write_text(f"feedback for {name}")
        for kept in ("timestamp.txt", "submission_secret.txt"):
            (folder / kept).write_text((course / "submitted" / name / "ps1" / kept).read_text())
    pod_exchange.PodFeedback(coursedir=formgrader, authenticator=Authenticator(), root=str(volume)).start()
    for name in ("alice", "bob"):
        secret = (course / "feedback" / name / "ps1" / "submission_secret.txt").read_text()
        released = volume / "gradbook" / "feedback" / name
        assert [p.name for p in released.iterdir()] == [f"{notebook_hash(secret=secret, notebook_id='ps1')}.html"]
    # bob fetches his feedback through his view; alice's folder is not in it
    bob_home = tmp_path / "bob-home"
    exchange.ExchangeFetchFeedback(coursedir=CourseDirectory(course_id="gradbook", assignment_id="ps1",
                                                             student_id="bob"),
                                   authenticator=Authenticator(), root=str(views["bob"]),
                                   assignment_dir=str(bob_home), cache=str(tmp_path / "bob-cache")).start()
    fetched = list((bob_home / "ps1" / "feedback").glob("*/ps1.html"))
    assert [p.read_text() for p in fetched] == ["feedback for bob"]


@pytest.fixture(scope="module")
def kubernetes() -> Any:
    """A validator for a Kubernetes object (by its kind's schema) or a definition (by its name)."""
    from referencing import Registry, Resource

    definitions = json.loads((KUBERNETES / "_definitions.json").read_text())
    registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))

    def validate(schema: str | dict, value: Any) -> list[str]:
        if isinstance(schema, str):
            schema = json.loads((KUBERNETES / f"{schema}.json").read_text())
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        return sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value))

    return validate


def kind_schema(document: dict) -> str:
    group = document["apiVersion"].replace("/", "-").replace(".k8s.io", "")
    return f"{document['kind'].lower()}-{group}"


def test_every_manifest_is_what_the_kubernetes_api_accepts(kubernetes: Any, manifests: dict) -> None:
    assert {kind_schema(d) for d in manifests.values()} == {p.stem for p in KUBERNETES.glob("*-v1.json")}
    for document in manifests.values():
        assert kubernetes(kind_schema(document), document) == [], document["metadata"]["name"]
    deployment = copy.deepcopy(manifests["Deployment", "formgrader-gradbook"])  # the schemas are strict
    deployment["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    assert any("'volumeMount' was unexpected" in e for e in kubernetes("deployment-apps-v1", deployment))


def test_the_kubernetes_objects_inside_the_values_are_valid(kubernetes: Any, values: dict) -> None:
    """The chart passes these through to each student's pod; its own schema leaves them unchecked."""
    student = values["singleuser"]
    objects = [("Container", c) for c in student["initContainers"]]
    objects += [("Volume", v) for v in student["storage"]["extraVolumes"] + values["hub"]["extraVolumes"]]
    objects += [("VolumeMount", m) for m in student["storage"]["extraVolumeMounts"] + values["hub"]["extraVolumeMounts"]]
    for kind, value in objects:
        schema = {"$ref": f"https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.api.core.v1.{kind}"}
        assert kubernetes(schema, value) == [], value


def test_the_docs_sizing_for_a_class_follows_from_the_values_and_the_measured_server(values: dict) -> None:
    """docs/course-hub.md's table for 2,000: pods per node from the values' memory guarantee, nodes for the
    students at once, and what those pods use at the memory of a busy server measured by bench/bench_hub.py."""
    docs = (ROOT / "docs" / "course-hub.md").read_text()
    busy_mib = int(re.search(r"^\| one student server, busy[^|]*\| (\d+) MiB", docs, re.MULTILINE).group(1))
    node_gib = int(re.search(r"a node with (\d+) GiB allocatable", docs).group(1))
    guarantee = re.fullmatch(r"(\d+)([MG])", values["singleuser"]["memory"]["guarantee"])
    guarantee_mib = int(guarantee.group(1)) * (1024 if guarantee.group(2) == "G" else 1)  # KubeSpawner: binary units
    rows = re.findall(r"^\| ([\d,]+) [^|]*\| (\d+) \| (\d+) \| ([\d.]+) GiB \|$", docs, re.MULTILINE)
    assert len(rows) >= 2, rows
    for students, per_node, nodes, used in rows:
        assert int(per_node) == node_gib * 1024 // guarantee_mib
        assert int(nodes) == -(-int(students.replace(",", "")) // int(per_node))
        assert float(used) == round(int(per_node) * busy_mib / 1024, 1)
