"""Web API of the burgerberaad: upload the two CSV files, get probabilities and the panel.

Mounted by the web app when it imports (``app.include_router(router)``); the page itself is
the web engineer's. Pure functions live in ``select``/``audit``; this only adapts HTTP.
"""

from __future__ import annotations

from fastapi import APIRouter, File, Form, HTTPException, UploadFile

from weefsel.errors import WeefselError
from weefsel.participation.sortition.audit import build_audit, render_markdown
from weefsel.participation.sortition.io import load_instance
from weefsel.participation.sortition.select import run_draw

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
        result = run_draw(inst, algorithm, seed, samples=samples)
    except WeefselError as exc:
        raise HTTPException(422, str(exc)) from None
    command = (f"weefsel beraad {cat_name} {resp_name} --k {k} --algorithm {algorithm.lower()} --seed {seed}"
               + (f" --household-column {household_column}" if household_column else "")
               + (f" --id-column {id_column}" if id_column else "")
               + (f" --samples {samples}" if algorithm.lower() == "legacy" else ""))
    return draw_json(result, command)
