"""Bench of the web stage: API latency under load with wrk, and (--map) the national map.

    python bench/api.py [--warehouse FILE] [--clients 100] [--seconds 20] [--map]

1. Latency: ``weefsel serve`` (uvicorn, one process, as users run it) on loopback, loaded by
   ``wrk -t2 -c100 -d20s`` (Debian package ``wrk``; the bench says how to install it when it
   is missing). A native load generator, because a Python client on the same 2 cores starves
   the server and measures itself. Endpoints: the area profile of random wijken,
   ``/api/map/wijk/values?indicator=...`` (one indicator, and 20 in turn) and the wijk vector
   tiles of zoom 8-11 over the region; then profile and map values again while a burgerberaad
   draw (POST /api/beraad, 2,000 respondents, k = 200) runs in a loop. Prints req/s and
   p50/p90/p95/p99 with the errors (socket errors, timeouts, HTTP >= 400). Peer: a bare
   uvicorn hello-world ASGI app under the same wrk command: the floor of uvicorn on this
   machine. Target: p95 < 50 ms, 0 errors. Without --warehouse the Flevoland warehouse is
   built and indexed from ../shared/data first (weefsel build + index, about a minute).
2. Map (--map): headless Chromium (Debian, via Playwright) opens the dashboard on the national
   buurt map (``/#/kaart?niveau=buurt``) of a national bench warehouse and waits for the
   ``data-map-rendered`` marker. Peer: a bare MapLibre page drawing the same vector tiles.
   That warehouse holds the national gemeente and wijk boundaries, the national KWB 2024
   basics, the buurt population, and a stand-in national buurt layer
   (bench/standin_buurten.py: real wijk polygons cut into as many cells as each wijk has
   buurten). Target: < 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- bench warehouse ---------------------------------------------------------------------------

def build_bench_warehouse(data_dir: Path, out: Path) -> Path:
    """National wijken + gemeenten with the 8 national KWB basics (CBS, CC BY 4.0)."""
    import pandas as pd
    import shapely
    from pyproj import Transformer
    from shapely.geometry import shape

    from weefsel.warehouse.writer import create_warehouse

    tf = Transformer.from_crs("EPSG:4326", "EPSG:28992", always_xy=True)

    def read(path: Path, level: str, name_key: str) -> pd.DataFrame:
        fc = json.loads(path.read_text(encoding="utf-8"))
        rows = []
        for f in fc["features"]:
            p = f["properties"]
            g = shapely.transform(shape(f["geometry"]),
                                  lambda c: __import__("numpy").column_stack(
                                      tf.transform(c[:, 0], c[:, 1])))
            code = p["statcode"]
            rows.append(dict(code=code, level=level, name=p.get(name_key) or code,
                             gemeente_code="GM" + code[2:6], vintage=2024,
                             source=path.name, geom_rd=shapely.to_wkb(g)))
        return pd.DataFrame(rows)

    from standin_buurten import standin_buurten

    b = data_dir / "boundaries"
    wijk = read(b / "wijk_2024_gegeneraliseerd.geojson", "wijk", "name")
    gem = read(b / "gemeente_2023_gegeneraliseerd.geojson", "gemeente", "statnaam")
    buurt = standin_buurten(data_dir)
    land = pd.DataFrame([dict(code="NL00", level="land", name="Nederland", source="bench")])
    areas = pd.concat([land, gem, wijk, buurt], ignore_index=True)
    kwb = pd.read_csv(data_dir / "kwb" / "kwb_2024_gemeente_wijk_basic_national.csv")
    code_col = next(c for c in kwb.columns if kwb[c].astype(str).str.match(r"^(GM|WK)").any())
    obs = []
    for col in kwb.columns:
        if col == code_col or not pd.api.types.is_numeric_dtype(kwb[col]):
            continue
        stem = col.rsplit("_", 1)[0]
        for code, v in zip(kwb[code_col].astype(str).str.strip(), kwb[col]):
            if pd.notna(v):
                obs.append(dict(area_code=code, period="2024", variable=stem, breakdown="",
                                value=float(v), source="85984NED"))
    pop = pd.read_csv(data_dir / "kwb" / "kwb_2024_buurt_population_national.csv")
    for code, v in zip(pop.iloc[:, 0].astype(str).str.strip(), pop.iloc[:, 1]):
        if pd.notna(v):
            obs.append(dict(area_code=code, period="2024", variable="AantalInwoners",
                            breakdown="", value=float(v), source="85984NED"))
    obs = pd.DataFrame(obs)
    obs = obs[obs["area_code"].str.startswith(("GM", "WK", "BU"))]
    nl = obs[obs["area_code"].str.startswith("GM")].groupby("variable")["value"].sum()
    obs = pd.concat([obs, pd.DataFrame(dict(area_code="NL00", period="2024", variable=nl.index,
                                            breakdown="", value=nl.values,
                                            source="85984NED"))], ignore_index=True)
    return create_warehouse(out, areas=areas, observations=obs)


# -- load generator: wrk ---------------------------------------------------------------------

WRK_HELP = ("wrk (a native HTTP load generator) is missing: install it with "
            "'apt-get install -y wrk' (Debian/Ubuntu) and run again. A Python client on the "
            "same 2 cores starves the server and measures itself (p95 2.6 s where wrk sees 30 ms).")

#: wrk script: random paths from a list, and a machine-readable summary with p50..p99
WRK_LUA = r"""
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
math.randomseed(42)
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept-Encoding"] = "gzip"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"n":%d,"us":%d,"p50":%d,"p90":%d,"p95":%d,'
    .. '"p99":%d,"max":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def have_wrk() -> bool:
    import shutil
    return shutil.which("wrk") is not None


