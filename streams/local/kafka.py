"""Apache Kafka on this machine, from its jars: the broker the test suite runs on,
and ``rta up --local-broker kafka``.

The broker's class path is resolved once by Maven from the checked-in
``streams/local/kafka-pom.xml`` (Maven Central) into a cache outside the work tree
(``$RTA_KAFKA_CACHE``, else ``$XDG_CACHE_HOME/rta`` or ``~/.cache/rta``), keyed by the
pom's content, so later runs need no download and no Maven. A broker is one
KRaft node (combined broker and controller) on free loopback ports, its data
in a folder of its own (a temporary one unless given), formatted with
``kafka-storage format`` on first start and kept across ``restart()``.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from streams.local.broker import BrokerError, LoopbackBroker, free_port, wait_for_port

KAFKA_VERSION = "4.1.1"  # as in kafka-pom.xml
JAVA_MIN = 17  # Kafka 4.x brokers need Java 17 or newer
HEAP = "-Xmx512m"
READY_LINE = "Kafka Server started"

# Settings for a single-node broker on loopback; production-like otherwise. Group
# timings: no initial rebalance delay, and session timeouts down to 0.5 s allowed,
# so tests that shorten their clients' session timeouts can.
BASE_PROPERTIES: dict[str, str] = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "num.partitions": "4",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "8",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "500",
    # the engine creates every topic it uses (streams/topics.py, faust's own):
    # nothing may rely on the broker creating one on first use
    "auto.create.topics.enable": "false",
    "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
}

LOG4J = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.ready.name = kafka.server.KafkaRaftServer
logger.ready.level = INFO
"""


