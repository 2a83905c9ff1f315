"""Crisis mode in the web app: Dutch pages under /crisis and JSON under /api/crisis.

One login: the registry's session cookie says who is here; ``reg_crisis_roles`` (granted by
a registry admin of the same gemeente on ``/crisis/rollen``) says which crisis role. Forms of
a signed-in user carry the session's CSRF token; anonymous forms (registration, withdrawal)
are same-origin only. Needs are shown only to a coordinator during a declared crisis; every
action and every view lands in the registry's audit log (ids, never content).
``WEEFSEL_CRISIS_GEMEENTE`` (GMxxxx) ties the register to one gemeente: crisis roles of other
gemeenten do not count here. Every page is in the dashboard's house (``page_shell``).
"""

from __future__ import annotations

import html
import os
import secrets
import threading
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from weefsel.crisis.store import (
    HELPER_PURPOSES, NEEDS, PURPOSES, SKILLS, CrisisStore, Forbidden, Principal,
)
from weefsel.errors import InputError

crisis_router = APIRouter(tags=["crisis"])
e = html.escape
SESSION_COOKIE = "weefsel_sessie"        # the registry's (weefsel.web.registry_web)
SECTION = [("Aanmelden", "/crisis/"), ("Coördinator", "/crisis/coordinator"),
           ("Papieren formulier", "/crisis/papier"), ("Crisisrollen", "/crisis/rollen"),
           ("Paraatheid", "/crisis/paraatheid"), ("Aanmelding intrekken", "/crisis/intrekken"),
           ("Inloggen (register)", "/registratie")]

_store: CrisisStore | None = None
_ops = None
_lock = threading.Lock()


def crisis_gemeente() -> str | None:
    return (os.environ.get("WEEFSEL_CRISIS_GEMEENTE") or "").strip().upper() or None


def get_ops():
    """The registry's operational store (``WEEFSEL_REGISTRY``): accounts, roles, audit."""
    global _ops
    with _lock:
        if _ops is None:
            from weefsel.registry.ops import OpsStore
            _ops = OpsStore()
    return _ops


def open_store(path, ops, key: bytes | None = None) -> CrisisStore:
    """A crisis register whose audit goes to the registry's log (and its own hash chain)."""
    from weefsel.crisis.roles import RegistryAudit
    return CrisisStore(path, key=key, audit=RegistryAudit(ops, crisis_gemeente()))


def get_store() -> CrisisStore:
    global _store
    if _store is None:
        ops = get_ops()
        with _lock:
            if _store is None:
                _store = open_store(os.environ.get("WEEFSEL_CRISIS_DB", "crisis.sqlite"), ops)
    return _store


def _guard(fn):
    """No key, register or registry configured: one Dutch line with 503, never a 500."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            get_store()
        except Exception as exc:  # noqa: BLE001 - any set-up failure is one line, not a trace
            msg = str(exc) if isinstance(exc, (InputError, OSError)) else type(exc).__name__
            return HTMLResponse(f"<p role='alert'>Crisismodus is niet ingericht: {e(msg)}</p>",
                                status_code=503)
        return fn(*args, **kwargs)
    return wrapper


def set_store(store: CrisisStore | None, ops=None) -> None:
    """Tests and the demo: use this register (and registry) instead of the environment's."""
    global _store, _ops
    _store, _ops = store, ops


def lists_dir() -> Path:
    return Path(os.environ.get("WEEFSEL_CRISIS_LISTS", str(get_store().path.parent / "bellijsten")))


def _session(request: Request) -> tuple[Principal, dict | None]:
    from weefsel.crisis.roles import principal_for
    ops = get_ops()
    user = ops.session_user(request.cookies.get(SESSION_COOKIE))
    return principal_for(ops, user, crisis_gemeente()), user


def _who(request: Request) -> Principal:
    return _session(request)[0]


def _same_origin(request: Request) -> None:
    src = request.headers.get("origin") or request.headers.get("referer")
    if src and urlsplit(src).netloc != request.headers.get("host"):
        raise Forbidden("formulier van een andere site geweigerd", where="crisis")


def _csrf(request: Request, user: dict | None, token: str) -> None:
    """A signed-in user's form must carry the session's CSRF token (as in the registry)."""
    _same_origin(request)
    if user is None or not secrets.compare_digest(str(token or ""), user["csrf"]):
        raise Forbidden("het formulier is verlopen of niet van deze site; laad de pagina "
                        "opnieuw", where="crisis")


