"""Registry load and crash bench: concurrent users write signals and read counts over HTTP,
against SQLite (WAL) and a throwaway PostgreSQL; afterwards every acknowledged write must be
there exactly once. Loopback only; bounded by --users and --seconds.

    .venv/bin/python bench/registry.py --users 20 --seconds 10 [--kill]

--kill also SIGKILLs the server halfway through (then restarts it) and checks that no
acknowledged write was lost. The peer is the other backend: the ratio printed is
PostgreSQL p95 / SQLite p95.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
AREA = "BU00340101"


def serve(url: str, port: int) -> None:
    """The registry router alone, on 127.0.0.1:port (generous rate limits: this is a bench)."""
    import uvicorn
    from fastapi import FastAPI

    from weefsel.registry.ops import OpsStore
    from weefsel.web.registry_web import RateLimit, make_router
    store = OpsStore(url)
    app = FastAPI()
    app.include_router(make_router(lambda: store, login_limit=RateLimit(10**9, 1),
                                   write_limit=RateLimit(10**9, 1)))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", workers=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(url: str, port: int) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, __file__, "--serve", url, str(port)], cwd=ROOT)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise RuntimeError("bench server did not start")


def _user(base: str, stop: threading.Event, acked: list, lat: list, errors: list, lock: threading.Lock) -> None:
    import httpx
    # https is not served here; the anonymous CSRF cookie is Secure, so we pass it by hand
    with httpx.Client(base_url=base, timeout=10) as c:
        while not stop.is_set():
            try:
                r = c.get("/registratie/signaal")
                tok = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
                cookie = r.cookies.get("weefsel_csrf") or tok
                break
            except Exception:
                time.sleep(0.2)
        else:
            return
        i = 0
        while not stop.is_set():
            i += 1
            text = f"bench {secrets.token_hex(8)}"
            t0 = time.perf_counter()
            try:
                if i % 2:
                    r = c.post("/registratie/signalen", cookies={"weefsel_csrf": cookie},
                               data={"csrf": tok, "submission_key": secrets.token_hex(12), "area_code": AREA,
                                     "theme": "ontmoeting", "text": text})
                    ok = r.status_code == 200 and "nummer" in r.text
                    if ok:
                        with lock:
                            acked.append(text)
                else:
                    r = c.get("/api/registry/signal-counts")
                    ok = r.status_code == 200
            except Exception:
                ok = False
            dt_ms = (time.perf_counter() - t0) * 1000
            with lock:
                (lat if ok else errors).append(dt_ms)
            if not ok:
                time.sleep(0.05)  # the server is down (kill test): retry gently


def run(name: str, url: str, users: int, seconds: float, kill: bool) -> dict:
    from sqlalchemy import func, select

    from weefsel.registry.ops import OpsStore, signals
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    srv = _start(url, port)
    stop, lock = threading.Event(), threading.Lock()
    acked: list[str] = []
    lat: list[float] = []
    errors: list[float] = []
    threads = [threading.Thread(target=_user, args=(base, stop, acked, lat, errors, lock)) for _ in range(users)]
    for t in threads:
        t.start()
    killed = False
    try:
        if kill:
            time.sleep(seconds / 2)
            os.kill(srv.pid, signal.SIGKILL)
            srv.wait()
            killed = True
            srv = _start(url, port)
            time.sleep(seconds / 2)
        else:
            time.sleep(seconds)
    finally:
        stop.set()
        for t in threads:
            t.join()
        srv.terminate()
        srv.wait()
    store = OpsStore(url)
    with store.engine.connect() as c:
        rows = dict(c.execute(select(signals.c.original_text, func.count()).group_by(signals.c.original_text)).all())
    store.engine.dispose()
    missing = sum(1 for t in acked if rows.get(t, 0) == 0)
    doubled = sum(1 for t in acked if rows.get(t, 0) > 1)
    lat.sort()
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan"))
    return {"backend": name, "users": users, "seconds": seconds, "requests": len(lat), "failed": len(errors),
            "writes_acked": len(acked), "missing": missing, "doubled": doubled, "killed": killed,
            "p50_ms": p(0.5), "p95_ms": p(0.95), "rps": len(lat) / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--kill", action="store_true", help="SIGKILL the server halfway and restart it")
    ap.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    ap.add_argument("--backends", default="sqlite,postgresql")
    a = ap.parse_args()
    if a.serve:
        serve(a.serve[0], int(a.serve[1]))
        return
    a.users, a.seconds = min(a.users, 200), min(a.seconds, 120)  # bounded: a shared machine
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in a.backends:
            results.append(run("sqlite", f"sqlite:///{tmp}/bench.sqlite", a.users, a.seconds, a.kill))
        if "postgresql" in a.backends:
            from weefsel.registry.pgcluster import throwaway_cluster
            with throwaway_cluster() as url:
                results.append(run("postgresql", url, a.users, a.seconds, a.kill))
    for r in results:
        print(f"{r['backend']:<11} users={r['users']} {r['seconds']:.0f}s requests={r['requests']} "
              f"failed={r['failed']} rps={r['rps']:.0f} p50={r['p50_ms']:.1f}ms p95={r['p95_ms']:.1f}ms "
              f"acked_writes={r['writes_acked']} missing={r['missing']} doubled={r['doubled']}"
              + (" (server SIGKILLed halfway, restarted)" if r["killed"] else ""))
    if len(results) == 2:
        print(f"p95 ratio postgresql/sqlite: {results[1]['p95_ms'] / results[0]['p95_ms']:.2f}")
    if any(r["missing"] or r["doubled"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
