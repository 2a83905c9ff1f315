"""Crisis mode in the web app: Dutch pages under /crisis and JSON under /api/crisis.

Sign-in is a stand-in until the registry's accounts land: a coordinator signs in with
the code ``weefsel crisis grant`` printed; the session is a random cookie (HttpOnly,
SameSite=Strict) kept in memory. Anyone else is a viewer. Forms are same-origin only
(Origin/Referer checked). Needs are shown only to a coordinator during a declared crisis,
every view audited; nothing personal is logged.
"""

from __future__ import annotations

import html
import os
import secrets
import threading
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from weefsel.crisis.store import (
    HELPER_PURPOSES, NEEDS, PURPOSES, SKILLS, CrisisStore, Forbidden, Principal,
)
from weefsel.errors import InputError

crisis_router = APIRouter(tags=["crisis"])
e = html.escape
COOKIE = "weefsel_crisis"

_store: CrisisStore | None = None
_sessions: dict[str, Principal] = {}
_lock = threading.Lock()


def get_store() -> CrisisStore:
    global _store
    if _store is None:
        _store = CrisisStore(os.environ.get("WEEFSEL_CRISIS_DB", "crisis.sqlite"))
    return _store


def _guard(fn):
    """No key or no register configured: one Dutch line with 503, never a 500."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            get_store()
        except (InputError, OSError) as exc:
            return HTMLResponse(f"<p role='alert'>Crisismodus is niet ingericht: {e(str(exc))}</p>",
                                status_code=503)
        return fn(*args, **kwargs)
    return wrapper


def set_store(store: CrisisStore | None) -> None:
    global _store
    _store = store
    _sessions.clear()


def lists_dir() -> Path:
    return Path(os.environ.get("WEEFSEL_CRISIS_LISTS", str(get_store().path.parent / "bellijsten")))


def _who(request: Request) -> Principal:
    return _sessions.get(request.cookies.get(COOKIE, ""), Principal("anoniem", "viewer"))


def _same_origin(request: Request) -> None:
    src = request.headers.get("origin") or request.headers.get("referer")
    if src and urlsplit(src).netloc != request.headers.get("host"):
        raise Forbidden("formulier van een andere site geweigerd", where="crisis")


def _page(title: str, body: str, who: Principal, status: int = 200) -> HTMLResponse:
    st = get_store().active()
    banner = (f'<p class="alarm" role="status">Crisis afgekondigd ({e(st["reason"] or "")}) '
              f'sinds {e(st["declared_at"])}</p>' if st else
              '<p class="rust">Geen crisis afgekondigd.</p>')
    doc = f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · crisismodus · weefsel</title>
<style>body{{font-family:system-ui,sans-serif;max-width:62rem;margin:1rem auto;padding:0 1rem;line-height:1.5}}
label{{display:block;margin-top:.4rem}} fieldset{{margin:.8rem 0}} input,select{{font-size:1rem;padding:.25rem}}
table{{border-collapse:collapse;width:100%}} td,th{{border-bottom:1px solid #ccc;padding:.3rem;text-align:left}}
.alarm{{background:#8a1c1c;color:#fff;padding:.5rem}} .rust{{background:#e7f3ec;padding:.5rem}}
.syn{{background:#fff4cc;padding:.3rem}} :focus{{outline:3px solid #1d4ed8}}</style></head>
<body><header><nav aria-label="crisismodus"><a href="/crisis/">Crisismodus</a> ·
<a href="/crisis/coordinator">Coördinator</a> · <a href="/crisis/intrekken">Aanmelding intrekken</a></nav>
<p>U bent: {e(who.user)} ({e(who.role)})</p>{banner}</header>
<main><h1>{e(title)}</h1>{body}</main></body></html>"""
    return HTMLResponse(doc, status_code=status, headers={"Cache-Control": "no-store"})


def _error(exc: InputError, who: Principal) -> HTMLResponse:
    status = 403 if isinstance(exc, Forbidden) else 400
    return _page("Dat ging niet", f'<p role="alert">{e(str(exc))}</p>', who, status)


def _checks(name: str, options: dict[str, str]) -> str:
    return "".join(f'<label><input type="checkbox" name="{name}" value="{k}"> {e(v)}</label>'
                   for k, v in options.items())


