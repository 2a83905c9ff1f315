"""CBS Kerncijfers wijken en buurten (KWB): OData dumps, Excel files and the small extracts.

Columns are mapped by their name *stem* through the table's DataProperties, never by the
positional suffix (the suffix differs between years and between releases of one year).
Where a stem repeats in one table (``Nederland_17`` under *Herkomstland* and
``Nederland_20`` under *Geboren in Nederland*) the key gets the title of the nearest
topic group that tells the repeats apart: ``Nederland_Herkomstland``,
``Nederland_GeborenInNederland`` (see docs/variables.md).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.errors import InputError
from weefsel.sources.base import Rejection, SourceFrames
from weefsel.sources.cbs_common import (
    KWB_TABLE_BY_YEAR,
    KWB_TABLES,
    PUBLISHER_CBS,
    SOORT_REGIO_LEVEL,
    VarSpec,
    areas_frame,
    drop_duplicate_keys,
    find_column,
    is_code,
    level_of,
    normalise_codes,
    observations_from_wide,
    provenance,
    read_text_table,
    reject_bad_codes,
    rows_rejected,
    slug,
    stem_of,
    title_from_stem,
    variables_frame,
)

#: Identity columns of a KWB TypedDataSet (stems), not observations.
IDENTITY_STEMS = {"Gemeentenaam", "SoortRegio", "Codering", "IndelingswijzigingGemeenteWijkBuurt",
                  "IndelingswijzigingWijkenEnBuurten", "MeestVoorkomendePostcode"}
#: Dimension columns that belong to other tables: their presence means "not a KWB table".
FOREIGN_DIMENSIONS = {"Perioden", "Marges", "Leeftijd", "Geslacht", "RegioS"}


@dataclass
class VarMeta:
    column: str
    variable: str
    stem: str
    title: str | None
    unit: str | None
    description: str | None
    topic: str | None
    numeric: bool = True


def period_of_table(table_id: str) -> str:
    tid = table_id.upper()
    if tid not in KWB_TABLES:
        raise InputError(f"unknown KWB table id {table_id!r}",
                         expected=f"one of {', '.join(sorted(KWB_TABLES))}")
    return KWB_TABLES[tid]


# --------------------------------------------------------------------------- DataProperties

def read_dataproperties(path: Path) -> pd.DataFrame:
    """DataProperties as exported to CSV (or JSON list of objects) -> DataFrame of strings."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        import json
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        dp = pd.DataFrame(data.get("value", data) if isinstance(data, dict) else data)
        dp = dp.astype(object).where(dp.notna(), "").astype(str)
    else:
        dp = read_text_table(path, required=["Key", "Title", "Type"], what="DataProperties")
    return clean_dataproperties(dp, str(path))


def clean_dataproperties(dp: pd.DataFrame, where: str) -> pd.DataFrame:
    for col in ("ID", "ParentID", "Type", "Key", "Title", "Unit", "Description", "Datatype"):
        if col not in dp.columns:
            if col in ("ID", "Type", "Key", "Title"):
                raise InputError(f"DataProperties lack column {col!r}", where=where,
                                 expected="CBS OData DataProperties (ID, ParentID, Type, Key, Title, Unit)")
            dp[col] = ""
    dp = dp.copy()
    for col in ("ID", "ParentID"):
        dp[col] = dp[col].astype(str).str.replace(r"\.0$", "", regex=True).replace(
            {"nan": "", "None": ""})
    for col in ("Key", "Title", "Unit", "Description", "Type", "Datatype"):
        dp[col] = dp[col].astype(str).replace({"nan": "", "None": ""}).str.strip()
    return dp


