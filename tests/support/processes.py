"""Processes the tests start (`rta up`, workers): stopping one left running."""

from __future__ import annotations

import subprocess
from typing import Any


def stop_gently(proc: subprocess.Popen[Any]) -> None:
    """Stop ``proc`` if it still runs: SIGTERM first (`rta up` then stops its broker
    and PostgreSQL too), SIGKILL if it has not exited within 30 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
