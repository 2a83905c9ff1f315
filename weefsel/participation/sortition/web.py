"""Web API of the burgerberaad: upload the two CSV files, get probabilities and the panel.

Mounted by the web app (``app.include_router(router)``). Besides the JSON ``POST /api/beraad``
there are Dutch HTML pages (rendered in ``pages``):
  GET  /api/beraad/                  formulier + voorbeelden uit de replicatiedata
  POST /api/beraad/uitslag           uitslag van het formulier (twee CSV-uploads)
  GET  /api/beraad/voorbeeld/{naam}  uitslag van een voorbeeld met zijn gepubliceerde k
Pure functions live in ``select``/``audit``; this only adapts HTTP.
"""

from __future__ import annotations

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import HTMLResponse

from weefsel.errors import WeefselError
from weefsel.participation.sortition.audit import build_audit, render_markdown
from weefsel.participation.sortition.io import load_instance
from weefsel.participation.sortition.pages import error_page, examples, form_page, result_page
from weefsel.participation.sortition.select import ALGORITHMS, run_draw
from weefsel.web.workers import Busy, run_cpu

router = APIRouter(prefix="/api/beraad", tags=["burgerberaad"])

MAX_UPLOAD = 5_000_000     # bytes per file: a pool of ~50 000 rows
MAX_POOL = 5_000           # people: keeps a request within seconds