def catalogue_from_dataproperties(dp: pd.DataFrame, table_id: str) -> dict[str, VarMeta]:
    """Map every Topic key to a variable key; repeated stems disambiguated by topic group."""
    by_id = {r.ID: r for r in dp.itertuples(index=False)}

    def ancestors(row) -> list[str]:
        out, seen, pid = [], set(), row.ParentID
        while pid and pid in by_id and pid not in seen:
            seen.add(pid)
            parent = by_id[pid]
            out.append(parent.Title)
            pid = parent.ParentID
        return out  # nearest first

    topics = [r for r in dp.itertuples(index=False) if r.Type == "Topic" and r.Key]
    metas: dict[str, VarMeta] = {}
    groups: dict[str, list] = defaultdict(list)
    for r in topics:
        groups[stem_of(r.Key)].append(r)
    for stem, rows in groups.items():
        keys = {r.Key: stem for r in rows}
        if len(rows) > 1:
            paths = {r.Key: ancestors(r) for r in rows}
            depth = max(len(p) for p in paths.values())
            keys = {}
            for d in range(depth):
                labels = {k: slug(p[d]) if d < len(p) else "" for k, p in paths.items()}
                if len(set(labels.values())) == len(rows) and all(labels.values()):
                    keys = {k: f"{stem}_{lab}" for k, lab in labels.items()}
                    break
            if not keys:  # no single level separates them: use the whole path, then order
                keys = {k: f"{stem}_{''.join(slug(t) for t in reversed(p))}" for k, p in paths.items()}
                if len(set(keys.values())) < len(rows):
                    keys = {r.Key: f"{keys[r.Key]}_o{i + 1}" for i, r in enumerate(rows)}
        for r in rows:
            path = ancestors(r)
            metas[r.Key] = VarMeta(
                column=r.Key, variable=keys[r.Key], stem=stem, title=r.Title or None,
                unit=r.Unit or None, description=r.Description or None,
                topic=" / ".join(reversed(path)) or None,
                numeric=(r.Datatype or "").lower() != "string")
    return metas


def catalogue_from_stems(columns: list[str]) -> dict[str, VarMeta]:
    """Fallback without DataProperties: stem keys, repeats numbered in column order (``_o2``)."""
    counts: dict[str, int] = defaultdict(int)
    total = defaultdict(int)
    for c in columns:
        total[stem_of(c)] += 1
    metas = {}
    for c in columns:
        s = stem_of(c)
        counts[s] += 1
        var = s if total[s] == 1 else f"{s}_o{counts[s]}"
        metas[c] = VarMeta(column=c, variable=var, stem=s, title=title_from_stem(s), unit=None,
                           description="no DataProperties: title derived from the column name"
                           + ("; repeated stem numbered by column order" if total[s] > 1 else ""),
                           topic=None)
    return metas


def _find_dataproperties(path: Path, table_id: str) -> Path | None:
    for cand in sorted(path.parent.glob(f"*{table_id}*DataProperties*")):
        if cand.suffix.lower() in (".csv", ".json"):
            return cand
    return None


# --------------------------------------------------------------------------- TypedDataSet mapping