@crisis_router.get("/crisis/", response_class=HTMLResponse)
@_guard
def index(request: Request) -> HTMLResponse:
    s, who = get_store(), _who(request)
    n = dict(s.conn.execute("SELECT kind, count(*) FROM crisis_people GROUP BY kind").fetchall())
    body = f"""<p>Bij een lange stroom- of telefoonstoring, overstroming of hittegolf belt een
buur bij u aan. Meld u aan als bewoner die een bezoek wil, of als helper. U geeft per doel
toestemming, u kunt altijd intrekken, en uw gegevens worden op de bewaardatum gewist.</p>
<p>Aangemeld: {n.get('resident', 0)} bewoners, {n.get('helper', 0)} helpers.</p>
<form method="post" action="/crisis/aanmelden" id="aanmelden">
<fieldset><legend>Ik meld me aan als</legend>
<label><input type="radio" name="soort" value="resident" checked> bewoner die een bezoek wil</label>
<label><input type="radio" name="soort" value="helper"> helper</label></fieldset>
<label>Naam <input name="naam" required maxlength="120" autocomplete="name"></label>
<label>Adres (straat en huisnummer) <input name="adres" required maxlength="200"></label>
<label>Buurtcode <input name="buurt" maxlength="12" placeholder="BU03630000"></label>
<label>Breedtegraad <input name="lat" required inputmode="decimal"></label>
<label>Lengtegraad <input name="lon" required inputmode="decimal"></label>
<fieldset><legend>Toestemming (per doel)</legend>
{_checks('toestemming', PURPOSES | HELPER_PURPOSES)}</fieldset>
<fieldset><legend>Wat heeft u nodig? (geen diagnose, alleen wat helpt)</legend>
{_checks('behoefte', NEEDS)}</fieldset>
<fieldset><legend>Helpers: wat kunt u?</legend>{_checks('vaardigheid', {k: k for k in SKILLS})}
<label>Hoeveel buren kunt u bezoeken? <input name="capaciteit" type="number" min="0" max="10" value="2"></label>
</fieldset>
<label>Bewaren tot (dagen) <input name="bewaren" type="number" min="1" max="1095" value="365"></label>
<button type="submit">Aanmelden</button></form>"""
    return _page("Buurtnetwerk voor crisis", body, who)


def _float(v: str, field: str) -> float:
    try:
        return float(v.replace(",", "."))
    except ValueError:
        raise InputError(f"{field}: geen getal", where="aanmelding") from None


@crisis_router.post("/crisis/aanmelden", response_class=HTMLResponse)
@_guard
def register(request: Request, soort: str = Form(...), naam: str = Form(...),
             adres: str = Form(...), lat: str = Form(...), lon: str = Form(...),
             buurt: str = Form(""), toestemming: list[str] = Form(default=[]),
             behoefte: list[str] = Form(default=[]), vaardigheid: list[str] = Form(default=[]),
             capaciteit: int = Form(0, ge=0, le=10),
             bewaren: int = Form(365, ge=1, le=1095)) -> HTMLResponse:
    s, who = get_store(), _who(request)
    try:
        _same_origin(request)
        from weefsel.sources.coords import wgs84_to_rd
        la, lo = _float(lat, "breedtegraad"), _float(lon, "lengtegraad")
        if not (50.5 <= la <= 53.7 and 3.2 <= lo <= 7.3):
            raise InputError("locatie ligt niet in Nederland", where="aanmelding")
        x, y = (float(v[0]) for v in wgs84_to_rd([lo], [la]))
        allowed = PURPOSES if soort == "resident" else HELPER_PURPOSES
        pid = s.register(soort, name=naam, address=adres, lat=la, lon=lo, x=x, y=y,
                         buurt_code=buurt.strip() or None,
                         consents=[c for c in toestemming if c in allowed],
                         needs=behoefte if soort == "resident" else [], skills=vaardigheid,
                         capacity=capaciteit if soort == "helper" else 0,
                         retention_days=bewaren, actor="self")
        code = s.issue_receipt(pid)
        ov = s.overview(pid)
    except InputError as exc:
        return _error(exc, who)
    body = f"""<p role="status">Aangemeld. Bewaar deze code: <strong id="bewijscode">{e(code)}</strong>.
Daarmee ziet u uw aanmelding en trekt u die in.</p>
<p>Uw gegevens worden gewist op <strong id="bewaardatum">{e(ov['retain_until'])}</strong>,
en uw behoefte ook direct na een crisis.</p>
<p>Toestemming: {e(', '.join(k for k, v in ov['consents'].items() if v))}</p>"""
    return _page("Aanmelding ontvangen", body, who)


@crisis_router.get("/crisis/intrekken", response_class=HTMLResponse)
@_guard
def withdraw_form(request: Request) -> HTMLResponse:
    body = """<form method="post" action="/crisis/intrekken"><label>Uw code
<input name="code" required autocomplete="off"></label>
<button type="submit">Alles intrekken en wissen</button></form>"""
    return _page("Aanmelding intrekken", body, _who(request))


