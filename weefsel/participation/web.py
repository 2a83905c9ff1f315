"""Burgerbegroting in the web app: JSON API and simple Dutch HTML pages (one router).

Mounted by weefsel.web.api as ``weefsel.participation.web.router`` (prefix ``/api/begroting``).

HTML (lang="nl", every form field has a label, works without JavaScript):
  GET  /api/begroting/                       overzicht + formulier nieuwe begroting
  POST /api/begroting/nieuw                  begroting aanmaken (organisator)
  GET  /api/begroting/p/{id}                 één begroting: voorstellen, controle, stemmen
  POST /api/begroting/p/{id}/voorstel        project voorstellen (titel, kosten, locatie)
  POST /api/begroting/p/{id}/controle        organisator keurt een voorstel (organisatiecode)
  POST /api/begroting/p/{id}/fase            organisator zet de fase
  POST /api/begroting/p/{id}/codes           organisator maakt stemcodes: CSV, brieven (HTML of PDF)
  POST /api/begroting/p/{id}/stem            stemmen (met stemcode, of één stem per browser)
  GET|POST /api/begroting/p/{id}/bewijs      ontvangstbewijs controleren
  GET  /api/begroting/p/{id}/uitslag         uitslag met uitleg per project (na het sluiten)
  GET  /api/begroting/bestanden              de Pabulib-bestanden uit de datamap
  GET  /api/begroting/bestanden/{naam}       uitslag van zo'n bestand (officiële winnaars ernaast)
JSON:
  GET  /api/begroting/processes, GET /api/begroting/processes/{id}
  GET  /api/begroting/processes/{id}/results, GET /api/begroting/processes/{id}/export.pb
       (403 until the vote is closed, unless the organiser chose running results)
  GET  /api/begroting/processes/{id}/receipts   SHA-256 of every counted receipt, sorted
  POST /api/begroting/processes/{id}/codes      {"aantal": n, "organisatiecode": "..."} → codes
  GET  /api/begroting/files/{name}?rule=...

Codes and receipts travel only in POST bodies, never in URLs, so they stay out of access logs.
"""
from __future__ import annotations

import html
import json
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from weefsel.config import default_data_dir
from weefsel.errors import InputError
from weefsel.participation.amounts import format_amount, parse_count, parse_decimal
from weefsel.participation.budgeting.explain import explain, summary
from weefsel.participation.budgeting.pabulib import format_number, parse_pb, read_pb
from weefsel.participation.budgeting.rules import RULES, run_rule
from weefsel.participation.letters import (
    MAX_PDF_LETTERS_WEB,
    codes_csv,
    letters_html,
    letters_pdf,
    vote_url,
)
from weefsel.registry.store import (
    MAX_CHOICES,
    MAX_CODES,
    PHASES,
    Registry,
    UnknownProcess,
)

#: Ids are SQLite/PostgreSQL BIGINTs: larger numbers are a 422, never a server error.
MAX_ID = 2**63 - 1
PID = Annotated[int, PathParam(ge=1, le=MAX_ID)]

router = APIRouter(prefix="/api/begroting", tags=["burgerbegroting"])

_registry: Registry | None = None


def get_registry() -> Registry:
    """The burgerbegroting in the one operational store (``$WEEFSEL_REGISTRY``, read by
    ``Registry`` at call time, or the default SQLite file)."""
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry


def set_registry(reg: Registry | None) -> None:
    """Use another registry (tests, or an app with its own database URL)."""
    global _registry
    _registry = reg


async def _cpu(fn, *args):
    """CPU-heavy work (elections, PDF letters) off the event loop: the server's bounded worker
    pool (``weefsel.web.workers.run_cpu``: queue, time limit, Dutch "bezig" answer) when it is
    there, else a thread. ``fn`` and its arguments are picklable module-level things."""
    try:
        from weefsel.web.workers import run_cpu
    except ImportError:
        return await run_in_threadpool(fn, *args)
    return await run_cpu(fn, *args)


def _pb_dir() -> Path | None:
    base = default_data_dir()
    d = base / "participation" / "pabulib" / "pb_files" if base else None
    return d if d and d.is_dir() else None


