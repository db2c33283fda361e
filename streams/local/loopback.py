"""An aiohttp application on 127.0.0.1, in a thread with its own event loop.

The platforms played over loopback (``fake_ccai``, ``fake_omni``, and in the
tests the WFM and the HTTP API on a fake backend) serve from a thread of their
own, so a test or a benchmark can drive subprocesses and blocking calls while
they answer."""

from __future__ import annotations

import asyncio
import threading
from typing import Self

from aiohttp import web


class LoopbackServer:
    thread_name = "loopback"

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def make_app(self) -> web.Application:
        """The application to serve (built in the server's thread)."""
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Self:
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                runner = web.AppRunner(self.make_app(), access_log=None)
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, "127.0.0.1", 0)
                loop.run_until_complete(site.start())
                self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            except BaseException as exc:
                failed.append(exc)
                ready.set()
                loop.close()
                raise
            self._loop = loop
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"{self.thread_name} did not start within {timeout} s")
        if failed:
            raise RuntimeError(f"{self.thread_name} did not start") from failed[0]
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
