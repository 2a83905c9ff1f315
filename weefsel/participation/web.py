"""Burgerbegroting in the web app: JSON API and simple Dutch HTML pages (one router).

Mounted by weefsel.web.api as ``weefsel.participation.web.router`` (prefix ``/api/begroting``).

HTML (lang="nl", every form field has a label, works without JavaScript):
  GET  /api/begroting/                       overzicht + formulier nieuwe begroting
  GET  /api/begroting/p/{id}                 één begroting: voorstellen, controle, stemmen
  POST /api/begroting/p/{id}/voorstel        project voorstellen (titel, kosten, locatie)
  POST /api/begroting/p/{id}/controle        organisator keurt een voorstel (organisatiecode)
  POST /api/begroting/p/{id}/fase            organisator zet de fase
  POST /api/begroting/p/{id}/stem            stemmen (met stemcode)
  GET  /api/begroting/p/{id}/uitslag         uitslag met uitleg per project
  GET  /api/begroting/bestanden              de Pabulib-bestanden uit de datamap
  GET  /api/begroting/bestanden/{naam}       uitslag van zo'n bestand (officiële winnaars ernaast)
JSON:
  GET  /api/begroting/processes, GET /api/begroting/processes/{id}
  GET  /api/begroting/processes/{id}/results, GET /api/begroting/processes/{id}/export.pb
  GET  /api/begroting/files/{name}?rule=...
"""

from __future__ import annotations

import html
import os
from functools import lru_cache
from pathlib import Path

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from weefsel.config import DEFAULT_REGISTRY_URL, default_data_dir
from weefsel.errors import InputError
from weefsel.participation.budgeting.explain import explain, money, summary
from weefsel.participation.budgeting.pabulib import format_number, parse_pb, read_pb
from weefsel.participation.budgeting.rules import RULES, run_rule
from weefsel.registry.store import PHASES, Registry
from weefsel.web.workers import run_cpu

#: Ids are SQLite/PostgreSQL BIGINTs: larger numbers are a 422, never a server error.
MAX_ID = 2**63 - 1
PID = Annotated[int, PathParam(ge=1, le=MAX_ID)]

router = APIRouter(prefix="/api/begroting", tags=["burgerbegroting"])

_registry: Registry | None = None


def get_registry() -> Registry:
    """The registry used by the pages (``$WEEFSEL_REGISTRY`` or the default SQLite file)."""
    global _registry
    if _registry is None:
        _registry = Registry(os.environ.get("WEEFSEL_REGISTRY", DEFAULT_REGISTRY_URL))
    return _registry


def set_registry(reg: Registry | None) -> None:
    """Use another registry (tests, or an app with its own database URL)."""
    global _registry
    _registry = reg


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
    return _page("Dat ging niet", f'<p role="alert">{e(str(exc))}</p><p><a href="/api/begroting/">Terug naar de burgerbegrotingen</a></p>',
                 status=status)


# --- HTML: processes --------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def index_page() -> HTMLResponse:
    reg = get_registry()
    items = "".join(f'<li><a href="/api/begroting/p/{p["id"]}">{e(p["name"])}</a> — fase: {e(p["phase"])}, '
                    f'budget {e(money(int(float(p["budget"])), p["currency"]))}</li>' for p in reg.list_processes())
    rules = "".join(f'<option value="{r}"{" selected" if r == "equalshares/add1" else ""}>{r}</option>' for r in RULES)
    body = f"""<ul>{items or '<li>Nog geen burgerbegrotingen.</li>'}</ul>
<h2>Nieuwe burgerbegroting (organisator)</h2>
<form method="post" action="/api/begroting/nieuw">
<label for="naam">Naam</label><input id="naam" name="naam" required>
<label for="budget">Budget in euro</label><input id="budget" name="budget" inputmode="decimal" required>
<label for="gebied">Gebiedscode (bijv. WK003401, optioneel)</label><input id="gebied" name="gebied">
<label for="regel">Verdeelregel</label><select id="regel" name="regel">{rules}</select>
<label for="max">Hoogstens zoveel keuzes per stemmer (optioneel)</label><input id="max" name="max_keuzes" type="number" min="1">
<label><input type="checkbox" name="wijk_vragen" value="1"> Vraag stemmers naar hun wijk</label>
<p><button type="submit">Aanmaken</button></p></form>"""
    return _page("Burgerbegroting", body)


@router.post("/nieuw", response_class=HTMLResponse)
def create_page(naam: str = Form(...), budget: str = Form(...), gebied: str = Form(""),
                regel: str = Form("equalshares/add1"), max_keuzes: str = Form(""),
                wijk_vragen: str = Form("")) -> HTMLResponse:
    try:
        pid, token = get_registry().create_process(
            naam, budget, area_code=gebied or None, rule=regel,
            max_choices=int(max_keuzes) if max_keuzes.strip() else None, ask_district=bool(wijk_vragen))
    except (InputError, ValueError) as exc:
        return _error(exc if isinstance(exc, InputError) else InputError(str(exc)))
    body = (f'<p>De burgerbegroting is aangemaakt: <a href="/api/begroting/p/{pid}">naar de pagina</a>.</p>'
            f'<p role="status">Uw organisatiecode (bewaar hem goed, hij wordt niet nog eens getoond): '
            f'<strong><code>{e(token)}</code></strong></p>')
    return _page("Aangemaakt", body)


