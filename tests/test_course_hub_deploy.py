"""The course hub on Kubernetes (autograder/deploy/hub/): the Zero to JupyterHub values against the chart's own
schema, and the formgrader's Deployment (formgrader.yaml) against the values and against what JupyterHub reads.

No cluster here: the values are merged over the chart's defaults as Helm merges them and validated with the
chart's values.schema.yaml (JSON Schema draft 7, as `helm install` does), both vendored from the chart's release
(tests/data/z2jh/README.md says which).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "autograder" / "deploy" / "hub"
CHART = Path(__file__).resolve().parent / "data" / "z2jh"


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
    students = {v["persistentVolumeClaim"]["claimName"] for v in values["singleuser"]["storage"]["extraVolumes"]}
    made_here = {name for kind, name in manifests if kind == "PersistentVolumeClaim"}
    assert claims == made_here | students  # the course volume is made here; the exchange is the students' one
    mounts = {m["name"]: m["mountPath"] for m in box["volumeMounts"]}
    student_mounts = {m["name"]: m["mountPath"] for m in values["singleuser"]["storage"]["extraVolumeMounts"]}
    assert mounts["exchange"] == student_mounts["exchange"]  # one exchange path on both sides
    assert box["workingDir"] == mounts["course"] and f"--ServerApp.root_dir={mounts['course']}" in box["command"]
    secret = next(m for m in box["volumeMounts"] if m["name"] == "course-secret")
    assert secret["readOnly"] is True and secret["mountPath"] == f"{mounts['course']}/.gradbook-secret"
    assert volumes["course-secret"]["secret"]["defaultMode"] & 0o007 == 0
