"""A throwaway local PostgreSQL server for the tests (and, later, `rta up`).

Uses the server binaries installed on the machine (``pg_config --bindir``, or
the usual Debian paths): ``initdb`` into a fresh directory, ``pg_ctl start``
on a free port with ``fsync=off``, trust authentication on 127.0.0.1 only.
``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` user (``runuser``). ``stop()`` and ``start()`` may be called again
to take the server down and bring it back with its data (outage tests).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from streams.local.broker import free_port, wait_for_port


class PostgresError(RuntimeError):
    pass


def server_bindir() -> Path:
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in candidates:
        if (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file():
            return Path(d)
    raise PostgresError("PostgreSQL server binaries (initdb, pg_ctl) not found: install "
                        "them (Debian/Ubuntu: apt-get install postgresql) or put pg_config "
                        "on PATH")


class LocalPostgres:
    """``with LocalPostgres(tmp) as pg: pg.url`` -> a SQLAlchemy asyncpg URL."""

    def __init__(self, base: Path | None = None, port: int | None = None) -> None:
        # the server user must reach the directory: a fresh one under the system
        # temp dir unless given (pytest's tmp_path is private to root, say)
        self.owned = base is None
        self.base = Path(base) if base is not None else Path(tempfile.mkdtemp(prefix="rta-pg-"))
        self.data = self.base / "data"
        self.port = port or free_port()
        self.bindir = server_bindir()
        self.as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        argv = [str(self.bindir / cmd[0]), *cmd[1:]]
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        out = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise PostgresError(f"{cmd[0]} failed ({out.returncode}): "
                                f"{(out.stderr or out.stdout).strip()[-2000:]}")

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        self.base.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")

    def start(self) -> LocalPostgres:
        if not (self.data / "PG_VERSION").is_file():
            self.init()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "pg.log"), "-w",
                  "-t", "30", "-o", f"-p {self.port} -k {self.base} "
                  "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                  "-c full_page_writes=off", "start")
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").is_file():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.owned:
            shutil.rmtree(self.base, ignore_errors=True)
