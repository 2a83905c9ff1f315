"""Printable helper lists per buurt and street, with a checksum printed on the page.

Made before the outage; in a crisis the paper is the system. The checksum is SHA-256 over
a canonical form (the rows as JSON, sorted keys, fixed order, UTF-8, NFC) so a printed or
re-typed list can be verified afterwards with ``weefsel crisis verify``. A helper list
names doors and helpers, never a need: needs reach only the coordinator, during a crisis.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from pathlib import Path

from weefsel.errors import InputError

FIELDS = ("straat", "adres", "bewoner", "helpers", "synthetisch")
MARK = "weefsel-crisislijst"


def canonical(scope: str, rows: list[dict]) -> bytes:
    norm = [{f: unicodedata.normalize("NFC", str(r.get(f, ""))).strip() for f in FIELDS}
            for r in rows]
    norm.sort(key=lambda r: (r["straat"], r["adres"], r["bewoner"]))
    body = {"scope": unicodedata.normalize("NFC", scope), "rows": norm}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def checksum(scope: str, rows: list[dict]) -> str:
    return hashlib.sha256(canonical(scope, rows)).hexdigest()


def street_of(address: str) -> str:
    """'Kruidenwijk 12, Almere' → 'Kruidenwijk' (the street part before the number)."""
    m = re.match(r"\s*(.*?)\s+\d", address)
    return (m.group(1) if m else address.split(",")[0]).strip()


def render_html(scope: str, rows: list[dict], produced_at: str) -> str:
    """One printable page: rows sorted as in the canonical form, checksum at the bottom."""
    digest = checksum(scope, rows)
    data = json.loads(canonical(scope, rows))
    trs = "\n".join(
        "<tr>" + "".join(f'<td data-f="{f}">{html.escape(r[f])}</td>' for f in FIELDS) + "</tr>"
        for r in data["rows"])
    synthetic = any(r["synthetisch"] == "ja" for r in data["rows"])
    note = ('<p class="syn"><strong>Demo: deze personen zijn verzonnen (synthetisch).</strong></p>'
            if synthetic else "")
    return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><meta name="{MARK}" content="{html.escape(scope)}">
<title>Bellijst {html.escape(scope)}</title>
<style>body{{font-family:sans-serif;font-size:11pt}} table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #444;padding:3pt 5pt;text-align:left}} .sum{{font-family:monospace;
font-size:9pt;word-break:break-all}} @page{{size:A4;margin:15mm}}</style></head>
<body><h1>Bellijst: {html.escape(scope)}</h1>
<p>Bij een langdurige storing belt u aan bij deze adressen. Vraag hoe het gaat, of er iets
nodig is, en meld het bij het noodsteunpunt. Gemaakt op {html.escape(produced_at)}.</p>{note}
<table><thead><tr><th>Straat</th><th>Adres</th><th>Bewoner</th><th>Helpers</th>
<th>Synthetisch</th></tr></thead><tbody>
{trs}
</tbody></table>
<p>Controlegetal (SHA-256): <span class="sum" id="checksum">{digest}</span></p>
<p>Vernietig deze lijst na de crisis.</p></body></html>
"""


def write_pdf(html_text: str, path: str | Path) -> Path:
    from weasyprint import HTML

    p = Path(path)
    HTML(string=html_text).write_pdf(p)
    return p


def parse_html(text: str) -> tuple[str, list[dict], str]:
    """Read back scope, rows and the printed checksum from a list we produced."""
    m = re.search(rf'<meta name="{MARK}" content="([^"]*)"', text)
    s = re.search(r'id="checksum">([0-9a-f]{64})<', text)
    if not m or not s:
        raise InputError("dit is geen crisislijst van weefsel (kenmerk of controlegetal ontbreekt)")
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", text, flags=re.S):
        cells = dict(re.findall(r'<td data-f="(\w+)">(.*?)</td>', tr, flags=re.S))
        if cells:
            rows.append({k: html.unescape(v) for k, v in cells.items()})
    return html.unescape(m.group(1)), rows, s.group(1)


