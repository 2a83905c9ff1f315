"""The /api/beraad router: upload two CSV files, get probabilities and a seeded panel."""

from __future__ import annotations

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
    assert r.status_code == 422 and "row 12, column gender" in r.json()["detail"]