e = html.escape


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A page in the dashboard's house (weefsel.web.shell): same header, menu and style."""
    from weefsel.web.shell import page_shell
    doc = page_shell(title, body, active="begroting",
                     section=[("Alle burgerbegrotingen", "/api/begroting/"),
                              ("Voorbeelden uit Pabulib", "/api/begroting/bestanden")])
    return HTMLResponse(doc, status_code=status)


def _error(exc: InputError, status: int = 400) -> HTMLResponse:
    """One Dutch line naming the field, on a page with a way back (no script needed)."""
    if isinstance(exc, UnknownProcess):
        status = 404
    return _page("Dat ging niet", f'<p role="alert">{e(str(exc))}</p><p><a href="/api/begroting/">Terug naar '
                 f'het overzicht</a></p>', status=status)


# --- HTML: processes --------------------------------------------------------------------

#: Cookie holding this browser's random token (eligibility "open": one vote per browser).
BROWSER_COOKIE = "weefsel_stembrowser"

STATUS_NL = {"proposed": "voorgesteld", "checked": "gecontroleerd", "rejected": "afgewezen",
             "on_ballot": "op het stembiljet"}
HIDDEN_NL = ("De uitslag en de stemmen zijn nog verborgen: ze worden openbaar als de stemming "
             "gesloten is.")
ELIGIBILITY_NL = {
    "codes": "Stemmen kan met een stemcode uit een brief van de organisator; elke code werkt één keer.",
    "open": ("Let op: bij deze burgerbegroting geldt één stem per browser, zonder stemcode. Wie meerdere "
             "browsers of apparaten gebruikt of cookies wist, kan vaker stemmen; de uitslag is daarom "
             "minder betrouwbaar dan met stemcodes."),
}


def _visibility_nl(p: dict) -> str:
    if p["results_public"]:
        return ("De organisator heeft gekozen de tussenstand al tijdens het stemmen te tonen; "
                "die kan stemmers beïnvloeden.")
    return "De uitslag en de stemmen blijven verborgen tot de stemming gesloten is."


def _amount(value) -> str:
    return format_amount(value)


@router.get("/", response_class=HTMLResponse)
def index_page() -> HTMLResponse:
    reg = get_registry()
    items = "".join(f'<li><a href="/api/begroting/p/{p["id"]}">{e(p["name"])}</a> — fase: {e(p["phase"])}, '
                    f'budget {e(format_amount(p["budget"], p["currency"]))}</li>' for p in reg.list_processes())
    rules = "".join(f'<option value="{r}"{" selected" if r == "equalshares/add1" else ""}>{r}</option>' for r in RULES)
    body = f"""<ul>{items or '<li>Nog geen burgerbegrotingen.</li>'}</ul>
<h2>Nieuwe burgerbegroting (organisator)</h2>
<form method="post" action="/api/begroting/nieuw">
<label for="naam">Naam</label><input id="naam" name="naam" required maxlength="200">
<label for="omschrijving">Omschrijving (optioneel)</label><textarea id="omschrijving" name="omschrijving" rows="2" maxlength="5000"></textarea>
<label for="budget">Budget in euro (bijv. 10.000 of € 25.000,50)</label><input id="budget" name="budget" inputmode="decimal" required maxlength="40">
<label for="gebied">Gebiedscode (bijv. WK003401, optioneel)</label><input id="gebied" name="gebied" maxlength="20">
<label for="regel">Verdeelregel</label><select id="regel" name="regel">{rules}</select>
<label for="max">Hoogstens zoveel keuzes per stemmer (optioneel, 1 tot 1.000)</label><input id="max" name="max_keuzes" inputmode="numeric" maxlength="6">
<fieldset><legend>Wie mag stemmen?</legend>
<label for="sr-codes"><input type="radio" id="sr-codes" name="stemrecht" value="codes" checked> Met een stemcode per brief (aanbevolen): u maakt de codes hierna aan</label>
<label for="sr-open"><input type="radio" id="sr-open" name="stemrecht" value="open"> Open: één stem per browser, zonder code (minder betrouwbaar: wie meerdere browsers gebruikt, kan vaker stemmen)</label>
</fieldset>
<label for="tussenstand"><input type="checkbox" id="tussenstand" name="tussenstand" value="1"> Toon de tussenstand al tijdens het stemmen (anders pas na het sluiten)</label>
<label for="wijk_vragen"><input type="checkbox" id="wijk_vragen" name="wijk_vragen" value="1"> Vraag stemmers naar hun wijk</label>
<p><button type="submit">Aanmaken</button></p></form>"""
    return _page("Burgerbegroting", body)