def map_typed_dataset(raw: pd.DataFrame, dp: pd.DataFrame | None, *, table_id: str, file: str,
                      titles: dict[str, str] | None = None, checksum_path: Path | None = None,
                      ) -> SourceFrames:
    """One code path for offline dumps and online OData pages: strings in, SourceFrames out."""
    period = period_of_table(table_id)
    df = raw.copy()
    df.columns = [str(c).strip() for c in df.columns]
    foreign = [c for c in df.columns if stem_of(c) in FOREIGN_DIMENSIONS]
    if foreign:
        raise InputError(f"has dimension column(s) {', '.join(foreign)} that KWB tables do not have: "
                         f"this is not KWB table {table_id}", where=file,
                         expected="a KWB TypedDataSet (WijkenEnBuurten, Codering_*, SoortRegio_*)")
    for req in ("WijkenEnBuurten",):
        if req not in df.columns:
            raise InputError(f"missing column {req!r}: this is not a KWB TypedDataSet", where=file,
                             expected=f"KWB table {table_id} with WijkenEnBuurten and Codering_*")
    cod = find_column(df, "Codering", file) if any(stem_of(c) == "Codering" for c in df.columns) else None
    soort = find_column(df, "SoortRegio", file) if any(stem_of(c) == "SoortRegio" for c in df.columns) else None
    gemnaam = next((c for c in df.columns if stem_of(c) == "Gemeentenaam"), None)
    for c in df.columns:
        df[c] = df[c].astype("string").str.strip()

    data_cols = [c for c in df.columns if c not in ("ID", "WijkenEnBuurten")
                 and stem_of(c) not in IDENTITY_STEMS]
    if dp is not None:
        metas = catalogue_from_dataproperties(dp, table_id)
        unknown = [c for c in df.columns if c not in ("ID", "WijkenEnBuurten") and c not in metas]
        if unknown:
            raise InputError(
                f"column(s) {', '.join(unknown[:5])}{'...' if len(unknown) > 5 else ''} are not in the "
                f"DataProperties of {table_id}: the file is not (this release of) table {table_id}",
                where=file, expected=f"only keys listed in the {table_id} DataProperties")
    else:
        metas = catalogue_from_stems(data_cols)
    specs = [VarSpec(metas[c].variable, c) for c in data_cols if metas[c].numeric]

    lines = np.arange(len(df)) + 2
    rejections: list[Rejection] = []
    code_src = df[cod] if cod else df["WijkenEnBuurten"]
    codes = normalise_codes(code_src)
    ok, rej = reject_bad_codes(codes, lines, file)
    rejections += rej
    df, codes, lines = df[ok].reset_index(drop=True), codes[ok].reset_index(drop=True), lines[ok]
    if soort:
        levels = df[soort].str.lower().map(SOORT_REGIO_LEVEL)
        unknown_lv = levels.isna().to_numpy()
        prefix = level_of(codes)
        clash = (~unknown_lv) & (levels.astype(object).to_numpy() != prefix.to_numpy())
        bad = unknown_lv | clash
        for i in np.flatnonzero(bad):
            rejections.append(Rejection(file, f"line {int(lines[i])}",
                                        f"SoortRegio {df[soort].iloc[i]!r} does not fit code {codes.iloc[i]}"))
        keep = ~bad
        df, codes, lines, levels = (df[keep].reset_index(drop=True), codes[keep].reset_index(drop=True),
                                    lines[keep], levels[keep].reset_index(drop=True))
    else:
        levels = level_of(codes)
    keyframe = df.assign(_code=codes.to_numpy())
    keyframe, lines, rej = drop_duplicate_keys(keyframe, ["_code"], lines, file, "area code")
    rejections += rej
    df = keyframe.drop(columns="_code").reset_index(drop=True)
    codes = keyframe["_code"].reset_index(drop=True)
    levels = levels.loc[keyframe.index].reset_index(drop=True) if soort else level_of(codes)

    wb = df["WijkenEnBuurten"]
    names = wb.where(~is_code(wb), None).astype(object)
    if titles:
        names = names.where(names.notna(), codes.map(titles))
    if gemnaam:
        names = names.where(names.notna() | (levels != "gemeente"), df[gemnaam])
    names = names.where(names.notna() | (codes != "NL00"), "Nederland")

    obs, rej = observations_from_wide(df, specs, area_code=codes, period=period, source=table_id,
                                      lines=lines, file=file)
    rejections += rej
    variables = variables_frame([
        {"variable": m.variable, "stem": m.stem, "title": m.title, "unit": m.unit,
         "description": m.description, "source_table": table_id, "topic": m.topic}
        for c, m in metas.items() if c in data_cols and m.numeric])
    out = SourceFrames(source=table_id)
    out.areas = areas_frame(codes, levels, names, table_id, int(period))
    out.observations = obs
    out.variables = variables
    out.rejections = rejections
    out.rows_read = len(raw)
    out.provenance = [provenance(checksum_path or file, publisher=PUBLISHER_CBS, table_id=table_id,
                                 rows_read=len(raw), rows_rejected=rows_rejected(rejections),
                                 checksum=checksum_path is not None)]
    return out


def load_kwb_csv(path: Path, dataproperties: Path | None = None,
                 table_id: str = "85984NED") -> SourceFrames:
    """A KWB OData TypedDataSet dump (',' or raw ';' with BOM and padding).

    ``dataproperties`` defaults to a ``*<table_id>*DataProperties*.csv|json`` next to the file;
    without any, keys are the bare stems (repeats numbered ``_o2``...).
    """
    path = Path(path)
    df = read_text_table(path, what=f"KWB {table_id} TypedDataSet")
    dp_path = dataproperties or _find_dataproperties(path, table_id)
    dp = read_dataproperties(dp_path) if dp_path else None
    return map_typed_dataset(df, dp, table_id=table_id, file=str(path), checksum_path=path)


# --------------------------------------------------------------------------- small extracts