async def _text(upload: UploadFile, name: str) -> str:
    raw = await upload.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise HTTPException(413, f"{name}: bestand groter dan {MAX_UPLOAD // 1_000_000} MB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(422, f"{name}: geen UTF-8 tekst") from None


def draw_json(result, command: str) -> dict:
    """The JSON answer: same keys as ``weefsel beraad --json`` plus the audit."""
    inst = result.instance
    audit = build_audit(result, command=command)
    return {"probabilities": {pid: float(p) for pid, p in zip(inst.ids, result.probabilities)},
            "panel": audit["panel"], "seed": result.seed, "algorithm": result.algorithm,
            "exact": result.exact, "min_probability": audit["min_probability"],
            "gini": audit["gini"], "geometric_mean": audit["geometric_mean"],
            "all_quotas_met": audit["all_quotas_met"], "audit": audit,
            "audit_markdown": {"nl": render_markdown(audit, "nl"), "en": render_markdown(audit, "en")}}


@router.post("")
async def beraad(categories: UploadFile = File(..., description="categories.csv"),
                 respondents: UploadFile = File(..., description="respondents.csv"),
                 k: int = Form(..., ge=1), algorithm: str = Form("leximin"),
                 seed: int = Form(42, ge=0), household_column: str | None = Form(None),
                 id_column: str | None = Form(None), samples: int = Form(1000, ge=1, le=5000)) -> dict:
    """Draw a panel: every person's selection probability, the panel, the seed and the audit."""
    cat_name = categories.filename or "categories.csv"
    resp_name = respondents.filename or "respondents.csv"
    cat_text, resp_text = await _text(categories, cat_name), await _text(respondents, resp_name)
    try:
        inst = load_instance(cat_name, resp_name, k, household_column=household_column or None,
                             id_column=id_column or None, categories_text=cat_text,
                             respondents_text=resp_text)
        if inst.n > MAX_POOL:
            raise HTTPException(413, f"pool van {inst.n} mensen; de webversie rekent tot {MAX_POOL}, "
                                     "gebruik de opdrachtregel (weefsel beraad)")
        command = (f"weefsel beraad {cat_name} {resp_name} --k {k} --algorithm {algorithm.lower()} --seed {seed}"
                   + (f" --household-column {household_column}" if household_column else "")
                   + (f" --id-column {id_column}" if id_column else "")
                   + (f" --samples {samples}" if algorithm.lower() == "legacy" else ""))
        # the draw runs in the worker pool: the event loop keeps answering other requests
        return await run_cpu(_draw_job, inst, algorithm, seed, samples, command)
    except WeefselError as exc:
        raise HTTPException(422, str(exc)) from None


def _draw_job(inst, algorithm: str, seed: int, samples: int, command: str) -> dict:
    """Worker-process job of POST /api/beraad (module level, so it can be pickled)."""
    return draw_json(run_draw(inst, algorithm, seed, samples=samples), command)


# --- HTML pages -------------------------------------------------------------------------

def _int(value: str | None, name: str, default: int | None = None, lo: int = 0) -> int:
    """Parse a form/query number, or raise HTTPException(422) naming the Dutch field."""
    if value is None or not str(value).strip():
        if default is None:
            raise HTTPException(422, f"{name} ontbreekt")
        return default
    try:
        n = int(str(value).strip())
    except ValueError:
        raise HTTPException(422, f"{name} moet een geheel getal zijn, niet {str(value)[:40]!r}") from None
    if not lo <= n <= 2**63 - 1:
        raise HTTPException(422, f"{name} moet tussen {lo} en {2**63 - 1} liggen, niet {n}")
    return n


def _algorithm(value: str | None) -> str:
    alg = (value or "leximin").strip().lower()
    if alg not in ALGORITHMS:
        raise HTTPException(422, f"onbekend algoritme {alg[:40]!r}; kies uit {', '.join(ALGORITHMS)}")
    return alg


def _html_draw(inst, algorithm: str, seed: int, command: str, title: str) -> HTMLResponse:
    if inst.n > MAX_POOL:
        raise HTTPException(413, f"pool van {inst.n} mensen; de webversie rekent tot {MAX_POOL}, "
                                 "gebruik de opdrachtregel (weefsel beraad)")
    result = run_draw(inst, algorithm, seed)
    audit = build_audit(result, command=command)
    return result_page(audit, inst.ids, result.probabilities, title)


def _html_job(inst, algorithm: str, seed: int, command: str, title: str) -> tuple[bytes, int]:
    """Worker-process job of the HTML draw pages: (page bytes, status)."""
    try:
        r = _html_draw(inst, algorithm, seed, command, title)
    except HTTPException as exc:
        r = error_page(str(exc.detail), exc.status_code)
    return bytes(r.body), r.status_code


@router.get("/", response_class=HTMLResponse)
def beraad_form_page() -> HTMLResponse:
    """Formulier voor een loting en de lijst met voorbeelden."""
    return form_page()


@router.post("/uitslag", response_class=HTMLResponse)
async def beraad_result_page(categories: UploadFile | None = File(None, description="categories.csv"),
                             respondents: UploadFile | None = File(None, description="respondents.csv"),
                             k: str | None = Form(None), algorithm: str | None = Form("leximin"),
                             seed: str | None = Form("42"),
                             household_column: str | None = Form(None)) -> HTMLResponse:
    """Uitslag van het formulier: kansen, quota, panel en de opdracht om te herhalen."""
    try:
        if not getattr(categories, "filename", None):
            raise HTTPException(422, "het bestand categories.csv (quota) ontbreekt")
        if not getattr(respondents, "filename", None):
            raise HTTPException(422, "het bestand respondents.csv (aanmelders) ontbreekt")
        size, alg, sd = _int(k, "panelgrootte k", lo=1), _algorithm(algorithm), _int(seed, "seed", 42)
        hh = (household_column or "").strip() or None
        cat_name, resp_name = categories.filename, respondents.filename
        cat_text, resp_text = await _text(categories, cat_name), await _text(respondents, resp_name)
        inst = load_instance(cat_name, resp_name, size, household_column=hh,
                             categories_text=cat_text, respondents_text=resp_text)
        command = (f"weefsel beraad {cat_name} {resp_name} --k {size} --algorithm {alg} --seed {sd}"
                   + (f" --household-column {hh}" if hh else ""))
        body, status = await run_cpu(_html_job, inst, alg, sd, command, "Uitslag van de loting")
        return HTMLResponse(body, status_code=status)
    except Busy:
        raise
    except HTTPException as exc:
        return error_page(str(exc.detail), exc.status_code)
    except (WeefselError, ValueError) as exc:
        return error_page(str(exc))


def _example_page(name: str, algorithm: str, seed: int) -> tuple[bytes, int]:
    folder, k = examples()[name]
    cat, resp = folder / "categories.csv", folder / "respondents.csv"
    inst = load_instance(cat, resp, k)
    command = f"weefsel beraad {cat} {resp} --k {k} --algorithm {algorithm} --seed {seed}"
    r = _html_draw(inst, algorithm, seed, command, f"Voorbeeld {name} (k = {k})")
    return bytes(r.body), r.status_code


_example_pages: dict[tuple[str, str, int], tuple[bytes, int]] = {}


@router.get("/voorbeeld/{name}", response_class=HTMLResponse)
async def beraad_example_page(name: str, algoritme: str | None = None, seed: str | None = None) -> HTMLResponse:
    """Een voorbeeld uit de replicatiedata, geloot met zijn gepubliceerde panelgrootte."""
    try:
        if name not in examples():
            return error_page(f"onbekend voorbeeld {name[:60]!r}; zie de lijst op /api/beraad/", 404)
        key = (name, _algorithm(algoritme), _int(seed, "seed", 42))
        if key not in _example_pages:  # drawn once in the worker pool, then from memory
            if len(_example_pages) > 32:
                _example_pages.clear()
            _example_pages[key] = await run_cpu(_example_page, *key)
        body, status = _example_pages[key]
        return HTMLResponse(body, status_code=status)
    except Busy:
        raise
    except HTTPException as exc:
        return error_page(str(exc.detail), exc.status_code)
    except (WeefselError, ValueError) as exc:
        return error_page(str(exc))
