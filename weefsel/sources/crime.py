"""Police-registered crime per buurt and gemeente (Politie via CBS, dataderden table 47022NED).

Two layouts are read, both mapped by column name stem (never by position):

* the year totals in ``safety/misdrijven_47022NED_jaartotalen_2021_2025.csv``: ``regiocode``,
  ``regioniveau``, ``jaar``, ``geregistreerde_misdrijven`` (the sum of the twelve monthly counts);
* the OData layout of 47022NED itself: ``WijkenEnBuurten``, ``Perioden`` (``2024MM01`` per month or
  ``2024JJ00``), optional ``SoortMisdrijf`` and ``GeregistreerdeMisdrijven_<n>``. Months are summed
  to a year only when all twelve are present (a part year would look like a fall in crime).
  ``SoortMisdrijf`` 0.0.0 (totaal misdrijven) is the total; other kinds become a breakdown
  ``soort=<key>``.

**Indeling.** The police publish every year of 47022NED on the *current* wijk-en-buurtindeling.
Every one of the 14,836 codes in the shared file occurs in the 2024 code list of 85984NED, so the
frames carry ``indeling`` 2024 (the warehouse's current indeling); a file on another vintage gets
``indeling`` from the caller and goes through the crosswalk in the build.

Values are counts (``aantal``); the rate per 1,000 inhabitants is the catalogue's
``misdrijven_per_1000`` (weefsel/indicators/catalogue.yaml).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.errors import InputError
from weefsel.sources.base import OBSERVATION_COLUMNS, Rejection, SourceFrames
from weefsel.sources.cbs_common import (
    areas_frame,
    is_code,
    normalise_codes,
    provenance,
    read_text_table,
    rows_rejected,
    stem_of,
    variables_frame,
)

TABLE_ID = "47022NED"
PUBLISHER = "Politie via CBS (dataderden)"
VARIABLE = "GeregistreerdeMisdrijven"
#: Indeling of the shared year-total file (checked against 85984NED's 2024 code list).
INDELING = 2024
TOTAL_KIND = "0.0.0"

#: Stems of the two layouts (lower case for the year-total file).
_YEAR_STEMS = {"regiocode", "jaar", "geregistreerde_misdrijven"}
_ODATA_STEMS = {"WijkenEnBuurten", "Perioden", "GeregistreerdeMisdrijven"}


def is_crime_table(columns: list[str]) -> bool:
    stems = {stem_of(c.strip()) for c in columns}
    return _YEAR_STEMS <= {s.lower() for s in stems} or _ODATA_STEMS <= stems


def _col(df: pd.DataFrame, stem: str) -> str | None:
    hits = [c for c in df.columns if stem_of(c).lower() == stem.lower()]
    return hits[0] if hits else None


def load_crime_csv(path: Path, *, indeling: int | None = INDELING) -> SourceFrames:
    """Crime counts per area and year: observations ``GeregistreerdeMisdrijven`` (aantal)."""
    path = Path(path)
    file = str(path)
    df = read_text_table(path, what="47022NED geregistreerde misdrijven")
    if not is_crime_table(list(df.columns)):
        raise InputError("not a 47022NED layout: need regiocode/jaar/geregistreerde_misdrijven "
                         "or WijkenEnBuurten/Perioden/GeregistreerdeMisdrijven_n", where=file)
    lines = np.arange(len(df)) + 2
    rejections: list[Rejection] = []
    if _col(df, "regiocode"):
        code = normalise_codes(df[_col(df, "regiocode")])
        period = df[_col(df, "jaar")].str.strip()
        kind = pd.Series(TOTAL_KIND, index=df.index)
        raw = df[_col(df, "geregistreerde_misdrijven")]
        monthly = pd.Series(False, index=df.index)
    else:
        code = normalise_codes(df[_col(df, "WijkenEnBuurten")])
        per = df[_col(df, "Perioden")].str.strip()
        period = per.str[:4]
        monthly = per.str.contains("MM", regex=False)
        kcol = _col(df, "SoortMisdrijf")
        kind = df[kcol].str.strip() if kcol else pd.Series(TOTAL_KIND, index=df.index)
        raw = df[_col(df, "GeregistreerdeMisdrijven")]
    value = pd.to_numeric(raw.str.strip().replace({".": None, "": None}), errors="coerce")
    bad_value = value.isna() & ~raw.str.strip().isin(["", "."])
    ok = is_code(code).to_numpy() & period.str.fullmatch(r"\d{4}").fillna(False).to_numpy()
    for i in np.flatnonzero(~ok):
        rejections.append(Rejection(file, f"line {int(lines[i])}",
                                    f"region code {code.iloc[i]!r} or year {period.iloc[i]!r} "
                                    "not recognised"))
    for i in np.flatnonzero(bad_value.to_numpy() & ok):
        rejections.append(Rejection(file, f"line {int(lines[i])}, column {raw.name}",
                                    f"not a number: {raw.iloc[i]!r}"))
    neg = (value < 0).to_numpy() & ok
    for i in np.flatnonzero(neg):
        rejections.append(Rejection(file, f"line {int(lines[i])}, column {raw.name}",
                                    f"negative count {raw.iloc[i]!r}"))
    keep = ok & ~neg & value.notna().to_numpy()
    frame = pd.DataFrame({"area_code": code, "period": period, "kind": kind, "value": value,
                          "monthly": monthly, "line": lines})[keep]
    if frame["monthly"].any():
        frame, rej = _sum_months(frame, file)
        rejections += rej
    else:
        dup = frame.duplicated(["area_code", "period", "kind"], keep="first")
        for ln, c, p in frame.loc[dup, ["line", "area_code", "period"]].itertuples(index=False):
            rejections.append(Rejection(file, f"line {int(ln)}",
                                        f"second row for {c} {p}; the first is kept"))
        frame = frame[~dup]
    is_total = frame["kind"].str.replace(r"\s+", "", regex=True).str.startswith(TOTAL_KIND)
    breakdown = np.where(is_total, "", "soort=" + frame["kind"].astype(str))
    obs = pd.DataFrame({"area_code": frame["area_code"].to_numpy(),
                        "period": frame["period"].to_numpy(), "variable": VARIABLE,
                        "breakdown": breakdown, "value": frame["value"].to_numpy(float),
                        "lower": np.nan, "upper": np.nan, "source": TABLE_ID},
                       columns=OBSERVATION_COLUMNS)
    obs["indeling"] = indeling
    out = SourceFrames(source=TABLE_ID)
    out.observations = obs
    codes = pd.Series(sorted(set(obs["area_code"])), dtype=object)
    out.areas = areas_frame(codes, None, None, TABLE_ID, indeling)
    out.areas["indeling"] = indeling
    out.variables = variables_frame([{
        "variable": VARIABLE, "stem": VARIABLE, "title": "Geregistreerde misdrijven (totaal)",
        "unit": "aantal",
        "description": ("Police-registered crimes in the area in the year (all kinds; the sum of "
                        "the monthly counts of 47022NED). A buurt's count is where the crime "
                        "took place, not where offenders or victims live; crimes the police "
                        "could not place in a buurt count only for the gemeente."),
        "source_table": TABLE_ID, "topic": "Veiligheid / Geregistreerde criminaliteit"}])
    out.rejections = rejections
    out.rows_read = len(df)
    prov = provenance(path, publisher=PUBLISHER, table_id=TABLE_ID, rows_read=len(df),
                      rows_rejected=rows_rejected(rejections))
    out.provenance = [prov]
    return out


def _sum_months(frame: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[Rejection]]:
    """Year totals from monthly rows; a year with fewer than 12 months is left out, said once."""
    rej: list[Rejection] = []
    yearly = frame[~frame["monthly"]]
    months = frame[frame["monthly"]]
    g = months.groupby(["area_code", "period", "kind"], sort=False)
    summed = g.agg(value=("value", "sum"), n=("value", "size"), line=("line", "min")).reset_index()
    part = summed[summed["n"] < 12]
    for (p, k), grp in part.groupby(["period", "kind"]):
        rej.append(Rejection(file, f"line {int(grp['line'].min())}",
                             f"{p}: only {int(grp['n'].max())} of 12 months for {len(grp)} areas; "
                             "no year total made"))
    summed = summed[summed["n"] >= 12].assign(monthly=False)
    out = pd.concat([yearly, summed[yearly.columns]], ignore_index=True)
    return out.drop_duplicates(["area_code", "period", "kind"], keep="first"), rej

