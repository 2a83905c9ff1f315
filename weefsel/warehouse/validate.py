"""The validation report of a build: stored in the ``validation`` table and printed.

Checks (``check_name``):

* ``source_rows`` / ``rejection_reason`` / ``duplicates``: rows read and rejected per source,
  the most frequent rejection reasons, and values dropped because an earlier (national)
  source already had them.
* ``source_levels``: which levels each source really holds (areas with at least one value).
* ``gemeente_present``: every gemeente of the region, and per source the levels it holds there.
* ``coverage`` / ``coverage_level``: per gemeente and level (wijk, buurt), how many areas of
  the current classification have population, health, SES, safety figures and a polygon
  (expected = number of areas), and how many codes of older classifications were kept.
* ``sum_consistency``: gemeente counts vs the sum over their wijken and buurten
  (expected = gemeente value, observed = sum; deviation |sum-gemeente|/gemeente > tolerance).
* ``rate_consistency``: gemeente health rates vs the population-weighted mean of their buurt
  (and wijk) rates, in percentage points (weights: AantalInwoners, latest period per area).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

VALIDATION_COLUMNS = ["check_name", "severity", "source", "level", "area_code", "variable",
                      "expected", "observed", "message"]

#: Count variables whose gemeente value should equal the sum over its buurten/wijken.
SUM_VARIABLES = ["AantalInwoners", "Mannen", "Vrouwen", "HuishoudensTotaal", "Woningvoorraad",
                 "k_0Tot15Jaar", "k_15Tot25Jaar", "k_25Tot45Jaar", "k_45Tot65Jaar",
                 "k_65JaarOfOuder", "Eenpersoonshuishoudens", "HuishoudensMetKinderen",
                 "ParticuliereHuishoudens"]
#: Relative tolerance for sums (KWB rounds small-area counts to multiples of 5).
SUM_TOLERANCE = 0.02
#: Absolute tolerance for rates, percentage points (health figures are model estimates).
RATE_TOLERANCE = 3.0
TOP_REASONS = 5
#: Source kinds whose rejections are listed one line per row (up to MAX_ROW_LINES).
PER_ROW_KINDS = ("facility_csv",)
MAX_ROW_LINES = 1000
#: Rates are compared only where the areas with a rate hold this share of the population.
MIN_POPULATION_SHARE = 0.8

#: What 'has data of this kind' means, as SQL on observations o.
ASPECTS = {
    "population": "o.variable = 'AantalInwoners'",
    "health": "(o.source LIKE '%50090%' OR o.breakdown LIKE 'leeftijd=%')",
    "ses": "o.source LIKE '%85900%'",
    "safety": "o.source LIKE '%85146%'",
}


def _row(check: str, severity: str = "info", **kw: Any) -> dict:
    row = dict.fromkeys(VALIDATION_COLUMNS)
    row.update(check_name=check, severity=severity, **kw)
    return row


def source_rows(report: Any) -> list[dict]:
    rows = []
    for s in report.sources:
        rows.append(_row("source_rows", "warning" if s.rejected else "info", source=s.label,
                         observed=float(s.rows_read), expected=None,
                         message=(f"{s.kind}, {s.scope}: read {s.rows_read} rows, "
                                  f"rejected {s.rejected}; {s.kept} values kept in the region, "
                                  f"{s.duplicates} already given by an earlier source")))
        # facility lists are made by people: every bad row gets its own line (file, row, field)
        per_row = s.kind in PER_ROW_KINDS
        reasons = s.reasons.most_common(MAX_ROW_LINES if per_row else TOP_REASONS)
        for reason, n in reasons:
            rows.append(_row("rejection_reason", "warning", source=s.label, observed=float(n),
                             message=reason if per_row and n == 1 else f"{n} x {reason}"))
        if per_row and len(s.reasons) > MAX_ROW_LINES:
            rows.append(_row("rejection_reason", "warning", source=s.label,
                             message=f"... en nog {len(s.reasons) - MAX_ROW_LINES} regels"))
        if s.duplicates:
            rows.append(_row("duplicates", "info", source=s.label, observed=float(s.duplicates),
                             message=(f"{s.duplicates} values of {s.label} skipped: the same "
                                      "area/period/variable came from an earlier source")))
    return rows


def make_held(con: duckdb.DuckDBPyConnection) -> None:
    """One pass over observations: per area, source and period, which kinds of data it has.
    The coverage checks read this small table instead of the millions of values."""
    flags = ",\n".join(f"bool_or({cond}) AS {name}" for name, cond in ASPECTS.items())
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _held AS
        SELECT o.area_code, o.source, o.period, {flags}
        FROM observations o GROUP BY ALL""")


