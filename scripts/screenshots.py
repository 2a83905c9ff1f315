"""Screenshots of every dashboard page at desktop (1440x900) and phone (390x844) size.

    python scripts/screenshots.py --warehouse weefsel.duckdb [--out screenshots] [--port 8840]

Serves the warehouse on a loopback port (in this process), opens each page in Debian's
headless Chromium via Playwright and writes ``<page>_<width>x<height>.png``, so anyone can
look at what a planner or a resident sees. Pages that need an area use the first gemeente
(and the second for the comparison) unless ``--area``/``--compare`` say otherwise. The
printed profile of that area is also written as PDF and its pages as PNG (pdftoppm).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

VIEWPORTS = [(1440, 900), (390, 844)]
CHROMIUM = "/usr/bin/chromium"


def pages(area: str, compare: str, wijk: str | None) -> list[tuple[str, str, str | None]]:
    """(name, path, selector to wait for)."""
    out = [("kaart", "/#/kaart", 'body[data-map-rendered="true"]')]
    if wijk:
        out.append(("kaart_wijk_gekozen", f"/#/kaart?niveau=wijk&gebied={wijk}",
                    'body[data-map-rendered="true"]'))
    out += [
        ("gebied", f"/#/gebied/{area}", "article.profiel"),
        ("vergelijken", f"/#/vergelijk?codes={compare}", "#v-uitkomst table"),
        ("tabel", "/#/tabel", "#datatabel"),
        ("methode", "/methode", "main h1"),
        ("profiel_afdruk", f"/profiel/{area}", "article.profiel"),
        ("burgerberaad", "/api/beraad/", "body"),
        ("burgerbegroting", "/api/begroting/", "body"),
    ]
    return out


def serve(warehouse: Path, port: int):
    import uvicorn

    from weefsel.web.api import create_app
    app = create_app(warehouse)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 60
    while not server.started:
        if time.time() > deadline:
            raise SystemExit("server did not start")
        time.sleep(0.05)
    return app, server, t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", default="weefsel.duckdb", type=Path)
    ap.add_argument("--out", default=Path("screenshots"), type=Path)
    ap.add_argument("--port", default=8840, type=int)
    ap.add_argument("--area", default=None, help="area code for the area pages")
    ap.add_argument("--compare", default=None, help="comma-separated codes to compare")
    args = ap.parse_args(argv)
    if not args.warehouse.exists():
        print(f"Geen warehouse op {args.warehouse}: draai eerst 'weefsel build'.", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright
    app, server, thread = serve(args.warehouse, args.port)
    data = app.state.data
    gms = list(data.areas.loc[data.areas["level"] == "gemeente", "code"])
    wks = list(data.areas.loc[data.areas["level"] == "wijk", "code"])
    area = args.area or (gms[-1] if gms else data.areas["code"].iloc[0])
    compare = args.compare or ",".join(gms[:2] + ([data.land_code] if data.land_code else []))
    args.out.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{args.port}"
    written = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            for w, h in VIEWPORTS:
                ctx = browser.new_context(viewport={"width": w, "height": h}, locale="nl-NL")
                page = ctx.new_page()
                for name, path, sel in pages(area, compare, wks[0] if wks else None):
                    page.goto(base + path)
                    try:
                        page.wait_for_selector(sel, timeout=20000)
                    except Exception:
                        print(f"  {name}: '{sel}' niet gezien binnen 20 s", file=sys.stderr)
                    page.wait_for_timeout(400)
                    target = args.out / f"{name}_{w}x{h}.png"
                    page.screenshot(path=str(target), full_page=True)
                    written.append(target)
                ctx.close()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
        data.close()
    written += pdf_pages(args.warehouse, area, args.out)
    for t in written:
        print(t)
    return 0


def pdf_pages(warehouse: Path, area: str, out: Path) -> list[Path]:
    """The printed profile (``weefsel profile``) as PDF, each A4 page as a PNG
    (``profiel_pdf-N.png``, 90 dpi) with poppler's pdftoppm; skipped when it is missing."""
    import shutil
    import subprocess
    if not shutil.which("pdftoppm"):
        print("  profiel_pdf: pdftoppm ontbreekt (apt-get install poppler-utils)", file=sys.stderr)
        return []
    from weefsel.web.data import WebData
    from weefsel.web.profile import write_profile
    pdf = out / "profiel.pdf"
    data = WebData(warehouse)
    try:
        write_profile(data, area, str(pdf))
    finally:
        data.close()
    for old in out.glob("profiel_pdf-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "90", "-png", str(pdf), str(out / "profiel_pdf")],
                   check=True)
    return [pdf] + sorted(out.glob("profiel_pdf-*.png"))


if __name__ == "__main__":
    raise SystemExit(main())