def load(port: int, paths: list[str], clients: int, seconds: float, threads: int = 2) -> dict:
    """``wrk -t2 -cN -dS`` over random ``paths``; latencies in ms, errors = every failed or
    non-2xx/3xx answer (socket errors, timeouts and HTTP status >= 400)."""
    with tempfile.TemporaryDirectory() as d:
        lua, lst = Path(d) / "paths.lua", Path(d) / "paths.txt"
        lua.write_text(WRK_LUA, encoding="utf-8")
        lst.write_text("\n".join(paths) + "\n", encoding="utf-8")
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds:.0f}s",
                              "--timeout", "10s", "-s", str(lua), f"http://127.0.0.1:{port}"],
                             capture_output=True, text=True, env={**os.environ, "WRK_PATHS": str(lst)},
                             timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    r = json.loads(line.split(" ", 1)[1])
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return {"n": r["n"], "rps": r["n"] / (r["us"] / 1e6), "p50": r["p50"] / 1000,
            "p90": r["p90"] / 1000, "p95": r["p95"] / 1000, "p99": r["p99"] / 1000,
            "errors": errors}


def fmt(name: str, r: dict) -> str:
    return (f"  {name:<34} {r['rps']:8.0f} req/s  p50 {r['p50']:6.1f}  p90 {r['p90']:6.1f}  "
            f"p95 {r['p95']:6.1f}  p99 {r['p99']:6.1f} ms  errors {r['errors']}")


def start_server(code: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], cwd=str(ROOT),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode())
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


#: the peer page is served by the same server (same origin as the tiles: a file:// page
#: would be refused the tiles by CORS and "draw" an empty map)
PEER_DIR = Path(tempfile.gettempdir()) / "weefsel_bench_peer"
SERVE = """
import sys, uvicorn
from fastapi.staticfiles import StaticFiles
from weefsel.web.api import create_app
app = create_app({wh!r})
app.mount("/bench-peer", StaticFiles(directory={peer!r}), name="bench-peer")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
"""
PEER = """
import sys, json, uvicorn
BODY = b"Hello, world!"
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(BODY)).encode())]}})
    await send({{"type": "http.response.body", "body": BODY}})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
"""


# -- map timing --------------------------------------------------------------------------------