def _hidden(user: dict | None) -> str:
    return f'<input type="hidden" name="csrf" value="{e(user["csrf"])}">' if user else ""


ROLE_NL = {"coordinator": "coördinator", "registrar": "registrator", "viewer": "kijker",
           "contributor": "bijdrager", "moderator": "moderator", "admin": "beheerder"}


def _table(label: str, table_id: str, heads: list[str], rows: str) -> str:
    """A labelled, keyboard-scrollable table; a head starting with '#' is a number column."""
    ths = "".join(f'<th scope="col" class="num">{h[1:]}</th>' if h.startswith("#")
                  else f'<th scope="col">{h}</th>' for h in heads)
    return (f'<div class="tabel-wrap" tabindex="0" role="region" aria-label="{label}">'
            f'<table id="{table_id}"><thead><tr>{ths}</tr></thead><tbody>{rows}</tbody></table></div>')


def _page(title: str, body: str, who: Principal, status: int = 200) -> HTMLResponse:
    from weefsel.web.shell import page_shell

    st = get_store().active()
    banner = (f'<p class="melding fout" role="status">Crisis afgekondigd '
              f'({e(st["reason"] or "")}) sinds {e(st["declared_at"])}</p>' if st else
              '<p class="melding">Geen crisis afgekondigd.</p>')
    if who.user_id is None:
        me = ('<p>Niet ingelogd. Medewerkers loggen in via <a href="/registratie">het '
              'register</a>.</p>')
    else:
        me = f"<p>Ingelogd als <strong>{e(who.user)}</strong> ({e(ROLE_NL.get(who.role, who.role))}).</p>"
    doc = page_shell(f"{title} · crisismodus", me + banner + body, section=SECTION)
    return HTMLResponse(doc, status_code=status, headers={"Cache-Control": "no-store"})


def _forbidden(exc: Exception) -> bool:
    from weefsel.registry.ops import Forbidden as RegistryForbidden
    return isinstance(exc, (Forbidden, RegistryForbidden))


def _error(exc: InputError, who: Principal) -> HTMLResponse:
    status = 403 if _forbidden(exc) else 400
    return _page("Dat ging niet", f'<p class="melding fout" role="alert">{e(str(exc))}</p>', who,
                 status)


def _checks(name: str, options: dict[str, str]) -> str:
    return "".join(f'<label><input type="checkbox" name="{name}" value="{k}"> {e(v)}</label>'
                   for k, v in options.items())


def _form(extra: str = "") -> str:
    """The registration form (web self-registration, or a paper form entered by a registrar)."""
    return f"""<form method="post" action="/crisis/aanmelden" id="aanmelden">{extra}
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


@crisis_router.get("/crisis/", response_class=HTMLResponse)
@_guard
def index(request: Request) -> HTMLResponse:
    s, who = get_store(), _who(request)
    n = dict(s.conn.execute("SELECT kind, count(*) FROM crisis_people GROUP BY kind").fetchall())
    body = f"""<p>Bij een lange stroom- of telefoonstoring, overstroming of hittegolf belt een
buur bij u aan. Meld u aan als bewoner die een bezoek wil, of als helper. U geeft per doel
toestemming, u kunt altijd intrekken, en uw gegevens worden op de bewaardatum gewist.</p>
<p>Aangemeld: {n.get('resident', 0)} bewoners, {n.get('helper', 0)} helpers.</p>{_form()}"""
    return _page("Buurtnetwerk voor crisis", body, who)


@crisis_router.get("/crisis/papier", response_class=HTMLResponse)
@_guard
def paper_form(request: Request) -> HTMLResponse:
    """A community worker (registrar) enters a signed paper form; audited under his account."""
    who, user = _session(request)
    if who.role not in ("registrar", "coordinator"):
        return _page("Papieren formulier", "<p>Alleen een registrator of coördinator voert "
                     "papieren formulieren in. Vraag een beheerder van het register om de rol.</p>",
                     who)
    extra = _hidden(user) + '<input type="hidden" name="bron" value="papier">'
    body = ("<p>Neem over wat de bewoner of helper op het getekende formulier heeft "
            "aangekruist. Bewaar het papier niet langer dan nodig.</p>" + _form(extra))
    return _page("Papieren formulier invoeren", body, who)


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
             capaciteit: int = Form(0, ge=0, le=10), bewaren: int = Form(365, ge=1, le=1095),
             bron: str = Form(""), csrf: str = Form("")) -> HTMLResponse:
    s = get_store()
    who, user = _session(request)
    try:
        _same_origin(request)
        actor: Principal | str = "self"
        if bron == "papier":
            _csrf(request, user, csrf)
            if who.role not in ("registrar", "coordinator"):
                raise Forbidden("alleen een registrator voert papieren formulieren in",
                                where="crisis")
            actor = who
        from weefsel.sources.coords import wgs84_to_rd
        la, lo = _float(lat, "breedtegraad"), _float(lon, "lengtegraad")
        if not (50.5 <= la <= 53.7 and 3.2 <= lo <= 7.3):
            raise InputError("locatie ligt niet in Nederland", where="aanmelding")
        x, y = (float(v[0]) for v in wgs84_to_rd([lo], [la]))
        allowed = PURPOSES if soort == "resident" else HELPER_PURPOSES
        pid = s.register(soort, name=naam, address=adres, lat=la, lon=lo, x=x, y=y,
                         buurt_code=buurt.strip().upper() or None,
                         consents=[c for c in toestemming if c in allowed],
                         needs=behoefte if soort == "resident" else [], skills=vaardigheid,
                         capacity=capaciteit if soort == "helper" else 0,
                         retention_days=bewaren, actor=actor)
        code = s.issue_receipt(pid)
        ov = s.overview(pid)
    except InputError as exc:
        return _error(exc, who)
    body = f"""<p class="melding" role="status">Aangemeld. Bewaar deze code:
<strong id="bewijscode">{e(code)}</strong>. Daarmee ziet u uw aanmelding en trekt u die in.</p>
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
    return _page("Ingetrokken", f'<p class="melding" role="status">Uw aanmelding is gewist '
                 f'(bewijs in het auditlog: {e(out["sha256"][:16])}…).</p>', who)


@crisis_router.get("/crisis/rollen", response_class=HTMLResponse)
@_guard
def roles_page(request: Request) -> HTMLResponse:
    """A registry admin grants crisis roles to accounts of the same gemeente."""
    from weefsel.crisis.roles import CRISIS_ROLES, granted

    who, user = _session(request)
    if user is None or user["role"] != "admin":
        return _page("Crisisrollen", "<p>Alleen een beheerder van het register kent "
                     "crisisrollen toe, aan accounts van de eigen gemeente.</p>", who)
    rows = "".join(f"<tr><td>{e(r['username'])}</td><td>{e(ROLE_NL.get(r['role'], r['role']))}</td>"
                   f"<td>{e(r['granted_at'])}</td></tr>"
                   for r in granted(get_ops(), user["gemeente_code"]))
    opts = "".join(f'<option value="{k}">{e(v)}</option>' for k, v in CRISIS_ROLES.items())
    body = f"""<p>Geen rol van het register (kijker, bijdrager, moderator, beheerder) ziet
behoeften. Alleen een coördinator ziet ze, en alleen tijdens een afgekondigde crisis.</p>
<form method="post" action="/crisis/rollen">{_hidden(user)}
<label for="gebruiker">Gebruikersnaam (account van {e(user['gemeente_code'])})</label>
<input id="gebruiker" name="gebruiker" required maxlength="80">
<label for="rol">Crisisrol</label><select id="rol" name="rol">{opts}
<option value="">geen crisisrol (intrekken)</option></select>
<button type="submit">Opslaan</button></form>
<h2>Accounts met een crisisrol</h2><div class="tabel-wrap" tabindex="0" role="region"
aria-label="Crisisrollen"><table id="rollen"><thead><tr><th scope="col">Gebruiker</th>
<th scope="col">Rol</th><th scope="col">Sinds</th></tr></thead><tbody>{rows}</tbody></table></div>"""
    return _page("Crisisrollen", body, who)


@crisis_router.post("/crisis/rollen", response_class=HTMLResponse)
@_guard
def roles_post(request: Request, gebruiker: str = Form(...), rol: str = Form(""),
               csrf: str = Form("")) -> HTMLResponse:
    from weefsel.crisis.roles import grant, revoke

    who, user = _session(request)
    try:
        _csrf(request, user, csrf)
        if rol:
            grant(get_ops(), user, gebruiker, rol)
            msg = f"{gebruiker} is nu {ROLE_NL.get(rol, rol)}."
        else:
            revoke(get_ops(), user, gebruiker)
            msg = f"{gebruiker} heeft geen crisisrol meer."
    except InputError as exc:
        return _error(exc, who)
    return _page("Opgeslagen", f'<p class="melding" role="status">{e(msg)}</p>'
                 '<p><a href="/crisis/rollen">Terug naar de crisisrollen</a></p>', who)