def cache_root() -> Path:
    if os.environ.get("RTA_KAFKA_CACHE"):
        return Path(os.environ["RTA_KAFKA_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rta"


def _pom() -> bytes:
    return (resources.files("streams.local") / "kafka-pom.xml").read_bytes()


def find_java() -> str:
    """A ``java`` of version 17 or newer (``$JAVA_HOME`` first, then ``PATH``)."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    if shutil.which("java"):
        candidates.append(str(shutil.which("java")))
    found = []
    for java in candidates:
        try:
            out = subprocess.run([java, "-version"], capture_output=True, text=True,
                                 timeout=30).stderr
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
        if m:
            major = int(m.group(1)) if m.group(1) != "1" else int(m.group(2) or 0)
            if major >= JAVA_MIN:
                return java
            found.append(f"{java} is Java {major}")
    have = f" ({'; '.join(found)})" if found else ""
    raise BrokerError(
        f"Apache Kafka {KAFKA_VERSION} needs Java {JAVA_MIN} or newer, and none was found "
        f"in JAVA_HOME or on PATH{have}. Install a JDK or JRE (Debian: apt-get install "
        f"openjdk-17-jre-headless) or set JAVA_HOME; or use the Tansu broker instead "
        f"(rta up --local-broker tansu).")


def classpath(quiet: bool = False) -> Path:
    """The folder of the broker's jars, resolved by Maven on first use (then cached)."""
    # the cache is named after what Maven resolves: the pom without its comments (a
    # comment edited for a file move had sent every machine back to Maven Central)
    pom = re.sub(rb"<!--.*?-->", b"", _pom(), flags=re.S)
    home = cache_root() / f"kafka-{KAFKA_VERSION}-{hashlib.sha256(pom).hexdigest()[:12]}"
    libs = home / "libs"
    if (libs / ".complete").is_file():
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one resolution at a time (parallel test runs)
        if (libs / ".complete").is_file():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(
                f"Apache Kafka's jars are not in {home} yet, and fetching them needs Maven "
                f"(mvn), which is not on PATH. Install it (Debian: apt-get install maven) "
                f"and run again: it downloads Kafka {KAFKA_VERSION} from Maven Central once.")
        find_java()  # Maven needs it too; say so clearly
        (home / "pom.xml").write_bytes(pom)
        tmp = home / "libs.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        if not quiet:
            print(f"fetching Apache Kafka {KAFKA_VERSION} with Maven into {home} (once)...",
                  flush=True)
        proc = subprocess.run(
            [mvn, "-B", "-q", "-f", str(home / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={tmp}"], capture_output=True, text=True,
            stdin=subprocess.DEVNULL, cwd=home)
        if proc.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise BrokerError(f"Maven could not fetch Apache Kafka {KAFKA_VERSION} "
                              f"(exit {proc.returncode}):\n{tail}")
        (tmp / ".complete").write_text(KAFKA_VERSION)
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
    return libs


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaBroker(LoopbackBroker):
    """``with KafkaBroker() as b: b.bootstrap`` -> ``127.0.0.1:PORT``.

    ``restart()`` stops and starts the same broker on the same port and data;
    the data folder is removed on ``close()`` (or leaving the ``with``) only when
    this object made it."""

    kind = "kafka"

    def __init__(self, port: int | None = None, data_dir: Path | None = None,
                 log: Path | None = None, properties: Mapping[str, str] | None = None,
                 ready_timeout: float = 90.0) -> None:
        self.port = port or free_port()
        self.controller_port = free_port()
        self._owns_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="rta-kafka-"))
        self.log = log or self.data_dir / "broker.log"
        self.extra = dict(properties or {})
        self.ready_timeout = ready_timeout
        self.proc = None

    def properties(self) -> dict[str, str]:
        return {
            **BASE_PROPERTIES,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "log.dirs": str(self.data_dir / "logs"),
            **self.extra,
        }

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "server.properties"
        conf.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        (self.data_dir / "log4j2.properties").write_text(LOG4J)
        return conf

    def _java(self, java: str, libs: Path, main: str, *args: str,
              heap: str = HEAP) -> list[str]:
        return [java, heap, "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
                "-cp", f"{libs}/*", main, *args]

    def start(self) -> KafkaBroker:
        java, libs = find_java(), classpath()
        conf = self._write_config()
        if not (self.data_dir / "logs" / "meta.properties").is_file():
            proc = subprocess.run(
                # (``=``: an id may begin with "-", which argparse takes for an option)
                self._java(java, libs, "kafka.tools.StorageTool", "format",
                           f"--cluster-id={_cluster_id()}", "-c", str(conf), heap="-Xmx256m"),
                capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise BrokerError(f"kafka-storage format failed (exit {proc.returncode}): "
                                  f"{(proc.stdout + proc.stderr)[-2000:]}")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        out = open(self.log, "ab")  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(self._java(java, libs, "kafka.Kafka", str(conf)),
                                         stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
        try:
            self._wait_ready(offset)
        except BrokerError:
            self.stop()
            raise
        return self

    def _wait_ready(self, offset: int) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            with open(self.log, "rb") as fh:
                fh.seek(offset)
                text = fh.read().decode(errors="replace")
            if READY_LINE in text:
                wait_for_port(self.port, max(1.0, deadline - time.monotonic()))
                return
            if self.proc.poll() is not None:
                raise BrokerError(f"Apache Kafka exited with {self.proc.returncode} while "
                                  f"starting; its log ({self.log}):\n{text[-3000:]}")
            time.sleep(0.05)
        raise BrokerError(f"Apache Kafka was not ready within {self.ready_timeout} s "
                          f"(log: {self.log})")

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown (SIGTERM, then SIGKILL after ``timeout``); data is kept."""
        self._terminate(timeout)

    def restart(self) -> KafkaBroker:
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()



def main(argv: list[str] | None = None) -> int:
    """``python -m streams.local.kafka fetch``: resolve the jars now (scripts/test)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args != ["fetch"]:
        print("usage: python -m streams.local.kafka fetch", file=sys.stderr)
        return 2
    try:
        find_java()
        print(f"Apache Kafka {KAFKA_VERSION}: {classpath()}", file=sys.stderr)
    except BrokerError as exc:
        print(f"rta: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
