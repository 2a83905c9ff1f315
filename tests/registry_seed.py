"""Visibly labelled TEST entries for the registry on the real Flevoland build (Lelystad).

These are not real places or real signals: every name says "TEST" and "testgegeven". They stand
for what a gemeente enters through the registry (web form or `weefsel registry import-places`)
because ../shared/data holds no meeting-place list for Flevoland."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

BUURT = "BU09950111"            # Zuiderzeelaan, Waddenlaan (Lelystad)
DATE = dt.date(2026, 11, 30)
PLACES = [
    {"name": "TEST buurthuis De Proefzolder (testgegeven)", "type": "buurthuis", "lat": 52.5240,
     "lon": 5.4850, "kis_uitnodigend": "ja", "kis_toegankelijk": "ja", "step_free": "ja"},
    {"name": "TEST speeltuin Zandbak (testgegeven)", "type": "speeltuin", "lat": 52.5236, "lon": 5.4862,
     "kis_toegankelijk": "nee"},
    {"name": "TEST bibliotheek Leeshoek (testgegeven)", "type": "bibliotheek", "lat": 52.5300,
     "lon": 5.4700, "kis_uitnodigend": "ja"},
]
CONTACT = "test.melder@example.org"
RESPONSE = "TEST-reactie: inloopochtend gestart in het buurthuis (testgegeven)"


def seed(url: str, warehouse: Path) -> dict:
    """Admin of Lelystad, three test places, one initiative, 6 accepted signals on eenzaamheid
    (one answered) and 2 on wonen (below the threshold) in BUURT; then the snapshot."""
    import duckdb

    from weefsel.registry.export import snapshot
    from weefsel.registry.ops import OpsStore

    con = duckdb.connect(str(warehouse), read_only=True)
    codes = {c for (c,) in con.execute("SELECT code FROM areas").fetchall()}
    con.close()
    store = OpsStore(url, area_codes=codes)
    store.create_user("test.beheer.lelystad", "test-wachtwoord-123", "admin", "GM0995")
    admin = store.session_user(store.login("test.beheer.lelystad", "test-wachtwoord-123")[0])
    res = store.import_places(admin, PLACES, source="testgegevens")
    store.add_initiative(admin, {"name": "TEST initiatief Samen Koken (testgegeven)",
                                 "area_codes": BUURT, "themes": "ontmoeting", "contact_role": "coordinator"})
    ids = []
    for i in range(6):
        sid, _key = store.add_signal(None, {"area_code": BUURT, "theme": "eenzaamheid",
                                            "text": f"TEST signaal {i} (testgegeven)",
                                            "reporter_contact": CONTACT})
        store.moderate(admin, sid, "geaccepteerd")
        ids.append(sid)
    store.respond(admin, ids[0], RESPONSE)
    for i in range(2):
        sid, _key = store.add_signal(None, {"area_code": BUURT, "theme": "wonen",
                                            "text": f"TEST woonsignaal {i} (testgegeven)"})
        store.moderate(admin, sid, "geaccepteerd")
    snap = snapshot(store, warehouse, date=DATE)
    return {"places": res, "snapshot": snap}
