"""Region selection for ``weefsel build --region``."""

from __future__ import annotations

import pandas as pd
import pytest

from weefsel.errors import RegionError
from weefsel.sources.boundaries import load_boundaries, provincie_of_gemeenten
from weefsel.sources.regions import FLEVOLAND_GEMEENTEN, RegionSelection, resolve_region

FLEVOLAND = set(FLEVOLAND_GEMEENTEN)


@pytest.fixture(scope="module")
def kwb_areas(data_dir) -> pd.DataFrame:
    """The areas frame as the build has it: codes and names from the KWB 2024 region list."""
    r = pd.read_csv(data_dir / "kwb" / "kwb_2024_85984NED_regions.csv", dtype=str, keep_default_na=False)
    code = r["Key"].str.strip()
    level = code.str[:2].map({"NL": "land", "GM": "gemeente", "WK": "wijk", "BU": "buurt"})
    return pd.DataFrame({"code": code, "name": r["Title"].str.strip(), "level": level})


@pytest.fixture(scope="module")
def provincie_of(data_dir) -> dict[str, str]:
    b = data_dir / "boundaries"
    return provincie_of_gemeenten(load_boundaries(b / "gemeente_2023_gegeneraliseerd.geojson"),
                                  load_boundaries(b / "provincie_2020_gegeneraliseerd.geojson"))


@pytest.mark.parametrize("spec", ["flevoland", "Flevoland", "FLEVOLAND", "PV24", "pv24", "provincie:flevoland"])
def test_flevoland_by_name_or_code(spec, kwb_areas, provincie_of):
    sel = resolve_region(spec, kwb_areas, provincie_of)
    assert sel.name == "Flevoland" and sel.provincie_codes == ["PV24"] and not sel.is_national
    assert set(sel.gemeente_codes) == FLEVOLAND


@pytest.mark.parametrize("spec", ["fryslan", "Fryslân", "friesland"])
def test_province_names_accent_insensitive(spec, kwb_areas, provincie_of):
    sel = resolve_region(spec, kwb_areas, provincie_of)
    assert sel.provincie_codes == ["PV21"] and len(sel.gemeente_codes) == 18
    assert "GM0080" in sel.gemeente_codes                         # Leeuwarden


def test_noord_holland_contains_amsterdam_buurten(kwb_areas, provincie_of):
    sel = resolve_region("noord-holland", kwb_areas, provincie_of)
    assert sel.provincie_codes == ["PV27"] and len(sel.gemeente_codes) == 44
    assert sel.contains("BU0363AA01") and sel.contains("WK0363AA") and sel.contains("GM0363")
    assert not sel.contains("GM0034") and not sel.contains("PV24")


def test_gemeenten_by_name_and_code(kwb_areas, provincie_of):
    sel = resolve_region("almere, Lelystad", kwb_areas, provincie_of)
    assert sel.gemeente_codes == ["GM0034", "GM0995"] and sel.provincie_codes == []
    assert sel.name == "Almere, Lelystad"
    assert resolve_region("GM0034", kwb_areas, provincie_of).gemeente_codes == ["GM0034"]
    mixed = resolve_region("flevoland,GM0363", kwb_areas, provincie_of)
    assert set(mixed.gemeente_codes) == FLEVOLAND | {"GM0363"}


def test_contains_rules(kwb_areas, provincie_of):
    sel = resolve_region("flevoland", kwb_areas, provincie_of)
    assert sel.contains("NL00") and sel.contains("PV24") and sel.contains("GM0034")
    assert sel.contains("WK003401") and sel.contains("BU00340101") and sel.contains("BU01840000")
    assert not sel.contains("PV27") and not sel.contains("BU0363AA01") and not sel.contains("RG:x:y")
    sel.with_members(pd.DataFrame({"region_code": ["RG:basisteam:Almere", "RG:basisteam:Amsterdam"],
                                   "member_code": ["GM0034", "GM0363"]}))
    assert sel.contains("RG:basisteam:Almere") and not sel.contains("RG:basisteam:Amsterdam")


@pytest.mark.parametrize("spec", ["nl", "NL", "Nederland", "nl00"])
def test_national(spec, kwb_areas, provincie_of):
    sel = resolve_region(spec, kwb_areas, provincie_of)
    assert sel.is_national and len(sel.provincie_codes) == 12 and len(sel.gemeente_codes) >= 342
    assert sel.contains("BU0363AA01") and sel.contains("RG:basisteam:Almere")


