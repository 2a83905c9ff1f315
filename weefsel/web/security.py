"""Defences every response and every write goes through: one pure-ASGI middleware.

Why pure ASGI: it wraps the hottest read paths too (profile, map values, tiles), so it must
cost microseconds; Starlette's BaseHTTPMiddleware would add a task per request.

What it does, in order:

* **Security headers** on every answer (also 4xx/5xx and the profile fast path): a CSP with
  ``frame-ancestors 'none'`` (the voting page cannot be framed by another site), ``nosniff``,
  ``Referrer-Policy``, ``X-Frame-Options`` and a ``Permissions-Policy``. The dashboard's inline
  boot script is allowed by its SHA-256 hash, not by ``'unsafe-inline'``.
* **HEAD** on every GET route (answered as GET without the body).
* **Origin check** on every state-changing request (POST, PUT, PATCH, DELETE): when the browser
  sends ``Origin`` (or, without it, ``Referer``), its host must be the host the request was
  sent to; otherwise 403. Browsers always send ``Origin`` on cross-site form posts and
  ``fetch``; a client that sends neither (curl, scripts) is not a browser that can be tricked.
* **Rate limits on writes**: a token bucket per client IP, in memory (429 + Retry-After).
* **Caps on what an anonymous visitor can add**: a form post is at most ``max_form`` bytes, and
  one client adds at most ``max_proposals`` proposals per burgerbegroting (403).
* **Request size limits while streaming**: a declared ``Content-Length`` above the limit is
  refused before anything is read; a body without one (chunked) is counted as it arrives and
  refused the moment it passes the limit, so a 200 MB upload is never read whole (413).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: a burgerbegroting proposal (HTML form and any JSON twin the participation router adds)
PROPOSAL_PATH = re.compile(r"^/api/begroting/(?:p|processes)/(\d{1,19})/(?:voorstel|projects?)$")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", re.S | re.I)


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-…') of the executable inline scripts of a page."""
    out = []
    for attrs, body in INLINE_SCRIPT.findall(html):
        m = re.search(r"""type\s*=\s*["']?([^"'\s>]+)""", attrs)
        if m and m.group(1).lower() not in ("module", "text/javascript", "application/javascript"):
            continue  # data blocks (application/json) are never executed
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        out.append(f"'sha256-{digest}'")
    return out


