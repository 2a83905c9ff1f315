"""``weefsel serve`` follows its warehouse: a rebuilt or re-indexed file is picked up without a
restart or a lock error.

Every writer (build, index, access) writes a copy and moves it onto the warehouse path, so the
path gets a new inode while the server still reads the old one (opened read-only, so it
never blocks the writer). :class:`FollowingApp` stats the path at most once a second; when the
inode, size or mtime changed, it builds a new app for the new file in a thread (the old one
keeps answering meanwhile), switches to it, and closes the old one after in-flight requests
had time to finish.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


def _identity(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class FollowingApp:
    """ASGI app that serves ``factory(path)`` and rebuilds it when ``path`` is replaced.

    DuckDB keeps one database instance per path in a process, so a second connect to the
    same path would hand back the *old* file; the new file is therefore opened through a
    temporary hard link (a new path to the new inode), removed right after opening.
    """

    def __init__(self, factory: Callable[[Path], Any], path: str | Path, *, interval: float = 1.0,
                 grace: float = 30.0, on_switch: Callable[[Any], None] | None = None):
        self.factory, self.path = factory, Path(path)
        self.interval, self.grace, self.on_switch = interval, grace, on_switch
        self.seen = _identity(self.path)
        self.app = factory(self.path)
        self._checked = time.monotonic()
        self._switching = threading.Lock()
        self.switches = 0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            now = time.monotonic()
            if now - self._checked >= self.interval:
                self._checked = now
                ident = _identity(self.path)
                if ident is not None and ident != self.seen and self._switching.acquire(False):
                    asyncio.get_running_loop().run_in_executor(None, self._switch, ident)
        await self.app(scope, receive, send)

    def _switch(self, ident: tuple) -> None:
        """Build the app of the new file; on failure keep serving the old one."""
        try:
            time.sleep(0.2)  # let a writer finish its move (the WAL is set aside first)
            if _identity(self.path) != ident:
                return  # still changing; the next request looks again
            new = self._open_new(ident)
            old, self.app, self.seen = self.app, new, ident
            self.switches += 1
            log.warning("warehouse %s changed: now serving the new file", self.path)
            if self.on_switch:
                self.on_switch(new)
            timer = threading.Timer(self.grace, _close, args=(old,))
            timer.daemon = True
            timer.start()
        except Exception as exc:  # a half-written or broken file: keep the old one
            log.warning("new warehouse %s not taken into use: %s", self.path, exc)
            self.seen = ident
        finally:
            self._switching.release()

    def _open_new(self, ident: tuple) -> Any:
        link = self.path.with_name(f".{self.path.name}.serve-{ident[0]}-{os.getpid()}")
        try:
            os.link(self.path, link)
        except OSError:  # no hard links here: close the old file first (a short gap)
            _close(self.app)
            return self.factory(self.path)
        try:
            return self.factory(link)
        finally:
            link.unlink(missing_ok=True)

    def close(self) -> None:
        _close(self.app)


def _close(app: Any) -> None:
    data = getattr(getattr(app, "state", None), "data", None)
    if data is not None:
        try:
            data.close()
        except Exception:  # closing is best effort
            pass