@router.post("/nieuw", response_class=HTMLResponse)
def create_page(naam: str = Form(""), budget: str = Form(""), gebied: str = Form(""),
                regel: str = Form("equalshares/add1"), max_keuzes: str = Form(""), omschrijving: str = Form(""),
                stemrecht: str = Form("codes"), tussenstand: str = Form(""),
                wijk_vragen: str = Form("")) -> HTMLResponse:
    try:
        pid, token = get_registry().create_process(
            naam, budget, description=omschrijving, area_code=gebied or None, rule=regel,
            max_choices=max_keuzes, ask_district=bool(wijk_vragen), eligibility=stemrecht,
            results_public=bool(tussenstand))
    except InputError as exc:
        return _error(exc)
    body = (f'<p>De burgerbegroting is aangemaakt: <a href="/api/begroting/p/{pid}">naar de pagina</a>.</p>'
            f'<p role="status">Uw organisatiecode (bewaar hem goed, hij wordt niet nog eens getoond): '
            f'<strong><code id="organisatiecode">{e(token)}</code></strong></p>')
    return _page("Aangemaakt", body)


@router.get("/p/{pid}", response_class=HTMLResponse)
def process_page(pid: PID) -> HTMLResponse:
    reg = get_registry()
    try:
        p = reg.process(pid)
    except InputError as exc:
        return _error(exc, 404)
    rows = "".join(
        f"<tr><td>{x['id']}</td><td>{e(x['title'])}<br><small>{e(x['description'] or '')}</small></td>"
        f"<td>{e(format_amount(x['cost'], p['currency']))}</td><td>{e(STATUS_NL.get(x['status'], x['status']))}"
        f"{(' — ' + e(x['check_note'])) if x['check_note'] else ''}</td></tr>" for x in reg.projects(pid))
    n_ballots = reg.ballot_count(pid)
    max_txt = f" Hoogstens {p['max_choices']} keuzes per stemmer." if p["max_choices"] else ""
    warn = (' role="note" class="waarschuwing" style="border-left:4px solid #b45309;padding-left:.6rem"'
            if p["eligibility"] == "open" else "")
    body = [(f"<p>{e(p['description'] or '')}</p><p>Fase: <strong>{e(p['phase'])}</strong>. Budget: "
             f"{e(format_amount(p['budget'], p['currency']))}. Regel: {e(p['rule'])}.{max_txt}</p>"
             f'<p id="stemrecht"{warn}>{e(ELIGIBILITY_NL[p["eligibility"]])}</p>'
             f'<p id="zichtbaarheid">{e(_visibility_nl(p))}</p>'
             f"<p>Uitgebrachte stemmen: {n_ballots}.</p>"),
            (f'<table><caption>Voorstellen</caption><thead><tr><th scope="col">nr</th><th scope="col">project</th>'
             f'<th scope="col">kosten</th><th scope="col">status</th></tr></thead><tbody>{rows}</tbody></table>')]
    if p["phase"] == "voorstellen":
        body.append(f"""<h2>Project voorstellen</h2><form method="post" action="/api/begroting/p/{pid}/voorstel">
<label for="titel">Titel</label><input id="titel" name="titel" required maxlength="200">
<label for="omschrijving">Omschrijving</label><textarea id="omschrijving" name="omschrijving" rows="3" maxlength="5000"></textarea>
<label for="kosten">Kosten in euro (bijv. 3.000 of 2.500,50)</label><input id="kosten" name="kosten" inputmode="decimal" required maxlength="40">
<label for="lat">Breedtegraad (optioneel, bijv. 52,37)</label><input id="lat" name="lat" inputmode="decimal" maxlength="20">
<label for="lon">Lengtegraad (optioneel, bijv. 5,22)</label><input id="lon" name="lon" inputmode="decimal" maxlength="20">
<label for="buurt">Of: buurt- of wijkcode (optioneel)</label><input id="buurt" name="gebied" maxlength="20">
<p><button type="submit">Voorstel indienen</button></p></form>""")
    if p["phase"] == "stemmen":
        opts = "".join(f'<li><label><input type="checkbox" name="project" value="{x["id"]}"> {e(x["title"])} '
                       f'({e(format_amount(x["cost"], p["currency"]))})</label></li>'
                       for x in reg.projects(pid, "on_ballot"))
        wijk = ('<label for="wijk">Uw wijk</label><input id="wijk" name="wijk" maxlength="100">'
                if p["ask_district"] else "")
        code = ('<label for="code">Stemcode (uit uw brief)</label><input id="code" name="code" required '
                'autocomplete="off" autocapitalize="characters" maxlength="40">' if p["eligibility"] == "codes" else "")
        body.append(f"""<h2>Stemmen</h2><form method="post" action="/api/begroting/p/{pid}/stem">
<fieldset><legend>Kies de projecten die u steunt{f' (hoogstens {p["max_choices"]})' if p['max_choices'] else ''}</legend>
<ul>{opts}</ul></fieldset>{wijk}{code}<p><button type="submit">Stem uitbrengen</button></p></form>""")
    if p["phase"] in ("stemmen", "gesloten"):
        body.append(f'<p><a href="/api/begroting/p/{pid}/bewijs">Controleer uw ontvangstbewijs</a> · '
                    f'<a href="/api/begroting/processes/{pid}/receipts">lijst van meegetelde ontvangstbewijzen '
                    f'(SHA-256)</a></p>')
    phases = "".join(f'<option value="{f}"{" selected" if f == p["phase"] else ""}>{f}</option>' for f in PHASES)
    statuses = "".join(f'<option value="{s}">{STATUS_NL[s]}</option>' for s in ("checked", "rejected", "on_ballot"))
    counts = reg.code_counts(pid)
    codes_form = ""
    if p["eligibility"] == "codes" and p["phase"] != "gesloten":
        codes_form = f"""<form method="post" action="/api/begroting/p/{pid}/codes"><fieldset><legend>Stemcodes uitgeven</legend>
<p>Uitgegeven: {counts['issued']}, gebruikt: {counts['used']}. Codes worden maar één keer getoond: bewaar het bestand.</p>
<label for="k-aantal">Aantal codes (1 tot 100.000)</label><input id="k-aantal" name="aantal" inputmode="numeric" required maxlength="7">
<label for="k-formaat">Als</label><select id="k-formaat" name="formaat">
<option value="csv">CSV-bestand (nummer, stemcode, adres)</option>
<option value="brieven">brieven om te printen (HTML, één per A4)</option>
<option value="pdf">brieven als PDF (hoogstens {MAX_PDF_LETTERS_WEB})</option></select>
<label for="k-adres">Adres van deze site voor op de brief (optioneel, bijv. https://stem.example.nl)</label><input id="k-adres" name="adres" maxlength="200" inputmode="url">
<label for="k-code">Organisatiecode</label><input id="k-code" name="organisatiecode" type="password" required maxlength="100">
<p><button type="submit">Codes maken</button></p></fieldset></form>"""
    results_link = (f'<p><a href="/api/begroting/p/{pid}/uitslag">Uitslag</a> · '
                    f'<a href="/api/begroting/processes/{pid}/export.pb">Download als Pabulib-bestand (.pb)</a></p>'
                    if reg.results_visible(pid) else f"<p>{e(HIDDEN_NL)}</p>")
    body.append(f"""<h2>Organisator</h2>
<form method="post" action="/api/begroting/p/{pid}/controle"><fieldset><legend>Voorstel controleren</legend>
<label for="c-project">Projectnummer</label><input id="c-project" name="project" inputmode="numeric" required maxlength="20">
<label for="c-status">Oordeel</label><select id="c-status" name="status">{statuses}</select>
<label for="c-toel">Toelichting</label><input id="c-toel" name="toelichting" maxlength="1000">
<label for="c-code">Organisatiecode</label><input id="c-code" name="organisatiecode" type="password" required maxlength="100">
<p><button type="submit">Opslaan</button></p></fieldset></form>
<form method="post" action="/api/begroting/p/{pid}/fase"><fieldset><legend>Fase</legend>
<label for="f-fase">Nieuwe fase</label><select id="f-fase" name="fase">{phases}</select>
<label for="f-code">Organisatiecode</label><input id="f-code" name="organisatiecode" type="password" required maxlength="100">
<p><button type="submit">Fase zetten</button></p></fieldset></form>
{codes_form}
{results_link}""")
    return _page(p["name"], "".join(body))


