"""CBS SES-WOA scores per wijk en buurt (85900NED, 2014-2022).

No DataProperties of 85900NED were available offline, so this module carries a hand-made
metadata table. The topic titles come from a StatLine CSV export of the SES-WOA table
(column headers like ``SES-WOA/Totaalscore/Gemiddelde score (Getal)``, ``Spreiding/Spreiding
totaal/Waarde``, ``Financiële Welvaart/Gemiddelde percentielgroep``, ``Vermogen/...``,
``Gestandaardiseerd inkomen/...``) and were matched to the OData stems by their order and by
checks on the real file (docs/variables.md):

* the three ``Waarde`` shares 16/19/22 sum to 100 (opleidingsniveau laag/middelbaar/hoog);
* the four arbeidsverleden shares 24-27 sum to 100;
* the total score 29 equals the sum of the three deelscores 31 + 33 + 35 (to rounding);
* only survey-based parts (opleiding, and the totals containing it) carry 95% intervals.

The file is matched by the *sequence of stems*, not by the positional suffixes: if CBS
reorders or renames columns, loading fails with a clear error instead of mislabelling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weefsel.errors import InputError
from weefsel.sources.base import Rejection, SourceFrames
from weefsel.sources.cbs_common import (
    PUBLISHER_CBS,
    VarSpec,
    areas_frame,
    drop_duplicate_keys,
    is_code,
    normalise_codes,
    observations_from_wide,
    provenance,
    read_text_table,
    reject_bad_codes,
    rows_rejected,
    stem_of,
    variables_frame,
)

TABLE_ID = "85900NED"

_PCT = ("k_1eTotEnMet40ePercentielgroep", "k_41eTotEnMet80ePercentielgroep",
        "k_81eTotEnMet100ePercentielgroep", "GemiddeldePercentielgroep")
_PCT_TITLES = ("1e t/m 40e percentielgroep", "41e t/m 80e percentielgroep",
               "81e t/m 100e percentielgroep", "Gemiddelde percentielgroep")
_PCT_KEYS = ("Percentielgroep1Tot40", "Percentielgroep41Tot80", "Percentielgroep81Tot100",
             "GemiddeldePercentielgroep")

#: (role, expected stem) in file order, grouped per output variable:
#: (variable key, title, unit, topic, [stems of value/lower/upper columns in order])
LAYOUT: list[tuple[str, str, str, str, list[str]]] = [
    ("ParticuliereHuishoudens", "Particuliere huishoudens", "aantal", "Particuliere huishoudens",
     ["ParticuliereHuishoudens"]),
]
for _group, _gtitle in (("FinancieleWelvaart", "Financiële welvaart"),
                        ("GestandaardiseerdInkomen", "Gestandaardiseerd inkomen"),
                        ("Vermogen", "Vermogen")):
    for _stem, _t, _k in zip(_PCT, _PCT_TITLES, _PCT_KEYS):
        LAYOUT.append((f"{_group}_{_k}", f"{_gtitle}: {_t}",
                       "%" if _stem != "GemiddeldePercentielgroep" else "percentielgroep (1-100)",
                       f"Percentielgroepen / {_gtitle}", [_stem]))
for _lvl in ("Laag", "Middelbaar", "Hoog"):
    LAYOUT.append((f"Opleidingsniveau_{_lvl}", f"Opleidingsniveau {_lvl.lower()}", "%",
                   "Opleidingsniveau", ["Ondergrens95Interval", "Waarde", "Bovengrens95Interval"]))
for _stem, _t in (("Afgelopen4JaarVoortdurendWerkzaam", "Afgelopen 4 jaar voortdurend werkzaam"),
                  ("Afgelopen4JrNietVoortdurendWerkzaam", "Afgelopen 4 jaar niet voortdurend werkzaam"),
                  ("Afgelopen4JaarNietWerkzaam", "Afgelopen 4 jaar niet werkzaam"),
                  ("Gepensioneerd", "Gepensioneerd")):
    LAYOUT.append((_stem, _t, "%", "Arbeidsverleden", [_stem]))
LAYOUT += [
    ("SESWOA_Totaal", "SES-WOA totaalscore (gemiddelde score)", "score", "SES-WOA / Totaalscore",
     ["Ondergrens95Interval", "GemiddeldeScore", "Bovengrens95Interval"]),
    ("SESWOA_FinancieleWelvaart", "SES-WOA deelscore financiële welvaart", "score",
     "SES-WOA / Deelscore financiële welvaart", ["GemiddeldeScore"]),
    ("SESWOA_Opleidingsniveau", "SES-WOA deelscore opleidingsniveau", "score",
     "SES-WOA / Deelscore opleidingsniveau",
     ["Ondergrens95Interval", "GemiddeldeScore", "Bovengrens95Interval"]),
    ("SESWOA_Arbeidsverleden", "SES-WOA deelscore arbeidsverleden", "score",
     "SES-WOA / Deelscore arbeidsverleden", ["GemiddeldeScore"]),
    ("SESWOA_SpreidingTotaal", "Spreiding SES-WOA totaal", "score", "Spreiding / Spreiding totaal",
     ["Ondergrens95Interval", "Waarde", "Bovengrens95Interval"]),
    ("SESWOA_SpreidingFinancieleWelvaart", "Spreiding welvaart", "score",
     "Spreiding / Spreiding welvaart", ["Waarde"]),
    ("SESWOA_SpreidingOpleidingsniveau", "Spreiding opleidingsniveau", "score",
     "Spreiding / Spreiding opleidingsniveau", ["Ondergrens95Interval", "Waarde", "Bovengrens95Interval"]),
    ("SESWOA_SpreidingArbeidsverleden", "Spreiding arbeidsverleden", "score",
     "Spreiding / Spreiding arbeidsverleden", ["Waarde"]),
]
EXPECTED_STEMS = [s for *_, stems in LAYOUT for s in stems]


def _specs_for(columns: list[str], file: str) -> list[VarSpec]:
    data_cols = [c for c in columns if c not in ("ID", "WijkenEnBuurten", "Perioden")
                 and stem_of(c) != "RegiocodeGemeenteWijkBuurt"]
    got = [stem_of(c) for c in data_cols]
    if got != EXPECTED_STEMS:
        i = next((i for i, (a, b) in enumerate(zip(got, EXPECTED_STEMS)) if a != b),
                 min(len(got), len(EXPECTED_STEMS)))
        found = data_cols[i] if i < len(data_cols) else "end of header"
        want = EXPECTED_STEMS[i] if i < len(EXPECTED_STEMS) else "no more columns"
        raise InputError(f"column {i + 1} of the SES-WOA values is {found!r}, expected stem {want!r}: "
                         "not the 85900NED layout this loader knows", where=file,
                         expected=f"{len(EXPECTED_STEMS)} value columns in the 85900NED order")
    specs, pos = [], 0
    for key, _t, _u, _topic, stems in LAYOUT:
        cols = data_cols[pos:pos + len(stems)]
        pos += len(stems)
        if len(stems) == 1:
            specs.append(VarSpec(key, cols[0]))
        else:
            specs.append(VarSpec(key, cols[1], lower_col=cols[0], upper_col=cols[2]))
    return specs


def load_ses_csv(path: Path) -> SourceFrames:
    """SES-WOA scores: one observation per score, with its 95% interval as lower/upper."""
    path = Path(path)
    file = str(path)
    df = read_text_table(path, required=["RegiocodeGemeenteWijkBuurt", "Perioden"],
                         what="85900NED SES-WOA")
    specs = _specs_for(list(df.columns), file)
    code_col = next(c for c in df.columns if stem_of(c) == "RegiocodeGemeenteWijkBuurt")
    lines = np.arange(len(df)) + 2
    codes = normalise_codes(df[code_col])
    ok, rejections = reject_bad_codes(codes, lines, file)
    period = df["Perioden"].str[:4]
    badp = ~period.str.fullmatch(r"\d{4}").fillna(False).to_numpy()
    for i in np.flatnonzero(badp & ok):
        rejections.append(Rejection(file, f"line {int(lines[i])}", f"period {df['Perioden'].iloc[i]!r} is not a year"))
    ok &= ~badp
    frame = df.assign(_code=codes.to_numpy(), _period=period.to_numpy())[ok].reset_index(drop=True)
    lines = lines[ok]
    frame, lines, rej = drop_duplicate_keys(frame, ["_code", "_period"], lines, file, "area code + period")
    rejections += rej
    frame = frame.reset_index(drop=True)
    obs, rej = observations_from_wide(frame, specs, area_code=frame["_code"], period=frame["_period"],
                                      source=TABLE_ID, lines=lines, file=file)
    rejections += rej
    names = frame["WijkenEnBuurten"].where(~is_code(frame["WijkenEnBuurten"]), None) \
        if "WijkenEnBuurten" in frame.columns else None
    latest = frame.sort_values("_period", ascending=False)
    vintage = int(frame["_period"].max()) if len(frame) else None
    out = SourceFrames(source=TABLE_ID)
    out.areas = areas_frame(latest["_code"].reset_index(drop=True), None,
                            names.loc[latest.index].reset_index(drop=True) if names is not None else None,
                            TABLE_ID, vintage)
    out.observations = obs
    out.variables = variables_frame([
        {"variable": key, "stem": stems[1] if len(stems) == 3 else stems[0], "title": title,
         "unit": unit, "description": "85900NED; hand-made metadata (see docs/variables.md)"
         + ("; lower/upper = 95% interval" if len(stems) == 3 else ""),
         "source_table": TABLE_ID, "topic": topic} for key, title, unit, topic, stems in LAYOUT])
    out.rejections = rejections
    out.rows_read = len(df)
    out.provenance = [provenance(path, publisher=PUBLISHER_CBS, table_id=TABLE_ID, rows_read=len(df),
                                 rows_rejected=rows_rejected(rejections))]
    return out