def source_levels(con: duckdb.DuckDBPyConnection) -> list[dict]:
    df = con.execute("""
        SELECT o.source, a.level, count(DISTINCT o.area_code) AS n,
               string_agg(DISTINCT o.period, ',' ORDER BY o.period) AS periods
        FROM _held o JOIN areas a ON a.code = o.area_code
        GROUP BY ALL ORDER BY 1, 2""").df()
    return [_row("source_levels", source=r.source, level=r.level, observed=float(r.n),
                 message=f"{r.source} holds {r.n} {r.level} areas (periods {r.periods})")
            for r in df.itertuples()]


def gemeente_presence(con: duckdb.DuckDBPyConnection, expected: list[str]) -> list[dict]:
    areas = con.execute("SELECT code, name FROM areas WHERE level = 'gemeente'").df()
    names = dict(zip(areas["code"], areas["name"]))
    held = con.execute("""
        SELECT a.gemeente_code AS gm, o.source, a.level
        FROM _held o JOIN areas a ON a.code = o.area_code
        WHERE a.gemeente_code IS NOT NULL
        GROUP BY ALL
        UNION
        SELECT m.member_code AS gm, o.source, a.level
        FROM area_members m JOIN _held o ON o.area_code = m.region_code
        JOIN areas a ON a.code = m.region_code
        GROUP BY ALL""").df()
    order = {"gemeente": 0, "wijk": 1, "buurt": 2}
    rows = []
    by_gm = {gm: part for gm, part in held.groupby("gm")}
    empty_part = held.iloc[0:0]
    for gm in sorted(set(expected) | set(names)):
        part = by_gm.get(gm, empty_part)
        per_source = []
        for src, grp in part.groupby("source"):
            levels = sorted(grp["level"], key=lambda lv: order.get(lv, 9))
            per_source.append(f"{src}: {'+'.join(levels)}")
        name = names.get(gm) or "?"
        if gm not in names:
            rows.append(_row("gemeente_present", "error", area_code=gm, level="gemeente",
                             message=f"{gm} belongs to the region but no source holds it"))
            continue
        has_gm = bool((part["level"] == "gemeente").any())
        sev = "info" if has_gm and per_source else "warning"
        rows.append(_row("gemeente_present", sev, area_code=gm, level="gemeente",
                         observed=float(len(per_source)),
                         message=(f"{name} ({gm}) present"
                                  + ("" if has_gm else " but without gemeente-level values")
                                  + "; " + ("; ".join(per_source) or "no values in the local files (weefsel build "
                                                          "--online fetches them from CBS)"))))
    return rows


