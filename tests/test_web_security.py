"""Hostile requests of issue 16: another origin, floods of writes, huge bodies, framing, 21
anonymous proposals, a draw that would freeze the server; and the answers' shape."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from weefsel.web import workers
from weefsel.web.api import create_app
from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse
from weefsel.web.security import SecurityConfig, TokenBucket, install
from weefsel.web.workers import WorkerPool, run_cpu

HEADERS = ["content-security-policy", "x-content-type-options", "referrer-policy",
           "x-frame-options"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import os
    d = tmp_path_factory.mktemp("sec")
    from weefsel.participation import web as pweb
    from weefsel.registry import Registry
    pweb.set_registry(Registry(f"sqlite:///{d / 'r.sqlite'}"))
    a = create_app(make_demo_warehouse(d / "demo.duckdb"), catalogue=DEMO_CATALOGUE)
    yield a
    a.state.data.close()
    pweb.set_registry(None)
    os.environ.pop("_unused", None)


@pytest.fixture()
def client(app):
    return TestClient(app)


class Server:
    """uvicorn on a free loopback port in a thread (real sockets: streaming, timing order)."""

    def __init__(self, app):
        import uvicorn
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started and time.time() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


# -- headers ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/api/info", "/api/areas/GM0001/profile",
                                  "/api/bestaatniet", "/static/app.js", "/api/begroting/"])
def test_every_answer_carries_security_headers(client, path):
    client.get(path)  # the second profile request takes the fast path: it must be covered too
    r = client.get(path)
    for h in HEADERS:
        assert h in r.headers, (path, h)
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-eval'" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_head_works_on_get_routes(client):
    r = client.head("/")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) > 0


# -- origin --------------------------------------------------------------------------------

FORM = {"naam": "Buurt", "budget": "10000", "regel": "equalshares/add1"}


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"},
                                     {"Origin": "null"},
                                     {"Referer": "https://evil.example/page"}])
def test_post_from_another_origin_is_refused(client, headers):
    r = client.post("/api/begroting/nieuw", data=FORM, headers=headers)
    assert r.status_code == 403 and "andere website" in r.json()["detail"]


def test_post_from_the_same_origin_works(client):
    r = client.post("/api/begroting/nieuw", data=FORM, headers={"Origin": "http://testserver"})
    assert r.status_code == 200 and "aangemaakt" in r.text


# -- rate limits and caps ----------------------------------------------------------------------

def test_token_bucket_refills():
    b = TokenBucket(capacity=2, rate=1.0)
    assert b.take("a", now=0) == 0 and b.take("a", now=0) == 0
    assert b.take("a", now=0) > 0          # empty
    assert b.take("b", now=0) == 0         # per client
    assert b.take("a", now=1.01) == 0      # one second later one token is back


def test_write_flood_gets_429_with_retry_after(tmp_path):
    app = FastAPI()

    @app.post("/w")
    def w() -> dict:
        return {"ok": True}
    install(app, config=SecurityConfig(write_burst=5, write_rate=0.01))
    c = TestClient(app)
    codes = [c.post("/w").status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    r = c.post("/w")
    assert int(r.headers["retry-after"]) >= 1 and "probeer het over" in r.json()["detail"]
    assert c.get("/docs").status_code in (200, 404)  # reads are never limited


def test_anonymous_proposals_are_capped(client):
    r = client.post("/api/begroting/nieuw", data=FORM)
    pid = int(client.get("/api/begroting/processes").json()[-1]["id"])
    codes = []
    for i in range(12):
        codes.append(client.post(f"/api/begroting/p/{pid}/voorstel",
                                 data={"titel": f"Bankje {i}", "kosten": "100"}).status_code)
    assert 403 in codes and codes.index(403) == SecurityConfig().max_proposals


def test_huge_form_field_is_refused(client):
    r = client.post("/api/begroting/nieuw", data={**FORM, "naam": "x" * 200_000})
    assert r.status_code == 413 and "te groot" in r.json()["detail"]


# -- request size while streaming ------------------------------------------------------------

def _raw(port: int, head: bytes, chunks, read_after: bool = True) -> tuple[bytes, int]:
    """Send ``head`` then ``chunks`` until the server answers; returns (answer, bytes sent)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(head)
    sent = 0
    s.setblocking(False)
    answer = b""
    try:
        for chunk in chunks:
            try:
                answer += s.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                s.setblocking(True)
                s.sendall(chunk)
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            finally:
                s.setblocking(False)
        s.setblocking(True)
        s.settimeout(10)
        while read_after and b"\r\n\r\n" not in answer:
            part = s.recv(65536)
            if not part:
                break
            answer += part
    finally:
        s.close()
    return answer, sent


def test_200mb_chunked_upload_is_refused_without_reading_it(app):
    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"
    part = (b'--zz\r\nContent-Disposition: form-data; name="respondents"; filename="r.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\n")
    mb = b"id,leeftijd\n" + b"1,30\n" * 199_997
    head = (b"POST /api/beraad HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
            b"boundary=zz\r\nTransfer-Encoding: chunked\r\n\r\n")
    body = (chunk(part + mb) if i == 0 else chunk(mb) for i in range(200))
    with Server(app) as srv:
        answer, sent = _raw(srv.port, head, body)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 60_000_000  # stopped near the 12 MB limit, far from 200 MB


def test_declared_200mb_is_refused_before_reading(app):
    head = (b"POST /api/beraad HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
            b"boundary=zz\r\nContent-Length: 200000000\r\n\r\n")
    with Server(app) as srv:
        answer, sent = _raw(srv.port, head, [], read_after=True)
    assert answer.startswith(b"HTTP/1.1 413") and sent == 0
    body = answer.split(b"\r\n\r\n", 1)[1]
    assert "te groot" in json.loads(body)["detail"]


# -- worker pool ----------------------------------------------------------------------------------

@pytest.fixture()
def slow_app():
    app = FastAPI()

    @app.get("/slow")
    async def slow(s: float = 2.0) -> dict:
        await run_cpu(time.sleep, s)
        return {"slept": s}

    @app.get("/fast")
    async def fast() -> dict:
        return {"ok": True}
    yield app
    workers.set_pool(None)


def test_cpu_work_does_not_block_other_requests(slow_app):
    workers.set_pool(WorkerPool(workers=1, queue=0, timeout=30))
    workers.pool().warm()
    with Server(slow_app) as srv:
        done = threading.Event()

        def slow() -> None:
            httpx.get(srv.url + "/slow?s=3", timeout=30)
            done.set()
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)  # the slow job is running in the worker
        assert httpx.get(srv.url + "/fast", timeout=30).status_code == 200
        assert not done.is_set()  # answered while the CPU job was still running
        busy = httpx.get(srv.url + "/slow?s=0", timeout=30)  # pool (1) + queue (0) full
        assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
        assert "probeer het over" in busy.json()["detail"]
        t.join(30)
        assert done.is_set()


def test_job_past_its_time_limit_is_stopped(slow_app):
    workers.set_pool(WorkerPool(workers=1, queue=1, timeout=1))
    c = TestClient(slow_app)
    r = c.get("/slow?s=30")
    assert r.status_code == 503 and "gestopt" in r.json()["detail"]
    assert c.get("/slow?s=0").status_code == 200  # a fresh worker replaced the killed one