def _simple_wide(path: Path, code_col: str, table_id: str, level_col: str | None = None,
                 vintage: int | None = None) -> SourceFrames:
    """Code column + stem-suffixed value columns (the national basic/buurt extracts)."""
    df = read_text_table(path, required=[code_col], what=f"{table_id} extract")
    period = period_of_table(table_id)
    file = str(path)
    lines = np.arange(len(df)) + 2
    codes = normalise_codes(df[code_col])
    ok, rejections = reject_bad_codes(codes, lines, file)
    df, codes, lines = df[ok].reset_index(drop=True), codes[ok].reset_index(drop=True), lines[ok]
    if level_col and level_col in df.columns:
        clash = (df[level_col].str.lower().to_numpy() != level_of(codes).to_numpy())
        for i in np.flatnonzero(clash):
            rejections.append(Rejection(file, f"line {int(lines[i])}",
                                        f"level {df[level_col].iloc[i]!r} does not fit code {codes.iloc[i]}"))
        df, codes, lines = df[~clash].reset_index(drop=True), codes[~clash].reset_index(drop=True), lines[~clash]
    kf = df.assign(_code=codes.to_numpy())
    kf, lines, rej = drop_duplicate_keys(kf, ["_code"], lines, file, "area code")
    rejections += rej
    codes = kf["_code"].reset_index(drop=True)
    df = kf.drop(columns="_code").reset_index(drop=True)
    value_cols = [c for c in df.columns if c not in (code_col, level_col)]
    stems = [stem_of(c) for c in value_cols]
    if len(set(stems)) < len(stems):
        raise InputError("repeated column stems", where=file, expected="one column per variable")
    if not value_cols:
        raise InputError("no value columns", where=file, expected="columns like AantalInwoners_5")
    specs = [VarSpec(s, c) for s, c in zip(stems, value_cols)]
    obs, rej = observations_from_wide(df, specs, area_code=codes, period=period, source=table_id,
                                      lines=lines, file=file)
    rejections += rej
    out = SourceFrames(source=table_id)
    out.areas = areas_frame(codes, None, None, table_id, vintage or int(period))
    out.observations = obs
    out.variables = variables_frame([{"variable": s, "stem": s, "title": title_from_stem(s),
                                      "unit": _KNOWN_UNITS.get(s), "description": None,
                                      "source_table": table_id, "topic": None} for s in stems])
    out.rejections = rejections
    out.rows_read = len(ok)
    out.provenance = [provenance(path, publisher=PUBLISHER_CBS, table_id=table_id,
                                 rows_read=out.rows_read, rows_rejected=rows_rejected(rejections))]
    return out


#: Units of the stems in the extracts (from the 85984NED DataProperties).
_KNOWN_UNITS = {"AantalInwoners": "aantal", "Mannen": "aantal", "Vrouwen": "aantal",
                "Bevolkingsdichtheid": "aantal inwoners per km²", "Woningvoorraad": "aantal",
                "OppervlakteTotaal": "ha", "OppervlakteLand": "ha", "OppervlakteWater": "ha"}


def load_kwb_basic(path: Path, table_id: str = "85984NED") -> SourceFrames:
    """``kwb_2024_gemeente_wijk_basic_national.csv``: gemeente + wijk, 8 variables."""
    return _simple_wide(Path(path), "code", table_id, level_col="level")


def load_buurt_population(path: Path, table_id: str = "85984NED") -> SourceFrames:
    """``kwb_2024_buurt_population_national.csv``: AantalInwoners for every buurt."""
    return _simple_wide(Path(path), "buurtcode", table_id)


def load_region_list(path: Path, table_id: str = "85984NED") -> SourceFrames:
    """``kwb_2024_85984NED_regions.csv``: the complete code list (areas only, with names)."""
    path = Path(path)
    df = read_text_table(path, required=["Key", "Title"], what=f"{table_id} WijkenEnBuurten code list")
    file = str(path)
    lines = np.arange(len(df)) + 2
    codes = normalise_codes(df["Key"])
    ok, rejections = reject_bad_codes(codes, lines, file)
    kf = df[ok].assign(_code=codes[ok].to_numpy()).reset_index(drop=True)
    kf, _, rej = drop_duplicate_keys(kf[["_code", "Title"]], ["_code"], lines[ok], file, "area code")
    rejections += rej
    period = period_of_table(table_id)
    out = SourceFrames(source=table_id)
    out.areas = areas_frame(kf["_code"].reset_index(drop=True), None,
                            kf["Title"].reset_index(drop=True), table_id, int(period))
    out.rejections = rejections
    out.rows_read = len(df)
    out.provenance = [provenance(path, publisher=PUBLISHER_CBS, table_id=table_id,
                                 rows_read=len(df), rows_rejected=rows_rejected(rejections))]
    return out