@router.post("/p/{pid}/voorstel", response_class=HTMLResponse)
def propose_page(pid: PID, titel: str = Form(""), kosten: str = Form(""), omschrijving: str = Form(""),
                 lat: str = Form(""), lon: str = Form(""), gebied: str = Form("")):
    try:
        get_registry().propose(pid, titel, kosten, description=omschrijving,
                               lat=parse_decimal(lat, "breedtegraad", low=-90, high=90),
                               lon=parse_decimal(lon, "lengtegraad", low=-180, high=180), area_code=gebied or None)
    except InputError as exc:
        return _error(exc)
    return RedirectResponse(f"/api/begroting/p/{pid}", status_code=303)


@router.post("/p/{pid}/controle", response_class=HTMLResponse)
def check_page(pid: PID, project: str = Form(""), status: str = Form(""), organisatiecode: str = Form(""),
               toelichting: str = Form("")):
    try:
        prid = parse_count(project, "projectnummer", maximum=MAX_ID)
        get_registry().check(pid, prid, status, organisatiecode, toelichting)
    except InputError as exc:
        return _error(exc)
    return RedirectResponse(f"/api/begroting/p/{pid}", status_code=303)


@router.post("/p/{pid}/fase", response_class=HTMLResponse)
def phase_page(pid: PID, fase: str = Form(""), organisatiecode: str = Form("")):
    try:
        get_registry().set_phase(pid, fase, organisatiecode)
    except InputError as exc:
        return _error(exc)
    return RedirectResponse(f"/api/begroting/p/{pid}", status_code=303)


