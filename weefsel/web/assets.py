"""The dashboard's static files (/static/...) from memory, gzipped once, with cache headers.

Why (issue 12 item 6, first map under 1.5 s): Starlette's StaticFiles reads every file in
64 kB chunks, each through a worker thread, and sends MapLibre's 1.06 MB uncompressed on
every first visit; on a busy 2-core machine those thread hops wait for the GIL. Here each
file is read and gzipped once (MapLibre: 1.06 MB -> about 0.29 MB), then sent in one piece
straight from the event loop.

Caching: the dashboard page names each asset with ``?v=<content hash>`` (see
:func:`versioned`); such a URL never changes meaning, so browsers may keep it a year
(``immutable``). Without ``v`` (or with an old one) the answer says ``no-cache`` with an
ETag, so a browser revalidates and never runs a stale app.js after an upgrade.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
import threading
from pathlib import Path
from typing import Callable

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8",
         ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png"}
#: below this, gzip costs more than it saves
MIN_GZIP = 1000
YEAR = "public, max-age=31536000, immutable"


class Asset:
    """One file's bytes, its gzip and its content hash."""

    def __init__(self, path: Path):
        self.body = path.read_bytes()
        self.etag = hashlib.sha256(self.body).hexdigest()[:16]
        self.type = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or \
            "application/octet-stream"
        compressible = self.type.startswith("text/") or self.type in (
            "application/json", "image/svg+xml")
        self.gz = gzip.compress(self.body, 6, mtime=0) \
            if compressible and len(self.body) >= MIN_GZIP else None


class StaticAssets:
    """ASGI app for a directory of static files (mounted at /static). Files are read once,
    on first use; paths outside the directory and hidden files are 404."""

    def __init__(self, directory: Path):
        self.root = Path(directory).resolve()
        self.assets: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def get(self, rel: str) -> Asset | None:
        a = self.assets.get(rel)
        if a is not None:
            return a
        if not re.fullmatch(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-.]+)*\.[A-Za-z0-9]+", rel) or \
                any(part.startswith(".") for part in rel.split("/")):
            return None
        path = (self.root / rel).resolve()
        if self.root not in path.parents or not path.is_file():
            return None
        with self._lock:
            a = self.assets.get(rel) or Asset(path)
            self.assets[rel] = a
        return a

    def version(self, rel: str) -> str:
        a = self.get(rel)
        return a.etag if a else ""

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):  # Starlette's Mount keeps the full path
            path = path[len(root):]
        rel = path.lstrip("/")
        a = self.get(rel) if scope["method"] in ("GET", "HEAD") else None
        if a is None:
            status = 404 if scope["method"] in ("GET", "HEAD") else 405
            detail = b'{"detail":"Niet gevonden"}' if status == 404 else \
                b'{"detail":"Methode niet toegestaan"}'
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(detail)).encode())]})
            await send({"type": "http.response.body", "body": detail})
            return
        headers = dict(scope.get("headers") or [])
        query = scope.get("query_string", b"").decode("latin-1")
        fresh = f"v={a.etag}" in query.split("&")
        cache = YEAR if fresh else "no-cache"
        etag = f'"{a.etag}"'.encode()
        out = [(b"cache-control", cache.encode()), (b"etag", etag), (b"vary", b"Accept-Encoding")]
        if headers.get(b"if-none-match") == etag:
            await send({"type": "http.response.start", "status": 304, "headers": out})
            await send({"type": "http.response.body", "body": b""})
            return
        body = a.body
        if a.gz is not None and b"gzip" in headers.get(b"accept-encoding", b""):
            body = a.gz
            out.append((b"content-encoding", b"gzip"))
        out += [(b"content-type", a.type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": out})
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else body})


def versioned(html: str, assets: StaticAssets) -> str:
    """``/static/x.js`` -> ``/static/x.js?v=<hash>`` for every asset a page names, so the
    browser may cache it for good and still gets a new file after an upgrade."""
    def sub(m: re.Match) -> str:
        v = assets.version(m.group(2))
        return f'{m.group(1)}/static/{m.group(2)}{"?v=" + v if v else ""}"'
    return re.sub(r'((?:src|href)=")/static/([^"?#]+)"', sub, html)
