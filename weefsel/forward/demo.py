"""A small hand-made warehouse with a stored forward run: browser tests and demos."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import shapely

from weefsel.warehouse.writer import create_warehouse

BANDS = ["k_0Tot15Jaar", "k_15Tot25Jaar", "k_25Tot45Jaar", "k_45Tot65Jaar", "k_65JaarOfOuder"]
DEMO_SCENARIO = {
    "name": "demo", "title_nl": "Demo: een nieuwe wijk", "voorbeeld": True, "horizon": 2040,
    "variants": {"vertraging": {"delay_mean": 3}},
    "programme": [{"area": "BU00340103", "years": "2026-2030", "dwellings": 1500},
                  {"area": "BU00340102", "year": 2028, "dwellings": 200}],
}


def make_demo_forward_warehouse(path: str | Path, draws: int = 100) -> Path:
    """Three buurten in one wijk near Almere, two schools and a GP, and a stored run."""
    from weefsel.forward.run import run_scenario
    from weefsel.forward.scenario import parse_scenario
    from weefsel.forward.store import write_result

    wk = shapely.box(140000, 484000, 148000, 490000)
    areas = [{"code": "GM0034", "level": "gemeente", "name": "Almere", "gemeente_code": "GM0034", "vintage": 2024},
             {"code": "WK003401", "level": "wijk", "name": "Demo-wijk", "gemeente_code": "GM0034",
              "vintage": 2024, "geom_rd": shapely.to_wkb(wk)}]
    obs = []
    for i, (name, pop, x, y) in enumerate([("Oud-Centrum", 3000, 141000, 485000), ("Middenveld", 2000, 144000, 487000),
                                           ("Nieuwland", 50, 147000, 489000)], start=1):
        code = f"BU003401{i:02d}"
        areas.append({"code": code, "level": "buurt", "name": name, "gemeente_code": "GM0034", "wijk_code": "WK003401",
                      "vintage": 2024, "geom_rd": shapely.to_wkb(shapely.box(x - 900, y - 900, x + 900, y + 900))})
        vals = {"AantalInwoners": pop, "Woningvoorraad": pop / 2.2,
                **dict(zip(BANDS, [pop * f for f in (0.18, 0.1, 0.27, 0.27, 0.18)]))}
        obs += [{"area_code": code, "period": "2024", "variable": k, "breakdown": "", "value": v,
                 "source": "85984NED"} for k, v in vals.items()]
    fac = pd.DataFrame([
        {"facility_id": "demo:school1", "type": "school", "name": "De Eerste", "source": "demo", "x_rd": 141200.0, "y_rd": 485200.0},
        {"facility_id": "demo:school2", "type": "school", "name": "De Tweede", "source": "demo", "x_rd": 143800.0, "y_rd": 486800.0},
        {"facility_id": "demo:gp1", "type": "gp_practice", "name": "Huisarts", "source": "demo", "x_rd": 142000.0, "y_rd": 486000.0},
    ]).assign(capacity=1.0)
    path = create_warehouse(path, areas=pd.DataFrame(areas), observations=pd.DataFrame(obs), facilities=fac)
    res = run_scenario(path, parse_scenario(DEMO_SCENARIO, file="demo.yaml"), draws=draws, decay="gaussian:3000")
    write_result(path, res)
    return path
