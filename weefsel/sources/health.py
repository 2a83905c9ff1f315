"""Gezondheid per wijk en buurt (RIVM/GGD Gezondheidsmonitor, CBS table 50090NED).

The shared-data file concatenates six StatLine exports: {2012, 2016, 2020} x {18+, 65+}.
The age group goes into ``observations.breakdown`` ('leeftijd=18+'), the year into
``period``. ``Marges`` says which bound a row holds; MW00000 is the estimate itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.errors import InputError
from weefsel.sources.base import SourceFrames
from weefsel.sources.cbs_common import (
    PUBLISHER_RIVM,
    SOORT_REGIO_LEVEL,
    VarSpec,
    areas_frame,
    drop_duplicate_keys,
    level_of,
    normalise_codes,
    observations_from_wide,
    provenance,
    read_text_table,
    reject_bad_codes,
    rows_rejected,
    stem_of,
    title_from_stem,
    variables_frame,
)

TABLE_ID = "50090NED"
#: StatLine margin codes: estimate, lower and upper bound of the 95% interval.
MARGES_ROLE = {"MW00000": "value", "MOG0095": "lower", "MBG0095": "upper",
               "Waarde": "value", "Ondergrens 95%-interval": "lower", "Bovengrens 95%-interval": "upper"}
#: StatLine 'Leeftijd' codes of 50090NED.
LEEFTIJD_CODES = {"20300": "18+", "80200": "65+", "53950": "18-64"}
IDENTITY = {"source_file", "jaar", "leeftijdsgroep", "ID", "Leeftijd", "Marges", "WijkenEnBuurten",
            "Perioden", "Gemeentenaam", "SoortRegio", "Codering"}


def load_health_csv(path: Path, table_id: str = TABLE_ID) -> SourceFrames:
    """All indicators are % of residents in the age group (model-based small-area estimates).

    Every year of the file is on the region classification of its newest year (2020 for the
    shared 50090NED file), so areas and values carry ``indeling`` = that year; the build
    routes them through the crosswalk onto the current indeling. ``table_id`` 50150NED is
    the publisher's own re-expression on a later indeling (the online path), read the same way.
    """
    path = Path(path)
    file = str(path)
    df = read_text_table(path, required=["Codering", "SoortRegio"], what="50090NED Gezondheid per wijk en buurt")
    cols = set(df.columns)
    if "jaar" not in cols and "Perioden" not in cols:
        raise InputError("missing column jaar (or Perioden)", where=file, expected="the 50090NED layout")
    if "leeftijdsgroep" not in cols and "Leeftijd" not in cols:
        raise InputError("missing column leeftijdsgroep (or Leeftijd)", where=file,
                         expected="the 50090NED layout with an age-group column")
    cod = next(c for c in df.columns if stem_of(c) == "Codering")
    soort = next(c for c in df.columns if stem_of(c) == "SoortRegio")
    gemnaam = next((c for c in df.columns if stem_of(c) == "Gemeentenaam"), None)
    lines = np.arange(len(df)) + 2
    n_read = len(df)

    period = (df["jaar"] if "jaar" in cols else df["Perioden"].str[:4]).str[:4]
    if "leeftijdsgroep" in cols:
        age = df["leeftijdsgroep"]
    else:
        age = df["Leeftijd"].map(LEEFTIJD_CODES).fillna(df["Leeftijd"])
    breakdown = "leeftijd=" + age
    marges = df["Marges"] if "Marges" in cols else pd.Series("MW00000", index=df.index)
    role = marges.map(MARGES_ROLE)
    if role.isna().any():
        i = int(np.flatnonzero(role.isna().to_numpy())[0])
        raise InputError(f"line {lines[i]}: unknown Marges value {marges.iloc[i]!r}", where=file,
                         expected=f"one of {', '.join(MARGES_ROLE)}")
    codes = normalise_codes(df[cod])
    ok, rejections = reject_bad_codes(codes, lines, file)
    levels = df[soort].str.lower().map(SOORT_REGIO_LEVEL)
    bad_level = levels.isna().to_numpy() | (levels.astype(object).to_numpy() != level_of(codes).to_numpy())
    from weefsel.sources.base import Rejection
    for i in np.flatnonzero(bad_level & ok):
        rejections.append(Rejection(file, f"line {int(lines[i])}",
                                    f"SoortRegio {df[soort].iloc[i]!r} does not fit code {codes.iloc[i]}"))
    ok &= ~bad_level
    value_cols = [c for c in df.columns if stem_of(c) not in IDENTITY and c not in IDENTITY]
    if not value_cols:
        raise InputError("no indicator columns", where=file, expected="columns like Eenzaam_28")
    gm_name = df[gemnaam].where(levels == "gemeente") if gemnaam else pd.Series(None, index=df.index)
    key = pd.DataFrame({"code": codes, "period": period, "breakdown": breakdown, "role": role,
                        "_name": gm_name})
    frame = pd.concat([key, df[value_cols]], axis=1)[ok].reset_index(drop=True)
    lines = lines[ok]
    frame, lines, rej = drop_duplicate_keys(frame, ["code", "period", "breakdown", "role"], lines, file,
                                            "area code + year + age group + Marges")
    rejections += rej
    specs = [VarSpec(stem_of(c), c) for c in value_cols]
    parts = []
    for r in ("value", "lower", "upper"):
        sel = (frame["role"] == r).to_numpy()
        if not sel.any():
            continue
        sub = frame[sel].reset_index(drop=True)
        obs, rej = observations_from_wide(sub, specs, area_code=sub["code"], period=sub["period"],
                                          breakdown=sub["breakdown"], source=table_id,
                                          lines=lines[sel], file=file)
        rejections += rej
        if r != "value":
            obs[r] = obs["value"]
            obs["value"] = np.nan
        parts.append(obs)
    obs = parts[0]
    if len(parts) > 1:  # fold the bounds into the estimate rows
        keys = ["area_code", "period", "variable", "breakdown"]
        allobs = pd.concat(parts, ignore_index=True)
        obs = allobs.groupby(keys, as_index=False, sort=False).agg(
            value=("value", "first"), lower=("lower", "first"), upper=("upper", "first"),
            source=("source", "first"))[obs.columns]
    # all years are on the classification of the newest year (2020 in the shared file)
    vintage = int(pd.to_numeric(frame["period"], errors="coerce").max()) if len(frame) else None
    area_codes = frame["code"].reset_index(drop=True)
    out = SourceFrames(source=table_id)
    out.areas = areas_frame(area_codes, level_of(area_codes), frame["_name"].reset_index(drop=True),
                            table_id, vintage)
    out.areas.loc[out.areas["code"] == "NL00", "name"] = "Nederland"
    out.areas["indeling"] = vintage
    obs["indeling"] = vintage
    out.observations = obs
    out.variables = variables_frame([{
        "variable": s.variable, "stem": s.variable, "title": title_from_stem(s.variable), "unit": "%",
        "description": "% of residents in the age group (breakdown); RIVM/GGD model-based estimate",
        "source_table": table_id, "topic": "Gezondheid en welzijn"} for s in specs])
    out.rejections = rejections
    out.rows_read = n_read
    out.provenance = [provenance(path, publisher=PUBLISHER_RIVM, table_id=table_id, rows_read=n_read,
                                 rows_rejected=rows_rejected(rejections))]
    return out
