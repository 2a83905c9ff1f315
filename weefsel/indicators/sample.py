"""Small warehouses made straight from the raw files in ../shared/data, for the tests and the
bench of this stage only (the real build is weefsel build). Reads just what the indicators
need: health 50090NED (18+/65+), KWB 2024 population and households.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.warehouse.writer import create_warehouse

HEALTH_FLEVO = "health/gezondheid_wijk_buurt_50090NED_flevoland.csv"
HEALTH_NL = "health/gezondheid_wijk_buurt_50090NED_2012_2016_2020_national.csv"
KWB_FLEVO = "kwb/kwb_2024_85984NED_flevoland.csv"
KWB_BUURT_POP = "kwb/kwb_2024_buurt_population_national.csv"
LEVEL = {"Land": "land", "Gemeente": "gemeente", "Wijk": "wijk", "Buurt": "buurt"}
FLEVO_GM = {"0034", "0050", "0171", "0184", "0303", "0995"}
KWB_VARS = ["AantalInwoners", "k_0Tot15Jaar", "k_15Tot25Jaar", "k_65JaarOfOuder",
            "HuishoudensTotaal", "Eenpersoonshuishoudens", "AfstandTotHuisartsenpraktijk"]


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.replace({".": None, "": None}), errors="coerce")


def stem(col: str) -> str:
    return col.rsplit("_", 1)[0] if col.rsplit("_", 1)[-1].isdigit() else col


def health_observations(path: Path, years=("2020",),
                        stems: set[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(areas, observations) from a 50090NED file: breakdown 'leeftijd=18+' / 'leeftijd=65+'."""
    h = pd.read_csv(path, dtype=str, keep_default_na=False)
    h = h[h["jaar"].isin(years)]
    value_cols = [c for c in h.columns if c.split("_")[-1].isdigit() and int(c.split("_")[-1]) >= 4
                  and (stems is None or stem(c) in stems)]
    long = h.melt(id_vars=["Codering_3", "jaar", "leeftijdsgroep"], value_vars=value_cols,
                  var_name="col", value_name="raw")
    obs = pd.DataFrame({"area_code": long["Codering_3"], "period": long["jaar"],
                        "variable": long["col"].map(stem),
                        "breakdown": "leeftijd=" + long["leeftijdsgroep"],
                        "value": _num(long["raw"]), "source": "50090NED"})
    areas = h.drop_duplicates("Codering_3")
    areas = pd.DataFrame({"code": areas["Codering_3"], "level": areas["SoortRegio_2"].map(LEVEL),
                          "name": areas["Gemeentenaam_1"]})
    return areas, obs


def _hierarchy(areas: pd.DataFrame, province_of_gm: dict[str, str] | None = None) -> pd.DataFrame:
    a = areas.copy()
    code = a["code"]
    gm = np.where(code.str[:2].isin(["GM", "WK", "BU"]), "GM" + code.str[2:6], None)
    a["gemeente_code"] = gm
    a["wijk_code"] = np.where(code.str.startswith("BU"), "WK" + code.str[2:8], None)
    if province_of_gm is not None:
        a["provincie_code"] = pd.Series(gm, index=a.index).map(province_of_gm)
    else:
        a["provincie_code"] = np.where(pd.Series(gm, index=a.index).str[2:6].isin(FLEVO_GM), "PV24", None)
    return a


def flevoland_warehouse(data_dir: Path, path: Path) -> Path:
    """Flevoland: health 2020 (all six gemeenten) + KWB 2024 for Almere, Lelystad, Dronten."""
    areas_h, obs_h = health_observations(data_dir / HEALTH_FLEVO)
    k = pd.read_csv(data_dir / KWB_FLEVO, dtype=str, keep_default_na=False)
    cols = {stem(c): c for c in k.columns if stem(c) in KWB_VARS and stem(c) not in ()}
    obs_k = []
    for var, col in cols.items():
        obs_k.append(pd.DataFrame({"area_code": k["Codering_3"], "period": "2024", "variable": var,
                                   "breakdown": "", "value": _num(k[col]), "source": "85984NED"}))
    areas_k = pd.DataFrame({"code": k["Codering_3"], "level": k["SoortRegio_2"].map(LEVEL),
                            "name": k["WijkenEnBuurten"]})
    areas = pd.concat([areas_k, areas_h]).drop_duplicates("code")
    areas = _hierarchy(areas[areas["level"].isin(["gemeente", "wijk", "buurt"])])
    obs = pd.concat([obs_h] + obs_k, ignore_index=True)
    obs = obs[obs["area_code"].isin(areas["code"])]
    return create_warehouse(path, areas=areas, observations=obs)


def national_warehouse(data_dir: Path, path: Path, stems: set[str] | None = None) -> Path:
    """All buurten of NL that the data covers: health 2020 (18+/65+) + KWB 2024 buurt population.
    Provinces are not in these files; ``provincie_code`` stays empty except for Flevoland."""
    areas_h, obs_h = health_observations(data_dir / HEALTH_NL, stems=stems)
    pop = pd.read_csv(data_dir / KWB_BUURT_POP, dtype={"buurtcode": str})
    obs_p = pd.DataFrame({"area_code": pop["buurtcode"], "period": "2024", "variable": "AantalInwoners",
                          "breakdown": "", "value": pd.to_numeric(pop["AantalInwoners_5"], errors="coerce"),
                          "source": "85984NED"})
    areas_p = pd.DataFrame({"code": pop["buurtcode"], "level": "buurt", "name": None})
    areas = pd.concat([areas_h, areas_p]).drop_duplicates("code")
    areas = _hierarchy(areas[areas["level"].isin(["gemeente", "wijk", "buurt"])])
    obs = pd.concat([obs_h, obs_p], ignore_index=True)
    obs = obs[obs["area_code"].isin(areas["code"])]
    return create_warehouse(path, areas=areas, observations=obs)