def verify_file(path: str | Path, expected: str | None = None) -> tuple[bool, str]:
    """True when the list's rows still hash to the checksum printed on it (and to
    ``expected``, e.g. the number typed from the paper or kept in the register)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("bestand niet gevonden", where=str(p))
    scope, rows, printed = parse_html(p.read_text(encoding="utf-8"))
    actual = checksum(scope, rows)
    want = (expected or printed).strip().lower()
    ok = actual == printed and actual == want
    return ok, actual


def list_rows(store, buurt_code: str) -> list[dict]:
    """Rows of one buurt: residents who consented to be on paper, with their helpers."""
    helpers = {h["id"]: h for h in store.people("helper")}
    on_paper = {pid for (pid,) in store.conn.execute(
        "SELECT person_id FROM crisis_consents WHERE purpose='lijst' AND withdrawn_at IS NULL")}
    pairs: dict[int, list[int]] = {}
    for r, h, _ in store.pairs():
        pairs.setdefault(r, []).append(h)
    rows = []
    for p in store.people("resident", buurt_code):
        if p["id"] not in on_paper:
            continue
        names = [helpers[h]["name"] if h in on_paper else "helper (naam niet op papier)"
                 for h in pairs.get(p["id"], []) if h in helpers]
        rows.append({"straat": street_of(p["address"]), "adres": p["address"], "bewoner": p["name"],
                     "helpers": "; ".join(names) or "GEEN HELPER: meld bij het noodsteunpunt",
                     "synthetisch": "ja" if p["synthetic"] else "nee"})
    return rows


def produce(store, out_dir: str | Path, *, actor, pdf: bool = True,
            produced_at: str | None = None) -> list[dict]:
    """Write one list per buurt (HTML, and PDF unless ``pdf=False``); record each checksum.
    ``actor``: a Principal or a label (the operator), as the audit sink takes it."""
    import datetime as dt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    produced_at = produced_at or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    buurten = [b for (b,) in store.conn.execute(
        "SELECT DISTINCT buurt_code FROM crisis_people WHERE kind='resident' ORDER BY 1")]
    made = []
    for b in buurten:
        rows = list_rows(store, b)
        if not rows:
            continue
        scope = f"buurt {b}"
        page = render_html(scope, rows, produced_at)
        digest = checksum(scope, rows)
        target = out / f"bellijst_{b}.html"
        tmp = target.with_suffix(".html.tmp")
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(target)
        files = [target.name]
        if pdf:
            files.append(write_pdf(page, out / f"bellijst_{b}.pdf").name)
        store.conn.execute("INSERT OR REPLACE INTO crisis_lists VALUES (?,?,?,?)",
                           (digest, scope, produced_at, len(rows)))
        store.audit.write(actor, "print_list", scope, f"sha256={digest} rows={len(rows)}")
        made.append({"scope": scope, "checksum": digest, "rows": len(rows), "files": files})
    return made


def noodsteunpunten(warehouse: str | Path) -> list[dict]:
    """Noodsteunpunt candidates (community centres, libraries, schools, places of worship)
    from the warehouse's facilities: id, name, x, y."""
    import duckdb

    from weefsel.crisis.prepare import NOODSTEUNPUNT_TYPES

    p = Path(warehouse)
    if not p.is_file():
        raise InputError("warehouse niet gevonden", where=str(p))
    con = duckdb.connect(str(p), read_only=True)
    try:
        rows = con.execute(
            "SELECT facility_id, coalesce(name, type), x_rd, y_rd FROM facilities WHERE type IN "
            f"({','.join('?' * len(NOODSTEUNPUNT_TYPES))}) ORDER BY facility_id",
            list(NOODSTEUNPUNT_TYPES)).fetchall()
    finally:
        con.close()
    return [{"id": i, "name": n, "x": x, "y": y} for i, n, x, y in rows]


def produce_per_noodsteunpunt(store, warehouse: str | Path, out_dir: str | Path, *, actor,
                              pdf: bool = True, produced_at: str | None = None) -> list[dict]:
    """One list per noodsteunpunt candidate: the residents for whom it is the nearest."""
    import datetime as dt

    import numpy as np
    from scipy.spatial import cKDTree

    points = noodsteunpunten(warehouse)
    if not points:
        raise InputError("geen noodsteunpunt-kandidaten in het warehouse", where=str(warehouse))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    produced_at = produced_at or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    tree = cKDTree(np.array([[p["x"], p["y"]] for p in points]))
    by_point: dict[int, list[dict]] = {}
    rows_by_id = {}
    for b in {p["buurt_code"] for p in store.people("resident")}:
        for r in list_rows(store, b):
            rows_by_id[r["adres"] + r["bewoner"]] = r
    for p in store.people("resident"):
        row = rows_by_id.get(p["address"] + p["name"])
        if row:
            by_point.setdefault(int(tree.query([p["x"], p["y"]])[1]), []).append(row)
    made = []
    for i, rows in sorted(by_point.items()):
        scope = f"noodsteunpunt {points[i]['name']}"
        page = render_html(scope, rows, produced_at)
        digest = checksum(scope, rows)
        slug = re.sub(r"[^A-Za-z0-9]+", "_", points[i]["id"])[-40:]
        target = out / f"bellijst_nsp_{slug}.html"
        target.write_text(page, encoding="utf-8")
        files = [target.name]
        if pdf:
            files.append(write_pdf(page, target.with_suffix(".pdf")).name)
        store.conn.execute("INSERT OR REPLACE INTO crisis_lists VALUES (?,?,?,?)",
                           (digest, scope, produced_at, len(rows)))
        store.audit.write(actor, "print_list", f"noodsteunpunt:{points[i]['id']}",
                          f"sha256={digest} rows={len(rows)}")
        made.append({"scope": scope, "checksum": digest, "rows": len(rows), "files": files})
    return made
