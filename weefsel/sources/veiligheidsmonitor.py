"""Veiligheidsmonitor: leefbaarheid, sociale cohesie, overlast (CBS table 85146NED).

The table names its regions instead of coding them: ``"Almere (GM)"``, ``"Flevoland (PV)"``,
``"Lelystad / Zeewolde (BT)"``. Resolution, exact only:

* ``Nederland`` -> NL00; ``(LD)`` landsdeel -> LD01..LD04 (CBS codes, level 'landsdeel');
* ``(PV)`` -> PV20..PV31 by province name;
* ``(GM)`` -> GMxxxx by exact gemeente name in ``known_areas`` (or the KWB region list);
  an unknown name is a rejection, two codes for one name an InputError;
* ``(PD)``, ``(RE)``, ``(BT)`` -> named regions ``RG:<level>:<name>`` (politiedistrict,
  regionale_eenheid, basisteam). A basisteam's member gemeenten are filled only where its name
  lists them exactly (``Dronten / Noordoostpolder / Urk``) or names one gemeente; names like
  ``Almere-Buiten-Hout`` are parts of one gemeente (member and gemeente_code GM0034);
* other unsuffixed rows (G4, G40, size classes) -> ``RG:gemeentegroep:<name>``, no members.

``Marges``: the Waarde row is the value, the Betrouwbaarheidsmarge rows its lower/upper bound.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.errors import InputError
from weefsel.sources.base import AREA_COLUMNS, MEMBER_COLUMNS, Rejection, SourceFrames
from weefsel.sources.cbs_common import (
    PUBLISHER_CBS,
    VarSpec,
    drop_duplicate_keys,
    observations_from_wide,
    provenance,
    read_text_table,
    rows_rejected,
    variables_frame,
)

TABLE_ID = "85146NED"

PROVINCES = {"groningen": "PV20", "fryslân": "PV21", "fryslan": "PV21", "friesland": "PV21",
             "drenthe": "PV22", "overijssel": "PV23", "flevoland": "PV24", "gelderland": "PV25",
             "utrecht": "PV26", "noord-holland": "PV27", "zuid-holland": "PV28", "zeeland": "PV29",
             "noord-brabant": "PV30", "limburg": "PV31"}
#: CBS landsdelen and their provinces.
LANDSDELEN = {"noord-nederland": ("LD01", ["PV20", "PV21", "PV22"]),
              "oost-nederland": ("LD02", ["PV23", "PV24", "PV25"]),
              "west-nederland": ("LD03", ["PV26", "PV27", "PV28", "PV29"]),
              "zuid-nederland": ("LD04", ["PV30", "PV31"])}
SUFFIX_LEVEL = {"PD": "politiedistrict", "RE": "regionale_eenheid", "BT": "basisteam"}
MARGES_ROLE = {"waarde": "value", "betrouwbaarheidsmarge ondergrens": "lower",
               "betrouwbaarheidsmarge bovengrens": "upper",
               # the OData keys of the Marges dimension (TypedDataSet online)
               "mw00000": "value", "mog0095": "lower", "mbg0095": "upper"}
_REGION_RE = re.compile(r"^(?P<name>.*?)\s*\((?P<suffix>LD|PV|PD|RE|GM|BT)\)\s*$")


def _gemeente_index(known_areas: pd.DataFrame | None, file: str) -> dict[str, str]:
    """Exact gemeente name -> code; InputError when one name has two codes."""
    if known_areas is None:
        from weefsel.config import default_data_dir
        base = default_data_dir()
        cand = base / "kwb" / "kwb_2024_85984NED_regions.csv" if base else None
        if cand is None or not cand.is_file():
            raise InputError("cannot resolve '(GM)' region names: no known_areas given and no KWB "
                             "region list found", where=file,
                             expected="known_areas (code, name) or ../shared/data/kwb/*_regions.csv")
        from weefsel.sources.kwb import load_region_list
        known_areas = load_region_list(cand).areas
    if not {"code", "name"} <= set(known_areas.columns):
        raise InputError("known_areas must have columns code and name", where=file)
    gm = known_areas[known_areas["code"].astype(str).str.startswith("GM")][["code", "name"]].dropna()
    gm = gm.drop_duplicates()
    multi = gm.groupby("name")["code"].nunique()
    out: dict[str, str] = {}
    ambiguous = set(multi[multi > 1].index)
    for code, name in gm.itertuples(index=False):
        out[str(name)] = "AMBIGUOUS" if name in ambiguous else str(code)
    return out


def _members(name: str, gm: dict[str, str]) -> tuple[list[str], str | None]:
    """Member gemeenten a basisteam name lists exactly, and the gemeente it lies in (if one)."""
    def ok(n: str) -> str | None:
        c = gm.get(n.strip())
        return c if c and c != "AMBIGUOUS" else None

    if ok(name):
        return [ok(name)], None
    if " - " in name and ok(name.replace(" - ", "-")):
        return [ok(name.replace(" - ", "-"))], None
    parts = [p for p in re.split(r"\s*/\s*|\s+-\s+", name) if p]
    if len(parts) > 1 and all(ok(p) for p in parts):
        return [ok(p) for p in parts], None
    hyph = [p for p in name.split("-") if p]
    if len(hyph) > 1 and all(ok(p) for p in hyph):  # 'Hillegom-Lisse-Teylingen'
        return [ok(p) for p in hyph], None
    for m in re.finditer("-", name):  # 'Almere-Buiten-Hout': a part of gemeente Almere
        prefix = name[:m.start()]
        if ok(prefix):
            return [ok(prefix)], ok(prefix)
    return [], None


def resolve_regions(regions: pd.Series, known_areas: pd.DataFrame | None, file: str,
                    vintage: int | None) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """RegioS labels -> (code per label, areas, members, unresolved label -> reason)."""
    labels = pd.unique(regions)
    gm = None
    codes, areas, members, unresolved = {}, [], [], {}

    def area(code, level, name, gemeente=None, provincie=None):
        areas.append({"code": code, "level": level, "name": name, "gemeente_code": gemeente,
                      "wijk_code": None, "provincie_code": provincie, "vintage": vintage,
                      "geom_rd": None, "source": TABLE_ID})

    for label in labels:
        m = _REGION_RE.match(str(label))
        name, suffix = (m.group("name").strip(), m.group("suffix")) if m else (str(label).strip(), None)
        low = name.lower()
        if suffix is None:
            if low == "nederland":
                codes[label] = "NL00"
                area("NL00", "land", "Nederland")
            else:
                codes[label] = f"RG:gemeentegroep:{name}"
                area(codes[label], "gemeentegroep", name)
        elif suffix == "LD":
            if low not in LANDSDELEN:
                unresolved[label] = f"unknown landsdeel {name!r}"
                continue
            code, provs = LANDSDELEN[low]
            codes[label] = code
            area(code, "landsdeel", name)
            members += [{"region_code": code, "member_code": p} for p in provs]
        elif suffix == "PV":
            if low not in PROVINCES:
                unresolved[label] = f"unknown province {name!r}"
                continue
            codes[label] = PROVINCES[low]
            area(PROVINCES[low], "provincie", name, provincie=PROVINCES[low])
        elif suffix == "GM":
            gm = gm if gm is not None else _gemeente_index(known_areas, file)
            code = gm.get(name)
            if code == "AMBIGUOUS":
                raise InputError(f"gemeente name {name!r} ('{label}') matches more than one code in the "
                                 "known areas", where=file, expected="one gemeente per name")
            if code is None:
                unresolved[label] = f"gemeente name {name!r} not among the known gemeenten"
                continue
            codes[label] = code
            area(code, "gemeente", name, gemeente=code)
        else:
            level = SUFFIX_LEVEL[suffix]
            code = f"RG:{level}:{name}"
            codes[label] = code
            gem = None
            if suffix == "BT":
                gm = gm if gm is not None else _gemeente_index(known_areas, file)
                mem, gem = _members(name, gm)
                members += [{"region_code": code, "member_code": c} for c in mem]
            area(code, level, name, gemeente=gem)
    areas_df = pd.DataFrame(areas, columns=AREA_COLUMNS).drop_duplicates("code").astype(object)
    areas_df = areas_df.where(areas_df.notna(), None)
    members_df = pd.DataFrame(members, columns=MEMBER_COLUMNS).drop_duplicates()
    return regions.map(codes), areas_df, members_df, unresolved


def _unit(stem: str) -> str:
    s = stem.lower()
    if "rapportcijfer" in s:
        return "rapportcijfer (1-10)"
    if "schaalscore" in s:
        return "schaalscore (0-10)"
    if "somscore" in s:
        return "somscore"
    return "%"


def load_vm_csv(path: Path, known_areas: pd.DataFrame | None = None,
                dataproperties: Path | None = None) -> SourceFrames:
    """85146NED with value and confidence bounds folded into one observation per cell."""
    from weefsel.sources.kwb import (
        catalogue_from_dataproperties,
        catalogue_from_stems,
        read_dataproperties,
    )
    path = Path(path)
    file = str(path)
    df = read_text_table(path, required=["Marges", "RegioS", "Perioden"], what="85146NED Veiligheidsmonitor")
    n_read = len(df)
    lines = np.arange(len(df)) + 2
    role = df["Marges"].str.lower().map(MARGES_ROLE)
    if role.isna().any():
        i = int(np.flatnonzero(role.isna().to_numpy())[0])
        raise InputError(f"line {lines[i]}: unknown Marges value {df['Marges'].iloc[i]!r}", where=file,
                         expected="Waarde, Betrouwbaarheidsmarge ondergrens or bovengrens")
    period = df["Perioden"].str[:4]
    rejections: list[Rejection] = []
    badp = ~period.str.fullmatch(r"\d{4}").fillna(False).to_numpy()
    for i in np.flatnonzero(badp):
        rejections.append(Rejection(file, f"line {int(lines[i])}", f"period {df['Perioden'].iloc[i]!r} is not a year"))
    df = df.assign(_role=role.to_numpy(), _period=period.to_numpy())[~badp].reset_index(drop=True)
    lines = lines[~badp]
    df, lines, rej = drop_duplicate_keys(df, ["RegioS", "_period", "_role"], lines, file,
                                         "region + period + Marges")
    rejections += rej
    df = df.reset_index(drop=True)
    vintage = int(df["_period"].max()) if len(df) else None
    codes, areas, members, unresolved = resolve_regions(df["RegioS"], known_areas, file, vintage)
    miss = codes.isna().to_numpy()
    for i in np.flatnonzero(miss):
        rejections.append(Rejection(file, f"line {int(lines[i])}", unresolved.get(df["RegioS"].iloc[i],
                                                                                  "unresolved region")))
    df = df.assign(_code=codes.to_numpy())[~miss].reset_index(drop=True)
    lines = lines[~miss]

    data_cols = [c for c in df.columns if c not in ("ID", "Marges", "RegioS", "Perioden")
                 and not c.startswith("_")]
    if dataproperties:
        metas = catalogue_from_dataproperties(read_dataproperties(dataproperties), TABLE_ID)
        missing = [c for c in data_cols if c not in metas]
        if missing:
            raise InputError(f"column(s) {', '.join(missing[:5])} not in the DataProperties", where=file)
    else:
        metas = catalogue_from_stems(data_cols)
    keys = ["_code", "_period"]
    val = df[df["_role"] == "value"]
    wide = val[keys + data_cols].reset_index(drop=True)
    vlines = lines[(df["_role"] == "value").to_numpy()]
    for r, sfx in (("lower", "__lo"), ("upper", "__up")):
        part = df[df["_role"] == r][keys + data_cols].rename(columns={c: c + sfx for c in data_cols})
        wide = wide.merge(part, on=keys, how="left")
    wide = wide.fillna("")
    specs = [VarSpec(metas[c].variable, c, c + "__lo", c + "__up") for c in data_cols]
    obs, rej = observations_from_wide(wide, specs, area_code=wide["_code"], period=wide["_period"],
                                      source=TABLE_ID, lines=vlines, file=file)
    rejections += rej
    out = SourceFrames(source=TABLE_ID)
    used = set(wide["_code"])
    out.areas = areas[areas["code"].isin(used)].reset_index(drop=True)
    out.members = members[members["region_code"].isin(used)].reset_index(drop=True)
    out.observations = obs
    out.variables = variables_frame([
        {"variable": m.variable, "stem": m.stem, "title": m.title,
         "unit": m.unit or _unit(m.stem),
         "description": m.description or "85146NED; mostly % of residents aged 15+",
         "source_table": TABLE_ID, "topic": m.topic} for c, m in metas.items() if c in data_cols])
    out.rejections = rejections
    out.rows_read = n_read
    out.provenance = [provenance(path, publisher=PUBLISHER_CBS, table_id=TABLE_ID, rows_read=out.rows_read,
                                 rows_rejected=rows_rejected(rejections))]
    return out