@router.get("/p/{pid}", response_class=HTMLResponse)
def process_page(pid: PID) -> HTMLResponse:
    reg = get_registry()
    try:
        p = reg.process(pid)
    except InputError as exc:  # no such process
        return _error(exc, 404)
    rows = "".join(
        f"<tr><td>{x['id']}</td><td>{e(x['title'])}<br><small>{e(x['description'] or '')}</small></td>"
        f"<td>{e(money(float(x['cost']), p['currency']))}</td><td>{e(x['status'])}"
        f"{(' — ' + e(x['check_note'])) if x['check_note'] else ''}</td></tr>" for x in reg.projects(pid))
    body = [(f"<p>{e(p['description'] or '')}</p><p>Fase: <strong>{e(p['phase'])}</strong>. Budget: "
             f"{e(money(float(p['budget']), p['currency']))}. Regel: {e(p['rule'])}.</p>"),
            (f'<table><caption>Voorstellen</caption><thead><tr><th scope="col">nr</th><th scope="col">project</th>'
             f'<th scope="col">kosten</th><th scope="col">status</th></tr></thead><tbody>{rows}</tbody></table>')]
    if p["phase"] == "voorstellen":
        body.append(f"""<h2>Project voorstellen</h2><form method="post" action="/api/begroting/p/{pid}/voorstel">
<label for="titel">Titel</label><input id="titel" name="titel" required>
<label for="omschrijving">Omschrijving</label><textarea id="omschrijving" name="omschrijving" rows="3"></textarea>
<label for="kosten">Kosten in euro</label><input id="kosten" name="kosten" inputmode="decimal" required>
<label for="lat">Breedtegraad (optioneel)</label><input id="lat" name="lat" inputmode="decimal">
<label for="lon">Lengtegraad (optioneel)</label><input id="lon" name="lon" inputmode="decimal">
<label for="buurt">Of: buurt- of wijkcode (optioneel)</label><input id="buurt" name="gebied">
<p><button type="submit">Voorstel indienen</button></p></form>""")
    if p["phase"] == "stemmen":
        opts = "".join(f'<li><label><input type="checkbox" name="project" value="{x["id"]}"> {e(x["title"])} '
                       f'({e(money(float(x["cost"]), p["currency"]))})</label></li>' for x in reg.projects(pid, "on_ballot"))
        wijk = ('<label for="wijk">Uw wijk</label><input id="wijk" name="wijk">' if p["ask_district"] else "")
        code = ('<label for="code">Stemcode (uit uw brief)</label><input id="code" name="code" required '
                'autocomplete="off">' if p["require_code"] else "")
        body.append(f"""<h2>Stemmen</h2><form method="post" action="/api/begroting/p/{pid}/stem">
<fieldset><legend>Kies de projecten die u steunt{f' (hoogstens {p["max_choices"]})' if p['max_choices'] else ''}</legend>
<ul>{opts}</ul></fieldset>{wijk}{code}<p><button type="submit">Stem uitbrengen</button></p></form>""")
    phases = "".join(f'<option value="{f}"{" selected" if f == p["phase"] else ""}>{f}</option>' for f in PHASES)
    statuses = "".join(f'<option value="{s}">{s}</option>' for s in ("checked", "rejected", "on_ballot"))
    body.append(f"""<h2>Organisator</h2>
<form method="post" action="/api/begroting/p/{pid}/controle"><fieldset><legend>Voorstel controleren</legend>
<label for="c-project">Projectnummer</label><input id="c-project" name="project" type="number" required>
<label for="c-status">Oordeel</label><select id="c-status" name="status">{statuses}</select>
<label for="c-toel">Toelichting</label><input id="c-toel" name="toelichting">
<label for="c-code">Organisatiecode</label><input id="c-code" name="organisatiecode" type="password" required>
<p><button type="submit">Opslaan</button></p></fieldset></form>
<form method="post" action="/api/begroting/p/{pid}/fase"><fieldset><legend>Fase</legend>
<label for="f-fase">Nieuwe fase</label><select id="f-fase" name="fase">{phases}</select>
<label for="f-code">Organisatiecode</label><input id="f-code" name="organisatiecode" type="password" required>
<p><button type="submit">Fase zetten</button></p></fieldset></form>
<p><a href="/api/begroting/p/{pid}/uitslag">Uitslag</a> ·
<a href="/api/begroting/processes/{pid}/export.pb">Download als Pabulib-bestand (.pb)</a></p>""")
    return _page(p["name"], "".join(body))


def _float_or_none(x: str) -> float | None:
    x = (x or "").strip().replace(",", ".")
    return float(x) if x else None


