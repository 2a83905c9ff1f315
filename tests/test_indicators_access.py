"""Accessibility results (table access_results, `weefsel access`) flow into the indicator
catalogue and the index as optional entries with ``source: access_results``."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from weefsel.errors import CatalogueError
from weefsel.indicators import load_catalogue, run_index
from weefsel.indicators.catalogue import parse_entry

ACCESS_IDS = {"access_share_meeting_place": "higher_is_better",
              "access_types_meeting_places": "higher_is_better",
              "access_nearest_community_centre": "higher_is_worse",
              "access_e2sfca_community_centre": "higher_is_better"}
MEASURES = {"access_share_meeting_place": ("share_with_meeting_place", "meeting_places"),
            "access_types_meeting_places": ("types_within", "meeting_places"),
            "access_nearest_community_centre": ("nearest_distance", "community_centre"),
            "access_e2sfca_community_centre": ("e2sfca_per_1000", "community_centre")}


@pytest.fixture(scope="module")
def amsterdam_index(data_dir, tmp_path_factory):
    from weefsel.analysis.access.warehouse import run_access
    from weefsel.warehouse.build import build

    out = tmp_path_factory.mktemp("ams") / "amsterdam.duckdb"
    build("amsterdam", data_dir, out, progress=False)
    run_access(out)
    run = run_index(out, level="buurt")
    return out, run


def test_catalogue_declares_access_entries_as_optional():
    cat = load_catalogue()
    for ind_id, direction in ACCESS_IDS.items():
        ind = cat.get(ind_id)
        assert ind.source == "access_results" and ind.optional and ind.direction == direction
        assert ind.kind == "published" and ind.weight_variable == "AantalInwoners"
    assert cat.get("access_share_meeting_place").scale == 100     # '%' unit: numerator = residents


def test_access_entry_must_name_one_measure():
    base = dict(id="x", title_nl="x", title_en="x", theme="voorzieningen", unit="m", unit_nl="m",
                direction="higher_is_worse", sources=["OSM"], serves="test", min_population=0)
    with pytest.raises(CatalogueError, match="source 'nope'"):
        parse_entry({**base, "formula": "a", "source": "nope"}, "cat.yaml")
    with pytest.raises(CatalogueError, match="one measure variable"):
        parse_entry({**base, "formula": "a / b * 100", "source": "access_results"}, "cat.yaml")


def test_amsterdam_access_indicators_in_index(amsterdam_index):
    out, run = amsterdam_index
    con = duckdb.connect(str(out), read_only=True)
    try:
        access = con.execute("SELECT area_code, measure, facility_type, value, population "
                             "FROM access_results WHERE level = 'buurt'").df()
        values = con.execute("SELECT area_code, indicator, value, suppressed, data_period "
                             "FROM indicator_values WHERE level = 'buurt'").df()
        catalogue = con.execute("SELECT indicator, direction, source_table FROM indicator_catalogue").df()
    finally:
        con.close()
    assert access["area_code"].nunique() == 518
    cat = catalogue.set_index("indicator")
    for ind_id, direction in ACCESS_IDS.items():
        assert cat.loc[ind_id, "direction"] == direction
        assert cat.loc[ind_id, "source_table"] == "access_results"
        measure, ftype = MEASURES[ind_id]
        src = access[(access["measure"] == measure) & (access["facility_type"] == ftype)].set_index("area_code")
        got = values[values["indicator"] == ind_id].set_index("area_code")
        assert set(src.index) <= set(got.index) and len(src) == 518
        got = got.loc[src.index]
        shown = src["value"].notna() & (src["population"] >= 50)
        assert shown.sum() > 400
        # the index shows the access value unchanged where it exists and the population is large enough
        assert (got.loc[shown, "value"] - src.loc[shown, "value"]).abs().max() < 1e-9
        assert got.loc[~shown, "value"].isna().all()
        assert (got.loc[shown, "data_period"] == "2024").all()
    # the accessibility indicators are observed widely enough to enter the composite
    assert {"access_share_meeting_place", "access_nearest_community_centre"} <= set(run.indicators)
    # no library in the Amsterdam facilities: that entry is skipped and says why
    assert "access_results" in run.skipped["access_nearest_library"]


def test_warehouse_without_access_results_still_indexes(flevoland_warehouse, tmp_path):
    path = tmp_path / "flevoland.duckdb"
    shutil.copy(flevoland_warehouse, path)
    run = run_index(path, level="buurt")
    for ind_id in ACCESS_IDS:
        assert ind_id in run.skipped and "access_results" in run.skipped[ind_id]
    assert not set(ACCESS_IDS) & set(run.indicators)
    assert len(run.tables["index_results"]) > 0
