"""Burgerbegroting web pages and JSON (router mounted on a bare FastAPI app)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from weefsel.participation import web
from weefsel.participation.budgeting.pabulib import parse_pb
from weefsel.registry import Registry


@pytest.fixture()
def client(tmp_path):
    web.set_registry(Registry(f"sqlite:///{tmp_path / 'r.sqlite'}"))
    app = FastAPI()
    app.include_router(web.router)
    yield TestClient(app)
    web.set_registry(None)


def _labels_ok(page: str) -> None:
    assert '<html lang="nl">' in page
    for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page):
        assert f'for="{field_id}"' in page, field_id


def test_cycle_through_pages(client):
    r = client.get("/api/begroting/")
    assert r.status_code == 200 and "Nieuwe burgerbegroting" in r.text
    _labels_ok(r.text)
    r = client.post("/api/begroting/nieuw", data={"naam": "Buurt", "budget": "10000", "regel": "equalshares/add1"})
    token = re.search(r"<code>([^<]+)</code>", r.text).group(1)
    for title, cost in (("Bankjes", "4000"), ("Moestuin", "7000")):
        r = client.post("/api/begroting/p/1/voorstel", data={"titel": title, "kosten": cost, "lat": "52.1", "lon": "5.1"})
        assert r.status_code == 200  # redirected to the process page
    _labels_ok(client.get("/api/begroting/p/1").text)
    assert client.post("/api/begroting/p/1/fase", data={"fase": "controle", "organisatiecode": "fout"}).status_code == 400
    client.post("/api/begroting/p/1/fase", data={"fase": "controle", "organisatiecode": token})
    for pid in (1, 2):
        client.post("/api/begroting/p/1/controle", data={"project": pid, "status": "on_ballot", "organisatiecode": token})
    client.post("/api/begroting/p/1/fase", data={"fase": "stemmen", "organisatiecode": token})
    codes = web.get_registry().issue_codes(1, 2, token)
    page = client.get("/api/begroting/p/1").text
    assert "Stemcode" in page
    _labels_ok(page)
    r = client.post("/api/begroting/p/1/stem", data={"project": ["1", "2"], "code": codes[0]})
    assert "Ontvangstnummer" in r.text
    r = client.post("/api/begroting/p/1/stem", data={"project": ["1"], "code": codes[0]})
    assert r.status_code == 400 and "al gebruikt" in r.text
    client.post("/api/begroting/p/1/stem", data={"project": ["1"], "code": codes[1]})
    res = client.get("/api/begroting/processes/1/results").json()
    assert res["selected"] and float(res["budget_used"]) <= 10000
    text = client.get("/api/begroting/processes/1/export.pb").text
    assert len(parse_pb(text).ballots) == 2
    assert "gefinancierd" in client.get("/api/begroting/p/1/uitslag").text


def test_real_file_pages(client, data_dir):
    r = client.get("/api/begroting/bestanden/Netherlands_Assen_2024.pb")
    assert r.status_code == 200 and "Gelijk aan de officiële uitslag" in r.text
    j = client.get("/api/begroting/files/Netherlands_Assen_2024.pb").json()
    assert sorted(j["selected"]) == sorted(j["official_selected"])
    assert client.get("/api/begroting/files/..%2F..%2Fetc%2Fpasswd").status_code == 404