@crisis_router.post("/crisis/intrekken", response_class=HTMLResponse)
@_guard
def withdraw(request: Request, code: str = Form(...)) -> HTMLResponse:
    s, who = get_store(), _who(request)
    try:
        _same_origin(request)
        out = s.withdraw(s.by_receipt(code), actor="self")
    except InputError as exc:
        return _error(exc, who)
    return _page("Ingetrokken", f'<p role="status">Uw aanmelding is gewist (bewijs in het '
                 f'auditlog: {e(out["sha256"][:16])}…).</p>', who)


@crisis_router.post("/crisis/inloggen")
@_guard
def sign_in(request: Request, code: str = Form(...)):
    s = get_store()
    try:
        _same_origin(request)
    except InputError as exc:
        return _error(exc, _who(request))
    p = s.sign_in(code)
    if not p:
        s.audit.write("anoniem", "sign_in_failed", "crisis")
        return _page("Inloggen mislukt", '<p role="alert">Onbekende code.</p>', _who(request), 403)
    token = secrets.token_urlsafe(24)
    with _lock:
        _sessions[token] = p
    s.audit.write(p.user, "sign_in", "crisis", p.role)
    r = RedirectResponse("/crisis/coordinator", status_code=303)
    r.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                 secure=request.url.scheme == "https")
    return r


@crisis_router.get("/crisis/coordinator", response_class=HTMLResponse)
@_guard
def coordinator(request: Request) -> HTMLResponse:
    s, who = get_store(), _who(request)
    if who.role not in ("coordinator", "admin"):
        body = """<form method="post" action="/crisis/inloggen"><label>Code van de coördinator
<input name="code" required autocomplete="off"></label><button type="submit">Inloggen</button></form>"""
        return _page("Coördinator", body, who)
    made = s.conn.execute("SELECT scope, checksum, rows FROM crisis_lists ORDER BY scope").fetchall()
    lists_html = "".join(
        f'<li><a href="/crisis/lijst/{e(sc.split()[-1])}.pdf">{e(sc)}</a> ({n} adressen) '
        f'<code>{e(c)}</code></li>' for sc, c, n in made)
    body = f"""<form method="post" action="/crisis/toewijzen"><button id="toewijzen">Helpers toewijzen (2 per bewoner)</button></form>
<form method="post" action="/crisis/lijsten"><button id="lijsten">Bellijsten maken (PDF)</button></form>
<ul id="bellijsten">{lists_html}</ul>
<form method="post" action="/crisis/afkondigen"><label>Reden <input name="reden" value="langdurige stroomstoring"></label>
<button id="afkondigen">Crisis afkondigen</button></form>
<p><a href="/crisis/behoeften" id="behoeften">Behoeften bekijken (alleen tijdens een crisis; wordt gelogd)</a></p>
<form method="post" action="/crisis/beeindigen"><button id="beeindigen">Crisis beëindigen en behoeften wissen</button></form>
<p><a href="/crisis/audit">Auditlog</a></p>"""
    return _page("Coördinator", body, who)


def _action(request: Request, fn) -> HTMLResponse:
    s, who = get_store(), _who(request)
    try:
        _same_origin(request)
        if who.role not in ("coordinator", "admin"):
            raise Forbidden("alleen voor de coördinator", where="crisis")
        msg = fn(s, who)
    except InputError as exc:
        return _error(exc, who)
    return _page("Gedaan", f'<p role="status">{e(msg)}</p><p><a href="/crisis/coordinator">'
                 f'Terug</a></p>', who)


@crisis_router.post("/crisis/toewijzen", response_class=HTMLResponse)
@_guard
def assign(request: Request) -> HTMLResponse:
    def run(s, who):
        out = s.assign(who.user)
        return (f"{out['fully_covered']} van {out['residents']} bewoners hebben 2 helpers; "
                f"{out['short']} nog niet; {out['kept']} koppels behouden.")
    return _action(request, run)


@crisis_router.post("/crisis/lijsten", response_class=HTMLResponse)
@_guard
def make_lists(request: Request) -> HTMLResponse:
    from weefsel.crisis.lists import produce

    def run(s, who):
        made = produce(s, lists_dir(), actor=who.user)
        return f"{len(made)} bellijsten gemaakt, elk met een controlegetal."
    return _action(request, run)


@crisis_router.get("/crisis/lijst/{name}")
@_guard
def get_list(request: Request, name: str):
    who = _who(request)
    if who.role not in ("coordinator", "admin"):
        return _error(Forbidden("alleen voor de coördinator", where="crisis"), who)
    if not name.replace("_", "").replace(".", "").isalnum() or ".." in name:
        return _error(InputError("ongeldige naam", where="crisis"), who)
    stem, _, ext = name.rpartition(".")
    p = lists_dir() / f"bellijst_{stem}.{ext}"
    if ext not in ("pdf", "html") or not p.is_file():
        return _error(InputError("lijst niet gevonden", where="crisis"), who)
    get_store().audit.write(who.user, "download_list", stem, ext)
    return FileResponse(p, filename=p.name, headers={"Cache-Control": "no-store"})


