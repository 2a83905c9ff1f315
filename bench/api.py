"""Bench of the web stage: API latency under load and time until the national map is drawn.

    python bench/api.py [--warehouse FILE] [--clients 100] [--seconds 30]

1. Latency: ``weefsel serve`` (uvicorn, one process) on loopback; N concurrent keep-alive
   clients (a lean asyncio HTTP/1.1 client, so the load generator costs little CPU on the
   shared 2 cores) request /api/areas/{code}/profile for random wijk codes for S seconds.
   Prints p50/p95/p99 (ms) and throughput. Peer: the same server and client against a
   minimal ASGI app that returns a fixed 2 kB JSON body (the floor of uvicorn + client on
   this machine); the ratio says how much the profile endpoint costs above that floor.
   Target: p95 < 50 ms.
2. Map: headless Chromium (Debian, via Playwright) opens the dashboard on the national
   buurt map (``/#/kaart?niveau=buurt``: 14,574 buurten as vector tiles) and waits for the
   ``data-map-rendered`` marker the page sets when MapLibre is idle after drawing the
   values. Run 1 is the first visit after start-up, runs 2-3 are new browser pages (the
   browser's tile cache is per page, so they fetch every tile again). Also timed: the
   national wijk map, and switching the indicator on the buurt map. Peer: a bare MapLibre
   page drawing the same vector tiles with one fill layer. Target: < 1.5 s.

Without --warehouse a bench warehouse is built from ../shared/data: the national gemeente
and wijk boundaries, the national KWB 2024 basics (8 variables) for gemeenten and wijken,
the national KWB 2024 buurt population, and, because shared/data has buurt polygons only
for Amsterdam, a stand-in national buurt layer (bench/standin_buurten.py: the real wijk
polygons cut into as many cells as each wijk has buurten, with the vertex density of the
real Amsterdam buurt polygons). All as RD New WKB.
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


# -- load generator ----------------------------------------------------------------------------

async def _client(host: str, port: int, paths: list[str], until: float, lat: list[float],
                  errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            path = random.choice(paths)
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status >= 400:
                errors.append(f"{status} {path}")
    finally:
        writer.close()


async def _load(port: int, paths: list[str], clients: int, seconds: float):
    lat: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*[_client("127.0.0.1", port, paths, until, lat, errors)
                           for _ in range(clients)])
    return lat, errors


def load(port: int, paths: list[str], clients: int, seconds: float) -> dict:
    lat, errors = asyncio.run(_load(port, paths, clients, seconds))
    q = statistics.quantiles([x * 1000 for x in lat], n=100) if len(lat) > 2 else [0] * 99
    return {"n": len(lat), "rps": len(lat) / seconds, "p50": q[49], "p95": q[94], "p99": q[98],
            "errors": len(errors)}


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
BODY = json.dumps({{"x": "y" * 2000}}).encode()
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
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
    page = browser.new_page(viewport={"width": 1280, "height": 900})
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
            page = b.new_page(viewport={"width": 1280, "height": 900})
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warehouse", type=Path)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--peer-seconds", type=float, default=10)
    ap.add_argument("--no-map", action="store_true", help="skip the browser timing")
    args = ap.parse_args()

    from weefsel.config import default_data_dir
    tmp = tempfile.TemporaryDirectory()
    wh = args.warehouse
    if wh is None:
        data = default_data_dir()
        if data is None:
            sys.exit("no --warehouse and no ../shared/data")
        t0 = time.perf_counter()
        wh = build_bench_warehouse(data, Path(tmp.name) / "bench.duckdb")
        print(f"bench warehouse (national gemeente + wijk, stand-in buurt layer, KWB basics) in "
              f"{time.perf_counter() - t0:.1f} s")
    import duckdb
    con = duckdb.connect(str(wh), read_only=True)
    counts = dict(con.execute("SELECT level, count(*) FROM areas WHERE geom_rd IS NOT NULL "
                              "GROUP BY level").fetchall())
    map_levels = [lv for lv in ("buurt", "wijk", "gemeente") if counts.get(lv)]
    level, other_level = map_levels[0], (map_levels[1:] or [None])[0]
    prof_level = "wijk" if counts.get("wijk") else level
    codes = [c for (c,) in con.execute("SELECT code FROM areas WHERE level = ?",
                                       [prof_level]).fetchall()]
    con.close()
    print(f"warehouse {wh}: " + ", ".join(f"{n} {lv} polygons" for lv, n in counts.items()))

    port = free_port()
    PEER_DIR.mkdir(exist_ok=True)
    server = start_server(SERVE.format(wh=str(wh), peer=str(PEER_DIR)), port)
    try:
        print(f"\nmap: national {level} map ({counts[level]} polygons as vector tiles), headless "
              f"Chromium (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        m = None if args.no_map else map_times(f"http://127.0.0.1:{port}", level, other_level)
        for i, (took, t, drawn) in enumerate(m["runs"] if m else []):
            print(f"  visit {i + 1}: {took:.2f} s to map-rendered (in the page, from navigation: "
                  f"values at {t.get('fetched', 0) / 1000:.2f} s, map created at "
                  f"{t.get('created', 0) / 1000:.2f} s, drawn and idle at "
                  f"{t.get('idle', 0) / 1000:.2f} s; {drawn} areas in the loaded tiles)")
        if m is not None:
            best = min(r[0] for r in m["runs"][1:])
            peer = min(m["peer"])
            if "switch" in m:
                print(f"  switch indicator (to {m['switch'][1]}): {m['switch'][0]:.2f} s, "
                      "no tile refetched")
            for i, (took, drawn) in enumerate(m.get("other", [])):
                print(f"  national {other_level} map, visit {i + 1}: {took:.2f} s "
                      f"({drawn} areas)")
            print(f"  peer (bare MapLibre page, same vector tiles, one fill layer): "
                  + ", ".join(f"{x:.2f} s" for x in m["peer"]))
            print(f"  national {level} map drawn in {best:.2f} s (best of visits 2-3; "
                  f"target < 1.5 s); ratio to peer {best / peer:.2f}")
        paths = [f"/api/areas/{c}/profile" for c in codes]
        print(f"\nlatency (load average {os.getloadavg()[0]:.1f}): {args.clients} clients x "
              f"{args.seconds:.0f} s, GET /api/areas/{{random {prof_level}}}/profile")
        r = load(port, paths, args.clients, args.seconds)
        print(f"  weefsel profile: n={r['n']} ({r['rps']:.0f}/s) p50 {r['p50']:.1f} ms  "
              f"p95 {r['p95']:.1f} ms  p99 {r['p99']:.1f} ms  errors {r['errors']}  "
              f"(target p95 < 50 ms)")
    finally:
        server.terminate()
        server.wait(10)
    port = free_port()
    peer = start_server(PEER.format(), port)
    try:
        p = load(port, ["/"], args.clients, args.peer_seconds)
        print(f"  peer (bare uvicorn ASGI, fixed 2 kB JSON): n={p['n']} ({p['rps']:.0f}/s) "
              f"p50 {p['p50']:.1f} ms  p95 {p['p95']:.1f} ms  p99 {p['p99']:.1f} ms")
        print(f"  ratio p95 weefsel/peer: {r['p95'] / p['p95']:.2f}   "
              f"throughput weefsel/peer: {r['rps'] / p['rps']:.2f}")
    finally:
        peer.terminate()
        peer.wait(10)


if __name__ == "__main__":
    main()
