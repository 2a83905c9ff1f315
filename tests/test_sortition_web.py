"""The /api/beraad router: upload two CSV files, get probabilities and a seeded panel."""

from __future__ import annotations

import html

import pytest

pytest.importorskip("multipart")
from fastapi import FastAPI
from fastapi.testclient import TestClient

from weefsel.participation.sortition.web import router

CATS = b"category,feature,min,max\ngender,f,2,2\ngender,m,2,2\n"
RESP = b"id,gender\n" + b"\n".join(f"p{i},{'f' if i % 2 else 'm'}".encode() for i in range(10))


@pytest.fixture()
def client():
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_upload_draw(client):
    r = client.post("/api/beraad", files={"categories": ("categories.csv", CATS),
                                          "respondents": ("respondents.csv", RESP)},
                    data={"k": "4", "seed": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["min_probability"] == pytest.approx(0.4) and len(body["panel"]) == 4
    assert body["audit"]["all_quotas_met"] and "Auditrapport" in body["audit_markdown"]["nl"]
    again = client.post("/api/beraad", files={"categories": ("categories.csv", CATS),
                                              "respondents": ("respondents.csv", RESP)},
                        data={"k": "4", "seed": "3"}).json()
    assert again["panel"] == body["panel"]


def test_upload_bad_value_is_422_with_place(client):
    r = client.post("/api/beraad", files={"categories": ("categories.csv", CATS),
                                          "respondents": ("respondents.csv", RESP + b"\np99,x")},
                    data={"k": "4"})
    assert r.status_code == 422 and "rij 12, kolom gender" in r.json()["detail"]


# --- Dutch HTML pages ------------------------------------------------------------------

def test_form_page_has_labelled_fields(client):
    r = client.get("/api/beraad/")
    assert r.status_code == 200 and 'lang="nl"' in r.text
    for field in ("categories", "respondents", "k", "algorithm", "seed", "household_column"):
        assert f'<label for="{field}"' in r.text and f'id="{field}"' in r.text
    assert 'enctype="multipart/form-data"' in r.text


def test_form_post_renders_result(client):
    r = client.post("/api/beraad/uitslag", files={"categories": ("categories.csv", CATS),
                                                  "respondents": ("respondents.csv", RESP)},
                    data={"k": "4", "seed": "3", "algorithm": "maximin"})
    assert r.status_code == 200, r.text
    assert "40,0%" in r.text and "Gini" in r.text and '<th scope="col">binnen quota</th>' in r.text
    assert "--k 4 --algorithm maximin --seed 3" in r.text and "Alle quota zijn gehaald." in r.text


def test_bad_upload_is_dutch_422(client):
    r = client.post("/api/beraad/uitslag", files={"categories": ("categories.csv", CATS),
                                                  "respondents": ("respondents.csv", RESP + b"\np99,x")},
                    data={"k": "4"})
    assert r.status_code == 422 and "De invoer klopt niet" in r.text and "rij 12, kolom gender" in r.text
    r = client.post("/api/beraad/uitslag", files={"categories": ("categories.csv", CATS),
                                                  "respondents": ("respondents.csv", RESP)},
                    data={"k": "vier"})
    assert r.status_code == 422 and "panelgrootte k moet een geheel getal zijn" in r.text
    r = client.post("/api/beraad/uitslag", data={"k": "4"})
    assert r.status_code == 422 and "categories.csv (quota) ontbreekt" in r.text


ENGLISH = ("row", "column", "missing", "unknown", "expected", "not found", "duplicate",
           "needs", "short by", "over by", "exceeds", "panel size", "empty")


@pytest.mark.parametrize("cats, resp, k, dutch", [
    # an unknown value: which file, row and column, and what was expected
    (CATS, RESP + b"\np99,x", "4",
     ["respondents.csv, rij 12, kolom gender:", "onbekende waarde 'x' voor categorie 'gender'",
      "verwacht: een van f, m"]),
    # a missing quota column names the file and the column
    (b"category,feature,min\ngender,f,2\n", RESP, "4",
     ["categories.csv:", "kolom(men) ontbreken: max", "verwacht: kopregel category,feature,min,max"]),
    (CATS.replace(b"f,2,2", b"f,x,2"), RESP, "4", ["categories.csv, rij 2, kolom min/max:",
                                                 "geen gehele getallen"]),
    (CATS + b"gender,f,1,2\n", RESP, "4", ["categories.csv, rij 4:", "dubbel quotum voor gender=f"]),
    (CATS, b"id,geslacht\np1,f\n", "4", ["respondents.csv:", "categoriekolom(men) ontbreken: gender"]),
    (CATS, RESP, "11", ["--k:", "panelgrootte k=11 is groter dan de pool (10 mensen)"]),
    (CATS.replace(b"f,2,2", b"f,6,6"), RESP, "8",
     ["categories.csv:", "quotum gender=f vraagt er minstens 6, maar de pool heeft er maar 5 (1 te weinig)"]),
])
def test_broken_file_is_a_dutch_message_naming_what_and_where(client, cats, resp, k, dutch):
    r = client.post("/api/beraad/uitslag", files={"categories": ("categories.csv", cats),
                                                  "respondents": ("respondents.csv", resp)},
                    data={"k": k})
    assert r.status_code == 422 and 'role="alert"' in r.text
    alert = r.text.split('role="alert">', 1)[1].split("</p>", 1)[0]
    alert = html.unescape(alert)
    for part in dutch:
        assert part in alert, alert
    lowered = alert.lower()
    assert not [w for w in ENGLISH if w in lowered], alert


def test_examples_from_real_data(client, data_dir):
    page = client.get("/api/beraad/").text
    assert "/api/beraad/voorbeeld/example_small_20" in page and "panel van 200" in page
    r = client.get("/api/beraad/voorbeeld/example_small_20")
    assert r.status_code == 200, r.text
    assert 'id="min-kans">10,0% (0.1000)' in r.text and "Kans per persoon (200 mensen)" in r.text
    big = client.get("/api/beraad/voorbeeld/example_large_200?algoritme=leximin&seed=7")
    assert big.status_code == 200 and "Verdeling van de kansen" in big.text and "kansen.csv" in big.text
    assert "--k 200 --algorithm leximin --seed 7" in big.text
    assert client.get("/api/beraad/voorbeeld/onbekend").status_code == 404
    assert client.get("/api/beraad/voorbeeld/example_small_20?algoritme=foo").status_code == 422
