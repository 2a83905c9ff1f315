"""Registry load and crash bench: 100 residents at once against SQLite (WAL) and PostgreSQL.

Why: issue 14 asks that the registry stays fast (p95 under 50 ms on PostgreSQL) with 100
concurrent users and that no acknowledged write is ever lost or doubled, even when the server
is killed with SIGKILL mid-write. Loopback only; everything bounded by the arguments.

    .venv/bin/python bench/registry.py                      # 100 users x 60 s, both backends
    .venv/bin/python bench/registry.py --kill --seconds 30  # SIGKILL halfway, restart, verify

User model (phase ``users``): ``--users`` simulated residents (default 100), each its own
HTTP connection, each a loop of the three things a resident does when reporting a signal:
(1) open the signal form (GET /registratie/signaal: CSRF token + submission key),
(2) submit a signal (POST /registratie/signalen: a write, with its duplicate check),
(3) read the public list (GET /api/registry/signal-counts); between actions a think time drawn
from an exponential distribution with mean ``--think`` seconds (default 1 s; the first start
is spread over one think time). A resident whose submit fails (server down) resubmits the
same form (same submission key) after a short pause, as a browser's "try again" does.

Saturation (phase ``saturate``): ``--sat-users`` (default 16) closed-loop clients with no think
time for ``--sat-seconds``: the throughput the server sustains, and requests per CPU-second of
the server (and of PostgreSQL), which does not depend on how busy the machine is.

Peer: the same three requests against a minimal FastAPI app on the same backend and
uvicorn settings that does only the essentials (a static form; one INSERT; one COUNT):
``registry/peer`` ratios say what the registry's checks, audit row, duplicate search and
HTML cost. The issue's goal is the second yardstick: p95 / 50 ms.

Afterwards every acknowledged write (a 200 answer with its number) must be in the store
exactly once, under the number the answer gave, with the reporter code it gave (a form
resubmitted after a lost answer keeps both); the exit status is 1 otherwise.
``--kill`` SIGKILLs the whole server (all uvicorn processes) halfway and restarts it.

Durability as configured: SQLite runs WAL with ``synchronous=NORMAL`` - a commit is in the
WAL file (the OS page cache) before it is acknowledged, so it survives SIGKILL of the server
process; only a power loss or kernel crash can lose the last commits (fsync happens at
checkpoints). The bench's throwaway PostgreSQL runs with ``fsync=off`` (the tests' cluster):
the same guarantee (SIGKILL of the app server cannot lose a commit that PostgreSQL
acknowledged; a machine crash could). A production PostgreSQL keeps fsync on and pays for
one WAL flush per commit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
AREA = "BU00340101"
FORM, WRITE, READ = "form", "write", "read"
PATHS = {"registry": ("/registratie/signaal", "/registratie/signalen", "/api/registry/signal-counts"),
         "peer": ("/peer/form", "/peer/write", "/peer/read")}
TOKEN_RE = re.compile(r'name="csrf" value="([^"]+)"')
NUMBER_RE = re.compile(r"heeft nummer (\d+)")
CODE_RE = re.compile(r"<code>([^<]+)</code>")


# --- the servers ----------------------------------------------------------------------------
def registry_app():
    """The registry router with the security middleware, as ``weefsel serve`` stacks them;
    generous rate limits (all 100 users come from 127.0.0.1)."""
    from fastapi import FastAPI

    from weefsel.registry.ops import OpsStore
    from weefsel.web import security
    from weefsel.web.registry_web import RateLimit, make_router
    store = OpsStore(os.environ["WEEFSEL_BENCH_URL"])
    app = FastAPI()
    app.include_router(make_router(lambda: store, login_limit=RateLimit(10**9, 1),
                                   write_limit=RateLimit(10**9, 1)))
    security.install(app, config=security.SecurityConfig(write_burst=10**9, write_rate=10**9))
    return app


def peer_app():
    """The named peer: a form, a single INSERT, a single COUNT; nothing else."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, insert, select

    from weefsel.registry.ops import make_engine
    engine = make_engine(os.environ["WEEFSEL_BENCH_URL"])
    meta = MetaData()
    t = Table("peer_writes", meta, Column("id", Integer, primary_key=True), Column("text", Text),
              Column("submission_key", String(64), unique=True))
    meta.create_all(engine)
    app = FastAPI()

    @app.get("/peer/form")
    def form():
        return HTMLResponse(f'<form><input type="hidden" name="csrf" value="{secrets.token_urlsafe(24)}"></form>')

    @app.post("/peer/write")
    async def write(request: Request):  # Request at module level: the annotation is a string
        f = await request.form()
        with engine.begin() as c:
            n = c.execute(insert(t).values(text=f["text"], submission_key=f["submission_key"])).inserted_primary_key[0]
        return HTMLResponse(f"<p>Uw signaal heeft nummer {n}.</p>")

    @app.get("/peer/read")
    def read():
        with engine.connect() as c:
            return {"n": c.execute(select(func.count()).select_from(t)).scalar()}
    return app