def _issue(pid: int, aantal, organisatiecode: str, adres: str, request: Request, formaat: str = "csv"):
    """Issue codes and render them; a PDF is limited in size on the web (the CLI makes any size)."""
    reg = get_registry()
    p = reg.process(pid)
    if p["eligibility"] != "codes":
        raise InputError("deze burgerbegroting gebruikt geen stemcodes (één stem per browser)")
    if formaat not in ("csv", "brieven", "pdf", "json"):
        raise InputError(f"formaat {formaat[:20]!r} onbekend; kies csv, brieven of pdf")
    n = parse_count(aantal, "aantal codes", maximum=MAX_CODES)
    if formaat == "pdf" and n > MAX_PDF_LETTERS_WEB:
        raise InputError(f"aantal codes: hoogstens {MAX_PDF_LETTERS_WEB} brieven per PDF op de site; "
                         f"gebruik 'weefsel begroting-codes' voor meer")
    url = vote_url(adres.strip() or str(request.base_url), pid)
    reg.check_organiser(pid, organisatiecode)
    codes = reg.issue_codes(pid, n, organisatiecode)
    return p, codes, url


@router.post("/p/{pid}/codes")
async def codes_page(pid: PID, request: Request, aantal: str = Form(""), formaat: str = Form("csv"),
                     adres: str = Form(""), organisatiecode: str = Form("")):
    try:
        p, codes, url = await run_in_threadpool(_issue, pid, aantal, organisatiecode, adres, request, formaat)
    except InputError as exc:
        return _error(exc)
    name = f"stemcodes_begroting_{pid}"
    nocache = {"Cache-Control": "no-store"}
    budget = format_amount(p["budget"], p["currency"])
    if formaat == "csv":
        return Response(codes_csv(codes, url), media_type="text/csv; charset=utf-8",
                        headers={**nocache, "Content-Disposition": f'attachment; filename="{name}.csv"'})
    if formaat == "pdf":
        pdf = await _cpu(_letters_pdf_job, p["name"], codes, url, budget)
        return Response(pdf, media_type="application/pdf",
                        headers={**nocache, "Content-Disposition": f'attachment; filename="{name}.pdf"'})
    return HTMLResponse(letters_html(p["name"], codes, url, budget=budget), headers=nocache)


