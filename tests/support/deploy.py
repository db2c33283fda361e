"""The deployment files read as Docker Compose and Kubernetes would read them, for
``tests/deploy`` (no Docker engine or cluster here): the compose file with its
``${VAR}`` interpolation from ``.env.example``, the manifests, the names of the
settings and metrics the code has."""

from __future__ import annotations

import ast
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
LOCK = ROOT / "deploy" / "requirements.lock"
K8S = ROOT / "deploy" / "k8s"
DASHBOARD = ROOT / "deploy" / "grafana" / "rta-dashboard.json"
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.json")
K8S_VERSION = "1.33.0"  # the Kubernetes version the manifests are validated for

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt},
# ${VAR+alt}, $VAR; $$ is a literal $ (compose-spec, "Interpolation")
_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}"
                  r"|([A-Za-z_][A-Za-z0-9_]*))")


class InterpolationError(ValueError):
    pass


def variables(text: str) -> set[str]:
    """The names ``text`` interpolates (not those escaped as ``$$``)."""
    return {m.group(2) or m.group(5) for m in _VAR.finditer(text) if not m.group(1)}


def interpolate(value: str, env: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, arg = m.group(3), m.group(4) or ""
        have = name in env
        val = env.get(name, "")
        if op is None:
            return val
        empty_counts = op.startswith(":")  # ":-" etc. treat an empty value as unset
        is_set = have and (bool(val) or not empty_counts)
        kind = op[-1]
        if kind == "-":
            return val if is_set else arg
        if kind == "?":
            if not is_set:
                raise InterpolationError(f"${{{name}}}: {arg or 'required'}")
            return val
        return arg if is_set else ""  # "+"

    return _VAR.sub(one, value)


def interpolate_all(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_all(x, env) for x in node]
    if isinstance(node, dict):
        return {k: interpolate_all(v, env) for k, v in node.items()}
    return node


def env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, blank lines), as compose reads ``.env``."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not KEY=VALUE: {line!r}"
        out[key.strip()] = value.strip().strip("'\"")
    return out


def compose_raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file as ``docker compose`` reads it with ``.env`` = ``env``
    (default: ``.env.example``): YAML anchors and merge keys resolved, then every
    string interpolated."""
    data: dict[str, Any] = interpolate_all(compose_raw(), env_file() if env is None else env)
    return data


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment`` as a mapping (it may be a list of ``K=V``)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command(service: Mapping[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(x) for x in cmd]


def is_rta(service: Mapping[str, Any]) -> bool:
    """A service running the engine's image (built from deploy/Dockerfile)."""
    return "build" in service


def bind_mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Target -> host path of a service's bind mounts (short syntax ``SRC:DST[:MODE]``,
    SRC a path); relative paths are the compose file's folder's."""
    out = {}
    for v in service.get("volumes") or []:
        src, dst = v.split(":")[:2] if isinstance(v, str) else (v["source"], v["target"])
        if src.startswith((".", "/", "~")):
            p = Path(src).expanduser()
            out[dst] = str(p if p.is_absolute() else (COMPOSE.parent / p))
    return out


def named_volumes(service: Mapping[str, Any]) -> dict[str, str]:
    """Target -> volume name of a service's named volumes."""
    out = {}
    for v in service.get("volumes") or []:
        src, dst = v.split(":")[:2] if isinstance(v, str) else (v["source"], v["target"])
        if not src.startswith((".", "/", "~")):
            out[dst] = src
    return out


def manifests() -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes document under deploy/k8s (not the kustomization)."""
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path, doc


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return data


def containers(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec", {}) if "template" in spec else {}
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def settings_variables() -> set[str]:
    """Every ``RTA_*`` variable the worker's settings read (streams/settings.py)."""
    from streams.settings import WorkerSettings

    return {f"RTA_{name.upper()}" for name in WorkerSettings.model_fields}


def documented_variables() -> set[str]:
    """The connectors' and the WFM side's credential variables (docs/ACD.md,
    docs/WFM.md): read from the environment by those commands, not settings."""
    out: set[str] = set()
    for doc in ("ACD.md", "WFM.md"):
        out |= set(re.findall(r"\bRTA_[A-Z][A-Z0-9_]*[A-Z0-9]", (ROOT / "docs" / doc).read_text()))
    return out


_NAME = r"[\"'](rta_[a-z0-9_]+)[\"']"


def exposed_metrics() -> set[str]:
    """Every metric name the code exposes: the ``"rta_..."`` names in streams/ (the
    figures, counters, gauges), the names ``f"rta_{name}_total"`` makes over a literal
    tuple (``for name, help_ in (("routed", ...), ...)``), and a histogram's
    ``_bucket``, ``_sum``, ``_count``."""
    names: set[str] = set()
    histograms: set[str] = set()
    for path in (ROOT / "streams").rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(_NAME, text))
        names |= _formatted_names(ast.parse(text))
        histograms |= set(re.findall(r"histogram\(\s*" + _NAME, text))
        histograms |= set(re.findall(_NAME + r"\s*,\s*[\"']histogram[\"']", text))
    for h in histograms:
        names |= {f"{h}_bucket", f"{h}_sum", f"{h}_count"}
    return names


def _formatted_names(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for comp in ast.walk(tree):
        if not isinstance(comp, ast.ListComp | ast.GeneratorExp | ast.SetComp):
            continue
        for gen in comp.generators:
            target = gen.target.elts[0] if isinstance(gen.target, ast.Tuple) else gen.target
            if not isinstance(target, ast.Name) or not isinstance(gen.iter, ast.Tuple | ast.List):
                continue
            values = [(e.elts[0] if isinstance(e, ast.Tuple) else e) for e in gen.iter.elts]
            words = [v.value for v in values
                     if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            for node in ast.walk(comp.elt):
                if not isinstance(node, ast.JoinedStr):
                    continue
                parts = node.values
                if (len(parts) == 3 and isinstance(parts[0], ast.Constant)
                        and str(parts[0].value).startswith("rta_")
                        and isinstance(parts[1], ast.FormattedValue)
                        and isinstance(parts[1].value, ast.Name)
                        and parts[1].value.id == target.id
                        and isinstance(parts[2], ast.Constant)):
                    out |= {f"{parts[0].value}{w}{parts[2].value}" for w in words}
    return out


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def dashboard_exprs(node: Any = None) -> list[str]:
    """Every ``expr`` of every panel's targets (rows' nested panels too)."""
    if node is None:
        node = dashboard()["panels"]
    out: list[str] = []
    for panel in node:
        out += [t["expr"] for t in panel.get("targets", []) if "expr" in t]
        out += dashboard_exprs(panel.get("panels", []))
    return out
