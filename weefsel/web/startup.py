"""What ``weefsel serve`` says while it starts (issue 12 item 6): that it is starting, when
it listens (the first map is then already in memory: the port opens only after it was
made), and when the other levels are warmed too, so nobody stares at a silent terminal."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable


def announce_start(warehouse: Path | str, echo: Callable[[str], Any] = print) -> float:
    echo(f"weefsel start: warehouse {warehouse} wordt geopend …")
    return time.perf_counter()


def _inner_data(app: Any) -> Any:
    """The WebData behind an app, also through a wrapper that follows rebuilds."""
    for obj in (app, getattr(app, "app", None), getattr(app, "current", None)):
        data = getattr(getattr(obj, "state", None), "data", None)
        if data is not None:
            return data
    return None


def announce_ready(app: Any, url: str, t0: float, echo: Callable[[str], Any] = print) -> None:
    """Print the address now (the first map is in memory), and 'klaar' once the background
    warming of the other levels' first views has finished."""
    echo(f"weefsel dashboard: {url}  (API: /openapi.json) — opgestart in "
         f"{time.perf_counter() - t0:.1f} s; de eerste kaart is gemaakt, de andere niveaus "
         f"volgen …")
    data = _inner_data(app)
    threads = list(getattr(data, "background", []) or [])

    def wait() -> None:
        for t in threads:
            t.join()
        if data is not None and data.stopping.is_set():
            return
        echo(f"weefsel klaar: de kaarten van alle niveaus staan klaar na "
             f"{time.perf_counter() - t0:.1f} s.")

    threading.Thread(target=wait, daemon=True, name="weefsel-ready").start()


class QuietGate:
    """ASGI wrapper that notes when the last request came in, so background work (warming
    the other levels, starting worker processes) waits until the first visitor's page has
    been served instead of competing with it for the two cores."""

    def __init__(self, app: Any, quiet_s: float = 1.0, max_wait_s: float = 20.0):
        self.app = app
        self.quiet_s, self.max_wait_s = quiet_s, max_wait_s
        self.last = time.monotonic()
        self.listening = threading.Event()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> Any:
        if scope["type"] == "http":
            self.last = time.monotonic()
        return await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:  # state, close, … of the wrapped app
        return getattr(self.app, name)

    def wait(self) -> None:
        """Block until the server listens and no request came for ``quiet_s`` seconds
        (at most ``max_wait_s`` after listening: under steady traffic warm anyway)."""
        self.listening.wait(self.max_wait_s)
        start = time.monotonic()
        while time.monotonic() - self.last < self.quiet_s and \
                time.monotonic() - start < self.max_wait_s:
            time.sleep(0.1)


def first_view_paths(app: Any) -> list[str]:
    """The requests a browser makes for the dashboard's first map, spelled as the page
    spells them (index.html's boot script: URLSearchParams), so primed answers are hits."""
    import json
    import re
    from urllib.parse import urlencode
    data = _inner_data(app)
    page = data.response_cache.get(("index",)) if data is not None else None
    if not page:
        return ["/"]
    html = page.decode("utf-8")
    m = re.search(r'<script id="weefsel-info" type="application/json">(.*?)</script>', html, re.S)
    info = json.loads(m.group(1)) if m else {}
    paths = ["/", "/api/indicators"] + re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    level, ind = info.get("default_level"), info.get("default_indicator")
    if level:
        query = urlencode({"indicator": ind}) if ind else ""
        paths.append(f"/api/map/{level}/values?{query}")
        paths.append(f"/api/map/{level}/labels")
    if ind:
        from urllib.parse import quote
        paths.append(f"/api/indicators/{quote(ind, safe='')}")
    return paths


def prime(app: Any, host: str, port: int, paths: list[str] | None = None) -> int:
    """Ask the app for the first view in-process before the port listens: the answers are
    then finished bytes in the response cache, and FastAPI's first-call work (middleware
    stack, validation, the thread pool) is done. Returns how many answered 200."""
    import asyncio

    import httpx

    async def run() -> int:
        transport = httpx.ASGITransport(app=app)
        ok = 0
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}:{port}",
                                     headers={"accept-encoding": "gzip, deflate, br"}) as c:
            for path in paths or first_view_paths(app):
                try:
                    r = await c.get(path)
                    ok += r.status_code == 200
                except Exception:  # priming is an optimisation; requests report errors
                    pass
        return ok
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case (weefsel serve, before uvicorn's loop)
        return asyncio.run(run())
    out: list[int] = []   # called where a loop runs already: use a thread of its own
    t = threading.Thread(target=lambda: out.append(asyncio.run(run())), daemon=True)
    t.start()
    t.join()
    return out[0] if out else 0
