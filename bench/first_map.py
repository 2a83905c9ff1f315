"""Bench: the first map with data after ``weefsel serve`` starts, cold and warm (issue 12 item 6).

    python bench/first_map.py --warehouse weefsel.duckdb [--level wijk] [--runs 3]

Cold: a fresh ``weefsel serve`` process; as soon as its port accepts connections, headless
Chromium (Debian, via Playwright) opens the dashboard and the time from navigation start to
the page's ``data-map-rendered`` marker (MapLibre idle after drawing the values; the page's
own clock at that moment) is taken. The port opens once the first view is in memory; the
other levels are warmed after the first visitor (or a quiet second), which is what a person
meets who opens the page right after start-up.
Warm: new browser contexts (empty browser cache) against the same server after its
"klaar" line. Printed: each figure, the ratio to the 1.5 s target, and for the cold run also
the time from process start to "port open" and to "klaar". Peer: the target (1.5 s).
Kept apart from bench/api.py (the load part of that file belongs to the server bench).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

TARGET_S = 1.5
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def visit(browser, url: str, log: list | None = None) -> float:
    """Seconds from navigation start to the rendered marker, in a fresh context (empty
    cache): the page's clock when it set ``data-map-rendered`` (MapLibre idle with the
    values drawn). ``log`` gets one dict per visit: that time as Playwright first saw the
    marker (its polling and round trip added), requests and bytes on the wire before the
    marker, and the page's own timings (values fetched, map created, style loaded, idle)."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(url)
        page.wait_for_selector('body[data-map-rendered="true"]', timeout=120_000)
        seen = page.evaluate("performance.now()")
        ms = page.evaluate("window.weefselTimings.idle")
        if log is not None:
            log.append(page.evaluate("""(t) => {
              const rs = performance.getEntriesByType('resource').filter((r) => r.responseEnd <= t);
              const nav = performance.getEntriesByType('navigation')[0];
              const w = window.weefselTimings || {};
              return { requests: rs.length + 1, seen: SEEN,
                       bytes: rs.reduce((a, r) => a + r.transferSize, nav.transferSize),
                       html: nav.responseEnd, fetched: w.fetched, created: w.created,
                       load: w.load, idle: w.idle,
                       slowest: rs.map((r) => [r.name.replace(location.origin, ''),
                                              Math.round(r.responseEnd - r.startTime),
                                              r.transferSize])
                                 .sort((a, b) => b[1] - a[1]).slice(0, 4) };
            }""".replace("SEEN", str(seen)), ms))
        return ms / 1000
    finally:
        ctx.close()


def first_map(warehouse: Path, level: str = "wijk", runs: int = 3) -> dict:
    """Cold and warm first-map times (seconds) against a fresh `weefsel serve`."""
    from playwright.sync_api import sync_playwright
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "weefsel", "serve", "--warehouse",
                             str(warehouse), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()
    out: dict = {}

    def read() -> None:
        for line in proc.stdout:
            if "klaar" in line:
                out["klaar_s"] = time.perf_counter() - t0
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    url = f"http://127.0.0.1:{port}/#/kaart?niveau={level}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            while not port_open(port):
                if proc.poll() is not None:
                    raise SystemExit("weefsel serve stopped before it listened")
                time.sleep(0.02)
            out["port_open_s"] = time.perf_counter() - t0
            out["log"] = []
            out["cold_s"] = visit(browser, url, out["log"])
            ready.wait(180)
            out["warm_s"] = [visit(browser, url, out["log"]) for _ in range(runs)]
            browser.close()
    finally:
        proc.terminate()
        proc.wait(15)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--level", default="wijk")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    r = first_map(args.warehouse, args.level, args.runs)
    print(f"first map with data ({args.level}, {args.warehouse.name}); target {TARGET_S} s; "
          f"machine load (1 min) {load0:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"{os.cpu_count()} cores")
    print(f"  process start -> port open      {r['port_open_s']:6.2f} s")
    print(f"  cold (right after port open)    {r['cold_s']:6.2f} s   "
          f"{r['cold_s'] / TARGET_S:5.2f} x target")
    if "klaar_s" in r:
        print(f"  process start -> 'klaar'        {r['klaar_s']:6.2f} s")
    for i, w in enumerate(r["warm_s"], 1):
        print(f"  warm run {i}                      {w:6.2f} s   {w / TARGET_S:5.2f} x target")
    warm = sorted(r["warm_s"])
    print(f"  warm median {statistics.median(warm):.2f} s (min {warm[0]:.2f}, max {warm[-1]:.2f})")
    print("  per visit (cold first): requests, bytes before the marker; ms since navigation:"
          " html, values fetched, map created, style loaded, idle (= the marker), seen (when"
          " Playwright noticed the marker)")
    for v in r["log"]:
        ms = " ".join(f"{k}={v[k]:.0f}" if v.get(k) is not None else f"{k}=-"
                      for k in ("html", "fetched", "created", "load", "idle", "seen"))
        print(f"    {v['requests']:3d} req {v['bytes'] / 1000:7.1f} kB  {ms}")
        print("        slowest: " + ", ".join(f"{n} {t} ms {b / 1000:.0f} kB"
                                              for n, t, b in v["slowest"]))


if __name__ == "__main__":
    main()