def _letters_pdf_job(name: str, codes: list[str], url: str, budget: str) -> bytes:
    """Worker job: the letters as a PDF (WeasyPrint; about 20 s for 500 letters)."""
    return letters_pdf(name, codes, url, budget=budget)


@router.post("/p/{pid}/stem", response_class=HTMLResponse)
def vote_page(pid: PID, request: Request, project: list[str] = Form(default=[]), code: str = Form(""),
              wijk: str = Form("")):
    reg = get_registry()
    browser = request.cookies.get(BROWSER_COOKIE) or ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", browser):
        browser = secrets.token_urlsafe(24)
    try:
        ids = [parse_count(x, "project", maximum=MAX_ID) for x in project[:MAX_CHOICES + 1]]
        receipt = reg.vote(pid, ids, code=code or None, district=wijk or None, browser=browser)
    except InputError as exc:
        return _error(exc)
    resp = _page("Bedankt voor uw stem", f"""<p role="status">Uw stem is opgeslagen.</p>
<p>Uw ontvangstbewijs: <strong><code id="ontvangstbewijs">{e(receipt)}</code></strong></p>
<p>Schrijf het op of maak een foto. Hiermee kunt u later nagaan dat uw stem is meegeteld
(<a href="/api/begroting/p/{pid}/bewijs">ontvangstbewijs controleren</a>). Het bewijs zegt niets over wat u
gekozen hebt: het staat niet bij uw stem, en in de openbare lijst staat alleen een onleesbare afdruk (SHA-256)
ervan.</p><p><a href="/api/begroting/p/{pid}">Terug</a></p>""")
    if reg.process(pid)["eligibility"] == "open":
        resp.set_cookie(BROWSER_COOKIE, browser, max_age=365 * 86400, httponly=True, samesite="lax",
                        path="/api/begroting")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _receipt_form(pid: int) -> str:
    return f"""<form method="post" action="/api/begroting/p/{pid}/bewijs">
<label for="bewijs">Ontvangstbewijs (bijv. AB23-CD45-EF67-GH89)</label>
<input id="bewijs" name="bewijs" required autocomplete="off" maxlength="40">
<p><button type="submit">Controleren</button></p></form>
<p>U kunt het ook zelf nagaan: de <a href="/api/begroting/processes/{pid}/receipts">openbare lijst</a> bevat de
SHA-256 van elk meegeteld ontvangstbewijs (hoofdletters, zonder streepjes).</p>"""


@router.get("/p/{pid}/bewijs", response_class=HTMLResponse)
def receipt_page(pid: PID) -> HTMLResponse:
    try:
        p = get_registry().process(pid)
    except InputError as exc:
        return _error(exc, 404)
    return _page(f"Ontvangstbewijs controleren: {p['name']}", _receipt_form(pid))


@router.post("/p/{pid}/bewijs", response_class=HTMLResponse)
def receipt_check(pid: PID, bewijs: str = Form("")) -> HTMLResponse:
    reg = get_registry()
    try:
        p = reg.process(pid)
    except InputError as exc:
        return _error(exc, 404)
    if reg.receipt_counted(pid, bewijs[:40]):
        msg = ('<p role="status" class="ja" id="uitkomst">Ja: een stem met dit ontvangstbewijs is meegeteld.</p>')
    else:
        msg = ('<p role="status" class="nee" id="uitkomst">Nee: dit ontvangstbewijs staat niet in de lijst van '
               'meegetelde stemmen. Controleer de tekens; klopt het toch niet, meld het dan bij de organisator.</p>')
    return _page(f"Ontvangstbewijs controleren: {p['name']}", msg + _receipt_form(pid))


