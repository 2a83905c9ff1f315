"""Burgerbegroting web pages and JSON (router mounted on a bare FastAPI app)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi import FastAPI
from registry_backends import pg_server, registry_url  # noqa: F401
from fastapi.testclient import TestClient

from weefsel.participation import web
from weefsel.participation.budgeting.pabulib import parse_pb
from weefsel.registry import Registry


@pytest.fixture()
def client(registry_url):
    reg = Registry(registry_url)
    web.set_registry(reg)
    app = FastAPI()
    app.include_router(web.router)
    yield TestClient(app)
    web.set_registry(None)
    reg.engine.dispose()


def _labels_ok(page: str) -> None:
    assert '<html lang="nl">' in page
    for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page):
        assert f'for="{field_id}"' in page, field_id


def _token(r) -> str:
    return re.search(r'<code id="organisatiecode">([^<]+)</code>', r.text).group(1)


def _to_voting(client, **form) -> str:
    r = client.post("/api/begroting/nieuw", data={"naam": "Buurt", "budget": "10.000", "regel": "equalshares/add1",
                                                  **form})
    token = _token(r)
    for title, cost in (("Bankjes", "4.000"), ("Moestuin", "€ 7.000,50")):
        r = client.post("/api/begroting/p/1/voorstel", data={"titel": title, "kosten": cost, "lat": "52,1", "lon": "5.1"})
        assert r.status_code == 200  # redirected to the process page
    client.post("/api/begroting/p/1/fase", data={"fase": "controle", "organisatiecode": token})
    for pid in (1, 2):
        client.post("/api/begroting/p/1/controle", data={"project": pid, "status": "on_ballot", "organisatiecode": token})
    client.post("/api/begroting/p/1/fase", data={"fase": "stemmen", "organisatiecode": token})
    return token


def test_cycle_through_pages(client):
    r = client.get("/api/begroting/")
    assert r.status_code == 200 and "Nieuwe burgerbegroting" in r.text
    _labels_ok(r.text)
    r = client.post("/api/begroting/nieuw", data={"naam": "Buurt", "budget": "10.000", "regel": "equalshares/add1"})
    token = _token(r)
    assert web.get_registry().process(1)["budget"] == "10000"
    for title, cost in (("Bankjes", "4.000"), ("Moestuin", "7.000")):
        r = client.post("/api/begroting/p/1/voorstel", data={"titel": title, "kosten": cost, "lat": "52,1", "lon": "5.1"})
        assert r.status_code == 200  # redirected to the process page
    page = client.get("/api/begroting/p/1").text
    _labels_ok(page)
    assert "€ 10.000" in page and "€ 4.000" in page and "stemcode uit een brief" in page
    assert client.post("/api/begroting/p/1/fase", data={"fase": "controle", "organisatiecode": "fout"}).status_code == 400
    client.post("/api/begroting/p/1/fase", data={"fase": "controle", "organisatiecode": token})
    for pid in (1, 2):
        client.post("/api/begroting/p/1/controle", data={"project": pid, "status": "on_ballot", "organisatiecode": token})
    client.post("/api/begroting/p/1/fase", data={"fase": "stemmen", "organisatiecode": token})
    r = client.post("/api/begroting/p/1/codes", data={"aantal": "2", "formaat": "csv", "organisatiecode": token,
                                                      "adres": "https://stem.example.nl"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    codes = [row["stemcode"] for row in rows]
    assert len(codes) == 2 and rows[0]["adres"] == "https://stem.example.nl/api/begroting/p/1"
    page = client.get("/api/begroting/p/1").text
    assert "Stemcode" in page and "Uitgegeven: 2, gebruikt: 0" in page
    _labels_ok(page)
    r = client.post("/api/begroting/p/1/stem", data={"project": ["1", "2"], "code": codes[0]})
    receipt = re.search(r'<code id="ontvangstbewijs">([^<]+)</code>', r.text).group(1)
    r = client.post("/api/begroting/p/1/stem", data={"project": ["1"], "code": codes[0]})
    assert r.status_code == 400 and "al gebruikt" in r.text
    client.post("/api/begroting/p/1/stem", data={"project": ["1"], "code": codes[1]})
    assert "is meegeteld" in client.post("/api/begroting/p/1/bewijs", data={"bewijs": receipt}).text
    assert "Nee" in client.post("/api/begroting/p/1/bewijs", data={"bewijs": "AAAA-BBBB-CCCC-DDDD"}).text
    _labels_ok(client.get("/api/begroting/p/1/bewijs").text)
    # hidden while voting
    for url in ("/api/begroting/processes/1/results", "/api/begroting/processes/1/export.pb",
                "/api/begroting/p/1/uitslag"):
        r = client.get(url)
        assert r.status_code == 403 and "verborgen" in r.text, url
    client.post("/api/begroting/p/1/fase", data={"fase": "gesloten", "organisatiecode": token})
    res = client.get("/api/begroting/processes/1/results").json()
    assert res["selected"] and float(res["budget_used"]) <= 10000 and res["final"] is True
    text = client.get("/api/begroting/processes/1/export.pb").text
    pb = parse_pb(text)
    assert len(pb.ballots) == 2 and receipt not in text and receipt.replace("-", "") not in text
    assert pb.meta["budget"] == "10000"
    assert "gefinancierd" in client.get("/api/begroting/p/1/uitslag").text


def test_export_before_close_is_refused_in_dutch(client):
    token = _to_voting(client)
    codes = client.post("/api/begroting/processes/1/codes", json={"aantal": 3, "organisatiecode": token}).json()["codes"]
    client.post("/api/begroting/p/1/stem", data={"project": ["1"], "code": codes[0]})
    for url in ("/api/begroting/processes/1/export.pb", "/api/begroting/processes/1/results"):
        r = client.get(url)
        assert r.status_code == 403
        assert r.json()["detail"].startswith("De uitslag en de stemmen zijn nog verborgen")
    j = client.get("/api/begroting/processes/1").json()
    assert j["results_visible"] is False and j["ballots"] == 1 and "organiser_hash" not in j
    assert client.get("/api/begroting/processes/1/receipts").json()["count"] == 1


def test_running_results_when_the_organiser_chose_so(client):
    token = _to_voting(client, tussenstand="1")
    page = client.get("/api/begroting/p/1").text
    assert "tussenstand al tijdens het stemmen te tonen" in page
    codes = client.post("/api/begroting/processes/1/codes", json={"aantal": 1, "organisatiecode": token}).json()["codes"]
    client.post("/api/begroting/p/1/stem", data={"project": ["1"], "code": codes[0]})
    assert client.get("/api/begroting/processes/1/results").status_code == 200
    assert "Tussenstand" in client.get("/api/begroting/p/1/uitslag").text


def test_ballot_ids_in_pb_are_not_receipts(client):
    token = _to_voting(client)
    codes = client.post("/api/begroting/processes/1/codes", json={"aantal": 6, "organisatiecode": token}).json()["codes"]
    receipts = []
    for i, code in enumerate(codes):
        r = client.post("/api/begroting/p/1/stem", data={"project": [str(1 + i % 2)], "code": code})
        receipts.append(re.search(r'<code id="ontvangstbewijs">([^<]+)</code>', r.text).group(1))
    client.post("/api/begroting/p/1/fase", data={"fase": "gesloten", "organisatiecode": token})
    pb = parse_pb(client.get("/api/begroting/processes/1/export.pb").text)
    ids = {b.voter_id for b in pb.ballots}
    norm = {r.replace("-", "") for r in receipts} | set(receipts)
    assert len(ids) == 6 and not ids & norm
    hashes = client.get("/api/begroting/processes/1/receipts").json()["counted"]
    assert not ids & set(hashes)


def test_open_mode_one_vote_per_browser_with_warning(client):
    _to_voting(client, stemrecht="open")
    page = client.get("/api/begroting/p/1").text
    assert "één stem per browser" in page and 'class="waarschuwing"' in page and 'name="code"' not in page
    r = client.post("/api/begroting/p/1/stem", data={"project": ["1"]})
    assert r.status_code == 200 and web.BROWSER_COOKIE in r.cookies
    r = client.post("/api/begroting/p/1/stem", data={"project": ["2"]})
    assert r.status_code == 400 and "al gestemd" in r.text


@pytest.mark.parametrize("form, message", [
    ({"naam": "x", "budget": "1/3"}, "budget: &#x27;1/3&#x27; is geen bedrag"),
    ({"naam": "x", "budget": "-5"}, "budget: een negatief bedrag"),
    ({"naam": "x", "budget": "10.000", "max_keuzes": "-3"}, "max_keuzes (hoogstens zoveel keuzes) moet tussen 1"),
    ({"naam": "x", "budget": "10.000", "max_keuzes": "twee"}, "max_keuzes (hoogstens zoveel keuzes): "),
    ({"naam": "", "budget": "10.000"}, "naam ontbreekt"),
    ({"naam": "x" * 300, "budget": "10.000"}, "naam is te lang"),
    ({"naam": "x", "budget": "10.000", "gebied": "Almere"}, "gebiedscode"),
    ({"naam": "x", "budget": "10.000", "regel": "loterij"}, "verdeelregel"),
    ({"naam": "x", "budget": "10.000", "stemrecht": "postduif"}, "stemrecht"),
    ({"naam": "x"}, "budget ontbreekt"),
])
def test_create_form_validation_names_the_field(client, form, message):
    r = client.post("/api/begroting/nieuw", data=form)
    assert r.status_code == 400 and message in r.text, r.text[-600:]
    assert web.get_registry().list_processes() == []


@pytest.mark.parametrize("form, message", [
    ({"titel": "Bank", "kosten": "3.000,505"}, "kosten"),
    ({"titel": "Bank", "kosten": "1/3"}, "kosten: &#x27;1/3&#x27; is geen bedrag"),
    ({"titel": "", "kosten": "3.000"}, "titel ontbreekt"),
    ({"titel": "Bank", "kosten": "3.000", "lat": "noord", "lon": "5"}, "breedtegraad: &#x27;noord&#x27; is geen getal"),
    ({"titel": "Bank", "kosten": "3.000", "lat": "52"}, "zowel breedtegraad als lengtegraad"),
    ({"titel": "Bank", "kosten": "3.000", "gebied": "x"}, "buurt- of wijkcode"),
])
def test_proposal_form_validation(client, form, message):
    client.post("/api/begroting/nieuw", data={"naam": "Buurt", "budget": "10.000"})
    r = client.post("/api/begroting/p/1/voorstel", data=form)
    assert r.status_code == 400 and message in r.text, r.text[-600:]


def test_vote_and_organiser_form_validation(client):
    token = _to_voting(client, max_keuzes="1")
    assert "projectnummer" in client.post("/api/begroting/p/1/controle",
                                          data={"project": "een", "status": "checked", "organisatiecode": token}).text
    codes = client.post("/api/begroting/processes/1/codes", json={"aantal": 1, "organisatiecode": token}).json()["codes"]
    r = client.post("/api/begroting/p/1/stem", data={"project": ["1", "2"], "code": codes[0]})
    assert r.status_code == 400 and "te veel keuzes" in r.text
    r = client.post("/api/begroting/p/1/stem", data={"project": ["abc"], "code": codes[0]})
    assert r.status_code == 400 and "project" in r.text
    r = client.post("/api/begroting/p/1/codes", data={"aantal": "-1", "organisatiecode": token})
    assert r.status_code == 400 and "aantal codes moet tussen 1" in r.text
    r = client.post("/api/begroting/p/1/codes", data={"aantal": "2", "organisatiecode": "fout"})
    assert r.status_code == 400 and "organisatiecode klopt niet" in r.text
    assert web.get_registry().code_counts(1)["issued"] == 1


def test_printable_letters(client):
    token = _to_voting(client)
    r = client.post("/api/begroting/p/1/codes", data={"aantal": "3", "formaat": "brieven", "organisatiecode": token})
    assert r.status_code == 200 and r.text.count('class="brief"') == 3
    assert "/api/begroting/p/1" in r.text and "€ 10.000" in r.text
    codes = re.findall(r'<p class="code">([^<]+)</p>', r.text)
    assert len(set(codes)) == 3 and "?code=" not in r.text        # the code never goes into a URL
    from weasyprint import HTML

    from weefsel.participation.letters import letters_html
    assert len(HTML(string=letters_html("Buurt", codes, "https://x.nl/api/begroting/p/1")).render().pages) == 3


def test_real_file_pages(client, data_dir):
    r = client.get("/api/begroting/bestanden/Netherlands_Assen_2024.pb")
    assert r.status_code == 200 and "Gelijk aan de officiële uitslag" in r.text
    j = client.get("/api/begroting/files/Netherlands_Assen_2024.pb").json()
    assert sorted(j["selected"]) == sorted(j["official_selected"])
    assert client.get("/api/begroting/files/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_unknown_process_is_404_in_dutch(client):
    for url in ("/api/begroting/p/9", "/api/begroting/p/9/bewijs", "/api/begroting/processes/9",
                "/api/begroting/processes/9/results", "/api/begroting/processes/9/export.pb",
                "/api/begroting/processes/9/receipts"):
        r = client.get(url)
        assert r.status_code == 404 and "burgerbegroting 9 bestaat niet" in r.text, url
    r = client.post("/api/begroting/p/9/codes", data={"aantal": "1", "organisatiecode": "x"})
    assert r.status_code == 404
    r = client.post("/api/begroting/processes/9/codes", json={"aantal": 1, "organisatiecode": "x"})
    assert r.status_code == 404 and "bestaat niet" in r.json()["detail"]
    r = client.post("/api/begroting/p/9/stem", data={"project": ["1"], "code": "x"})
    assert r.status_code == 404


def test_no_codes_or_receipts_in_logs(tmp_path, registry_url, caplog):
    """Through the whole web app at DEBUG level: codes and receipts never reach a log line."""
    import logging

    from weefsel.web.api import create_app
    from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse
    web.set_registry(Registry(registry_url))
    app = create_app(make_demo_warehouse(tmp_path / "demo.duckdb"), catalogue=DEMO_CATALOGUE)
    try:
        with caplog.at_level(logging.DEBUG), TestClient(app) as c:
            token = _to_voting(c)
            codes = c.post("/api/begroting/processes/1/codes",
                           json={"aantal": 2, "organisatiecode": token}).json()["codes"]
            r = c.post("/api/begroting/p/1/stem", data={"project": ["1"], "code": codes[0]})
            receipt = re.search(r'<code id="ontvangstbewijs">([^<]+)</code>', r.text).group(1)
            c.post("/api/begroting/p/1/bewijs", data={"bewijs": receipt})
        secrets_ = [token, receipt, receipt.replace("-", ""), *codes, *(x.replace("-", "") for x in codes)]
        assert not [s for s in secrets_ if s in caplog.text]
        audit = repr(web.get_registry().audit())
        assert not [s for s in secrets_ if s in audit]
    finally:
        app.state.data.close()
        web.get_registry().engine.dispose()
        web.set_registry(None)


def test_pdf_letters_and_web_limit(client):
    token = _to_voting(client)
    r = client.post("/api/begroting/p/1/codes", data={"aantal": "2", "formaat": "pdf", "organisatiecode": token})
    assert r.status_code == 200 and r.content.startswith(b"%PDF") and r.headers["content-type"] == "application/pdf"
    r = client.post("/api/begroting/p/1/codes", data={"aantal": "501", "formaat": "pdf", "organisatiecode": token})
    assert r.status_code == 400 and "weefsel begroting-codes" in r.text
    assert web.get_registry().code_counts(1)["issued"] == 2      # the refused request issued nothing