@router.post("/p/{pid}/voorstel", response_class=HTMLResponse)
def propose_page(pid: PID, titel: str = Form(...), kosten: str = Form(...), omschrijving: str = Form(""),
                 lat: str = Form(""), lon: str = Form(""), gebied: str = Form("")):
    try:
        get_registry().propose(pid, titel, kosten, description=omschrijving, lat=_float_or_none(lat),
                               lon=_float_or_none(lon), area_code=gebied or None)
    except InputError as exc:
        return _error(exc)
    except ValueError:
        return _error(InputError("locatie is geen getal"))
    return RedirectResponse(f"/api/begroting/p/{pid}", status_code=303)


@router.post("/p/{pid}/controle", response_class=HTMLResponse)
def check_page(pid: PID, project: int = Form(..., ge=1, le=MAX_ID), status: str = Form(...), organisatiecode: str = Form(...),
               toelichting: str = Form("")):
    try:
        get_registry().check(pid, project, status, organisatiecode, toelichting)
    except InputError as exc:
        return _error(exc)
    return RedirectResponse(f"/api/begroting/p/{pid}", status_code=303)


@router.post("/p/{pid}/fase", response_class=HTMLResponse)
def phase_page(pid: PID, fase: str = Form(...), organisatiecode: str = Form(...)):
    try:
        get_registry().set_phase(pid, fase, organisatiecode)
    except InputError as exc:
        return _error(exc)
    return RedirectResponse(f"/api/begroting/p/{pid}", status_code=303)


@router.post("/p/{pid}/stem", response_class=HTMLResponse)
def vote_page(pid: PID, project: list[int] = Form(default=[]), code: str = Form(""), wijk: str = Form("")):
    if any(not 1 <= x <= MAX_ID for x in project):
        raise HTTPException(422, "Ongeldige invoer: onbekend projectnummer")
    try:
        receipt = get_registry().vote(pid, project, code=code or None, district=wijk or None)
    except InputError as exc:
        return _error(exc)
    return _page("Bedankt voor uw stem", f'<p role="status">Uw stem is opgeslagen. Ontvangstnummer: '
                                         f'<code>{e(receipt)}</code>.</p><p><a href="/api/begroting/p/{pid}">Terug</a></p>')


def _result_table(pb, outcome) -> str:
    reasons = explain(pb, outcome)
    chosen = set(outcome.selected)
    official = set(pb.selected() or [])
    has_off = pb.selected() is not None
    rows = "".join(
        f"<tr><td>{e(pid)}</td><td>{e(p.fields.get('name', ''))}</td><td>{e(money(p.cost, pb.currency))}</td>"
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
    """Worker-process job: the election and its explained result table (CPU-heavy)."""
    return _result_table(pb, run_rule(pb, rule))


def _json_job(pb, rule: str | None = None) -> dict:
    """Worker-process job: the election as JSON."""
    return _outcome_json(pb, run_rule(pb, rule))


@router.get("/p/{pid}/uitslag", response_class=HTMLResponse)
async def result_page(pid: PID) -> HTMLResponse:
    reg = get_registry()
    try:
        proc = reg.process(pid)
    except InputError as exc:  # no such process
        return _error(exc, 404)
    try:
        pb = reg.to_pb(pid)
        if not pb.ballots:
            return _page(f"Uitslag: {proc['name']}", "<p>Er zijn nog geen stemmen.</p>")
        table = await run_cpu(_table_job, pb)
    except InputError as exc:
        return _error(exc)
    return _page(f"Uitslag: {proc['name']}", table)


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
        table = await run_cpu(_table_job, pb, regel)
    except InputError as exc:
        return _error(exc)
    return _page(f"{pb.meta.get('description', name)} ({name})", table)


# --- JSON --------------------------------------------------------------------------------

def _outcome_json(pb, outcome) -> dict:
    return {"rule": outcome.rule, "used_rule": outcome.used_rule or outcome.rule, "selected": outcome.selected,
            "budget": format_number(outcome.budget), "budget_used": format_number(outcome.cost),
            "currency": pb.currency, "comparison": outcome.comparison, "official_selected": pb.selected(),
            "explanations": explain(pb, outcome)}


@router.get("/processes")
def processes_json() -> list[dict]:
    return get_registry().list_processes()


@router.get("/processes/{pid}")
def process_json(pid: PID) -> dict:
    reg = get_registry()
    try:
        p = reg.process(pid)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    p["projects"] = reg.projects(pid)
    p["ballots"] = reg.ballot_count(pid)
    return p


@router.get("/processes/{pid}/results")
async def results_json(pid: PID) -> dict:
    reg = get_registry()
    try:
        pb = reg.to_pb(pid)
        return await run_cpu(_json_job, pb)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/processes/{pid}/export.pb", response_class=PlainTextResponse)
def export_pb(pid: PID) -> PlainTextResponse:
    try:
        text = get_registry().export_pb(pid)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    parse_pb(text)  # never serve a file we could not read back
    return PlainTextResponse(text, headers={"Content-Disposition": f'attachment; filename="begroting_{pid}.pb"'})


@router.get("/files/{name}")
async def file_json(name: str, rule: str | None = Query(None)) -> dict:
    pb = _file(name)
    try:
        return {"file": name, **(await run_cpu(_json_job, pb, rule))}
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