def _result_table(pb, outcome) -> str:
    reasons = explain(pb, outcome)
    chosen = set(outcome.selected)
    official = set(pb.selected() or [])
    has_off = pb.selected() is not None
    rows = "".join(
        f"<tr><td>{e(pid)}</td><td>{e(p.fields.get('name', ''))}</td><td>{e(format_amount(p.cost, pb.currency))}</td>"
        f"<td>{e(p.fields.get('votes', ''))}</td>"
        f"<td class=\"{'ja' if pid in chosen else 'nee'}\">{'ja' if pid in chosen else 'nee'}</td>"
        + (f"<td>{'ja' if pid in official else 'nee'}</td>" if has_off else "")
        + f"<td>{e(reasons[pid])}</td></tr>" for pid, p in pb.projects.items())
    off_head = '<th scope="col">officieel</th>' if has_off else ""
    verdict = ""
    if has_off:
        same = sorted(official) == sorted(chosen)
        verdict = f"<p><strong>{'Gelijk aan' if same else 'Wijkt af van'} de officiële uitslag.</strong></p>"
    return (f"<p>{e(summary(pb, outcome))}</p>{verdict}<table><thead><tr><th scope=\"col\">nr</th>"
            f"<th scope=\"col\">project</th><th scope=\"col\">kosten</th><th scope=\"col\">stemmen</th>"
            f"<th scope=\"col\">gefinancierd</th>{off_head}<th scope=\"col\">waarom</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _table_job(pb, rule: str | None = None) -> str:
    """Worker job: the election and its explained result table (CPU-heavy)."""
    return _result_table(pb, run_rule(pb, rule))


def _json_job(pb, rule: str | None = None) -> dict:
    """Worker job: the election as JSON."""
    return _outcome_json(pb, run_rule(pb, rule))


@router.get("/p/{pid}/uitslag", response_class=HTMLResponse)
async def result_page(pid: PID) -> HTMLResponse:
    reg = get_registry()
    try:
        proc = reg.process(pid)
        if not reg.results_visible(pid):
            return _page(f"Uitslag: {proc['name']}", f'<p role="alert">{e(HIDDEN_NL)}</p>'
                         f'<p><a href="/api/begroting/p/{pid}">Terug</a></p>', status=403)
        pb = reg.to_pb(pid)
        if not pb.ballots:
            return _page(f"Uitslag: {proc['name']}", "<p>Er zijn geen stemmen uitgebracht.</p>")
        table = await _cpu(_table_job, pb)
    except InputError as exc:
        return _error(exc)
    note = "" if proc["phase"] == "gesloten" else f'<p role="note">Tussenstand. {e(_visibility_nl(proc))}</p>'
    warn = f'<p role="note">{e(ELIGIBILITY_NL["open"])}</p>' if proc["eligibility"] == "open" else ""
    return _page(f"Uitslag: {proc['name']}", note + warn + table)


# --- real Pabulib files -----------------------------------------------------------------

@lru_cache(maxsize=8)
def _load(name: str, mtime: float):
    d = _pb_dir()
    return read_pb(d / name)


def _file(name: str):
    d = _pb_dir()
    if d is None:
        raise HTTPException(404, "geen datamap met Pabulib-bestanden")
    path = d / name
    if "/" in name or "\\" in name or not name.endswith(".pb") or not path.is_file():
        raise HTTPException(404, f"bestand {name} niet gevonden")
    return _load(name, path.stat().st_mtime)


@router.get("/bestanden", response_class=HTMLResponse)
def files_page() -> HTMLResponse:
    d = _pb_dir()
    if d is None:
        return _page("Voorbeelden uit Pabulib", "<p>Geen datamap gevonden.</p>")
    items = "".join(f'<li><a href="/api/begroting/bestanden/{f.name}">{e(f.stem)}</a></li>' for f in sorted(d.glob("*.pb")))
    return _page("Voorbeelden uit Pabulib", f"<p>Echte burgerbegrotingen uit Pabulib (pabulib.org).</p><ul>{items}</ul>")


@router.get("/bestanden/{name}", response_class=HTMLResponse)
async def file_page(name: str, regel: str | None = Query(None)) -> HTMLResponse:
    pb = _file(name)
    try:
        table = await _cpu(_table_job, pb, regel)
    except InputError as exc:
        return _error(exc)
    return _page(f"{pb.meta.get('description', name)} ({name})", table)


# --- JSON --------------------------------------------------------------------------------

def _outcome_json(pb, outcome) -> dict:
    return {"rule": outcome.rule, "used_rule": outcome.used_rule or outcome.rule, "selected": outcome.selected,
            "budget": format_number(outcome.budget), "budget_used": format_number(outcome.cost),
            "currency": pb.currency, "comparison": outcome.comparison, "official_selected": pb.selected(),
            "explanations": explain(pb, outcome)}


def _public(proc: dict) -> dict:
    return {k: v for k, v in proc.items() if k != "require_code"}


@router.get("/processes")
def processes_json() -> list[dict]:
    return [_public(p) for p in get_registry().list_processes()]


@router.get("/processes/{pid}")
def process_json(pid: PID) -> dict:
    reg = get_registry()
    try:
        p = reg.process(pid)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    p = _public(p)
    p["projects"] = reg.projects(pid)
    p["ballots"] = reg.ballot_count(pid)
    p["results_visible"] = reg.results_visible(pid)
    return p


def _visible_or_403(reg: Registry, pid: int) -> None:
    try:
        visible = reg.results_visible(pid)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    if not visible:
        raise HTTPException(403, HIDDEN_NL)


@router.get("/processes/{pid}/results", responses={403: {"description": "hidden until the vote closes"},
                                                   404: {"description": "no such burgerbegroting"}})
async def results_json(pid: PID) -> dict:
    reg = get_registry()
    _visible_or_403(reg, pid)
    try:
        pb = reg.to_pb(pid)
        final = reg.process(pid)["phase"] == "gesloten"
        if not pb.ballots:
            return {"rule": reg.process(pid)["rule"], "selected": [], "ballots": 0, "explanations": {},
                    "final": final}
        return {**(await _cpu(_json_job, pb)), "ballots": len(pb.ballots), "final": final}
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/processes/{pid}/export.pb", response_class=PlainTextResponse,
            responses={403: {"description": "hidden until the vote closes"},
                       404: {"description": "no such burgerbegroting"}})