PEER_PAGE = """<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"><title>peer</title>
<link rel="stylesheet" href="{url}/static/vendor/maplibre-gl.css">
<script src="{url}/static/vendor/maplibre-gl.js"></script></head><body style="margin:0">
<div id="m" style="width:930px;height:630px"></div><script>
const map = new maplibregl.Map({{container: 'm', bounds: {bounds}, fadeDuration: 0,
  style: {{version: 8, sources: {{s: {{type: 'vector', maxzoom: 14,
      tiles: ['{url}/api/tiles/{level}/{{z}}/{{x}}/{{y}}.pbf?v=peer']}}}},
    layers: [{{id: 'bg', type: 'background', paint: {{'background-color': '#f3f3f3'}}}},
             {{id: 'f', type: 'fill', source: 's', 'source-layer': 'gebieden',
               paint: {{'fill-color': '#3182bd', 'fill-outline-color': '#333333'}}}}]}}}});
window.map = map;
map.on('load', () => map.once('idle', () => document.body.dataset.mapRendered = 'true'));
</script></body></html>"""

DRAWN = ("(() => { const fs = window.weefselMap.querySourceFeatures('gebieden', "
         "{sourceLayer: 'gebieden'}); return new Set(fs.map((f) => f.properties.code)).size; })()")


#: Playwright's wait_for_selector polls at growing intervals (up to 500 ms), which would be
#: counted as drawing time; this polls every 10 ms instead.
RENDERED = "document.body && document.body.dataset.mapRendered === 'true'"


def wait_rendered(page) -> None:
    page.wait_for_function(RENDERED, polling=10, timeout=120000)


def _timed_visit(browser, url: str) -> tuple[float, dict, int]:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    wait_rendered(page)
    took = time.perf_counter() - t0
    timings = page.evaluate("window.weefselTimings || {}")
    drawn = page.evaluate(DRAWN) if "weefselMap" in page.evaluate("Object.keys(window)") else 0
    return took, timings, drawn, page


def map_times(url: str, level: str, other_level: str | None) -> dict:
    """Seconds from navigation to the map-rendered marker for the national map of
    ``level`` (3 visits), of ``other_level`` (2), an indicator switch, and the peer."""
    import httpx
    from playwright.sync_api import sync_playwright
    info = httpx.get(url + "/api/info", timeout=120).json()
    out: dict = {"runs": []}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--headless", "--no-sandbox", "--disable-gpu",
                                    "--disable-background-networking"])
        for run in range(3):
            took, timings, drawn, page = _timed_visit(b, f"{url}/#/kaart?niveau={level}")
            out["runs"].append((took, timings, drawn))
            if run == 2:
                page.screenshot(path=str(Path(tempfile.gettempdir()) / "weefsel_bench_map.png"))
                options = page.eval_on_selector_all(
                    "#indicator option", "os => os.map((o) => o.value)")
                current = page.input_value("#indicator")
                other = next((o for o in options if o != current), None)
                if other:
                    page.evaluate("document.body.dataset.mapRendered = 'false'")
                    t0 = time.perf_counter()
                    page.select_option("#indicator", other)
                    wait_rendered(page)
                    out["switch"] = (time.perf_counter() - t0, other)
            page.close()
        if other_level:
            out["other"] = []
            for _ in range(2):
                took, timings, drawn, page = _timed_visit(b, f"{url}/#/kaart?niveau={other_level}")
                out["other"].append((took, drawn))
                page.close()
        html = PEER_PAGE.format(url=url, level=level, bounds=json.dumps(
            [[info["bounds"][0], info["bounds"][1]], [info["bounds"][2], info["bounds"][3]]]))
        (PEER_DIR / "index.html").write_text(html, encoding="utf-8")
        out["peer"] = []
        for _ in range(2):
            page = b.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
            t0 = time.perf_counter()
            page.goto(url + "/bench-peer/index.html", wait_until="commit")
            wait_rendered(page)
            out["peer"].append(time.perf_counter() - t0)
            drawn = page.evaluate("new Set(map.querySourceFeatures('s', {sourceLayer: "
                                  "'gebieden'}).map((f) => f.properties.code)).size")
            if not drawn:
                raise RuntimeError("the peer page drew no areas: its timing would mean nothing")
            page.close()
        b.close()
    return out


FLEVOLAND_STEPS = [["build", "--region", "flevoland", "-q"],
                   *[["index", "--level", lv, "--skip-missing", "--draws", "200"]
                     for lv in ("buurt", "wijk", "gemeente")]]
DRAW_EXAMPLE = "participation/sortition/citizensassemblies-replication/data/example_large_200"