def coverage(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Areas of the current classification (newest vintage of the level) with each kind of
    data; codes of older classifications (health 2020 buurten...) are counted apart."""
    aspect_cols = ",\n".join(
        f"count(DISTINCT CASE WHEN cur AND o.{name} THEN a.code END) AS {name}"
        for name in ASPECTS)
    df = con.execute(f"""
        WITH lv AS (SELECT level, max(vintage) AS v FROM areas GROUP BY level),
        a AS (SELECT areas.*, (areas.vintage IS NULL OR lv.v IS NULL OR areas.vintage >= lv.v)
                     AS cur
              FROM areas JOIN lv USING (level))
        SELECT a.gemeente_code AS gm, a.level,
               count(DISTINCT CASE WHEN cur THEN a.code END) AS n,
               count(DISTINCT CASE WHEN cur AND a.geom_rd IS NOT NULL THEN a.code END) AS geometry,
               {aspect_cols},
               count(DISTINCT CASE WHEN NOT cur THEN a.code END) AS older_codes
        FROM a LEFT JOIN _held o ON o.area_code = a.code
        WHERE a.level IN ('gemeente', 'wijk', 'buurt') AND a.gemeente_code IS NOT NULL
        GROUP BY ALL ORDER BY 1, 2""").df()
    names = dict(con.execute("SELECT code, name FROM areas WHERE level='gemeente'").fetchall())
    aspects = [*ASPECTS, "geometry", "older_codes"]
    rows = []
    for r in df.itertuples():
        if r.level == "gemeente":
            continue
        for asp in aspects:
            what = (f"{getattr(r, asp)} codes of an older classification besides the {r.n} "
                    "current ones" if asp == "older_codes"
                    else f"{getattr(r, asp)} of {r.n} with {asp}")
            rows.append(_row("coverage", "info", area_code=r.gm, level=r.level, variable=asp,
                             expected=float(r.n), observed=float(getattr(r, asp)),
                             message=f"{names.get(r.gm, r.gm)} {r.level}: {what}"))
    by_level = df.groupby("level")[["n", *aspects]].sum()
    for level, r in by_level.iterrows():
        for asp in aspects:
            rows.append(_row("coverage_level", "info", level=level, variable=asp,
                             expected=float(r["n"]), observed=float(r[asp]),
                             message=f"{level}: {int(r[asp])} of {int(r['n'])} with {asp}"))
    return rows


def sum_consistency(con: duckdb.DuckDBPyConnection, tol: float = SUM_TOLERANCE) -> list[dict]:
    df = con.execute("""
        WITH g AS (
            SELECT o.area_code AS gm, a.name, o.period, o.variable, o.value, o.source
            FROM observations o JOIN areas a ON a.code = o.area_code
            WHERE a.level = 'gemeente' AND o.breakdown = '' AND o.value IS NOT NULL
              AND o.variable IN (SELECT unnest(?))),
        ch AS (
            SELECT a.gemeente_code AS gm, a.level, o.period, o.variable,
                   sum(o.value) AS s, count(o.value) AS n
            FROM observations o JOIN areas a ON a.code = o.area_code
            WHERE a.level IN ('wijk', 'buurt') AND o.breakdown = ''
              AND o.variable IN (SELECT unnest(?))
            GROUP BY ALL),
        cnt AS (SELECT gemeente_code AS gm, level, count(*) AS n_areas FROM areas
                WHERE level IN ('wijk', 'buurt') GROUP BY ALL)
        SELECT g.*, ch.level, ch.s, ch.n, cnt.n_areas
        FROM g JOIN ch USING (gm, period, variable)
        LEFT JOIN cnt ON cnt.gm = g.gm AND cnt.level = ch.level
        WHERE ch.n > 0 ORDER BY g.gm, ch.level, g.variable""",
        [SUM_VARIABLES, SUM_VARIABLES]).df()
    rows = []
    if df.empty:
        return [_row("sum_consistency", "info", message="no gemeente with both gemeente and "
                                                        "wijk/buurt counts to compare")]
    df["rel"] = (df["s"] - df["value"]).abs() / df["value"].abs().clip(lower=1)
    for r in df[df["rel"] > tol].itertuples():
        rows.append(_row(
            "sum_consistency", "warning", source=r.source, level=r.level, area_code=r.gm,
            variable=r.variable, expected=float(r.value), observed=float(r.s),
            message=(f"{r.name} ({r.gm}) {r.variable} {r.period}: gemeente {r.value:,.0f} vs "
                     f"sum of {r.n} of {r.n_areas} {r.level}en {r.s:,.0f} "
                     f"({(r.s - r.value) / max(abs(r.value), 1):+.1%})")))
    for (level, var), grp in df.groupby(["level", "variable"]):
        bad = int((grp["rel"] > tol).sum())
        rows.append(_row("sum_consistency", "info", level=level, variable=var,
                         expected=float(len(grp)), observed=float(bad),
                         message=(f"{var}: {len(grp)} gemeente/period pairs vs sum of {level}en, "
                                  f"{bad} deviate more than {tol:.0%}")))
    return rows


def rate_consistency(con: duckdb.DuckDBPyConnection, tol: float = RATE_TOLERANCE) -> list[dict]:
    df = con.execute("""
        WITH pop AS (
            SELECT area_code, arg_max(value, period) AS w FROM observations
            WHERE variable = 'AantalInwoners' AND breakdown = '' AND value > 0
            GROUP BY area_code),
        g AS (
            SELECT o.area_code AS gm, a.name, o.period, o.variable, o.breakdown, o.value,
                   o.source, pop.w AS gpop
            FROM observations o JOIN areas a ON a.code = o.area_code
            LEFT JOIN pop ON pop.area_code = o.area_code
            WHERE a.level = 'gemeente' AND o.breakdown = 'leeftijd=18+'
              AND o.value IS NOT NULL),
        ch AS (
            SELECT a.gemeente_code AS gm, a.level, o.period, o.variable, o.breakdown,
                   sum(o.value * pop.w) / sum(pop.w) AS wmean, count(*) AS n,
                   sum(pop.w) AS covered
            FROM observations o JOIN areas a ON a.code = o.area_code
            JOIN pop ON pop.area_code = o.area_code
            WHERE a.level IN ('wijk', 'buurt') AND o.breakdown = 'leeftijd=18+'
              AND o.value IS NOT NULL
            GROUP BY ALL)
        SELECT g.*, ch.level, ch.wmean, ch.n, ch.covered / g.gpop AS share
        FROM g JOIN ch USING (gm, period, variable, breakdown)
        ORDER BY g.gm, ch.level, g.variable, g.period""").df()
    if df.empty:
        return [_row("rate_consistency", "info", message="no gemeente with both gemeente and "
                                                         "buurt/wijk rates plus population")]
    df["dev"] = (df["wmean"] - df["value"]).abs()
    # Compare only where the areas with a rate hold most of the gemeente's population:
    # a mean over 3 of 40 buurten (codes changed between classifications) says nothing.
    df["comparable"] = df["share"].fillna(0) >= MIN_POPULATION_SHARE
    rows = []
    for r in df[df["comparable"] & (df["dev"] > tol)].itertuples():
        rows.append(_row(
            "rate_consistency", "warning", source=r.source, level=r.level, area_code=r.gm,
            variable=f"{r.variable}[{r.breakdown}]", expected=float(r.value),
            observed=float(r.wmean),
            message=(f"{r.name} ({r.gm}) {r.variable} [{r.breakdown}] {r.period}: gemeente "
                     f"{r.value:.1f}% vs population-weighted mean of {r.n} {r.level}en "
                     f"{r.wmean:.1f}% ({r.wmean - r.value:+.1f} pp; they hold "
                     f"{r.share:.0%} of the population)")))
    for level, grp in df.groupby("level"):
        comp = grp[grp["comparable"]]
        bad = int((comp["dev"] > tol).sum())
        median = f"{comp['dev'].median():.2f}" if len(comp) else "n/a"
        rows.append(_row("rate_consistency", "info", level=level, variable="leeftijd=18+",
                         expected=float(len(comp)), observed=float(bad),
                         message=(f"health rates [leeftijd=18+]: {len(comp)} gemeente/variable/"
                                  f"period triples vs population-weighted {level} mean, {bad} "
                                  f"deviate more than {tol:g} percentage points; median gap "
                                  f"{median} pp; {len(grp) - len(comp)} not compared because "
                                  f"the {level}en with a rate hold < "
                                  f"{MIN_POPULATION_SHARE:.0%} of the population")))
    return rows


def run_validation(con: duckdb.DuckDBPyConnection, report: Any) -> pd.DataFrame:
    """Run all checks, store them in ``validation`` and return them."""
    from weefsel.warehouse.writer import insert_frame

    make_held(con)
    rows: list[dict] = []
    rows += source_rows(report)
    rows += source_levels(con)
    rows += gemeente_presence(con, list(getattr(report, "gemeenten", [])))
    rows += coverage(con)
    rows += sum_consistency(con)
    rows += rate_consistency(con)
    con.execute("DROP TABLE IF EXISTS _held")
    frame = pd.DataFrame(rows, columns=VALIDATION_COLUMNS)
    for c in ("expected", "observed"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    con.execute("DELETE FROM validation")
    insert_frame(con, "validation", frame)
    return frame


# --------------------------------------------------------------------------- printing

def print_report(validation: pd.DataFrame, console: Any = None, max_rows: int = 40) -> None:
    """Print the report as rich tables (the stored table holds every row)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    v = validation.copy()
    # messages hold names like 'Eenzaam[leeftijd=18+]': not rich markup
    v["message"] = v["message"].fillna("").map(escape)

    def table(title: str, cols: list[str]) -> Table:
        t = Table(title=title, title_justify="left", show_lines=False)
        for c in cols:
            t.add_column(c, overflow="fold")
        return t

    t = table("Sources (rows read / rejected)", ["source", "what was read"])
    for r in v[v["check_name"].isin(["source_rows", "rejection_reason"])].itertuples():
        t.add_row("  reason" if r.check_name == "rejection_reason" else r.source or "",
                  r.message)
    console.print(t)

    lv = v[v["check_name"] == "source_levels"]
    if len(lv):
        t = table("Levels each source really holds", ["source", "level", "areas", "message"])
        for r in lv.itertuples():
            t.add_row(r.source, r.level, f"{r.observed:.0f}", r.message)
        console.print(t)

    gp = v[v["check_name"] == "gemeente_present"]
    if len(gp):
        t = table(f"Gemeenten of the region ({len(gp)})", ["gemeente", "status", "sources"])
        for r in gp.head(max_rows).itertuples():
            t.add_row(r.area_code, r.severity, r.message)
        if len(gp) > max_rows:
            t.add_row("...", "", f"{len(gp) - max_rows} more in the validation table")
        console.print(t)

    cov = v[v["check_name"] == "coverage"]
    if len(cov):
        piv = cov.pivot_table(index=["area_code", "level"], columns="variable",
                              values="observed", aggfunc="first")
        n = cov.groupby(["area_code", "level"])["expected"].first()
        aspects = [a for a in [*ASPECTS, "geometry", "older_codes"] if a in piv.columns]
        t = table("Coverage per gemeente (areas with ... / areas)",
                  ["gemeente", "level", "areas", *aspects])
        for i, ((gm, level), row) in enumerate(piv.iterrows()):
            if i >= max_rows:
                t.add_row("...", "", "", *[""] * len(aspects))
                break
            t.add_row(gm, level, f"{n[(gm, level)]:.0f}", *[f"{row[a]:.0f}" for a in aspects])
        console.print(t)
    cl = v[v["check_name"] == "coverage_level"]
    if len(cl):
        piv = cl.pivot_table(index="level", columns="variable", values="observed",
                             aggfunc="first")
        n = cl.groupby("level")["expected"].first()
        t = table("Coverage per level", ["level", "areas", *piv.columns])
        for level, row in piv.iterrows():
            t.add_row(level, f"{n[level]:.0f}", *[f"{x:.0f}" for x in row])
        console.print(t)

    for check, title in [("sum_consistency", "Gemeente counts vs sum of wijken/buurten"),
                         ("rate_consistency", "Gemeente rates vs population-weighted buurt rates")]:
        part = v[v["check_name"] == check]
        if part.empty:
            continue
        t = table(title, ["severity", "message"])
        summary = part[part["severity"] == "info"]
        devs = part[part["severity"] != "info"].copy()
        for r in summary.itertuples():
            t.add_row("summary", r.message)
        if len(devs):
            devs["gap"] = (devs["observed"] - devs["expected"]).abs() / devs["expected"].abs().clip(
                lower=1)
            for r in devs.sort_values("gap", ascending=False).head(15).itertuples():
                t.add_row("deviation", r.message)
            if len(devs) > 15:
                t.add_row("", f"{len(devs) - 15} more deviations in the validation table")
        console.print(t)


def summary_counts(validation: pd.DataFrame) -> pd.DataFrame:
    """Counts per check and severity (for `weefsel info`)."""
    if validation.empty:
        return pd.DataFrame(columns=["check_name", "severity", "n"])
    return (validation.groupby(["check_name", "severity"]).size().rename("n").reset_index())