def content_security_policy(script_hashes: list[str] = (), extra_origins: list[str] = ()) -> str:
    """The CSP of the app: only our own scripts (and hashed inline ones), no framing."""
    extra = " ".join(extra_origins)
    parts = [
        "default-src 'self'",
        "script-src 'self' " + " ".join(script_hashes),
        "style-src 'self' 'unsafe-inline'",           # style attributes of the Dutch pages
        f"img-src 'self' data: blob: {extra}",
        f"connect-src 'self' {extra}",
        "worker-src 'self' blob:",                    # MapLibre's web worker
        "child-src 'self' blob:",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(" ".join(p.split()) for p in parts)


def origin_of(url: str | None) -> str | None:
    """The host[:port] of an origin or URL (None when absent or unparseable)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return (parts.netloc or "").lower()


class TokenBucket:
    """Per-key token buckets: ``capacity`` writes at once, refilled at ``rate`` per second."""

    def __init__(self, capacity: float, rate: float, max_keys: int = 100_000):
        self.capacity, self.rate, self.max_keys = float(capacity), float(rate), max_keys
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                if len(self._state) >= self.max_keys and key not in self._state:
                    self._state.clear()  # memory bound; a flood of addresses resets all
                self._state[key] = (tokens - 1, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1 - tokens) / self.rate if self.rate > 0 else 3600.0


@dataclass
class SecurityConfig:
    """Limits; the defaults suit one server for one gemeente."""

    max_body: int = 12_000_000        # bytes: two 5 MB CSV uploads of a burgerberaad
    max_form: int = 64_000            # bytes: a form post (proposal, vote, phase)
    write_burst: int = 30             # writes at once per client IP
    write_rate: float = 0.5           # writes per second afterwards (30 a minute)
    max_proposals: int = 10           # proposals per client IP per burgerbegroting
    script_hashes: list[str] = field(default_factory=list)
    extra_origins: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls) -> "SecurityConfig":
        """Defaults, overridable per deployment: WEEFSEL_MAX_BODY, WEEFSEL_MAX_FORM,
        WEEFSEL_WRITE_BURST, WEEFSEL_WRITE_RATE (per second), WEEFSEL_MAX_PROPOSALS."""
        cfg, env = cls(), os.environ
        for name, key, cast in (("max_body", "WEEFSEL_MAX_BODY", int),
                                ("max_form", "WEEFSEL_MAX_FORM", int),
                                ("write_burst", "WEEFSEL_WRITE_BURST", int),
                                ("write_rate", "WEEFSEL_WRITE_RATE", float),
                                ("max_proposals", "WEEFSEL_MAX_PROPOSALS", int)):
            if env.get(key):
                setattr(cfg, name, cast(env[key]))
        return cfg


def _json_response(status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> tuple:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    return status, [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *headers], body


class SecurityMiddleware:
    """See the module docstring. ``app.add_middleware(SecurityMiddleware, config=...)`` last,
    so it is the outermost layer and also covers answers made by inner shortcuts."""

    def __init__(self, app: Callable, config: SecurityConfig | None = None):
        self.app = app
        self.config = cfg = config or SecurityConfig()
        self.buckets = TokenBucket(cfg.write_burst, cfg.write_rate)
        self.proposals: dict[tuple[str, str], int] = {}
        self.headers = [
            (b"content-security-policy",
             content_security_policy(cfg.script_hashes, cfg.extra_origins).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers
        head = scope["method"] == "HEAD"
        if head:
            scope = dict(scope, method="GET")

        async def send_secured(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", ()), *extra])
            elif head and message["type"] == "http.response.body":
                message = dict(message, body=b"")
            await send(message)

        if scope["method"] in WRITE_METHODS or scope["method"] not in ("GET", "OPTIONS"):
            refusal = self._refuse_write(scope)
            if refusal is not None:
                await self._send(send_secured, *refusal)
                return
        await self._limited(scope, receive, send_secured)

    # -- writes ----------------------------------------------------------------------------
    def _refuse_write(self, scope: dict) -> tuple | None:
        headers = _headers(scope)
        host = (headers.get("host") or "").lower()
        origin = headers.get("origin")
        claimed = origin_of(origin) if origin is not None else origin_of(headers.get("referer"))
        if origin == "null" or (claimed is not None and claimed != host):
            return _json_response(403, "Geweigerd: dit formulier is verstuurd vanaf een andere "
                                       "website. Open de pagina op deze website en probeer het "
                                       "opnieuw.")
        client = (scope.get("client") or ("onbekend", 0))[0]
        wait = self.buckets.take(client)
        if wait > 0:
            n = max(1, int(wait + 0.999))
            return _json_response(429, f"Te veel verzoeken achter elkaar; probeer het over "
                                       f"{n} s opnieuw.",
                                  [(b"retry-after", str(n).encode())])
        m = PROPOSAL_PATH.match(scope.get("path", ""))
        if m and scope["method"] == "POST":
            key = (client, m.group(1))
            if self.proposals.get(key, 0) >= self.config.max_proposals:
                return _json_response(403, f"U hebt al {self.config.max_proposals} voorstellen "
                                           "gedaan voor deze burgerbegroting; meer kan niet.")
            if len(self.proposals) > 100_000:
                self.proposals.clear()
            self.proposals[key] = self.proposals.get(key, 0) + 1
        return None

    # -- body size ------------------------------------------------------------------------
    async def _limited(self, scope: dict, receive: Callable, send: Callable) -> None:
        headers = _headers(scope)
        ctype = headers.get("content-type", "")
        limit = self.config.max_form if ctype.startswith("application/x-www-form-urlencoded") \
            else self.config.max_body
        declared = headers.get("content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await self._send(send, *_json_response(400, "Ongeldige Content-Length."))
                return
            if too_big:
                await self._send(send, *self._too_large(limit), close=True)
                return
        if scope["method"] in ("GET", "HEAD", "OPTIONS") and declared is None:
            await self.app(scope, receive, send)
            return
        state = {"read": 0, "over": False, "started": False}

        async def counted_receive() -> dict:
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > limit:
                    state["over"] = True
                    # stop here: the app sees a cut-off body and the rest is never read
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict) -> None:
            if state["over"]:
                if message["type"] == "http.response.start" and not state["started"]:
                    state["started"] = True
                    await self._send(send, *self._too_large(limit), close=True)
                return  # the app's own answer to a cut-off body is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await self._send(send, *self._too_large(limit), close=True)

    @staticmethod
    def _too_large(limit: int) -> tuple:
        size = f"{limit / 1_000_000:g} MB" if limit >= 1_000_000 else f"{limit / 1000:g} kB"
        return _json_response(413, f"Verzoek te groot: hoogstens {size}.")

    @staticmethod
    async def _send(send: Callable, status: int, headers: list, body: bytes,
                    close: bool = False) -> None:
        if close:
            headers = [*headers, (b"connection", b"close")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


def install(app: Any, *, index_html: str = "", basemap_url: str | None = None,
            config: SecurityConfig | None = None) -> SecurityConfig:
    """Add the middleware to a FastAPI app (call after every other add_middleware)."""
    cfg = config or SecurityConfig.from_env()
    cfg.script_hashes = cfg.script_hashes or inline_script_hashes(index_html)
    if basemap_url and not cfg.extra_origins:
        parts = urlsplit(basemap_url.replace("{", "").replace("}", ""))
        if parts.scheme and parts.netloc:
            cfg.extra_origins = [f"{parts.scheme}://{parts.netloc}"]
    app.add_middleware(SecurityMiddleware, config=cfg)
    return cfg