def flevoland_warehouse(out: Path) -> Path:
    """The Flevoland build of the issue's measurement: weefsel build + index, as a user runs it."""
    for step in FLEVOLAND_STEPS:
        args = [sys.executable, "-m", "weefsel", *step, ("--out" if step[0] == "build" else "-w"),
                str(out)]
        subprocess.run(args, check=True, cwd=str(ROOT), stdout=subprocess.DEVNULL)
    return out


def tile_paths(level: str, bounds: list[float], zooms=range(8, 12)) -> list[str]:
    """The tiles a person looking at the whole region loads, zoom 8 to 11."""
    import math

    def xy(lon: float, lat: float, z: int) -> tuple[int, int]:
        n = 2 ** z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return x, y
    out = []
    for z in zooms:
        x0, y1 = xy(bounds[0], bounds[1], z)
        x1, y0 = xy(bounds[2], bounds[3], z)
        out += [f"/api/tiles/{level}/{z}/{x}/{y}.pbf" for x in range(x0, x1 + 1)
                for y in range(y0, y1 + 1)]
    return out


class DrawLoop:
    """POST /api/beraad (2,000 respondents, k = 200, leximin) again and again in a thread, as
    an anonymous visitor might, while the latency is measured."""

    def __init__(self, port: int, data_dir: Path):
        import threading
        self.url = f"http://127.0.0.1:{port}/api/beraad"
        folder = data_dir / DRAW_EXAMPLE
        self.files = {n: (f"{n}.csv", (folder / f"{n}.csv").read_bytes(), "text/csv")
                      for n in ("categories", "respondents")}
        self.stop = threading.Event()
        self.done, self.busy, self.other = 0, 0, []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        import httpx
        with httpx.Client(timeout=300) as c:
            while not self.stop.is_set():
                r = c.post(self.url, files=self.files, data={"k": "200", "algorithm": "leximin"})
                if r.status_code == 200:
                    self.done += 1
                elif r.status_code == 503:
                    self.busy += 1
                    time.sleep(float(r.headers.get("retry-after", "1")))
                else:
                    self.other.append(r.status_code)
                    time.sleep(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warehouse", type=Path, help="default: build + index Flevoland from "
                                                   "../shared/data into a temporary folder")
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--peer-seconds", type=float, default=20)
    ap.add_argument("--map", action="store_true",
                    help="also time the national map in headless Chromium (national stand-in "
                         "warehouse; see the module docstring)")
    args = ap.parse_args()
    if not have_wrk():
        sys.exit(WRK_HELP)

    from weefsel.config import default_data_dir
    data = default_data_dir()
    tmp = tempfile.TemporaryDirectory()
    if args.map:
        map_bench(data, Path(tmp.name))
    wh = args.warehouse
    if wh is None:
        if data is None:
            sys.exit("no --warehouse and no ../shared/data")
        t0 = time.perf_counter()
        wh = flevoland_warehouse(Path(tmp.name) / "flevoland.duckdb")
        print(f"warehouse: weefsel build --region flevoland + index buurt/wijk/gemeente "
              f"({time.perf_counter() - t0:.0f} s)")
    import duckdb
    con = duckdb.connect(str(wh), read_only=True)
    codes = [c for (c,) in con.execute("SELECT code FROM areas WHERE level = 'wijk'").fetchall()]
    con.close()

    import httpx
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "weefsel", "serve", "-w", str(wh),
                               "--port", str(port)], cwd=str(ROOT), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    results: dict[str, dict] = {}
    try:
        wait_port(port, server)
        info = httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=60).json()
        inds = [i["id"] for i in httpx.get(f"http://127.0.0.1:{port}/api/indicators?kind=indicator",
                                            timeout=60).json()["indicators"]]
        level = "wijk"
        scenarios = {
            "profile (random wijk)": [f"/api/areas/{c}/profile" for c in codes],
            "map values (wijk, 1 indicator)": [f"/api/map/{level}/values?indicator={inds[0]}"],
            f"map values (wijk, {min(len(inds), 20)} indicators)":
                [f"/api/map/{level}/values?indicator={i}" for i in inds[:20]],
            "vector tiles (wijk, z8-11)": tile_paths(level, info["bounds"]),
        }
        # warm-up: every path once (first answers are made and cached, as after any start)
        with httpx.Client(timeout=120) as c:
            for paths in scenarios.values():
                for pth in paths:
                    c.get(f"http://127.0.0.1:{port}{pth}", headers={"Accept-Encoding": "gzip"})
        print(f"\nwrk -t2 -c{args.clients} -d{args.seconds:.0f}s against 'weefsel serve' on "
              f"{wh.name} ({len(codes)} wijken); load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores; target p95 < 50 ms, 0 errors")
        for name, paths in scenarios.items():
            results[name] = r = load(port, paths, args.clients, args.seconds)
            print(fmt(name, r), flush=True)
        if data is not None and (data / DRAW_EXAMPLE).is_dir():
            loop = DrawLoop(port, data)
            loop.thread.start()
            time.sleep(2)  # the first draw is running in the worker pool
            print("  while burgerberaad draws run (POST /api/beraad, 2,000 respondents, k=200, "
                  "in a loop):")
            for name in ("profile (random wijk)", "map values (wijk, 1 indicator)"):
                results[name + " + draw"] = r = load(port, scenarios[name], args.clients,
                                                     args.seconds)
                print(fmt(name + " + draw", r), flush=True)
            loop.stop.set()
            loop.thread.join(300)
            from collections import Counter
            other = ", ".join(f"{n}x {code}" for code, n in sorted(Counter(loop.other).items()))
            print(f"    draws finished {loop.done}, answered 503 busy {loop.busy}, other: "
                  f"{other or 'none'} (429 = the per-client write limit, which works)")
    finally:
        server.terminate()
        server.wait(10)
    port = free_port()
    peer = start_server(PEER.format(), port)
    try:
        p = load(port, ["/"], args.clients, args.peer_seconds)
        print(fmt("peer: bare uvicorn hello-world", p))
    finally:
        peer.terminate()
        peer.wait(10)
    print("  ratios to the peer (p95 | req/s): " + "; ".join(
        f"{n}: {r['p95'] / p['p95']:.1f}x | {r['rps'] / p['rps']:.2f}" for n, r in results.items()))


def wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode())
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def map_bench(data: Path | None, tmp: Path) -> None:
    """The national map in headless Chromium (the dashboard's first view)."""
    if data is None:
        sys.exit("--map needs ../shared/data")
    wh = build_bench_warehouse(data, tmp / "bench.duckdb")
    import duckdb
    con = duckdb.connect(str(wh), read_only=True)
    counts = dict(con.execute("SELECT level, count(*) FROM areas WHERE geom_rd IS NOT NULL "
                              "GROUP BY level").fetchall())
    con.close()
    map_levels = [lv for lv in ("buurt", "wijk", "gemeente") if counts.get(lv)]
    level, other_level = map_levels[0], (map_levels[1:] or [None])[0]
    port = free_port()
    PEER_DIR.mkdir(exist_ok=True)
    server = start_server(SERVE.format(wh=str(wh), peer=str(PEER_DIR)), port)
    try:
        print(f"map: national {level} map ({counts[level]} polygons as vector tiles), headless "
              f"Chromium (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        m = map_times(f"http://127.0.0.1:{port}", level, other_level)
        for i, (took, t, drawn) in enumerate(m["runs"]):
            print(f"  visit {i + 1}: {took:.2f} s to map-rendered (values at "
                  f"{t.get('fetched', 0) / 1000:.2f} s, map created at "
                  f"{t.get('created', 0) / 1000:.2f} s, idle at {t.get('idle', 0) / 1000:.2f} s; "
                  f"{drawn} areas)")
        best, peer = min(r[0] for r in m["runs"][1:]), min(m["peer"])
        if "switch" in m:
            print(f"  switch indicator (to {m['switch'][1]}): {m['switch'][0]:.2f} s")
        for i, (took, drawn) in enumerate(m.get("other", [])):
            print(f"  national {other_level} map, visit {i + 1}: {took:.2f} s ({drawn} areas)")
        print("  peer (bare MapLibre page, same vector tiles): "
              + ", ".join(f"{x:.2f} s" for x in m["peer"]))
        print(f"  national {level} map drawn in {best:.2f} s (best of visits 2-3; target < 1.5 s);"
              f" ratio to peer {best / peer:.2f}\n")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
