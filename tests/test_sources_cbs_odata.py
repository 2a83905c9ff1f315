"""The online StatLine path against hand-written OData responses (tests/recorded/odata).

No real response of the wijk-en-buurt tables exists anywhere stored, so these files are
hand-written in the real v3 envelope (the real recordings of other tables are tested in
test_recorded_real.py, which also checks that the 85984NED figures here are the published
ones). 85146NED and 50090NED values are illustrative, not published figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from weefsel.errors import InputError
from weefsel.sources.cbs_odata import ODataClient, ODataError, load_table
from weefsel.sources.kwb import clean_dataproperties, map_typed_dataset

REC = Path(__file__).parent / "recorded" / "odata"
BASE = "https://opendata.cbs.nl/ODataApi/OData"


def _recorded(request: httpx.Request) -> httpx.Response:
    path, q = request.url.path, dict(request.url.params)
    if path.endswith("/85984NED/DataProperties"):
        return httpx.Response(200, json=json.loads((REC / "85984NED_DataProperties.json").read_text()))
    if path.endswith("/85984NED/TypedDataSet"):
        page = "page2" if q.get("$skiptoken") == "3" else "page1"
        body = json.loads((REC / f"85984NED_TypedDataSet_{page}.json").read_text())
        if q.get("$filter"):  # emulate substringof('GMxxxx', Codering_3): one page, filtered
            code = q["$filter"].split("'")[1]
            rows = body["value"] + json.loads((REC / "85984NED_TypedDataSet_page2.json").read_text())["value"]
            body = {"value": [r for r in rows if code in r["Codering_3"]]}
        return httpx.Response(200, json=body)
    for name in ("85146NED/TypedDataSet", "85146NED/RegioS", "50090NED/TypedDataSet"):
        if path.endswith("/" + name):
            return httpx.Response(200, json=json.loads((REC / f"{name.replace('/', '_')}.json").read_text()))
    if path.endswith("/85984NED/WijkenEnBuurten"):
        return httpx.Response(200, json=json.loads((REC / "85984NED_WijkenEnBuurten.json").read_text()))
    return httpx.Response(404, text="Not found")


def _client(handler=_recorded) -> ODataClient:
    return ODataClient(BASE, client=httpx.Client(transport=httpx.MockTransport(handler)), backoff=0)


def test_typed_dataset_follows_next_link_and_keeps_padding():
    df = _client().typed_dataset("85984NED")
    assert len(df) == 6  # 3 rows on page 1 + 3 on page 2
    assert df["WijkenEnBuurten"].iloc[1] == "GM0034    "


def test_load_table_maps_like_the_offline_loader():
    frames = load_table("85984NED", client=_client())
    obs = frames.observations.set_index(["area_code", "variable"])["value"]
    assert obs[("GM0034", "AantalInwoners")] == 226500
    assert obs[("BU00340101", "Nederland_Herkomstland")] == 310
    assert ("BU00340101", "Nederland_GeborenInNederland") not in obs.index  # OData null
    assert obs[("WK003401", "GemiddeldeHuishoudensgrootte")] == pytest.approx(1.7)
    areas = frames.areas.set_index("code")
    assert set(areas.index) == {"NL00", "GM0034", "WK003401", "BU00340101", "BU00340102", "GM0995"}
    assert areas.loc["BU00340101", "name"] == "Centrum Haven Noord"  # from the dimension
    assert areas.loc["BU00340101", "wijk_code"] == "WK003401"
    assert areas.loc["GM0034", "level"] == "gemeente"
    assert "MeestVoorkomendePostcode" not in set(frames.variables["variable"])  # String topic
    assert frames.rejections == []


def test_online_and_offline_give_the_same_frames(tmp_path):
    """One code path: a CSV dump of the same rows maps to identical observations."""
    client = _client()
    raw = client.typed_dataset("85984NED")
    csv = tmp_path / "dump.csv"
    raw.to_csv(csv, sep=";", index=False, encoding="utf-8-sig")
    dp = pd.DataFrame(json.loads((REC / "85984NED_DataProperties.json").read_text())["value"])
    dpcsv = tmp_path / "85984NED_DataProperties.csv"
    dp.to_csv(dpcsv, index=False)
    from weefsel.sources.kwb import load_kwb_csv
    offline = load_kwb_csv(csv, dataproperties=dpcsv)
    online = load_table("85984NED", client=client)
    cols = ["area_code", "variable", "value"]
    a = offline.observations[cols].sort_values(cols[:2]).reset_index(drop=True)
    b = online.observations[cols].sort_values(cols[:2]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_filter_is_passed_to_the_service():
    seen = []

    def handler(req):
        seen.append(dict(req.url.params))
        return _recorded(req)

    frames = load_table("85984NED", filter="substringof('GM0995',Codering_3)", client=_client(handler))
    assert any("$filter" in p for p in seen)
    assert set(frames.areas["code"]) == {"GM0995"}


def test_unknown_table_is_a_clear_error():
    with pytest.raises(InputError, match="no table '99999XXX'"):
        _client().data_properties("99999XXX")


def test_retries_a_503_then_succeeds():
    calls = {"n": 0}

    def flaky(req):
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(503, text="busy")
        return _recorded(req)

    dp = _client(flaky).data_properties("85984NED")
    assert calls["n"] == 2 and "Key" in dp.columns


def test_retries_timeouts_then_gives_up():
    def down(req):
        raise httpx.ConnectTimeout("timed out", request=req)

    client = ODataClient(BASE, client=httpx.Client(transport=httpx.MockTransport(down)), retries=2,
                         backoff=0)
    with pytest.raises(ODataError, match="after 3 attempts"):
        client.typed_dataset("85984NED")


def test_dataproperties_disambiguate_repeated_stems():
    dp = pd.DataFrame(json.loads((REC / "85984NED_DataProperties.json").read_text())["value"])
    dp = clean_dataproperties(dp.astype(object).where(dp.notna(), "").astype(str), "rec")
    raw = pd.DataFrame({"ID": ["0"], "WijkenEnBuurten": ["GM0034    "], "Gemeentenaam_1": ["Almere"],
                        "SoortRegio_2": ["Gemeente  "], "Codering_3": ["GM0034    "],
                        "AantalInwoners_5": ["226500"], "Nederland_17": ["114731"],
                        "Nederland_20": ["114731"], "GemiddeldeHuishoudensgrootte_33": ["2.3"],
                        "MeestVoorkomendePostcode_125": ["."]})
    frames = map_typed_dataset(raw, dp, table_id="85984NED", file="x")
    v = frames.variables.set_index("variable")
    assert v.loc["Nederland_Herkomstland", "topic"] == "Bevolking / Bevolking naar herkomst / Herkomstland"
    assert v.loc["Nederland_GeborenInNederland", "stem"] == "Nederland"


def test_veiligheidsmonitor_online_uses_region_titles_and_marges_keys():
    known = pd.DataFrame({"code": ["GM0034", "GM0995", "GM0050"], "name": ["Almere", "Lelystad", "Zeewolde"]})
    frames = _client().load_table("85146NED", known_areas=known)
    o = frames.observations.set_index(["area_code", "variable"])
    row = o.loc[("GM0034", "SocialeCohesieSchaalscore")]
    assert (row.value, row.lower, row.upper) == (6.0, 5.9, 6.1)
    assert set(frames.areas.code) == {"GM0034", "PV24", "RG:basisteam:Lelystad / Zeewolde"}
    assert set(frames.members.member_code) == {"GM0995", "GM0050"}
    assert frames.provenance[0]["file"].startswith(BASE + "/85146NED/TypedDataSet")


def test_health_online_uses_the_file_loader():
    frames = load_table("50090NED", client=_client())
    o = frames.observations.set_index(["area_code", "breakdown", "variable"])["value"]
    assert o[("NL00", "leeftijd=18+", "Eenzaam")] == 47.3  # NL01 normalised
    assert o[("GM0034", "leeftijd=65+", "Eenzaam")] == 52.0
    assert set(frames.observations.period) == {"2020"}


def test_table_without_loader_is_refused():
    with pytest.raises(InputError, match="no loader for table '83765NED'"):
        load_table("83765NED", client=_client())
