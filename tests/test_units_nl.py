"""Units a dashboard user reads are Dutch: catalogue ``unit_nl`` is required and reaches the
web layer (layers, profile HTML, CSV), while the English ``unit`` stays for the API."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from weefsel.errors import CatalogueError
from weefsel.indicators import load_catalogue, run_index
from weefsel.indicators.catalogue import default_catalogue_path, parse_entry
from weefsel.warehouse.writer import create_warehouse
from weefsel.web.data import WebData
from weefsel.web.profile import build_profile, render_document

#: words that give away an English unit (whole words, case-insensitive)
ENGLISH = re.compile(r"\b(residents?|households?|mean|count|by road|straight line|"
                     r"capacity|units?|national|about|scale score|model-based|estimate)\b",
                     re.IGNORECASE)

AREAS = pd.DataFrame({
    "code": ["GM0001", "WK000101", "BU00010101", "BU00010102"],
    "level": ["gemeente", "wijk", "buurt", "buurt"],
    "name": ["Testgemeente", "Testwijk", "Centrum", "Noord"],
    "gemeente_code": ["GM0001"] * 4,
    "wijk_code": [None, "WK000101", "WK000101", "WK000101"],
    "provincie_code": ["PV99"] * 4,
})
BUURTEN = ["BU00010101", "BU00010102"]


def obs(variable: str, values: list[float], period: str = "2024", breakdown: str = "") -> pd.DataFrame:
    return pd.DataFrame({"area_code": BUURTEN, "period": period, "variable": variable,
                         "breakdown": breakdown, "value": values, "source": "test"})


@pytest.fixture(scope="module")
def indexed_wh(tmp_path_factory) -> Path:
    """A two-buurt warehouse with the packaged catalogue's aandeel_65plus and eenzaam_18
    computed by `weefsel index` (the rest is skipped: the warehouse lacks its variables)."""
    o = pd.concat([obs("AantalInwoners", [1000, 3000]), obs("k_65JaarOfOuder", [100, 900]),
                   obs("Eenzaam", [40.0, 50.0], period="2020", breakdown="leeftijd=18+")])
    path = create_warehouse(tmp_path_factory.mktemp("units") / "w.duckdb", areas=AREAS,
                            observations=o)
    run_index(path, level="buurt", skip_missing=True)
    return path


# -- catalogue -------------------------------------------------------------------------------

def test_every_catalogue_entry_has_a_dutch_unit():
    cat = load_catalogue()
    assert len(cat) > 20
    for ind in cat:
        assert ind.unit_nl.strip(), ind.id
        assert not ENGLISH.search(ind.unit_nl), (ind.id, ind.unit_nl)
        assert ind.unit_nl != ind.unit or not re.search("[a-z]{3,}", ind.unit), ind.id
    units = {i.id: i.unit_nl for i in cat}
    assert units["eenzaam_18"] == "% van de inwoners van 18 jaar en ouder (modelschatting)"
    assert units["access_nearest_library"] == "m (hemelsbreed × omwegfactor, gemiddeld over inwoners)"
    assert units["afstand_huisarts"] == "km over de weg (gemiddeld over inwoners)"
    assert cat.get("eenzaam_18").unit.startswith("% of residents")   # English kept for the API
    assert set(cat.frame()["unit_nl"]) == set(units.values())


def _packaged_without_unit_nl(tmp_path: Path, ind_id: str, value=None) -> Path:
    doc = yaml.safe_load(default_catalogue_path().read_text(encoding="utf-8"))
    entry = next(e for e in doc["indicators"] if e["id"] == ind_id)
    if value is None:
        del entry["unit_nl"]
    else:
        entry["unit_nl"] = value
    p = tmp_path / "cat.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return p


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_unit_nl_is_an_error_naming_the_indicator(tmp_path, value):
    p = _packaged_without_unit_nl(tmp_path, "bijstand", value)
    with pytest.raises(CatalogueError, match=r"indicator 'bijstand'.*missing field\(s\) unit_nl"):
        load_catalogue(p)


def test_unit_and_unit_nl_must_agree_on_percent():
    entry = dict(id="x", title_nl="x", title_en="x", theme="demografie", formula="A",
                 weight_variable="AantalInwoners", unit="% of residents", unit_nl="aantal inwoners",
                 direction="higher_is_worse", sources=["t"], serves="t", min_population=0)
    with pytest.raises(CatalogueError, match="indicator 'x'.*'%'"):
        parse_entry(entry, "cat.yaml")
    assert parse_entry({**entry, "unit_nl": "% van de inwoners"}, "cat.yaml").scale == 100


# -- web layer -------------------------------------------------------------------------------

def test_layers_show_the_dutch_unit_and_keep_the_english_one(indexed_wh):
    data = WebData(indexed_wh)
    try:
        lay = data.layer("eenzaam_18")
        assert lay.unit == "% van de inwoners van 18 jaar en ouder (modelschatting)"
        pub = lay.public()
        assert pub["unit"] == lay.unit and pub["unit_en"] == "% of residents 18+ (model-based estimate)"
        assert data.layer("aandeel_65plus").unit == "% van de inwoners"
    finally:
        data.close()


def test_older_warehouse_catalogue_table_without_unit_nl_still_shows_dutch(indexed_wh, tmp_path):
    """indicator_catalogue written before unit_nl existed holds only the English unit; the
    packaged catalogue's Dutch unit wins."""
    old = tmp_path / "old.duckdb"
    shutil.copy(indexed_wh, old)
    con = duckdb.connect(str(old))
    con.execute("ALTER TABLE indicator_catalogue DROP COLUMN unit_nl")
    con.close()
    data = WebData(old)
    try:
        assert data.layer("eenzaam_18").unit == "% van de inwoners van 18 jaar en ouder (modelschatting)"
    finally:
        data.close()


