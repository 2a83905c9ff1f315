"""The indicator catalogue: load, validate against a warehouse, compute values per area.

The catalogue (catalogue.yaml) is data, not code, so an analyst can add an indicator.
Every value keeps its numerator and denominator, so higher levels and user groups are
recomputed from counts (weefsel.analysis.aggregate), never by averaging rates.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from functools import reduce
from importlib import resources
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import yaml

from weefsel.errors import CatalogueError, InputError

THEMES = ("sociale_basis", "eenzaamheid_welzijn", "bestaanszekerheid", "demografie", "voorzieningen")
DIRECTIONS = ("higher_is_better", "higher_is_worse")
#: where an entry's formula variables live: the loaders' observations, or the table that
#: `weefsel access` writes (read through weefsel.analysis.access.to_observations)
SOURCE_TABLES = ("observations", "access_results")
#: unit_nl is required because the Dutch dashboard, profile and CSV views show it; the
#: English unit stays for the API and docs
REQUIRED = ("id", "title_nl", "title_en", "theme", "formula", "unit", "unit_nl", "direction",
            "sources", "serves", "min_population")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VALUE_COLUMNS = ["area_code", "period", "indicator", "value", "numerator", "denominator",
                 "weight", "suppressed", "data_period"]


@dataclass(frozen=True)
class Indicator:
    """One catalogue entry, parsed.

    kind 'ratio': value = sum(numerator vars) / sum(denominator vars) * scale (counts).
    kind 'published': value = a rate or score the publisher computed; its weight is the
    population it refers to, numerator = value * weight / scale (an estimated count).
    """

    id: str
    title_nl: str
    title_en: str
    theme: str
    formula: str
    kind: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    scale: float
    breakdown: str
    weight_variable: str | None
    unit: str
    direction: str
    sources: tuple[str, ...]
    serves: str
    min_population: float
    unit_nl: str = ""
    optional: bool = False
    in_index: bool = True
    source: str = "observations"

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when higher is worse."""
        return 1 if self.direction == "higher_is_better" else -1

    def needs(self) -> list[tuple[str, str]]:
        """(variable, breakdown) pairs this indicator reads from the warehouse."""
        out = [(v, self.breakdown) for v in self.numerator]
        out += [(v, "") for v in self.denominator]
        if self.weight_variable:
            out.append((self.weight_variable, ""))
        return list(dict.fromkeys(out))


@dataclass
class Catalogue:
    indicators: list[Indicator]
    path: str = "catalogue.yaml"
    skipped: dict[str, str] = field(default_factory=dict)   # id -> reason (optional, unavailable)

    def __iter__(self):
        return iter(self.indicators)

    def __len__(self) -> int:
        return len(self.indicators)

    def get(self, ind_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == ind_id:
                return ind
        raise CatalogueError(f"{self.path}: no indicator '{ind_id}'")

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.indicators]

    def frame(self) -> pd.DataFrame:
        """The catalogue as a table (for docs, export and the dashboard)."""
        rows = [{"indicator": i.id, "title_nl": i.title_nl, "title_en": i.title_en,
                 "theme": i.theme, "formula": i.formula, "unit": i.unit,
                 "unit_nl": i.unit_nl,
                 "direction": i.direction, "sources": ",".join(i.sources),
                 "breakdown": i.breakdown, "weight_variable": i.weight_variable,
                 "min_population": i.min_population, "in_index": i.in_index,
                 "serves": i.serves, "source_table": i.source} for i in self.indicators]
        return pd.DataFrame(rows)

    def subset(self, ids: Iterable[str]) -> "Catalogue":
        keep = set(ids)
        return Catalogue([i for i in self.indicators if i.id in keep], self.path, dict(self.skipped))


def _parse_formula(text: str, where: str) -> tuple[str, tuple[str, ...], tuple[str, ...], float]:
    """'A + B / C * 100' -> ('ratio', (A, B), (C,), 100);  'Eenzaam' -> ('published', (Eenzaam,), (), 1)."""
    s = str(text).replace("(", " ").replace(")", " ").strip()
    scale = 1.0
    if "*" in s:
        s, _, tail = s.rpartition("*")
        try:
            scale = float(tail)
        except ValueError:
            raise CatalogueError(f"{where}: formula '{text}': the factor after '*' must be a number")
    parts = s.split("/")
    if len(parts) > 2:
        raise CatalogueError(f"{where}: formula '{text}' has more than one '/'")

    def names(chunk: str) -> tuple[str, ...]:
        out = tuple(n.strip() for n in chunk.split("+"))
        for n in out:
            if not _NAME.match(n):
                raise CatalogueError(f"{where}: formula '{text}': '{n}' is not a variable name")
        return out

    num = names(parts[0])
    if len(parts) == 2:
        return "ratio", num, names(parts[1]), scale
    if len(num) != 1:
        raise CatalogueError(f"{where}: formula '{text}': a sum needs a denominator")
    return "published", num, (), scale


