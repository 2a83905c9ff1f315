"""The API's error answers: one Dutch ``detail`` line, never echoing large input, and the
same shape (``{"detail": str}``) for every status, documented in the OpenAPI schema."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

MAX_DETAIL = 300
LONG_WORD = re.compile(r"\S{61,}")


class ErrorAnswer(BaseModel):
    """Every 4xx/5xx answer of the API."""

    detail: str


ERROR_SCHEMA = {"title": "ErrorAnswer", "type": "object", "required": ["detail"],
                "properties": {"detail": {"type": "string", "title": "Detail"}}}


def _desc(text: str) -> dict:
    # explicit content: routes with an HTML response_class would otherwise document their
    # JSON errors as text/html; the burgerbegroting pages answer some errors as a Dutch page
    return {"description": text,
            "content": {"application/json": {"schema": ERROR_SCHEMA},
                        "text/html": {"schema": {"type": "string"}}}}


#: added to every route of the app (FastAPI(responses=...)), so schema and answers agree
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _desc("Ongeldig verzoek"),
    403: _desc("Geweigerd (ander origin, of de limiet van voorstellen is bereikt)"),
    404: _desc("Niet gevonden; de reden staat in detail"),
    405: _desc("Methode niet toegestaan"),
    413: _desc("Verzoek te groot"),
    422: _desc("Ongeldige invoer; welk veld en waarom staat in detail"),
    429: _desc("Te veel verzoeken; zie Retry-After"),
    500: _desc("Interne fout"),
    503: _desc("Bezig met ander rekenwerk; zie Retry-After"),
}


def clip(text: Any, n: int = MAX_DETAIL) -> str:
    """One line of at most ``n`` characters (input is never echoed at length)."""
    text = " ".join(str(text).split())
    text = LONG_WORD.sub(lambda m: m.group(0)[:60] + "…", text)  # an echoed code or name
    return text if len(text) <= n else text[:n - 1] + "…"


def _field(loc: list) -> str:
    parts = [str(x) for x in loc[1:]] if len(loc) > 1 else [str(x) for x in loc]
    return ".".join(parts) or "invoer"


def dutch_validation(err: dict) -> str:
    """One pydantic error as 'field: Dutch reason' (the input itself is not repeated)."""
    typ = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    name = clip(_field(list(err.get("loc") or [])), 60)
    where = {"query": "parameter", "path": "padparameter", "body": "veld",
             "header": "header", "cookie": "cookie"}.get(str((err.get("loc") or [""])[0]), "veld")
    reasons = {
        "missing": "ontbreekt",
        "int_parsing": "moet een geheel getal zijn",
        "int_from_float": "moet een geheel getal zijn",
        "float_parsing": "moet een getal zijn",
        "bool_parsing": "moet true of false zijn",
        "string_type": "moet tekst zijn",
        "int_type": "moet een geheel getal zijn",
        "list_type": "moet een lijst zijn",
        "dict_type": "moet een object zijn",
        "json_invalid": "is geen geldige JSON",
        "model_attributes_type": "heeft de verkeerde vorm",
        "value_error": "ongeldige waarde",
        "string_pattern_mismatch": "heeft niet de juiste vorm",
        "enum": f"moet een van {clip(ctx.get('expected', ''), 120)} zijn",
        "literal_error": f"moet een van {clip(ctx.get('expected', ''), 120)} zijn",
        "greater_than_equal": f"moet minstens {ctx.get('ge')} zijn",
        "greater_than": f"moet groter dan {ctx.get('gt')} zijn",
        "less_than_equal": f"mag hoogstens {ctx.get('le')} zijn",
        "less_than": f"moet kleiner dan {ctx.get('lt')} zijn",
        "string_too_long": f"mag hoogstens {ctx.get('max_length')} tekens lang zijn",
        "string_too_short": f"moet minstens {ctx.get('min_length')} tekens lang zijn",
        "too_long": f"mag hoogstens {ctx.get('max_length')} elementen hebben",
        "too_short": f"moet minstens {ctx.get('min_length')} elementen hebben",
        "int_parsing_size": "is te groot",
        "finite_number": "moet een eindig getal zijn",
        "url_parsing": "is geen geldige URL",
        "uuid_parsing": "is geen geldige UUID",
    }
    reason = reasons.get(typ) or "ongeldige waarde"
    return f"{where} {name} {reason}"


def validation_detail(errors: list[dict]) -> str:
    """The one-line Dutch detail of a 422 (at most a few fields, clipped)."""
    parts = list(dict.fromkeys(dutch_validation(e) for e in errors))
    more = f" (en nog {len(parts) - 3})" if len(parts) > 3 else ""
    return clip("Ongeldige invoer: " + "; ".join(parts[:3]) + more)


def http_detail(status: int, detail: Any, path: str = "") -> str:
    """The Dutch line of an HTTPException: the real reason when a route gave one."""
    generic = {404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request",
               413: "Request Entity Too Large", 500: "Internal Server Error"}
    if status == 400 and isinstance(detail, str) and "parsing the body" in detail:
        return "Het verzoek kon niet gelezen worden (ongeldige body)."
    english = {"Invalid multipart data.": "Ongeldige bestandsupload (multipart).",
               "Missing boundary in multipart.": "Ongeldige bestandsupload (multipart).",
               "Did not find CR at end of boundary (40)": "Ongeldige bestandsupload (multipart).",
               "Too many files. Maximum number of files is 1000.": "Te veel bestanden.",
               "Too many fields. Maximum number of fields is 1000.": "Te veel velden."}
    if isinstance(detail, str) and detail in english:
        return english[detail]
    if isinstance(detail, str) and detail and detail != generic.get(status):
        return clip(detail)
    if status == 404:
        return clip(f"Niet gevonden: {path}" if path else "Niet gevonden", 200)
    if status == 405:
        return "Methode niet toegestaan"
    return {400: "Ongeldig verzoek", 413: "Verzoek te groot",
            500: "Interne fout; zie het serverlog."}.get(status, clip(detail or status))
