"""deploy/k8s, checked offline (no cluster here): every manifest validates with
kubernetes-validate (strict) for a pinned Kubernetes version, the kustomization
names them all, and the workers' StatefulSet is wired as the README says."""

from __future__ import annotations

import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from rta.config import TenantsConfig
from streams.cli.main import build_parser
from tests.support.deploy import (
    K8S,
    K8S_VERSION,
    containers,
    documented_variables,
    kustomization,
    manifests,
    settings_variables,
)

OPTIONAL = {"forward-deployment.yaml", "connect-ccai-deployment.yaml"}


def by_kind() -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in manifests()}


def test_every_manifest_validates_strictly() -> None:
    docs = list(manifests())
    assert len(docs) >= 10
    for path, doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name}: {doc['kind']} {doc['metadata']['name']}: {exc.message} "
                        f"at {'.'.join(str(p) for p in exc.path)}")
    # the validator does catch a mistake
    wrong = by_kind()[("StatefulSet", "rta-worker")]
    wrong = {**wrong, "spec": {**wrong["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, K8S_VERSION, strict=True)


def test_the_kustomization_names_every_manifest() -> None:
    k = kustomization()
    listed = set(k["resources"])
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files - OPTIONAL
    text = (K8S / "kustomization.yaml").read_text()
    for name in OPTIONAL:
        assert f"# - {name}" in text, f"{name}: not named as optional in kustomization.yaml"
    images = {i["name"] for i in k["images"]}
    used = {c["image"] for _, doc in manifests() for c in containers(doc)}
    assert used == images == {"rta-engine"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl")
def test_kustomize_builds_it() -> None:
    out = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert len(docs) == len([1 for p, _ in manifests() if p.name not in OPTIONAL])
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "rta"


def test_every_rta_command_and_variable_is_real() -> None:
    parser = build_parser()
    known = settings_variables() | documented_variables()
    for path, doc in manifests():
        for c in containers(doc):
            try:
                parser.parse_args(c["args"])
            except SystemExit:
                pytest.fail(f"{path.name}: rta {' '.join(c['args'])} does not parse")
            names = {e["name"] for e in c.get("env", [])}
            assert {n for n in names if n.startswith("RTA_")} <= known, path.name
        if doc["kind"] in ("ConfigMap", "Secret"):
            keys = set(doc.get("data", {})) | set(doc.get("stringData", {}))
            assert {k for k in keys if k.upper() == k} <= known, path.name


def test_references_resolve() -> None:
    """Every ConfigMap, Secret and key a pod names exists (the optional ones' own
    Secrets, made by the operator, aside), and selectors select the pods."""
    docs = by_kind()
    external = {"rta-wfm", "rta-ccai"}  # the forwarder's and connector's credentials
    for doc in docs.values():
        for c in containers(doc):
            for ref in c.get("envFrom", []):
                assert ("ConfigMap", ref["configMapRef"]["name"]) in docs
            for e in c.get("env", []):
                src = e.get("valueFrom", {})
                for key, kind_ in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if key in src:
                        target = docs[(kind_, src[key]["name"])]
                        assert src[key]["key"] in {**target.get("data", {}),
                                                   **target.get("stringData", {})}
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for v in pod.get("volumes", []):
            if "configMap" in v:
                assert ("ConfigMap", v["configMap"]["name"]) in docs
            if "secret" in v:
                assert v["secret"]["secretName"] in external
    worker = docs[("StatefulSet", "rta-worker")]
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert worker["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for name in ("rta-worker", "rta-api"):
        assert docs[("Service", name)]["spec"]["selector"].items() <= labels.items()
    pdb = docs[("PodDisruptionBudget", "rta-worker")]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_workers_statefulset() -> None:
    docs = by_kind()
    sts = docs[("StatefulSet", "rta-worker")]
    headless = docs[("Service", sts["spec"]["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert docs[("Service", "rta-api")]["spec"]["type"] == "ClusterIP"
    (worker,) = sts["spec"]["template"]["spec"]["containers"]
    assert worker["args"] == ["worker"]
    env = {e["name"]: e for e in worker["env"]}
    config = docs[("ConfigMap", "rta-config")]["data"]
    # the advertised URL: the pod's stable name through the headless Service
    assert env["RTA_WEB_ADVERTISED_URL"]["value"] == \
        f"http://$(POD_NAME).{headless['metadata']['name']}.$(POD_NAMESPACE).svc:" \
        f"{config['RTA_WEB_PORT']}"
    names = [e["name"] for e in worker["env"]]
    assert names.index("POD_NAME") < names.index("RTA_WEB_ADVERTISED_URL")
    # RocksDB on the claim template's volume
    assert config["RTA_STORE"] == "rocksdb://"
    mounts = {m["name"]: m["mountPath"] for m in worker["volumeMounts"]}
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert mounts[claim["metadata"]["name"]] == config["RTA_DATA_DIR"]
    assert mounts["tenants"] + "/tenants.toml" == config["RTA_TENANTS_FILE"]
    # probes
    assert worker["startupProbe"]["httpGet"]["path"] == "/livez"
    assert worker["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert worker["ports"] == [{"name": "http", "containerPort": int(config["RTA_WEB_PORT"])}]
    res = worker["resources"]
    assert set(res["requests"]) == {"cpu", "memory"} and set(res["limits"]) == {"memory"}
    text = (K8S / "worker-statefulset.yaml").read_text()
    assert text.count('# measured: see README "Capacity"') == 1
    # the README's capacity notes name these very figures
    readme = (K8S.parents[1] / "README.md").read_text()
    cpu, req, lim = (res["requests"]["cpu"], res["requests"]["memory"],
                     res["limits"]["memory"])
    assert (f"ask for {cpu} CPU and {req.removesuffix('Gi')} GiB\nwith an "
            f"{lim.removesuffix('Gi')} GiB limit") in readme
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # the migration runs rta migrate with the same database URL
    job = docs[("Job", "rta-migrate")]
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["migrate"]
    assert migrate["env"][0]["valueFrom"] == env["RTA_DATABASE_URL"]["valueFrom"]


def test_the_embedded_files_load(tmp_path) -> None:
    from streams.acd.config import ConnectorConfig
    from streams.wfm.config import WfmConfig

    docs = by_kind()
    TenantsConfig.from_toml(docs[("ConfigMap", "rta-tenants")]["data"]["tenants.toml"])
    wfm = tmp_path / "wfm.toml"
    wfm.write_text(docs[("ConfigMap", "rta-wfm")]["data"]["wfm.toml"])
    WfmConfig.load(wfm, env={"RTA_WFM_PASSWORD": "x"})
    ccai = tmp_path / "connect.toml"
    ccai.write_text(docs[("ConfigMap", "rta-connect-ccai")]["data"]["connect.toml"])
    ConnectorConfig.load("ccai", ccai, env={"RTA_CCAI_TOKEN": "x"})