def parse_entry(entry: dict, where: str) -> Indicator:
    """Check one YAML entry and turn it into an Indicator (errors name the entry and field)."""
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where}: each indicator must be a mapping")
    ident = entry.get("id", "?")
    where = f"{where} indicator '{ident}'"
    missing = [k for k in REQUIRED if entry.get(k) in (None, "")]
    if missing:
        raise CatalogueError(f"{where}: missing field(s) {', '.join(missing)}")
    if not re.match(r"^[a-z0-9_]+$", str(ident)):
        raise CatalogueError(f"{where}: id must be lowercase letters, digits and '_'")
    if entry["theme"] not in THEMES:
        raise CatalogueError(f"{where}: theme '{entry['theme']}' not one of {', '.join(THEMES)}")
    if entry["direction"] not in DIRECTIONS:
        raise CatalogueError(f"{where}: direction '{entry['direction']}' not one of {', '.join(DIRECTIONS)}")
    source = str(entry.get("source") or "observations")
    if source not in SOURCE_TABLES:
        raise CatalogueError(f"{where}: source '{source}' not one of {', '.join(SOURCE_TABLES)}")
    kind, num, den, scale = _parse_formula(entry["formula"], where)
    if source == "access_results" and kind != "published":
        raise CatalogueError(f"{where}: an access_results entry takes one measure variable as formula "
                             "(its values are already per area)")
    unit = str(entry["unit"])
    unit_nl = str(entry["unit_nl"]).strip()
    if not unit_nl:
        raise CatalogueError(f"{where}: missing field(s) unit_nl")
    if unit.lstrip().startswith("%") != unit_nl.startswith("%"):
        # the scale of a published value follows the '%' of the unit: both must agree
        raise CatalogueError(f"{where}: unit '{unit}' and unit_nl '{unit_nl}' disagree on '%'")
    weight = entry.get("weight_variable")
    if kind == "published":
        scale = 100.0 if unit.lstrip().startswith("%") else scale
        if weight is not None and not _NAME.match(str(weight)):
            raise CatalogueError(f"{where}: weight_variable '{weight}' is not a variable name")
    else:
        weight = None   # the denominator is the weight
    try:
        min_pop = float(entry["min_population"])
    except (TypeError, ValueError):
        raise CatalogueError(f"{where}: min_population must be a number")
    if min_pop < 0:
        raise CatalogueError(f"{where}: min_population must be >= 0")
    sources = entry["sources"]
    sources = tuple(str(s) for s in (sources if isinstance(sources, list) else [sources]))
    return Indicator(
        id=str(ident), title_nl=str(entry["title_nl"]), title_en=str(entry["title_en"]),
        theme=entry["theme"], formula=str(entry["formula"]), kind=kind, numerator=num,
        denominator=den, scale=scale, breakdown=str(entry.get("breakdown") or ""),
        weight_variable=weight, unit=unit, unit_nl=unit_nl, direction=entry["direction"], sources=sources,
        serves=str(entry["serves"]), min_population=min_pop,
        optional=bool(entry.get("optional", False)), in_index=bool(entry.get("in_index", True)),
        source=source)


def default_catalogue_path() -> Path:
    return Path(str(resources.files("weefsel.indicators").joinpath("catalogue.yaml")))


