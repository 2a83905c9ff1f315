"""Answer repeated reads from finished bytes, on the event loop, before FastAPI is entered.

Why: measured with ``wrk -t2 -c100`` the map-values endpoint answered ~1,200 req/s (p50 92 ms
in the issue) although its JSON was already cached: a profile (cProfile of the ASGI app)
showed ~75% of each request in handing the sync route to the thread pool and back (lock
release + epoll wait), the rest in FastAPI's routing and parameter validation. The warehouse
an app serves never changes (a new file gets a new app, see reload.py), so a successful
answer to the same GET (same path, query and gzip acceptance) is always the same bytes:
this middleware keeps them and sends them straight away.

Cached: the area profile, map values and GeoJSON, and vector tiles; only 200/204 answers up
to 8 MB, within a total budget. Everything else passes through untouched.
"""

from __future__ import annotations

import re
from typing import Callable

CACHEABLE = re.compile(r"^/api/(?:areas/[^/]{1,64}/profile|map/[^/]{1,32}(?:/values)?|"
                       r"tiles/[^/]{1,32}/\d{1,2}/\d{1,6}/\d{1,6}\.pbf|indicators|info)$")
MAX_ENTRY = 8_000_000
BUDGET = 256_000_000


class ResponseCache:
    """ASGI middleware: finished answers of cacheable GETs, keyed on path, query and gzip."""

    def __init__(self, app: Callable, budget: int = BUDGET):
        self.app = app
        self.budget = budget
        self.size = 0
        self.entries: dict[tuple, tuple[int, list, bytes]] = {}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or \
                not CACHEABLE.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        gzip_ok = False
        for k, v in scope["headers"]:
            if k == b"accept-encoding":
                gzip_ok = b"gzip" in v
                break
        key = (scope["path"], scope["query_string"], gzip_ok)
        hit = self.entries.get(key)
        if hit is not None:
            status, headers, body = hit
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        parts: list[bytes] = []
        start: dict = {}

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body") and start.get("status") in (200, 204):
                    body = b"".join(parts)
                    if len(body) <= MAX_ENTRY:
                        self._store(key, start["status"], list(start.get("headers", [])), body)
            await send(message)

        await self.app(scope, receive, capture)

    def _store(self, key: tuple, status: int, headers: list, body: bytes) -> None:
        if self.size + len(body) > self.budget:
            self.entries.clear()
            self.size = 0
        self.entries[key] = (status, headers, body)
        self.size += len(body)