def test_profile_html_shows_the_dutch_unit(indexed_wh):
    data = WebData(indexed_wh)
    try:
        doc = render_document(build_profile(data, "BU00010101"))
    finally:
        data.close()
    assert '<span class="eenheid">(% van de inwoners van 18 jaar en ouder (modelschatting))</span>' in doc
    assert "(% van de inwoners)" in doc
    assert "of residents" not in doc and "model-based" not in doc


def test_profile_and_indicator_csv_use_the_dutch_unit(indexed_wh):
    from fastapi.testclient import TestClient

    from weefsel.web.api import create_app
    with TestClient(create_app(indexed_wh)) as c:
        r = c.get("/api/areas/BU00010101/profile", params={"format": "csv"})
        assert r.status_code == 200, r.text
        rows = {row["indicator"]: row for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")),
                                                                delimiter=";")}   # Dutch Excel
        assert rows["eenzaam_18"]["eenheid"] == "% van de inwoners van 18 jaar en ouder (modelschatting)"
        inds = {i["id"]: i for i in c.get("/api/indicators", params={"kind": "indicator"}).json()["indicators"]}
        assert inds["aandeel_65plus"]["unit"] == "% van de inwoners"
        assert inds["aandeel_65plus"]["unit_en"] == "% of residents"


def test_real_area_profile_shows_the_dutch_unit(flevoland_warehouse, tmp_path):
    """A real buurt of Flevoland (built from the publishers' data), indexed with the packaged
    catalogue: every indicator row of the profile carries its Dutch unit."""
    path = tmp_path / "flevoland.duckdb"
    shutil.copy(flevoland_warehouse, path)
    run_index(path, level="buurt", skip_missing=True)
    cat = {i.id: i for i in load_catalogue()}
    data = WebData(path)
    try:
        code = data.sql("SELECT area_code FROM indicator_values WHERE indicator = 'eenzaam_18' "
                        "AND value IS NOT NULL ORDER BY area_code LIMIT 1")["area_code"][0]
        p = build_profile(data, code)
        doc = render_document(p)
    finally:
        data.close()
    shown = [i for i in p["indicators"] if i["id"] in cat]
    assert shown
    for i in shown:
        assert i["unit"] == cat[i["id"]].unit_nl
        assert f'<span class="eenheid">({i["unit"]})</span>' in doc.replace("&#x27;", "'")
    assert "of residents" not in doc and "by road" not in doc