def serve(kind: str, url: str, port: int, workers: int) -> None:
    import uvicorn
    os.environ["WEEFSEL_BENCH_URL"] = url
    cfg = dict(host="127.0.0.1", port=port, log_level="warning", factory=True, workers=workers,
               timeout_keep_alive=60)  # residents think up to 10 x the mean between requests
    if workers > 1:  # uvicorn starts each worker by import string
        uvicorn.run(f"registry:{kind}_app", app_dir=str(Path(__file__).parent), **cfg)
    else:
        uvicorn.run(globals()[f"{kind}_app"], **cfg)


def profile_summary(raw: str, top: int = 40) -> str:
    """Where the server's time went, from py-spy's collapsed stacks: per function the share
    of samples it was on the stack (inclusive) and at the top (self)."""
    incl: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in Path(raw).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split("/")[-1] if " (" in f else f
                  for f in stack.split(";")[1:]]  # the first frame is the process
        total += int(n)
        for f in set(frames):
            incl[f] = incl.get(f, 0) + int(n)
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + int(n)
    rows = [f"py-spy: {total} samples of the thread holding the GIL (100 a second per process)", "  inclusive:"]
    rows += [f"    {100 * v / total:5.1f}%  {k}" for k, v in sorted(incl.items(), key=lambda x: -x[1])[:top]]
    rows.append("  self:")
    rows += [f"    {100 * v / total:5.1f}%  {k}" for k, v in sorted(own.items(), key=lambda x: -x[1])[:top]]
    return "\n".join(rows)


def _start(kind: str, url: str, port: int, workers: int) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--serve", kind, url, str(port), str(workers)]
    p = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)  # its own group: SIGKILL reaches all workers
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            time.sleep(0.3 if workers > 1 else 0)  # the other workers too
            return p
        except OSError:
            if p.poll() is not None:
                raise RuntimeError(f"bench server exited with {p.returncode}")
            time.sleep(0.1)
    os.killpg(p.pid, signal.SIGKILL)
    raise RuntimeError("bench server did not start")


