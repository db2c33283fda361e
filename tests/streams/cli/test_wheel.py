"""An installed wheel works: built from the checkout it holds exactly the packages
`rta` and `streams` (with the package data `rta up` and the migrations need), and
`rta up` runs from it outside the checkout, as after `pip install rta-engine`: its
banner names the packaged demo tenants file, whose demo key the HTTP API accepts,
the history migrations run from the wheel (when PostgreSQL's server binaries are
installed), and Ctrl-C stops everything with exit status 0."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import orjson
import pytest

from streams.local.broker import free_port
from tests.support.processes import stop_gently

ROOT = Path(__file__).resolve().parents[3]
PACKAGE_DATA = ["streams/history/migrations/script.py.mako", "streams/history/migrations/env.py",
                "streams/history/migrations/versions/0001_history_tables.py",
                "streams/local/kafka-pom.xml", "streams/local/demo-tenants.toml"]


def _sources(dest: Path) -> Path:
    """The checkout's files as a fresh clone has them, plus uncommitted work (no
    build/, *.egg-info or caches, which setuptools would otherwise reuse)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        src = ROOT / name
        if src.is_file() or src.is_symlink():  # not files deleted in the work tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name, follow_symlinks=False)
    return dest


def _get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _build_wheel(tmp: Path) -> Path:
    src, dist = _sources(tmp / "src"), tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist),
                    str(src)], check=True, timeout=600, stdin=subprocess.DEVNULL)
    (wheel,) = dist.glob("*.whl")
    return wheel


@pytest.mark.slow
def test_installed_wheel_runs_rta_up_outside_the_checkout(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    (dist_info,) = (t for t in tops if t.endswith(".dist-info"))
    assert dist_info.startswith("rta_engine-")
    assert tops == {"rta", "streams", dist_info}
    assert [p for p in PACKAGE_DATA if p not in names] == []

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
                    str(site), str(wheel)], check=True, timeout=300, stdin=subprocess.DEVNULL)
    elsewhere = tmp_path / "elsewhere"  # the working directory: not the checkout
    elsewhere.mkdir()
    assert not elsewhere.resolve().is_relative_to(ROOT)
    # the interpreter's environment for the dependencies (its site-packages may map
    # rta and streams to the checkout: an editable install), the wheel's copy first
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    python = [sys.executable, "-P"]  # -P: neither the working directory nor a script's

    where = subprocess.run(
        [*python, "-c", "import importlib.util, rta, streams, streams.cli.main as m\n"
                        "print(rta.__file__, streams.__file__, m.__file__)\n"
                        "print(importlib.util.find_spec('tests'))"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True, timeout=60)
    files, tests_spec = where.stdout.splitlines()
    for f in files.split():
        assert Path(f).is_relative_to(site), where.stdout
    assert tests_spec == "None", "the checkout is importable: " + tests_spec

    from streams.local.postgres import PostgresError, server_bindir

    try:
        server_bindir()
        postgres = True
    except PostgresError:
        postgres = False
    out, api_port = tmp_path / "up.out", free_port()
    proc = subprocess.Popen(  # the console script the wheel installs
        [*python, str(site / "bin" / "rta"), "up", "--web-port", str(api_port),
         "--data-dir", str(tmp_path / "var")],
        stdout=open(out, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: SIM115
        cwd=elsewhere, env={**env, "RTA_BROKER_SESSION_TIMEOUT": "1.5",
                            "RTA_BROKER_HEARTBEAT_INTERVAL": "0.3"})
    try:
        deadline = time.monotonic() + 120
        while ("rta is up." not in out.read_text() and proc.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.3)
        banner = out.read_text()
        assert "rta is up." in banner, banner
        tenants = site / "streams" / "local" / "demo-tenants.toml"
        assert f"demo key in {tenants})" in banner, banner
        if postgres:  # the worker checks the schema at start: the wheel's migrations ran
            assert "history: PostgreSQL, throwaway" in banner, banner
        broker = re.search(r"kafka://127\.0\.0\.1:(\d+)", banner)
        assert broker is not None, banner

        url = f"http://127.0.0.1:{api_port}/v1/agents/1000/status"  # the banner's curl
        assert _get(url, {})[0] == 401
        status, body = _get(url, {"x-api-key": "northwind-demo-key"})
        assert status in (200, 404), (status, body)  # 404: no such agent yet, but let in
        assert isinstance(orjson.loads(body), dict)
        assert f"monitor:  http://127.0.0.1:{api_port}/monitor" in banner, banner
        for name in ("monitor", "monitor/static/monitor.js", "monitor/static/monitor.css"):
            # the page's files are in the wheel
            assert _get(f"http://127.0.0.1:{api_port}/{name}", {})[0] == 200, name

        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(30) == 0, out.read_text()[-3000:]
    finally:
        stop_gently(proc)  # the test failed: SIGTERM stops its broker and PostgreSQL too
    time.sleep(0.5)
    with socket.socket() as s:  # the broker is gone too
        assert s.connect_ex(("127.0.0.1", int(broker.group(1)))) != 0