def read_yaml(path: str | Path, what: str, error: type[Exception] = CatalogueError):
    """Parse a user-edited YAML file; a missing or broken file becomes one clear ``error``
    naming the file (``InputError`` is called with ``where=``, others get it as prefix)."""
    p = Path(path)

    def fail(message: str) -> Exception:
        return error(message, where=str(p)) if error is InputError else error(f"{p}: {message}")

    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{what} not found") from None
    except yaml.YAMLError as exc:
        raise fail(f"not valid YAML ({exc})") from None


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Read and check a catalogue file (default: the packaged catalogue.yaml)."""
    path = Path(path) if path else default_catalogue_path()
    doc = read_yaml(path, "catalogue file")
    entries = (doc or {}).get("indicators") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{path}: expected a top-level 'indicators:' list")
    inds = [parse_entry(e, str(path)) for e in entries]
    seen: set[str] = set()
    for ind in inds:
        if ind.id in seen:
            raise CatalogueError(f"{path}: indicator id '{ind.id}' appears twice")
        seen.add(ind.id)
    return Catalogue(inds, str(path))


def available_variables(con) -> set[tuple[str, str]]:
    """(variable, breakdown) pairs present in the warehouse observations."""
    rows = con.execute("SELECT DISTINCT variable, breakdown FROM observations").fetchall()
    return {(v, b or "") for v, b in rows}


def validate_against(catalogue: Catalogue, available: set[tuple[str, str]],
                     skip_missing: bool = False) -> Catalogue:
    """Fail (CatalogueError naming indicator and variable) before computing anything when a
    required indicator names a variable the warehouse lacks; optional ones are skipped.
    ``skip_missing`` treats every indicator as optional (a warehouse that covers little)."""
    keep, skipped = [], dict(catalogue.skipped)
    for ind in catalogue:
        lacking = [(v, b) for v, b in ind.needs() if (v, b) not in available]
        if not lacking:
            keep.append(ind)
            continue
        desc = ", ".join(f"'{v}'" + (f" (breakdown {b})" if b else "") for v, b in lacking)
        if ind.optional or skip_missing:
            where = ("access_results (run `weefsel access`; it needs facilities of that type)"
                     if ind.source == "access_results" and any(v == ind.numerator[0] for v, _ in lacking)
                     else "the warehouse")
            skipped[ind.id] = f"variable {desc} not in {where}"
            continue
        raise CatalogueError(
            f"{catalogue.path}: indicator '{ind.id}' needs variable {desc}, "
            "which the warehouse does not hold (mark it 'optional: true' or fix the formula)")
    return Catalogue(keep, catalogue.path, skipped)


def _latest_periods(long: pd.DataFrame) -> pd.DataFrame:
    """Keep, per (variable, breakdown), the latest period that has any non-null value
    (one vintage for all areas, so areas stay comparable)."""
    if long.empty:
        return long
    filled = long.dropna(subset=["value"])
    if filled.empty:
        return long.iloc[0:0]
    latest = filled.groupby(["variable", "breakdown"])["period"].max().rename("_latest")
    long = long.join(latest, on=["variable", "breakdown"])
    return long[long["period"] == long["_latest"]].drop(columns="_latest")


def compute_frame(catalogue: Catalogue, long: pd.DataFrame, area_codes: Iterable[str],
                  period: str) -> pd.DataFrame:
    """Compute every indicator for ``area_codes`` from long observations (columns area_code,
    period, variable, breakdown, value). Returns rows in VALUE_COLUMNS."""
    codes = pd.Index(list(dict.fromkeys(area_codes)), name="area_code")
    long = long[long["period"].astype(str) <= str(period)]
    long = _latest_periods(long)
    grid: dict[tuple[str, str], pd.Series] = {}
    vintage: dict[tuple[str, str], str] = {}
    for (var, bd), part in long.groupby(["variable", "breakdown"]):
        s = part.drop_duplicates("area_code").set_index("area_code")["value"].astype(float)
        grid[(var, bd)] = s.reindex(codes)
        vintage[(var, bd)] = str(part["period"].iloc[0])
    nan = pd.Series(np.nan, index=codes)

    def col(var: str, bd: str) -> pd.Series:
        return grid.get((var, bd), nan)

    frames = []
    for ind in catalogue:
        if ind.kind == "ratio":
            num = reduce(operator.add, [col(v, ind.breakdown) for v in ind.numerator])
            den = reduce(operator.add, [col(v, "") for v in ind.denominator])
            with np.errstate(divide="ignore", invalid="ignore"):
                value = (num / den.where(den > 0)) * ind.scale
            weight = den
        else:
            value = col(ind.numerator[0], ind.breakdown)
            weight = col(ind.weight_variable, "") if ind.weight_variable else nan
            num = value * weight / ind.scale
            den = weight
        # only a figure that exists can be suppressed
        suppressed = ((den < ind.min_population) & value.notna()).fillna(False).astype(bool)
        value = value.where(~suppressed)
        periods = [vintage.get(k) for k in [(v, ind.breakdown) for v in ind.numerator] if vintage.get(k)]
        frames.append(pd.DataFrame({
            "area_code": codes, "period": str(period), "indicator": ind.id,
            "value": value.to_numpy(), "numerator": num.to_numpy(), "denominator": den.to_numpy(),
            "weight": weight.to_numpy(), "suppressed": suppressed.to_numpy(),
            "data_period": max(periods) if periods else None}))
    if not frames:
        return pd.DataFrame(columns=VALUE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[VALUE_COLUMNS]


def wide_values(values: pd.DataFrame, indicators: Iterable[str] | None = None) -> pd.DataFrame:
    """indicator_values (long) -> one row per area, one column per indicator."""
    table = values.pivot_table(index="area_code", columns="indicator", values="value",
                               aggfunc="first", dropna=False)
    table.columns.name = None
    if indicators is not None:
        table = table.reindex(columns=list(indicators))
    return table