def test_access_layers_are_worded_in_dutch(indexed_wh, tmp_path):
    """access_results layers take their title from access_indicators.yaml and the typology
    (not the English measure/type keys) and the catalogue's Dutch wording of their unit."""
    path = tmp_path / "access.duckdb"
    shutil.copy(indexed_wh, path)
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE access_results (area_code VARCHAR, level VARCHAR, period VARCHAR, "
                "measure VARCHAR, facility_type VARCHAR, value DOUBLE, population DOUBLE, "
                "missing_reason VARCHAR)")
    con.executemany("INSERT INTO access_results VALUES (?, 'buurt', '2024', ?, ?, ?, 1000, NULL)",
                    [("BU00010101", "nearest_distance", "community_centre", 640.0),
                     ("BU00010101", "types_within", "meeting_places", 3.0),
                     ("BU00010101", "count_within_500", "community_centre", 2.0),
                     ("BU00010101", "e2sfca_per_1000", "school", 0.4),
                     ("BU00010101", "diversity_shannon", "meeting_places", 0.9),
                     ("BU00010101", "count_within_1000", "horeca", 5.0)])
    con.close()
    data = WebData(path)
    try:
        near = data.layer("access:nearest_distance:community_centre")
        assert near.title == "Bereikbaarheid: Afstand tot dichtstbijzijnde buurthuis"
        assert near.unit == "m (hemelsbreed × omwegfactor, gemiddeld over inwoners)"
        assert near.direction == "hoger is slechter"
        types = data.layer("access:types_within:meeting_places")
        assert types.title == "Bereikbaarheid: Aantal soorten ontmoetingsplekken op loopafstand"
        assert types.unit == "soorten (gemiddeld over inwoners)"
        # counts and supply take the plural; the singular stays for "dichtstbijzijnde"
        count = data.layer("access:count_within_500:community_centre")
        assert count.title == "Bereikbaarheid: Aantal buurthuizen binnen 500 m"
        assert count.unit == "aantal (gemiddeld over inwoners)" and count.unit_en.startswith("count")
        e2 = data.layer("access:e2sfca_per_1000:school")      # plain words; the term in a tooltip
        assert e2.title == "Bereikbaarheid: Aanbod scholen per 1.000 inwoners binnen bereik"
        assert "(E2SFCA)" in e2.technical
        shannon = data.layer("access:diversity_shannon:meeting_places")
        assert shannon.unit == "verscheidenheidsscore (gemiddeld over inwoners; 0 = geen of één soort)"
        assert "Shannon-index H (nats" in shannon.technical
        # a type outside the typology (no plural known) keeps its key instead of failing
        assert data.layer("access:count_within_1000:horeca").title == "Bereikbaarheid: Aantal horeca binnen 1 km"
        doc = render_document(build_profile(data, "BU00010101"))
    finally:
        data.close()
    assert "Afstand tot dichtstbijzijnde buurthuis" in doc and "nearest distance" not in doc


def test_access_yaml_and_typology_carry_the_dutch_wording():
    """Every access measure has a Dutch unit, every typology type a Dutch plural, and only the
    plural placeholder is used where a title counts or sums facilities."""
    from weefsel.web.data import _access_texts
    measures, labels, plurals = _access_texts()
    assert len(measures) == 8
    for m, spec in measures.items():
        assert str(spec.get("unit_nl") or "").strip(), m
        assert not ENGLISH.search(spec["unit_nl"]), (m, spec["unit_nl"])
        assert spec["unit"].lstrip().startswith("%") == spec["unit_nl"].startswith("%"), m
        if m.startswith(("count_within", "e2sfca")):
            assert "{types}" in spec["title_nl"] and "{type}" not in spec["title_nl"], m
    assert set(plurals) == set(labels) and len(plurals) > 15
    assert plurals["community_centre"] == "buurthuizen" and plurals["school"] == "scholen"
    assert all(plurals[k] != labels[k] for k in labels if k != "meeting_places"), "plural equals singular"


@pytest.fixture(scope="module")
def amsterdam_access(data_dir, tmp_path_factory) -> Path:
    """The real Amsterdam build (publishers' data) with `weefsel access` run on it."""
    from weefsel.analysis.access.warehouse import run_access
    from weefsel.warehouse.build import build
    out = tmp_path_factory.mktemp("ams_nl") / "amsterdam.duckdb"
    build("amsterdam", data_dir, out, progress=False)
    run_access(out)
    return out


def test_real_amsterdam_access_layers_have_dutch_units_and_plural_counts(amsterdam_access):
    from weefsel.sources.typology import load_typology
    data = WebData(amsterdam_access)
    try:
        pairs = data.sql("SELECT DISTINCT measure, facility_type FROM access_results")
        layers = [lay for lay in data.layers.values() if lay.table == "access_results"]
    finally:
        data.close()
    assert len(layers) == len(pairs) > 40
    for lay in layers:
        assert lay.unit.strip(), lay.id
        assert not ENGLISH.search(lay.unit), (lay.id, lay.unit)
        assert "{" not in lay.title and "_" not in lay.title, (lay.id, lay.title)
    by_id = {lay.id: lay for lay in layers}
    assert by_id["access:count_within_500:community_centre"].title == \
        "Bereikbaarheid: Aantal buurthuizen binnen 500 m"
    assert by_id["access:diversity_shannon:meeting_places"].unit.startswith("verscheidenheidsscore")
    typology = load_typology()
    counts = [lay for lay in layers if lay.id.startswith("access:count_within_")]
    assert len(counts) > 20
    for lay in counts:
        label = typology[lay.id.rsplit(":", 1)[1]].label_nl
        assert f"Aantal {label} binnen" not in lay.title, lay.title   # the singular reads wrong
