"""Registry web routes: Dutch forms (login, initiative, meeting place, signal, moderation)
and the open read endpoints (CSV, GeoJSON, Open311 GeoReport v2-style signals).

Why here: the registry is the part of weefsel where people write, so every form carries a
CSRF token bound to the session (or, before login, a double-submit cookie), writes and
logins are rate limited per client, and errors are one Dutch line, never a traceback.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool as off_loop  # store calls block: never on the event loop

from weefsel.errors import InputError
from weefsel.registry import export as rexport
from weefsel.registry.ops import (
    CRISIS_FUNCTIONS,
    KIS_KEYS,
    LADDER,
    PLACE_TYPES,
    THEMES,
    Forbidden,
    OpsStore,
)

SESSION_COOKIE = "weefsel_sessie"
ANON_CSRF_COOKIE = "weefsel_csrf"
MAX_FORM_BYTES = 64_000
esc = html.escape


class RateLimit:
    """At most ``n`` events per ``per`` seconds per key (a sliding window, in memory)."""

    def __init__(self, n: int, per: float):
        self.n, self.per = n, per
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.per:
                q.popleft()
            if len(q) >= self.n:
                return False
            q.append(now)
            return True


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    try:
        from weefsel.web.shell import page_shell  # the dashboard's house style, when merged
        doc = page_shell(title, body, section=SECTION)
    except ImportError:  # before the dashboard's shell is merged
        doc = ('<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">'
               '<meta name="viewport" content="width=device-width, initial-scale=1">'
               f'<title>{esc(title)} — weefsel</title><link rel="icon" href="data:,">'
               '<link rel="stylesheet" href="/static/style.css"></head><body>'
               '<a class="skip" href="#inhoud">Naar de inhoud</a><header><p>weefsel — register</p>'
               '<nav aria-label="Register"><ul>'
               + "".join(f'<li><a href="{h}">{esc(t)}</a></li>' for t, h in SECTION)
               + f'</ul></nav></header><main id="inhoud"><h1>{esc(title)}</h1>{body}</main></body></html>')
    return HTMLResponse(doc, status_code=status, headers={"Cache-Control": "no-store"})


SECTION = [("Register", "/registratie"), ("Initiatief toevoegen", "/registratie/initiatief"),
           ("Ontmoetingsplek toevoegen", "/registratie/plek"), ("Signaal melden", "/registratie/signaal"),
           ("Moderatie", "/registratie/moderatie"), ("Accounts", "/registratie/gebruikers")]


def _field(name: str, label: str, *, kind: str = "text", required: bool = False, hint: str = "",
           maxlength: int = 200) -> str:
    req = " required" if required else ""
    hid = f' aria-describedby="{name}-hint"' if hint else ""
    hint_html = f'<p class="hint" id="{name}-hint">{esc(hint)}</p>' if hint else ""
    if kind == "textarea":
        ctl = f'<textarea id="{name}" name="{name}" rows="4" maxlength="{maxlength}"{req}{hid}></textarea>'
    else:
        ctl = f'<input id="{name}" name="{name}" type="{kind}" maxlength="{maxlength}"{req}{hid}>'
    return f'<p><label for="{name}">{esc(label)}</label>{hint_html}{ctl}</p>'


def _select(name: str, label: str, options, *, multiple: bool = False, required: bool = False) -> str:
    mult = " multiple" if multiple else ""
    req = " required" if required else ""
    opts = "".join(f'<option value="{esc(str(v))}">{esc(str(t))}</option>' for v, t in options)
    blank = "" if multiple else '<option value="">— kies —</option>'
    return f'<p><label for="{name}">{esc(label)}</label><select id="{name}" name="{name}"{mult}{req}>{blank}{opts}</select></p>'


def _yesno(name: str, label: str) -> str:
    return _select(name, label, [("ja", "ja"), ("nee", "nee"), ("", "niet gevraagd / onbekend")])


def make_router(store_factory: Callable[[], OpsStore], *, login_limit: RateLimit | None = None,
                write_limit: RateLimit | None = None) -> APIRouter:
    """The registry routes over one store (made lazily, so the dashboard starts without it)."""
    router = APIRouter()
    login_limit = login_limit or RateLimit(10, 60)
    write_limit = write_limit or RateLimit(30, 60)
    holder: dict[str, OpsStore] = {}
    lock = threading.Lock()

    def store() -> OpsStore:
        if "s" not in holder:
            with lock:
                if "s" not in holder:
                    holder["s"] = store_factory()
        return holder["s"]

    def client(request: Request) -> str:
        return request.client.host if request.client else "?"

    def current(request: Request) -> dict | None:
        return store().session_user(request.cookies.get(SESSION_COOKIE))

    def csrf_for(request: Request, user: dict | None) -> tuple[str, str | None]:
        """(token for the form, new anonymous cookie value or None)."""
        if user:
            return user["csrf"], None
        tok = request.cookies.get(ANON_CSRF_COOKIE)
        if tok and len(tok) >= 20:
            return tok, None
        tok = secrets.token_urlsafe(24)
        return tok, tok

    def form_page(request: Request, title: str, body_fn: Callable[[str, dict | None], str]) -> HTMLResponse:
        user = current(request)
        tok, new_cookie = csrf_for(request, user)
        who = (f'<p>Ingelogd als <strong>{esc(user["username"])}</strong> ({esc(user["role"])}, '
               f'{esc(user["gemeente_code"])}).</p>') if user else ""
        resp = _page(title, who + body_fn(tok, user))
        if new_cookie:
            resp.set_cookie(ANON_CSRF_COOKIE, new_cookie, httponly=True, secure=True, samesite="strict",
                            path="/registratie")
        return resp

    def hidden(tok: str) -> str:
        return (f'<input type="hidden" name="csrf" value="{esc(tok)}">'
                f'<input type="hidden" name="submission_key" value="{secrets.token_urlsafe(16)}">')

    async def read_form(request: Request, limiter: RateLimit) -> tuple[dict, dict | None]:
        """The posted form after the size, rate and CSRF checks; raises InputError/Forbidden."""
        if not limiter.allow(client(request)):
            raise RateLimited()
        size = int(request.headers.get("content-length") or 0)
        if size > MAX_FORM_BYTES:
            raise InputError(f"het formulier is te groot ({size} bytes, hooguit {MAX_FORM_BYTES})")
        form = await request.form()
        data: dict = {}
        for k, v in form.multi_items():
            if not isinstance(v, str):
                raise InputError("bestanden worden hier niet aangenomen")
            data[k] = f"{data[k]},{v}" if k in data else v
        user = await off_loop(current, request)
        expected = user["csrf"] if user else request.cookies.get(ANON_CSRF_COOKIE)
        if not expected or not secrets.compare_digest(str(data.get("csrf", "")), expected):
            raise CsrfError()
        return data, user

    def error_page(exc: Exception) -> HTMLResponse:
        if isinstance(exc, RateLimited):
            return _page("Even wachten", '<p role="alert">Te veel pogingen; probeer het over een minuut opnieuw.</p>', 429)
        if isinstance(exc, CsrfError):
            return _page("Formulier verlopen", '<p role="alert">Het formulier is verlopen of niet van deze site '
                         '(CSRF-controle). Laad de pagina opnieuw en probeer het nog eens.</p>', 403)
        status = 403 if isinstance(exc, Forbidden) else 400
        return _page("Dat lukte niet", f'<p role="alert">{esc(str(exc))}</p>'
                     '<p><a href="/registratie">Terug naar het register</a> (of gebruik de terugknop van uw browser).</p>', status)

    # --- pages -------------------------------------------------------------------------------
    @router.get("/registratie", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request):
        def body(tok, user):
            if user:
                return (f'<form method="post" action="/registratie/uitloggen">{hidden(tok)}'
                        '<button type="submit">Uitloggen</button></form>'
                        '<p>Open data: <a href="/api/registry/initiatives.csv">initiatieven (CSV)</a>, '
                        '<a href="/api/registry/places.geojson">ontmoetingsplekken (GeoJSON)</a>, '
                        '<a href="/api/registry/signal-counts">signalen per buurt en thema</a>.</p>')
            return ('<h2>Inloggen</h2><form method="post" action="/registratie/inloggen">' + hidden(tok)
                    + _field("username", "Gebruikersnaam", required=True, maxlength=80)
                    + _field("password", "Wachtwoord", kind="password", required=True)
                    + '<button type="submit">Inloggen</button></form>'
                    '<p>Een signaal melden kan zonder account: <a href="/registratie/signaal">signaal melden</a>.</p>')
        return form_page(request, "Register van initiatieven, plekken en signalen", body)

    @router.post("/registratie/inloggen", include_in_schema=False)
    async def login(request: Request):
        try:
            data, _ = await read_form(request, login_limit)
            token, _csrf = await off_loop(lambda: store().login(data.get("username", ""), data.get("password", "")))
        except (InputError, RateLimited, CsrfError) as exc:
            return error_page(exc)
        resp = RedirectResponse("/registratie", status_code=303)
        resp.set_cookie(SESSION_COOKIE, token, httponly=True, secure=True, samesite="strict",
                        max_age=8 * 3600, path="/")
        return resp

    @router.post("/registratie/uitloggen", include_in_schema=False)
    async def logout(request: Request):
        try:
            await read_form(request, write_limit)
        except (InputError, RateLimited, CsrfError) as exc:
            return error_page(exc)
        await off_loop(lambda: store().logout(request.cookies.get(SESSION_COOKIE, "")))
        resp = RedirectResponse("/registratie", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    def contributor_form(action: str, button: str, fields: Callable[[], str]) -> Callable[[str, dict | None], str]:
        """The body of a form only contributors fill in; anyone else is asked to log in first."""
        def body(tok, user):
            if not user:
                return '<p>Log eerst in (rol bijdrager of hoger) via <a href="/registratie">het register</a>.</p>'
            return (f'<form method="post" action="{action}">' + hidden(tok) + fields()
                    + f'<button type="submit">{esc(button)}</button></form>')
        return body

    def saved_route(path: str, name: str, add: str, title: str, message: Callable[[int], str]) -> None:
        """POST ``path``: the checked form through ``store().<add>`` (idempotent per submission
        key), then a Dutch confirmation page; bad input is one Dutch line."""
        async def post(request: Request):
            try:
                data, user = await read_form(request, write_limit)
                new_id = await off_loop(lambda: getattr(store(), add)(user, data,
                                                                      submission_key=data.get("submission_key")))
            except (InputError, RateLimited, CsrfError) as exc:
                return error_page(exc)
            return _page(title, message(new_id))
        router.post(path, include_in_schema=False, name=name)(post)

    def initiative_fields() -> str:
        return (_field("name", "Naam", required=True)
                + _field("description", "Beschrijving", kind="textarea", maxlength=4000)
                + _field("area_codes", "Gebied(en): CBS-code", hint="bijv. BU00340101; meerdere met komma")
                + _field("lat", "Breedtegraad (optioneel)", hint="bijv. 52.37") + _field("lon", "Lengtegraad (optioneel)", hint="bijv. 5.21")
                + _select("themes", "Thema's", [(t, t) for t in THEMES], multiple=True)
                + _select("crisis_functions", "Crisisfuncties die het kan oppakken",
                          [(c, c.replace("_", " ")) for c in CRISIS_FUNCTIONS], multiple=True)
                + _select("ladder_step", "Trede op de participatieladder", [(k, f"{k}. {v}") for k, v in LADDER.items()])
                + _field("contact_role", "Contact (een rol of organisatie, geen privépersoon)")
                + _field("start_date", "Startdatum", kind="date") + _field("end_date", "Einddatum", kind="date")
                + _field("source", "Bron"))

    def place_fields() -> str:
        keys = "".join(_yesno(f"kis_{k}", f"Is de plek {k}? (gevraagd aan bezoekers)") for k in KIS_KEYS)
        return (_field("name", "Naam", required=True)
                + _select("type", "Soort plek", [(t, t) for t in PLACE_TYPES], required=True)
                + _field("lat", "Breedtegraad", required=True) + _field("lon", "Lengtegraad", required=True)
                + _field("area_code", "Buurt (CBS-code, optioneel)")
                + _field("opening_hours", "Openingstijden", maxlength=400)
                + _field("capacity", "Capaciteit (personen)", kind="number")
                + _yesno("step_free", "Drempelvrij toegankelijk") + _yesno("toilet", "Toilet aanwezig")
                + keys + _field("programme", "Programma", kind="textarea", maxlength=4000)
                + _field("source", "Bron"))

    @router.get("/registratie/initiatief", response_class=HTMLResponse, include_in_schema=False)
    def initiative_form(request: Request):
        return form_page(request, "Initiatief toevoegen",
                         contributor_form("/registratie/initiatieven", "Initiatief opslaan", initiative_fields))

    saved_route("/registratie/initiatieven", "initiative_post", "add_initiative", "Initiatief opgeslagen",
                lambda i: f'<p role="status">Initiatief {i} is opgeslagen.</p>'
                          '<p><a href="/registratie/initiatief">Nog een toevoegen</a></p>')

    @router.get("/registratie/plek", response_class=HTMLResponse, include_in_schema=False)
    def place_form(request: Request):
        return form_page(request, "Ontmoetingsplek toevoegen",
                         contributor_form("/registratie/plekken", "Plek opslaan", place_fields))

    saved_route("/registratie/plekken", "place_post", "add_place", "Plek opgeslagen",
                lambda i: f'<p role="status">Ontmoetingsplek {i} is opgeslagen.</p>')

    @router.get("/registratie/signaal", response_class=HTMLResponse, include_in_schema=False)
    def signal_form(request: Request):
        def body(tok, user):
            return ('<p>Een signaal is een korte waarneming over uw buurt. Het wordt eerst beoordeeld; '
                    'openbaar zijn alleen aantallen per buurt en thema.</p>'
                    '<form method="post" action="/registratie/signalen">' + hidden(tok)
                    + _field("area_code", "Buurt of wijk (CBS-code)", required=True, hint="bijv. BU00340101")
                    + _select("theme", "Thema", [(t, t) for t in THEMES], required=True)
                    + _field("text", "Wat ziet of merkt u?", kind="textarea", required=True, maxlength=1000)
                    + _field("indicator", "Indicator (optioneel)", maxlength=80)
                    + _field("reporter_contact", "Uw e-mail of telefoon (optioneel; wordt na 90 dagen gewist)")
                    + '<button type="submit">Signaal versturen</button></form>')
        return form_page(request, "Signaal melden", body)

    @router.post("/registratie/signalen", include_in_schema=False)
    async def signal_post(request: Request):
        try:
            data, user = await read_form(request, write_limit)
            def save():
                s = store()
                found = s.duplicate_signals(str(data.get("area_code", "")).strip().upper(),
                                            str(data.get("theme", "")).strip().lower(), str(data.get("text", "")))
                return found, s.add_signal(user, data, submission_key=data.get("submission_key"))
            dups, (sid, key) = await off_loop(save)
        except (InputError, RateLimited, CsrfError) as exc:
            return error_page(exc)
        dup = ""
        dups = [d for d in dups if d["id"] != sid]
        if dups:
            dup = ("<p>Er zijn vergelijkbare signalen in dit gebied: "
                   + ", ".join(f"nr. {d['id']}" for d in dups[:5]) + ".</p>")
        return _page("Signaal ontvangen", f'<p role="status">Dank u. Uw signaal heeft nummer {sid}.</p>'
                     f'<p>Bewaar deze code om de reactie van de gemeente te lezen: <code>{esc(key)}</code> '
                     f'(<a href="/registratie/signaal/{sid}?code={esc(key)}">reactie bekijken</a>).</p>{dup}')

    @router.get("/registratie/signaal/{sid}", response_class=HTMLResponse, include_in_schema=False)
    def signal_status(sid: int, code: str = ""):
        try:
            s = store().signal_for_reporter(sid, code)
        except InputError as exc:
            return error_page(exc)
        resp = f"<p>Reactie van de gemeente: {esc(s['response'])}</p>" if s["response"] else \
            "<p>Nog geen reactie van de gemeente.</p>"
        reason = f"<p>Reden: {esc(s['reason'])}</p>" if s["reason"] else ""
        return _page(f"Signaal {sid}", f"<p>Status: <strong>{esc(s['status'])}</strong></p>{reason}{resp}"
                     f"<blockquote>{esc(s['text'])}</blockquote>")

    @router.get("/registratie/moderatie", response_class=HTMLResponse, include_in_schema=False)
    def moderation(request: Request):
        def body(tok, user):
            if not user or user["role"] not in ("moderator", "admin"):
                return '<p>Alleen moderatoren en beheerders van de gemeente kunnen signalen beoordelen.</p>'
            rows = store().signals(gemeente_code=user["gemeente_code"], status="nieuw")
            if not rows:
                return "<p>Geen nieuwe signalen.</p>"
            out = []
            for s in rows:
                sid = s["id"]
                out.append(
                    f'<section aria-labelledby="s{sid}"><h2 id="s{sid}">Signaal {sid}: {esc(s["theme"])} in '
                    f'{esc(s["area_code"])}</h2><blockquote>{esc(s["text"])}</blockquote>'
                    f'<form method="post" action="/registratie/signalen/{sid}/beoordeling">{hidden(tok)}'
                    + _select(f"status-{sid}", "Besluit", [("geaccepteerd", "accepteren"), ("afgewezen", "afwijzen")],
                              required=True).replace(f'name="status-{sid}"', 'name="status"')
                    + _field(f"reason-{sid}", "Reden (verplicht bij afwijzen)", maxlength=1000).replace(
                        f'name="reason-{sid}"', 'name="reason"')
                    + f'<p><label for="shown-{sid}">Tekst zoals openbaar getoond (haal persoonsgegevens weg)</label>'
                    f'<textarea id="shown-{sid}" name="text_shown" rows="3" maxlength="1000">{esc(s["text"])}</textarea></p>'
                    + _field(f"response-{sid}", "Reactie van de gemeente (optioneel)", kind="textarea",
                             maxlength=4000).replace(f'name="response-{sid}"', 'name="response"')
                    + '<button type="submit">Opslaan</button></form></section>')
            return "".join(out)
        return form_page(request, "Signalen beoordelen", body)

    @router.post("/registratie/signalen/{sid}/beoordeling", include_in_schema=False)
    async def moderate_post(sid: int, request: Request):
        try:
            data, user = await read_form(request, write_limit)
            def save():
                shown = data.get("text_shown")
                if shown is not None and shown.strip() == store().signal(sid)["text"]:
                    shown = None  # unchanged
                store().moderate(user, sid, str(data.get("status", "")), str(data.get("reason", "")), text_shown=shown)
                if str(data.get("response", "")).strip():
                    store().respond(user, sid, str(data["response"]))
            await off_loop(save)
        except (InputError, RateLimited, CsrfError) as exc:
            return error_page(exc)
        return _page("Beoordeling opgeslagen", f'<p role="status">Signaal {sid} is beoordeeld.</p>'
                     '<p><a href="/registratie/moderatie">Terug naar de moderatie</a></p>')

    @router.get("/registratie/gebruikers", response_class=HTMLResponse, include_in_schema=False)
    def users_page(request: Request):
        def body(tok, user):
            if not user or user["role"] != "admin":
                return "<p>Alleen beheerders van de gemeente kunnen accounts aanmaken en het logboek inzien.</p>"
            log = store().audit_log(50, gemeente_code=user["gemeente_code"])
            rows = "".join(f"<tr><td>{esc(r['at'])}</td><td>{r['user_id'] or ''}</td><td>{esc(r['action'])}</td>"
                           f"<td>{esc(r['entity'] or '')} {r['entity_id'] or ''}</td><td>{esc(r['detail'] or '')}</td></tr>"
                           for r in log)
            return ('<h2>Account aanmaken</h2><form method="post" action="/registratie/gebruikers">' + hidden(tok)
                    + _field("username", "Gebruikersnaam", required=True, maxlength=80)
                    + _field("password", "Tijdelijk wachtwoord (minstens 10 tekens)", kind="password", required=True)
                    + _select("role", "Rol", [(r, r) for r in ("viewer", "contributor", "moderator", "admin")],
                              required=True)
                    + '<button type="submit">Account aanmaken</button></form>'
                    '<h2>Logboek (laatste 50 wijzigingen)</h2><div class="tabel-wrap" tabindex="0" role="region" '
                    'aria-label="Logboek"><table><thead><tr><th scope="col">Tijd</th><th scope="col">Gebruiker</th>'
                    '<th scope="col">Actie</th><th scope="col">Object</th><th scope="col">Details</th></tr></thead>'
                    f'<tbody>{rows}</tbody></table></div>')
        return form_page(request, "Accounts en logboek", body)

    @router.post("/registratie/gebruikers", include_in_schema=False)
    async def users_post(request: Request):
        try:
            data, user = await read_form(request, write_limit)
            if user is None:
                raise Forbidden("log eerst in")
            uid = await off_loop(lambda: store().create_user(data.get("username", ""), data.get("password", ""),
                                                             data.get("role", ""), user["gemeente_code"], actor=user))
        except (InputError, RateLimited, CsrfError) as exc:
            return error_page(exc)
        return _page("Account aangemaakt", f'<p role="status">Account {uid} is aangemaakt.</p>'
                     '<p><a href="/registratie/gebruikers">Terug</a></p>')

    # --- open data -----------------------------------------------------------------------------
    @router.get("/api/registry/{what}.{fmt}", tags=["registry"])
    def open_export(what: str, fmt: str):
        """Public fields of initiatives or meeting places as CSV or GeoJSON (open data)."""
        if what not in ("initiatives", "places") or fmt not in ("csv", "geojson"):
            return JSONResponse({"detail": "Niet gevonden: kies initiatives of places, csv of geojson"}, 404)
        rows = rexport.public_rows(store(), what)
        if fmt == "csv":
            return Response(rexport.to_csv(rows), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{what}.csv"'})
        return JSONResponse(rexport.to_geojson(rows), media_type="application/geo+json")

    @router.get("/api/registry/signal-counts", tags=["registry"])
    def signal_counts():
        """Accepted signals per area and theme; small counts suppressed (null, suppressed=true)."""
        s = store()
        return {"suppress_below": s.suppress_below, "counts": s.public_signal_counts()}

    @router.get("/api/registry/areas/{code}", tags=["registry"])
    def area_section(code: str):
        """The registry's section of an area profile: initiatives, meeting places, signal counts per
        theme (suppressed below the threshold) and the gemeente's responses (no reporter data)."""
        s = store()
        code = code.strip().upper()
        inits = [r for r in rexport.public_rows(s, "initiatives")
                 if code in (r["area_codes"] or "").split(",") or code == r["gemeente_code"]]
        plcs = [r for r in rexport.public_rows(s, "places")
                if code in (r["area_code"] or "", r["gemeente_code"])]
        counts = [c for c in s.public_signal_counts() if c["area_code"] == code]
        responses = [{"theme": x["theme"], "response": x["response"], "response_at": x["response_at"]}
                     for x in s.signals(status="geaccepteerd", area_code=code) if x["response"]]
        return {"area_code": code, "initiatives": inits, "places": plcs, "signal_counts": counts,
                "responses": responses, "suppress_below": s.suppress_below}

    @router.get("/open311/v2/services.json", tags=["registry"])
    def open311_services():
        """Open311 GeoReport v2-style service list: one service per signal theme."""
        return [{"service_code": t, "service_name": t, "description": f"Signalen over {t}",
                 "metadata": False, "type": "realtime", "keywords": "", "group": "sociaal weefsel"}
                for t in THEMES]

    @router.get("/open311/v2/requests.json", tags=["registry"])
    def open311_requests(service_code: str | None = None, status: str | None = None):
        """Accepted signals, public fields only (no contact, no reporter, no exact original)."""
        return rexport.open311(store(), service_code=service_code, status=status)

    return router


class RateLimited(Exception):
    """Too many attempts from one client."""


class CsrfError(Exception):
    """A form without the token of this session."""


def router_for(area_codes: Callable[[], set[str]] | None = None) -> APIRouter:
    """The router over the store in ``WEEFSEL_REGISTRY``, validating codes against the warehouse."""
    return make_router(lambda: OpsStore(area_codes=area_codes() if area_codes else None))