@crisis_router.get("/crisis/coordinator", response_class=HTMLResponse)
@_guard
def coordinator(request: Request) -> HTMLResponse:
    s = get_store()
    who, user = _session(request)
    if who.role != "coordinator":
        return _page("Coördinator", "<p>Deze pagina is voor de coördinator. Log in via "
                     '<a href="/registratie">het register</a>; een beheerder kent de rol toe '
                     'op <a href="/crisis/rollen">Crisisrollen</a>.</p>', who)
    made = s.conn.execute("SELECT scope, checksum, rows FROM crisis_lists ORDER BY scope").fetchall()
    lists_html = "".join(
        f'<li><a href="/crisis/lijst/{e(sc.split()[-1])}.pdf">{e(sc)}</a> ({n} adressen) '
        f'<code>{e(c)}</code></li>' for sc, c, n in made)
    h = _hidden(user)
    body = f"""<form method="post" action="/crisis/toewijzen">{h}<button id="toewijzen">Helpers toewijzen (2 per bewoner)</button></form>
<form method="post" action="/crisis/lijsten">{h}<button id="lijsten">Bellijsten maken (PDF)</button></form>
<ul id="bellijsten">{lists_html}</ul>
<form method="post" action="/crisis/afkondigen">{h}<label for="reden">Reden</label>
<input id="reden" name="reden" value="langdurige stroomstoring" maxlength="200">
<button id="afkondigen">Crisis afkondigen</button></form>
<p><a href="/crisis/behoeften" id="behoeften">Behoeften bekijken (alleen tijdens een crisis; wordt gelogd)</a></p>
<form method="post" action="/crisis/beeindigen">{h}<button id="beeindigen">Crisis beëindigen en behoeften wissen</button></form>
<p><a href="/crisis/audit">Auditlog</a></p>"""
    return _page("Coördinator", body, who)


def _action(request: Request, csrf: str, fn) -> HTMLResponse:
    s = get_store()
    who, user = _session(request)
    try:
        _csrf(request, user, csrf)
        if who.role != "coordinator":
            raise Forbidden("alleen voor de coördinator", where="crisis")
        msg = fn(s, who)
    except InputError as exc:
        return _error(exc, who)
    return _page("Gedaan", f'<p class="melding" role="status">{e(msg)}</p><p><a '
                 f'href="/crisis/coordinator">Terug</a></p>', who)


@crisis_router.post("/crisis/toewijzen", response_class=HTMLResponse)
@_guard
def assign(request: Request, csrf: str = Form("")) -> HTMLResponse:
    def run(s, who):
        out = s.assign(who)
        return (f"{out['fully_covered']} van {out['residents']} bewoners hebben 2 helpers; "
                f"{out['short']} nog niet; {out['kept']} koppels behouden.")
    return _action(request, csrf, run)


@crisis_router.post("/crisis/lijsten", response_class=HTMLResponse)
@_guard
def make_lists(request: Request, csrf: str = Form("")) -> HTMLResponse:
    from weefsel.crisis.lists import produce

    def run(s, who):
        made = produce(s, lists_dir(), actor=who)
        return f"{len(made)} bellijsten gemaakt, elk met een controlegetal."
    return _action(request, csrf, run)


@crisis_router.get("/crisis/lijst/{name}")
@_guard
def get_list(request: Request, name: str):
    who = _who(request)
    if who.role != "coordinator":
        return _error(Forbidden("alleen voor de coördinator", where="crisis"), who)
    if not name.replace("_", "").replace(".", "").isalnum() or ".." in name:
        return _error(InputError("ongeldige naam", where="crisis"), who)
    stem, _, ext = name.rpartition(".")
    p = lists_dir() / f"bellijst_{stem}.{ext}"
    if ext not in ("pdf", "html") or not p.is_file():
        return _error(InputError("lijst niet gevonden", where="crisis"), who)
    get_store().audit.write(who, "download_list", f"buurt:{stem}", ext)
    return FileResponse(p, filename=p.name, headers={"Cache-Control": "no-store"})


@crisis_router.post("/crisis/afkondigen", response_class=HTMLResponse)
@_guard
def declare(request: Request, reden: str = Form(""), csrf: str = Form("")) -> HTMLResponse:
    return _action(request, csrf, lambda s, who: f"crisis {s.declare(who, reden)} afgekondigd")


@crisis_router.post("/crisis/beeindigen", response_class=HTMLResponse)
@_guard
def end(request: Request, csrf: str = Form("")) -> HTMLResponse:
    def run(s, who):
        out = s.end(who)
        return f"crisis beëindigd; behoeften gewist van {len(out['deleted'])} bewoners"
    return _action(request, csrf, run)