def export_pb(pid: PID) -> PlainTextResponse:
    reg = get_registry()
    _visible_or_403(reg, pid)
    text = reg.export_pb(pid)
    parse_pb(text)  # never serve a file we could not read back
    return PlainTextResponse(text, headers={"Content-Disposition": f'attachment; filename="begroting_{pid}.pb"'})


@router.get("/processes/{pid}/receipts", responses={404: {"description": "no such burgerbegroting"}})
def receipts_json(pid: PID) -> dict:
    """SHA-256 of every counted receipt, sorted: a voter finds their own, nobody learns a ballot."""
    reg = get_registry()
    try:
        reg.process(pid)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    hashes = reg.receipt_hashes(pid)
    return {"process": pid, "hash": "sha256 of the receipt in capitals without dashes", "count": len(hashes),
            "counted": hashes}


class CodesRequest(BaseModel):
    """Issue one-time voting codes (shown once; only their hashes are stored)."""
    aantal: int = Field(ge=1, le=MAX_CODES, description="number of codes")
    organisatiecode: str = Field(min_length=1, max_length=100, description="the organiser token")
    adres: str = Field("", max_length=200, description="site address printed on letters (default: this server)")


@router.post("/processes/{pid}/codes", responses={400: {"description": "bad input or wrong organiser token"},
                                                  404: {"description": "no such burgerbegroting"}})
def codes_json(pid: PID, body: CodesRequest, request: Request) -> Response:
    try:
        _p, codes, url = _issue(pid, body.aantal, body.organisatiecode, body.adres, request, "json")
    except InputError as exc:
        raise HTTPException(404 if isinstance(exc, UnknownProcess) else 400, str(exc)) from None
    return Response(json.dumps({"process": pid, "url": url, "codes": codes}), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@router.get("/files/{name}")
async def file_json(name: str, rule: str | None = Query(None)) -> dict:
    pb = _file(name)
    try:
        return {"file": name, **(await _cpu(_json_job, pb, rule))}
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