# --------------------------------------------------------------------------- Excel (kwb-20xx.xlsx)

#: Short Excel names (kwb-20xx.xlsx) -> the variable keys of the OData tables.
#: Keys for repeated stems follow the DataProperties disambiguation (docs/variables.md).
XLSX_TO_KEY: dict[str, str] = {
    "a_inw": "AantalInwoners", "a_man": "Mannen", "a_vrouw": "Vrouwen",
    "a_00_14": "k_0Tot15Jaar", "a_15_24": "k_15Tot25Jaar", "a_25_44": "k_25Tot45Jaar",
    "a_45_64": "k_45Tot65Jaar", "a_65_oo": "k_65JaarOfOuder",
    "a_ongeh": "Ongehuwd", "a_gehuwd": "Gehuwd", "a_gesch": "Gescheiden", "a_verwed": "Verweduwd",
    "a_nl_all": "Nederland_Herkomstland", "a_eur_al": "EuropaExclusiefNederland_Herkomstland",
    "a_neu_al": "BuitenEuropa_Herkomstland", "a_geb_nl": "Nederland_GeborenInNederland",
    "a_geb_eu": "EuropaExclusiefNederland_GeborenInNederland",
    "a_geb_ne": "BuitenEuropa_GeborenInNederland",
    "a_gbl_eu": "EuropaExclusiefNederland_GeborenBuitenNederland",
    "a_gbl_ne": "BuitenEuropa_GeborenBuitenNederland",
    "a_w_all": "WestersTotaal", "a_nw_all": "NietWestersTotaal",
    "a_geb": "GeboorteTotaal", "p_geb": "GeboorteRelatief", "a_ste": "SterfteTotaal",
    "p_ste": "SterfteRelatief",
    "a_hh": "HuishoudensTotaal", "a_1p_hh": "Eenpersoonshuishoudens",
    "a_hh_z_k": "HuishoudensZonderKinderen", "a_hh_m_k": "HuishoudensMetKinderen",
    "g_hhgro": "GemiddeldeHuishoudensgrootte", "bev_dich": "Bevolkingsdichtheid",
    "a_woning": "Woningvoorraad", "a_nb_won": "NieuwbouwWoningen", "a_vastg": "NietWoningvoorraad",
    "a_nb_vastg": "NieuwbouwNietWoningen", "g_wozbag": "GemiddeldeWOZWaardeVanWoningen",
    "g_woz": "GemiddeldeWOZWaardeVanWoningen",
    "p_1gezw": "PercentageEengezinswoning", "p_1gezw_tw": "PercentageTussenwoningEengezins",
    "p_1gezw_hw": "PercentageHoekwoningEengezins", "p_1gezw_2w": "PercentageTweeOnderEenKapWoningEe",
    "p_1gezw_hvw": "PercentageVrijstaandeWoningEengezins", "p_mgezw": "PercentageMeergezinswoning",
    "p_leegsw": "OnbewoondeWoningen", "p_koopw": "Koopwoningen", "p_huurw": "HuurwoningenTotaal",
    "p_wcorpw": "InBezitWoningcorporatie", "p_ov_hw": "InBezitOverigeVerhuurders",
    "p_bj_me10": "BouwjaarMeerDanTienJaarGeleden", "p_bj_mi10": "BouwjaarAfgelopenTienJaar",
    "g_ele": "GemiddeldeElektriciteitsleveringTotaal", "g_gas": "GemiddeldAardgasverbruikTotaal",
    "p_stadsv": "PercentageWoningenMetStadsverwarming",
    "a_ons_po": "LeerlingenPo", "a_ons_vovavo": "LeerlingenVoInclVavo",
    "a_ons_mbo": "StudentenMboExclExtranei", "a_ons_hbo": "StudentenHbo", "a_ons_wo": "StudentenWo",
    "a_opl_bvm": "BasisonderwijsVmboMbo1", "a_opl_hvm": "HavoVwoMbo24", "a_opl_hw": "HboWo",
    "a_opl_lg": "BasisonderwijsVmboMbo1", "a_opl_md": "HavoVwoMbo24", "a_opl_hg": "HboWo",
    "p_arb_pp": "Nettoarbeidsparticipatie", "p_arb_wn": "PercentageWerknemers",
    "p_arb_zs": "PercentageZelfstandigen",
    "a_inkont": "AantalInkomensontvangers", "g_ink_po": "GemiddeldInkomenPerInkomensontvanger",
    "g_ink_pi": "GemiddeldInkomenPerInwoner", "p_ink_li": "k_40PersonenMetLaagsteInkomen",
    "p_ink_hi": "k_20PersonenMetHoogsteInkomen", "g_hh_sti": "GemGestandaardiseerdInkomenVanHuish",
    "p_hh_li": "k_40HuishoudensMetLaagsteInkomen", "p_hh_hi": "k_20HuishoudensMetHoogsteInkomen",
    "p_hh_lkk": "HuishoudensMetEenLaagInkomen", "p_hh_osm": "HuishOnderOfRondSociaalMinimum",
    "p_hh_110": "HuishoudensTot110VanSociaalMinimum", "p_hh_120": "HuishoudensTot120VanSociaalMinimum",
    "m_hh_ver": "MediaanVermogenVanParticuliereHuish",
    "a_soz_wb": "PersonenPerSoortUitkeringBijstand", "a_soz_ao": "PersonenPerSoortUitkeringAO",
    "a_soz_ww": "PersonenPerSoortUitkeringWW", "a_soz_ow": "PersonenPerSoortUitkeringAOW",
    "a_jz_tn": "JongerenMetJeugdzorgInNatura", "p_jz_tn": "PercentageJongerenMetJeugdzorg",
    "a_wmo_t": "WmoClienten", "p_wmo_t": "WmoClientenRelatief",
    "a_bedv": "BedrijfsvestigingenTotaal", "a_bed_a": "ALandbouwBosbouwEnVisserij",
    "a_bed_bf": "BFNijverheidEnEnergie", "a_bed_gi": "GIHandelEnHoreca",
    "a_bed_hj": "HJVervoerInformatieEnCommunicatie", "a_bed_kl": "KLFinancieleDienstenOnroerendGoed",
    "a_bed_mn": "MNZakelijkeDienstverlening", "a_bed_oq": "OQOverheidOnderwijsEnZorg",
    "a_bed_ru": "RUCultuurRecreatieOverigeDiensten",
    "a_pau": "PersonenautoSTotaal", "a_bst_b": "PersonenautoSBrandstofBenzine",
    "a_bst_nb": "PersonenautoSOverigeBrandstof", "g_pau_hh": "PersonenautoSPerHuishouden",
    "g_pau_km": "PersonenautoSNaarOppervlakte", "a_m2w": "Motorfietsen",
    "g_afs_hp": "AfstandTotHuisartsenpraktijk", "g_afs_gs": "AfstandTotGroteSupermarkt",
    "g_afs_kv": "AfstandTotKinderdagverblijf", "g_afs_sc": "AfstandTotSchool",
    "g_3km_sc": "ScholenBinnen3Km",
    "a_opp_ha": "OppervlakteTotaal", "a_lan_ha": "OppervlakteLand", "a_wat_ha": "OppervlakteWater",
    "pst_dekp": "Dekkingspercentage", "ste_mvs": "MateVanStedelijkheid",
    "ste_oad": "Omgevingsadressendichtheid",
}
for _w, _k in (("app", "Appartement"), ("ap", "Appartement"), ("tw", "Tussenwoning"),
               ("hw", "Hoekwoning"), ("2w", "TweeOnderEenKapWoning"), ("vw", "VrijstaandeWoning"),
               ("hu", "Huurwoning"), ("ko", "EigenWoning")):
    XLSX_TO_KEY[f"g_ele_{_w}"] = f"{_k}_GemiddeldeElektriciteitslevering"
    XLSX_TO_KEY[f"g_gas_{_w}"] = f"{_k}_GemiddeldAardgasverbruik"