@crisis_router.get("/crisis/behoeften", response_class=HTMLResponse)
@_guard
def needs(request: Request) -> HTMLResponse:
    s, who = get_store(), _who(request)
    try:
        rows = s.needs(who)
    except InputError as exc:
        return _error(exc, who)
    trs = "".join(
        f"<tr><td>{e(r['name'])}{' <span class=waarschuwing>synthetisch</span>' if r['synthetic'] else ''}"
        f"</td><td>{e(r['address'])}</td><td>{e(', '.join(r['needs_nl']))}</td>"
        f"<td>{e(', '.join(r['helpers']) or 'geen helper')}</td></tr>" for r in rows)
    body = ('<p>Elke weergave staat in het auditlog, op uw naam.</p>'
            + _table("Behoeften", "behoeftetabel", ["Bewoner", "Adres", "Behoefte", "Helpers"], trs))
    return _page("Behoeften", body, who)


@crisis_router.get("/crisis/audit", response_class=HTMLResponse)
@_guard
def audit(request: Request) -> HTMLResponse:
    """The crisis entries of the registry's audit log (ids and actions only)."""
    from weefsel.crisis.roles import RegistryAudit

    s = get_store()
    who, user = _session(request)
    if who.role != "coordinator" and not (user and user["role"] == "admin"):
        return _error(Forbidden("alleen voor de coördinator of een beheerder", where="crisis"), who)
    rows = RegistryAudit(get_ops()).entries(who.gemeente_code, 500)
    trs = "".join(f"<tr><td>{e(a['at'])}</td><td>{e(a['username'] or '')}</td>"
                  f"<td>{e(a['action'])}</td><td>{e(a['entity'] or '')} {a['entity_id'] or ''}</td>"
                  f"<td>{e(a['detail'] or '')}</td></tr>" for a in rows)
    chain = "intact" if s.audit_log.verify_chain() else "GEBROKEN"
    body = (f"<p>Uit het logboek van het register (alleen ids en handelingen). Eigen hashketen "
            f"van het crisisregister: <strong id='keten'>{chain}</strong>.</p>"
            + _table("Auditlog", "audit", ["Tijd", "Gebruiker", "Actie", "Object", "Details"], trs))
    return _page("Auditlog", body, who)


@crisis_router.get("/crisis/paraatheid", response_class=HTMLResponse)
@_guard
def preparedness_page(request: Request) -> HTMLResponse:
    """Per buurt: which of the five crisis functions lack a carrier (no personal data)."""
    who = _who(request)
    data = getattr(request.app.state, "data", None)
    if data is None or "crisis_preparedness" not in getattr(data, "tables", ()):
        return _page("Paraatheid per buurt", "<p>Nog geen paraatheid berekend. Draai "
                     "<code>weefsel crisis prepare</code> op het warehouse.</p>", who)
    df = data.sql("SELECT buurt_code, any_value(buurt_name) AS naam, "
                  "coalesce(string_agg(CASE WHEN has_carrier THEN NULL ELSE function_nl END, ', '), '') AS gaten, "
                  "sum(CASE WHEN has_carrier THEN 0 ELSE 1 END) AS n, "
                  "max(noodsteunpunt_candidates) AS nsp FROM crisis_preparedness "
                  "GROUP BY 1 ORDER BY n DESC, 1 LIMIT 500")
    trs = "".join(f'<tr><td><a href="/#/gebied/{e(r.buurt_code)}">{e(r.naam)}</a></td>'
                  f'<td class="num">{int(r.n)}</td><td>{e(r.gaten or "geen")}</td>'
                  f'<td class="num">{int(r.nsp)}</td></tr>' for r in df.itertuples())
    body = ("<p>Welke van de vijf crisisfuncties (communiceren en informeren, observeren en "
            "signaleren, verbinden en includeren, initiëren en mobiliseren, dienst verlenen en "
            "herstellen) heeft in een buurt geen drager op loopafstand? Op de kaart: laag "
            "<em>Crisisfuncties zonder drager</em>.</p>"
            + _table("Paraatheid per buurt", "paraatheid",
                     ["Buurt", "#Functies zonder drager", "Welke", "#Noodsteunpunten"], trs))
    return _page("Paraatheid per buurt", body, who)


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
        return JSONResponse({"detail": str(exc)}, status_code=403 if _forbidden(exc) else 400)


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