@crisis_router.post("/crisis/afkondigen", response_class=HTMLResponse)
@_guard
def declare(request: Request, reden: str = Form("")) -> HTMLResponse:
    return _action(request, lambda s, who: f"crisis {s.declare(who, reden)} afgekondigd")


@crisis_router.post("/crisis/beeindigen", response_class=HTMLResponse)
@_guard
def end(request: Request) -> HTMLResponse:
    def run(s, who):
        out = s.end(who)
        return f"crisis beëindigd; behoeften gewist van {len(out['deleted'])} bewoners"
    return _action(request, run)


@crisis_router.get("/crisis/behoeften", response_class=HTMLResponse)
@_guard
def needs(request: Request) -> HTMLResponse:
    s, who = get_store(), _who(request)
    try:
        rows = s.needs(who)
    except InputError as exc:
        return _error(exc, who)
    trs = "".join(
        f"<tr><td>{e(r['name'])}{' <span class=syn>synthetisch</span>' if r['synthetic'] else ''}"
        f"</td><td>{e(r['address'])}</td><td>{e(', '.join(r['needs_nl']))}</td>"
        f"<td>{e(', '.join(r['helpers']) or 'geen helper')}</td></tr>" for r in rows)
    body = (f"<p>Elke weergave staat in het auditlog.</p><table id='behoeftetabel'><thead><tr>"
            f"<th>Bewoner</th><th>Adres</th><th>Behoefte</th><th>Helpers</th></tr></thead>"
            f"<tbody>{trs}</tbody></table>")
    return _page("Behoeften", body, who)


@crisis_router.get("/crisis/audit", response_class=HTMLResponse)
@_guard
def audit(request: Request) -> HTMLResponse:
    s, who = get_store(), _who(request)
    if who.role not in ("coordinator", "admin"):
        return _error(Forbidden("alleen voor de coördinator", where="crisis"), who)
    trs = "".join(f"<tr><td>{e(a['at'])}</td><td>{e(a['actor'])}</td><td>{e(a['action'])}</td>"
                  f"<td>{e(a['object'])}</td><td>{e(a['detail'])}</td></tr>"
                  for a in s.audit_entries(500))
    return _page("Auditlog", f"<table id='audit'><tbody>{trs}</tbody></table>", who)


@crisis_router.get("/api/crisis/status")
@_guard
def api_status() -> JSONResponse:
    s = get_store()
    n = dict(s.conn.execute("SELECT kind, count(*) FROM crisis_people GROUP BY kind").fetchall())
    short = s.conn.execute(
        "SELECT count(*) FROM crisis_people p WHERE kind='resident' AND (SELECT count(*) FROM "
        "crisis_pairs WHERE resident_id=p.id) < 2").fetchone()[0]
    return JSONResponse({"active": s.active() is not None, "residents": n.get("resident", 0),
                         "helpers": n.get("helper", 0), "residents_short_of_2": short})


@crisis_router.get("/api/crisis/needs")
@_guard
def api_needs(request: Request) -> JSONResponse:
    who = _who(request)
    try:
        return JSONResponse(get_store().needs(who), headers={"Cache-Control": "no-store"})
    except InputError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=403 if isinstance(exc, Forbidden) else 400)


@crisis_router.get("/api/crisis/preparedness")
@_guard
def api_preparedness(request: Request, buurt: str | None = None) -> JSONResponse:
    """Rows of ``crisis_preparedness`` from the app's warehouse (after ``weefsel crisis prepare``)."""
    import duckdb

    data = getattr(request.app.state, "data", None)
    path = getattr(data, "path", None) or getattr(getattr(data, "warehouse", None), "path", None)
    if not path:
        return JSONResponse({"detail": "geen warehouse"}, status_code=404)
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return JSONResponse({"detail": "warehouse is bezet of ontbreekt"}, status_code=503)
    try:
        q, args = "SELECT * FROM crisis_preparedness", []
        if buurt:
            q, args = q + " WHERE buurt_code=?", [buurt]
        df = con.execute(q, args).fetchdf()
    except duckdb.Error:
        return JSONResponse({"detail": "nog geen paraatheid berekend (weefsel crisis prepare)"},
                            status_code=404)
    finally:
        con.close()
    return JSONResponse(df.to_dict(orient="records"))


def __getattr__(name: str):
    """``router`` exists only when crisis mode is configured (a key outside the database):
    weefsel.web.api mounts it then, and leaves the dashboard as it is otherwise."""
    if name == "router":
        from weefsel.crisis.store import load_key

        load_key()
        return crisis_router
    raise AttributeError(name)
