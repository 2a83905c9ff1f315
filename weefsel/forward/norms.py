"""Facility norms: a declarative YAML turned into demand coefficients per age and dwelling.

A norm states demand per age group (places per child 4-11), per residents (one GP fte per
2,350) or per 1,000 dwellings (m² bvo). At run time every norm becomes
``demand = P @ per_person[age] + dwellings · per_dwelling``. The conversions between
"per inhabitants" and "per 1,000 dwellings" need persons per dwelling and are exact
inverses (round-trip tested).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from weefsel.forward import rates
from weefsel.forward.errors import ForwardInputError

DEFAULT_NORMS = Path(__file__).with_name("norms.yaml")
FIELDS = {"label_nl", "facility_types", "unit", "per_age", "inhabitants_per_unit",
          "per_1000_dwellings", "capacity_per_facility", "source", "year"}
_RANGE = re.compile(r"^\s*(\d{1,3})\s*(?:-\s*(\d{1,3})|(\+))\s*$")


@dataclass
class Norm:
    """One facility type's norm, with its coefficients on the projection's age grid."""

    key: str
    label_nl: str
    facility_types: list[str]
    unit: str
    per_person: np.ndarray          # (18,) units per resident of each five-year group
    per_dwelling: float             # units per dwelling
    capacity_per_facility: float
    source: str
    year: int | None
    spec: dict = field(default_factory=dict)

    def demand(self, P: np.ndarray, H: np.ndarray, total: np.ndarray | None = None) -> np.ndarray:
        """Units needed: P (18, D, A) residents by age (age first), H (D, A) dwellings.

        ``total`` (P summed over ages) saves a pass when the norm is the same for all ages.
        """
        return age_sum(self.per_person, P, total) + H * self.per_dwelling


def age_sum(c: np.ndarray, P: np.ndarray, total: np.ndarray | None = None) -> np.ndarray:
    """Σ_g c[g] · P[g] over the age axis (first), touching only the groups with c ≠ 0
    (a school norm reads 3 of 18 age planes)."""
    if np.allclose(c, c[0]):
        return (P.sum(0) if total is None else total) * P.dtype.type(c[0])
    out = np.zeros(P.shape[1:], P.dtype)
    for g in np.flatnonzero(c):
        out += P.dtype.type(c[g]) * P[g]
    return out


def parse_ages(text: str, *, file: str, row: str, field_: str) -> tuple[int, int]:
    """'4-11' -> (4, 11); '85+' -> (85, 100); anything else is a clear Dutch error."""
    m = _RANGE.match(str(text))
    if not m:
        raise ForwardInputError(f"onbekende leeftijdsgroep '{text}' (verwacht bijv. '4-11' of '65+')",
                                file=file, row=row, field=field_)
    lo = int(m.group(1))
    hi = 100 if m.group(3) else int(m.group(2))
    if lo > hi or hi > 100:
        raise ForwardInputError(f"onmogelijke leeftijdsgroep '{text}' (0 ≤ van ≤ tot ≤ 100)",
                                file=file, row=row, field=field_)
    return lo, hi


def per_1000_dwellings_to_per_inhabitant(x: float, persons_per_dwelling: float) -> float:
    """Units per 1,000 dwellings -> units per resident."""
    return x / (1000.0 * persons_per_dwelling)


def per_inhabitant_to_per_1000_dwellings(x: float, persons_per_dwelling: float) -> float:
    """Units per resident -> units per 1,000 dwellings."""
    return x * 1000.0 * persons_per_dwelling


def inhabitants_per_unit_to_per_1000_dwellings(n: float, persons_per_dwelling: float) -> float:
    """'one unit per n residents' -> units per 1,000 dwellings."""
    return 1000.0 * persons_per_dwelling / n


def per_1000_dwellings_to_inhabitants_per_unit(x: float, persons_per_dwelling: float) -> float:
    """Units per 1,000 dwellings -> 'one unit per n residents'."""
    return 1000.0 * persons_per_dwelling / x


def _num(value, *, file, row, field_, positive=False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ForwardInputError(f"geen getal: {value!r}", file=file, row=row, field=field_) from None
    if not np.isfinite(v) or v < 0 or (positive and v == 0):
        raise ForwardInputError(f"waarde {value!r} moet {'groter dan 0' if positive else '≥ 0'} zijn",
                                file=file, row=row, field=field_)
    return v


def parse_norm(key: str, spec: dict, *, file: str = "norms.yaml") -> Norm:
    if not isinstance(spec, dict):
        raise ForwardInputError("verwacht een blok met velden", file=file, row=key)
    unknown = set(spec) - FIELDS
    if unknown:
        raise ForwardInputError(f"onbekend veld (bekend: {', '.join(sorted(FIELDS))})",
                                file=file, row=key, field=sorted(unknown)[0])
    types = spec.get("facility_types")
    if isinstance(types, str):
        types = [types]
    if not types or not all(isinstance(t, str) and t for t in types):
        raise ForwardInputError("geef minstens één voorzieningstype", file=file, row=key,
                                field="facility_types")
    per_person = np.zeros(rates.N_AGE)
    ages = spec.get("per_age") or {}
    if not isinstance(ages, dict):
        raise ForwardInputError("verwacht {leeftijden: eenheden per inwoner}", file=file, row=key,
                                field="per_age")
    for text, value in ages.items():
        lo, hi = parse_ages(text, file=file, row=key, field_=f"per_age.{text}")
        per_person += rates.age_weights(lo, hi) * _num(value, file=file, row=key,
                                                       field_=f"per_age.{text}")
    if spec.get("inhabitants_per_unit") is not None:
        per_person += 1.0 / _num(spec["inhabitants_per_unit"], file=file, row=key,
                                 field_="inhabitants_per_unit", positive=True)
    per_dw = 0.0
    if spec.get("per_1000_dwellings") is not None:
        per_dw = _num(spec["per_1000_dwellings"], file=file, row=key, field_="per_1000_dwellings") / 1000.0
    if not per_person.any() and per_dw == 0:
        raise ForwardInputError("geen vraag opgegeven (per_age, inhabitants_per_unit of "
                                "per_1000_dwellings)", file=file, row=key)
    cap = _num(spec.get("capacity_per_facility", 1), file=file, row=key,
               field_="capacity_per_facility", positive=True)
    year = spec.get("year")
    return Norm(key=key, label_nl=str(spec.get("label_nl", key)), facility_types=list(types),
                unit=str(spec.get("unit", "eenheden")), per_person=per_person, per_dwelling=per_dw,
                capacity_per_facility=cap, source=str(spec.get("source", "")),
                year=int(year) if year is not None else None, spec=dict(spec))


def load_norms(path: str | Path | None = None, only: list[str] | None = None) -> list[Norm]:
    """Read and check a norms file (default: the shipped norms.yaml)."""
    path = Path(path) if path else DEFAULT_NORMS
    name = path.name
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ForwardInputError("bestand niet gevonden", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise ForwardInputError(f"geen geldige YAML ({str(exc).splitlines()[0]})", file=name) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("norms"), dict) or not doc["norms"]:
        raise ForwardInputError("verwacht een blok 'norms:' met minstens één norm", file=name)
    norms = [parse_norm(str(k), v, file=name) for k, v in doc["norms"].items()]
    if only:
        unknown = set(only) - {n.key for n in norms}
        if unknown:
            raise ForwardInputError(f"onbekende norm '{sorted(unknown)[0]}' (bekend: "
                                    f"{', '.join(n.key for n in norms)})", file=name)
        norms = [n for n in norms if n.key in only]
    return norms