# --- CPU accounting ---------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def _procs() -> list[tuple[int, int, int, float]]:
    """(pid, ppid, pgrp, cpu seconds) of every process we may read."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as fh:
                    f = fh.read().rsplit(b")", 1)[1].split()
                out.append((int(d), int(f[1]), int(f[2]), (int(f[11]) + int(f[12])) / TICK))
            except (OSError, IndexError, ValueError):
                pass
    return out


def group_cpu(pgid: int) -> float:
    """CPU seconds of the live processes of a process group (the server and its workers)."""
    return sum(c for _, _, g, c in _procs() if g == pgid)


def postgres_cpu(port: int | None) -> float:
    """CPU seconds of the PostgreSQL cluster on ``port`` (postmaster + its live children)."""
    if port is None:
        return 0.0
    master = None
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                cmd = Path(f"/proc/{d}/cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"/") and b"postgres" in cmd and f"port={port}".encode() in cmd:
                master = int(d)
                break
    if master is None:
        return 0.0
    return sum(c for pid, ppid, _, c in _procs() if pid == master or ppid == master)


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (all cores, /proc/stat)."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / TICK


# --- the users --------------------------------------------------------------------------------
@dataclass
class Tally:
    lat: dict = field(default_factory=lambda: {FORM: [], WRITE: [], READ: []})
    errors: dict = field(default_factory=dict)
    acked: list = field(default_factory=list)          # (text, number the answer gave)
    codes: dict = field(default_factory=dict)          # text -> reporter code the answer gave
    submitted: list = field(default_factory=list)      # every text ever sent
    resubmits: int = 0                                 # forms sent again after no answer

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Conn:
    """One resident's keep-alive HTTP/1.1 connection: a minimal client, so the load generator
    spends little of the two cores the server needs (httpx cost ~2.5 ms CPU a request)."""

    def __init__(self, port: int):
        self.port, self.r, self.w = port, None, None

    def close(self) -> None:
        if self.w is not None:
            self.w.close()
        self.r = self.w = None

    async def request(self, method: str, path: str, body: bytes = b"", cookie: str = "") -> tuple[int, dict, str]:
        """(status, lower-case headers, body text); a stale keep-alive connection is reopened
        once for a GET (a POST is resubmitted by the user loop, as a browser would)."""
        for attempt in (0, 1):
            if self.w is None:
                self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
            head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                    + (f"Cookie: {cookie}\r\n" if cookie else "")
                    + ("Content-Type: application/x-www-form-urlencoded\r\n" if body else "")
                    + f"Content-Length: {len(body)}\r\n\r\n")
            try:
                self.w.write(head.encode() + body)
                await self.w.drain()
                line = await self.r.readline()
                if not line:
                    raise ConnectionResetError("connection closed")
                status, headers = int(line.split()[1]), {}
                while (line := await self.r.readline()) not in (b"\r\n", b""):
                    k, _, v = line.decode("latin-1").partition(":")
                    headers.setdefault(k.strip().lower(), v.strip())
                data = await self.r.readexactly(int(headers.get("content-length", 0)))
                if headers.get("connection", "").lower() == "close":
                    self.close()
                return status, headers, data.decode("utf-8", "replace")
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                self.close()
                if attempt or method != "GET":
                    raise
        raise AssertionError("unreachable")


async def _user(kind: str, port: int, deadline: float, think: float, t: Tally, rng: random.Random) -> None:
    from urllib.parse import urlencode
    p_form, p_write, p_read = PATHS[kind]
    c = Conn(port)

    async def pause() -> None:
        if think > 0:
            await asyncio.sleep(max(0.0, min(rng.expovariate(1 / think), deadline - time.monotonic(), 10 * think)))

    async def timed(what: str, method: str, path: str, body: bytes = b"", cookie: str = ""):
        t0 = time.perf_counter()
        try:
            status, headers, text = await asyncio.wait_for(c.request(method, path, body, cookie), 30)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError) as exc:
            c.close()
            t.error(f"{what}: {type(exc).__name__}")
            return None
        ms = (time.perf_counter() - t0) * 1000
        if status != 200:
            t.error(f"{what}: HTTP {status}")
            return None
        t.lat[what].append(ms)
        return headers, text

    if think > 0:
        await asyncio.sleep(rng.uniform(0, think))
    pending = None  # a form submitted without an answer: resubmitted as it was
    tried: set[str] = set()
    while time.monotonic() < deadline:
        if pending is None:
            got = await timed(FORM, "GET", p_form)
            m = TOKEN_RE.search(got[1]) if got is not None else None
            if m is None:
                await asyncio.sleep(0.1)
                continue
            tok = m.group(1)
            # https is not served here; the anonymous CSRF cookie is Secure: passed by hand
            jar = re.search(r"weefsel_csrf=([^;]+)", got[0].get("set-cookie", ""))
            text = f"bench {secrets.token_hex(8)}"
            pending = (f"weefsel_csrf={jar.group(1) if jar else tok}", urlencode({
                "csrf": tok, "submission_key": secrets.token_hex(12), "area_code": AREA,
                "theme": "ontmoeting", "text": text}).encode(), text)
            t.submitted.append(text)
            await pause()
        cookie, body, text = pending
        if text in tried:
            t.resubmits += 1
        tried.add(text)
        got = await timed(WRITE, "POST", p_write, body, cookie)
        m = NUMBER_RE.search(got[1]) if got is not None else None
        if m is None:
            await asyncio.sleep(0.1)  # the server is down (kill test): try again shortly
            continue
        t.acked.append((text, int(m.group(1))))
        if (code := CODE_RE.search(got[1])) is not None:
            t.codes[text] = code.group(1)
        pending = None
        await pause()
        await timed(READ, "GET", p_read)
        await pause()
    c.close()


def _pct(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


@dataclass
class Phase:
    """One run of one load shape against one server; the figures of the note."""
    backend: str
    kind: str
    mode: str
    users: int
    seconds: float
    think: float
    workers: int
    tally: Tally
    cpu_server: float
    cpu_db: float
    cpu_client: float
    cpu_machine: float
    load_before: tuple
    load_after: tuple
    killed: bool = False
    missing: int = 0
    doubled: int = 0
    wrong_number: int = 0
    wrong_code: int = 0
    unacked_stored: int = 0

    @property
    def all_lat(self) -> list[float]:
        return sorted(x for v in self.tally.lat.values() for x in v)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.tally.lat.values())

    def line(self) -> str:
        lat, w = self.all_lat, sorted(self.tally.lat[WRITE])
        n, failed = self.requests, sum(self.tally.errors.values())
        cpu = self.cpu_server + self.cpu_db
        other = max(0.0, self.cpu_machine - cpu - self.cpu_client)
        s = (f"{self.backend:<10} {self.kind:<8} {self.mode:<8} users={self.users} think={self.think:g}s "
             f"workers={self.workers} {self.seconds:.0f}s | requests={n} ok, failed={failed} "
             f"rps={n / self.seconds:.1f} | p50={_pct(lat, .5):.1f} p95={_pct(lat, .95):.1f} "
             f"p99={_pct(lat, .99):.1f} ms (p95 form={_pct(sorted(self.tally.lat[FORM]), .95):.1f} "
             f"write={_pct(w, .95):.1f} read={_pct(sorted(self.tally.lat[READ]), .95):.1f}) | cpu s: server={self.cpu_server:.1f} db={self.cpu_db:.1f} "
             f"client={self.cpu_client:.1f} others={other:.1f} of {2 * self.seconds:.0f}; "
             f"req per server+db cpu-s={n / cpu if cpu else float('nan'):.0f} | load "
             f"{self.load_before[0]:.2f}->{self.load_after[0]:.2f} | acked={len(self.tally.acked)} "
             f"missing={self.missing} doubled={self.doubled} wrong_number={self.wrong_number} "
             f"wrong_code={self.wrong_code}")
        if self.killed:
            s += (f" | SIGKILLed halfway, restarted; resubmissions of unanswered forms={self.tally.resubmits}, "
                  f"never-acknowledged writes stored={self.unacked_stored}; errors are requests while it was down")
        if self.tally.errors:
            s += " | errors: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.tally.errors.items()))
        return s


def _verify(kind: str, url: str, ph: Phase) -> None:
    """Every acknowledged write exactly once, under the number its answer gave (and, for the
    registry, with the reporter code its answer gave)."""
    import hashlib

    from sqlalchemy import create_engine, text
    table, col, h = (("reg_signals", "original_text", "reporter_key_hash") if kind == "registry"
                     else ("peer_writes", "text", "NULL"))
    eng = create_engine(url)
    rows: dict[str, list[int]] = {}
    hashes: dict[str, str] = {}
    with eng.connect() as c:
        for tx, i, kh in c.execute(text(f"SELECT {col}, id, {h} FROM {table} WHERE {col} LIKE 'bench %'")):
            rows.setdefault(tx, []).append(i)
            hashes[tx] = kh
    eng.dispose()
    ph.wrong_code = sum(1 for tx, code in ph.tally.codes.items()
                        if tx in hashes and hashes[tx] != hashlib.sha256(code.encode()).hexdigest())
    acked = dict(ph.tally.acked)
    ph.missing = sum(1 for tx in acked if tx not in rows)
    ph.doubled = sum(1 for tx in acked if len(rows.get(tx, [])) > 1)
    ph.wrong_number = sum(1 for tx, i in acked.items() if tx in rows and rows[tx] != [i])
    ph.unacked_stored = sum(1 for tx in set(ph.tally.submitted) - set(acked) if tx in rows)


def run_phase(backend: str, kind: str, url: str, port: int, *, mode: str, users: int, seconds: float,
              think: float, workers: int, kill: bool = False, pg_port: int | None = None,
              profile: str | None = None) -> Phase:
    srv = _start(kind, url, port, workers)
    spy = None
    if profile:  # sampling profiler on the server and its workers (threads included)
        spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(srv.pid),
                                "--subprocesses", "--gil", "--rate", "100", "--format", "raw", "--output", profile,
                                "--duration", str(int(seconds)), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tally = Tally()
    load0, busy0, cpu0, db0 = os.getloadavg(), machine_busy(), time.process_time(), postgres_cpu(pg_port)
    cpu_server, killed = 0.0, False
    deadline = time.monotonic() + seconds

    async def main() -> None:
        rng = random.Random(14)
        tasks = [asyncio.create_task(_user(kind, port, deadline, think, tally, random.Random(rng.random())))
                 for _ in range(users)]
        if kill:
            await asyncio.sleep(seconds / 2)
            nonlocal srv, cpu_server, killed
            cpu_server += group_cpu(srv.pid)
            os.killpg(srv.pid, signal.SIGKILL)
            srv.wait()
            killed = True
            srv = await asyncio.to_thread(_start, kind, url, port, workers)
        await asyncio.gather(*tasks)

    try:
        asyncio.run(main())
    finally:
        cpu_server += group_cpu(srv.pid)
        db = postgres_cpu(pg_port) - db0
        busy, cli, load1 = machine_busy() - busy0, time.process_time() - cpu0, os.getloadavg()
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(srv.pid, signal.SIGKILL)
            srv.wait()
    if spy is not None:
        spy.wait()
        print(profile_summary(profile))
    ph = Phase(backend, kind, mode, users, seconds, think, workers, tally, cpu_server, max(0.0, db),
               cli, busy, load0, load1, killed)
    _verify(kind, url, ph)
    return ph


def run_backend(backend: str, url: str, a, pg_port: int | None) -> list[Phase]:
    out = []
    common = dict(workers=a.workers, pg_port=pg_port)
    if "users" in a.phases:
        out.append(run_phase(backend, "registry", url, a.port, mode="users", users=a.users,
                             seconds=a.seconds, think=a.think, kill=a.kill, profile=a.profile, **common))
        print(out[-1].line(), flush=True)
    if "saturate" in a.phases:
        for kind in ("registry", "peer"):
            out.append(run_phase(backend, kind, url, a.port + 1, mode="saturate", users=a.sat_users,
                                 seconds=a.sat_seconds, think=0, **common))
            print(out[-1].line(), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100, help="residents at once (default 100)")
    ap.add_argument("--seconds", type=float, default=60, help="length of the user-model run (default 60)")
    ap.add_argument("--think", type=float, default=1.0, help="mean think time between actions, s (default 1)")
    ap.add_argument("--sat-users", type=int, default=16, help="closed-loop clients of the saturation run")
    ap.add_argument("--sat-seconds", type=float, default=20, help="length of each saturation run")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2: two cores)")
    ap.add_argument("--phases", default="users,saturate", help="users, saturate or both (default)")
    ap.add_argument("--kill", action="store_true", help="SIGKILL the server halfway and restart it")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--port", type=int, default=8760, help="first of the two loopback ports used")
    ap.add_argument("--profile", metavar="FILE", help="py-spy the server of the users run (pip install py-spy)")
    ap.add_argument("--serve", nargs=4, metavar=("KIND", "URL", "PORT", "WORKERS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(a.serve[0], a.serve[1], int(a.serve[2]), int(a.serve[3]))
        return
    # bounded: a shared machine
    a.users, a.seconds, a.sat_users = min(a.users, 500), min(a.seconds, 300), min(a.sat_users, 200)
    a.sat_seconds, a.workers = min(a.sat_seconds, 120), max(1, min(a.workers, 8))
    if a.profile and not Path(sys.executable).with_name("py-spy").exists():
        sys.exit("--profile needs py-spy in this environment: .venv/bin/pip install py-spy")
    print(f"registry bench on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"python {sys.version.split()[0]}; command: {' '.join(sys.argv)}")
    print(f"user model: {a.users} residents, each: open form -> submit signal -> read counts, exponential "
          f"think time mean {a.think:g} s between actions, {a.seconds:g} s; saturation: {a.sat_users} "
          f"clients, no think time, {a.sat_seconds:g} s, registry and peer (minimal FastAPI: static form, "
          f"one INSERT, one COUNT); uvicorn workers={a.workers}")
    results: list[Phase] = []
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in a.backends:
            results += run_backend("sqlite", f"sqlite:///{tmp}/bench.sqlite", a, None)
        if "postgresql" in a.backends:
            from weefsel.registry.pgcluster import throwaway_cluster
            with throwaway_cluster() as url:
                results += run_backend("postgresql", url, a, int(url.rsplit(":", 1)[1].split("/")[0]))
    print("--- summary")
    for backend in ("sqlite", "postgresql"):
        by = {(p.kind, p.mode): p for p in results if p.backend == backend}
        u, sr, sp = by.get(("registry", "users")), by.get(("registry", "saturate")), by.get(("peer", "saturate"))
        if u:
            p95 = _pct(u.all_lat, .95)
            print(f"{backend}: users p95 {p95:.1f} ms = {p95 / 50:.2f} x the 50 ms goal "
                  f"({'met' if p95 < 50 else 'NOT met'}); writes p95 {_pct(sorted(u.tally.lat[WRITE]), .95):.1f} ms")
        if sr and sp and sp.requests:
            rs, ps = sr.requests / sr.seconds, sp.requests / sp.seconds
            rc = sr.requests / max(1e-9, sr.cpu_server + sr.cpu_db)
            pc = sp.requests / max(1e-9, sp.cpu_server + sp.cpu_db)
            print(f"{backend}: saturation {rs:.0f} req/s vs peer {ps:.0f} (ratio {rs / ps:.2f}); "
                  f"{rc:.0f} vs {pc:.0f} requests per server+db CPU-second (ratio {rc / pc:.2f})")
    bad = [p for p in results if p.missing or p.doubled or p.wrong_number or p.wrong_code]
    print("every acknowledged write present exactly once under its number, with a working reporter code: "
          + ("NO" if bad else "yes"))
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