def test_province_wins_over_gemeente_of_same_name(kwb_areas, provincie_of):
    assert resolve_region("utrecht", kwb_areas, provincie_of).provincie_codes == ["PV26"]
    assert resolve_region("gemeente:utrecht", kwb_areas, provincie_of).gemeente_codes == ["GM0344"]
    assert resolve_region("den haag", kwb_areas, provincie_of).gemeente_codes == ["GM0518"]


def test_unknown_name_suggests_close_matches(kwb_areas, provincie_of):
    with pytest.raises(RegionError, match=r"unknown region 'flevolnd'; did you mean Flevoland"):
        resolve_region("flevolnd", kwb_areas, provincie_of)
    with pytest.raises(RegionError, match=r"'amsterdm'.*Amsterdam"):
        resolve_region("urk,amsterdm", kwb_areas, provincie_of)
    with pytest.raises(RegionError, match=r"ambiguous.*GM0893.*GM0373"):
        resolve_region("bergen", kwb_areas, provincie_of)
    with pytest.raises(RegionError, match="unknown province code PV99"):
        resolve_region("PV99", kwb_areas, provincie_of)
    with pytest.raises(RegionError, match="GM9999"):
        resolve_region("GM9999", kwb_areas, provincie_of)
    with pytest.raises(RegionError, match="empty"):
        resolve_region("  ", kwb_areas, provincie_of)


def test_offline_fallback_without_polygons():
    """Without province polygons and provincie codes, Flevoland still resolves (documented list)."""
    areas = pd.DataFrame({"code": ["GM0034", "GM0363"], "name": ["Almere", "Amsterdam"],
                          "level": ["gemeente", "gemeente"]})
    sel = resolve_region("flevoland", areas, {})
    assert set(sel.gemeente_codes) == FLEVOLAND
    with pytest.raises(RegionError, match="no gemeenten known for Noord-Holland"):
        resolve_region("noord-holland", areas, {})
    # a provincie_code column (e.g. from a region list) is used when there is no geometry
    areas["provincie_code"] = ["PV24", "PV27"]
    assert resolve_region("noord-holland", areas, {}).gemeente_codes == ["GM0363"]


def test_selection_is_a_plain_dataclass():
    sel = RegionSelection(name="x", gemeente_codes=["GM0034"])
    assert sel.contains("BU00340101") and not sel.contains("BU03630000")


def _pdok(handler):
    import httpx

    from weefsel.sources.boundaries import PdokClient
    return PdokClient(client=httpx.Client(transport=httpx.MockTransport(handler)), page_size=1000)


def test_resolve_region_online_with_recorded_pdok():
    import json
    from pathlib import Path

    import httpx

    from weefsel.sources.regions import resolve_region_online

    rec = Path(__file__).parent / "recorded" / "pdok"
    pages = [json.loads((rec / f"gemeente_page{i}.json").read_text()) for i in (1, 2)]
    gemeenten = dict(pages[0], features=pages[0]["features"] + pages[1]["features"])
    provincie = {"type": "FeatureCollection", "crs": pages[0]["crs"], "features": [
        {"type": "Feature", "properties": {"statcode": "PV24", "statnaam": "Flevoland"},
         "geometry": {"type": "Polygon", "coordinates": [[[130000, 470000], [190000, 470000],
                                                          [190000, 520000], [130000, 520000],
                                                          [130000, 470000]]]}}]}

    def handler(request: httpx.Request) -> httpx.Response:
        if "/2024/" not in str(request.url):
            return httpx.Response(404, text="no such service")
        layer = request.url.params["typeNames"]
        return httpx.Response(200, json=gemeenten if "gemeente" in layer else provincie)

    sel = resolve_region_online("flevoland", pdok=_pdok(handler), year=2024)
    assert sel.provincie_codes == ["PV24"] and sel.gemeente_codes == ["GM0034", "GM0303", "GM0995"]
    assert resolve_region_online("lelystad", pdok=_pdok(handler), year=2024).gemeente_codes == ["GM0995"]


def test_resolve_region_online_unreachable():
    import httpx

    from weefsel.sources.regions import resolve_region_online

    def down(request):
        raise httpx.ConnectError("no route to host")

    assert set(resolve_region_online("flevoland", pdok=_pdok(down)).gemeente_codes) == FLEVOLAND
    with pytest.raises(RegionError, match="PDOK not reachable"):
        resolve_region_online("almere", pdok=_pdok(down))