#: Excel identity columns (not observations).
XLSX_IDENTITY = {"gwb_code_10", "gwb_code_8", "gwb_code", "regio", "gm_naam", "recs", "ind_wbi",
                 "pst_mvp", "wk_code", "bu_code", "gm_code"}
_RECS_LEVEL = {"land": "land", "gemeente": "gemeente", "wijk": "wijk", "buurt": "buurt"}


def _stem_of_key(key: str) -> str:
    """'Nederland_Herkomstland' -> 'Nederland'; 'k_0Tot15Jaar' stays."""
    if key.startswith("k_"):
        return "k_" + key[2:].split("_")[0]
    return key.split("_")[0]


def load_kwb_xlsx(path: Path, year: int | None = None) -> SourceFrames:
    """A CBS ``kwb-20xx.xlsx`` file: short column names mapped onto the OData variable keys.

    Unmapped value columns are not guessed: they are listed once as column rejections.
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise InputError("file not found", where=file, expected="a kwb-20xx.xlsx file")
    if year is None:
        m = re.search(r"(20\d\d)", path.name)
        if not m:
            raise InputError("cannot tell the year from the file name", where=file,
                             expected="a name like kwb-2024.xlsx or the year= argument")
        year = int(m.group(1))
    if year not in KWB_TABLE_BY_YEAR:
        raise InputError(f"no KWB table known for year {year}", where=file,
                         expected=f"one of {sorted(KWB_TABLE_BY_YEAR)}")
    table_id = KWB_TABLE_BY_YEAR[year]
    try:
        df = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl raises several types for non-xlsx input
        raise InputError(f"cannot read as Excel workbook ({type(exc).__name__}: {exc})", where=file,
                         expected="a kwb-20xx.xlsx workbook") from exc
    df.columns = [str(c).strip().lower() for c in df.columns]
    code_col = "gwb_code_10" if "gwb_code_10" in df.columns else ("gwb_code" if "gwb_code" in df.columns else None)
    if code_col is None or "recs" not in df.columns:
        raise InputError("missing column gwb_code_10 (or gwb_code) or recs", where=file,
                         expected="the CBS kwb-20xx.xlsx layout (gwb_code_10, regio, gm_naam, recs, a_inw...)")
    for c in df.columns:
        df[c] = df[c].astype("string").str.strip()
    lines = np.arange(len(df)) + 2
    rejections: list[Rejection] = []
    codes = normalise_codes(df[code_col])
    ok, rej = reject_bad_codes(codes, lines, file)
    rejections += rej
    df, codes, lines = df[ok].reset_index(drop=True), codes[ok].reset_index(drop=True), lines[ok]
    levels = df["recs"].str.lower().map(_RECS_LEVEL)
    bad = levels.isna().to_numpy() | (levels.astype(object).to_numpy() != level_of(codes).to_numpy())
    for i in np.flatnonzero(bad):
        rejections.append(Rejection(file, f"line {int(lines[i])}",
                                    f"recs {df['recs'].iloc[i]!r} does not fit code {codes.iloc[i]}"))
    df, codes, lines, levels = (df[~bad].reset_index(drop=True), codes[~bad].reset_index(drop=True),
                                lines[~bad], levels[~bad].reset_index(drop=True))
    kf = df.assign(_code=codes.to_numpy())
    kf, lines, rej = drop_duplicate_keys(kf, ["_code"], lines, file, "area code")
    rejections += rej
    keep_idx = kf.index
    df = kf.drop(columns="_code").reset_index(drop=True)
    codes = kf["_code"].reset_index(drop=True)
    levels = levels.loc[keep_idx].reset_index(drop=True)
    value_cols = [c for c in df.columns if c not in XLSX_IDENTITY]
    mapped = [c for c in value_cols if c in XLSX_TO_KEY]
    for c in value_cols:
        if c not in XLSX_TO_KEY:
            rejections.append(Rejection(file, f"column {c}", "no known OData stem for this Excel column; not loaded"))
    seen: set[str] = set()
    specs = []
    for c in mapped:
        if XLSX_TO_KEY[c] not in seen:
            seen.add(XLSX_TO_KEY[c])
            specs.append(VarSpec(XLSX_TO_KEY[c], c))
    obs, rej = observations_from_wide(df, specs, area_code=codes, period=str(year), source=table_id,
                                      lines=lines, file=file)
    rejections += rej
    names = df["regio"] if "regio" in df.columns else None
    out = SourceFrames(source=table_id)
    out.areas = areas_frame(codes, levels, names, table_id, year)
    out.observations = obs
    out.variables = variables_frame([{"variable": s.variable, "stem": _stem_of_key(s.variable),
                                      "title": title_from_stem(s.variable), "unit": None,
                                      "description": f"kwb-{year}.xlsx column {s.value_col}",
                                      "source_table": table_id, "topic": None} for s in specs])
    out.rejections = rejections
    out.rows_read = len(ok)
    out.provenance = [provenance(path, publisher=PUBLISHER_CBS, table_id=table_id,
                                 rows_read=out.rows_read, rows_rejected=rows_rejected(rejections))]
    return out
