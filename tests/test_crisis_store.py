"""Privacy by design: encryption at rest, consent, roles, activation, audited views,
nothing personal in logs, deletion that is gone from the file bytes, checksummed lists."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from cryptography.fernet import Fernet

from weefsel.crisis import lists
from weefsel.crisis.store import CrisisStore, Forbidden, Principal
from weefsel.errors import InputError

NAME = "Zyxwvu Qwertyson"          # unusual strings we can look for in bytes and logs
ADDRESS = "Kwartelstraat 77, Almere"
COORD = Principal("coco", "coordinator")
ADMIN = Principal("beheer", "admin")


@pytest.fixture()
def store(tmp_path):
    s = CrisisStore(tmp_path / "ops.sqlite", key=Fernet.generate_key())
    yield s
    s.close()


def _resident(s, name=NAME, address=ADDRESS, x=0.0, needs=("geen_trap",), **kw):
    return s.register("resident", name=name, address=address, lat=52.37, lon=5.21, x=x, y=0.0,
                      buurt_code="BU00340101", consents=["bezoek", "lijst", "behoefte"],
                      needs=list(needs), **kw)


def _helper(s, name, x, cap=2):
    return s.register("helper", name=name, address=f"Helperlaan {int(x) + 1}, Almere", lat=52.37,
                      lon=5.21, x=x, y=0.0, buurt_code="BU00340101", consents=["helpen", "lijst"],
                      capacity=cap)


def test_encrypted_at_rest(store):
    _resident(store)
    raw = store.path.read_bytes()
    assert NAME.encode() not in raw and b"Kwartelstraat" not in raw and b"geen_trap" not in raw
    assert store.people("resident")[0]["name"] == NAME   # with the key it reads back


def test_wrong_key_cannot_read(tmp_path):
    s = CrisisStore(tmp_path / "a.sqlite", key=Fernet.generate_key())
    _resident(s)
    s.close()
    other = CrisisStore(tmp_path / "a.sqlite", key=Fernet.generate_key())
    with pytest.raises(Exception):
        other.people("resident")


def test_consent_required_and_need_is_a_category(store):
    with pytest.raises(InputError, match="toestemming"):
        store.register("resident", name="a", address="b 1", lat=0, lon=0, x=0, y=0,
                       buurt_code=None, consents=["lijst"])
    with pytest.raises(InputError, match="geen diagnose"):
        _resident(store, needs=["COPD stadium 3"])
    with pytest.raises(InputError, match="behoefte"):
        store.register("resident", name="a", address="b 1", lat=0, lon=0, x=0, y=0,
                       buurt_code=None, consents=["bezoek"], needs=["alleen"])


@pytest.mark.parametrize("role", ["viewer", "contributor", "moderator", "admin"])
def test_other_roles_cannot_read_needs(store, role):
    _resident(store)
    store.declare(COORD, "stroomstoring")
    with pytest.raises(Forbidden):
        store.needs(Principal("iemand", role))
    assert store.audit_entries(1)[0]["action"] == "needs_denied"


def test_coordinator_only_during_crisis_and_every_view_audited(store):
    pid = _resident(store)
    with pytest.raises(Forbidden, match="afgekondigde crisis"):
        store.needs(COORD)
    store.declare(COORD, "stroomstoring")
    seen = store.needs(COORD)
    assert seen[0]["needs_nl"] == ["kan geen trap op"]
    views = [e for e in store.audit_entries() if e["action"] == "view_need"]
    assert views and views[0]["object"] == f"person:{pid}" and views[0]["actor"] == "coco"
    assert store.audit_log.verify_chain()


def test_withdraw_need_keeps_visit(store):
    pid = _resident(store)
    store.withdraw(pid, "behoefte")
    assert store.consents(pid) == {"bezoek": True, "lijst": True, "behoefte": False}
    assert store.overview(pid)["needs_nl"] == []


def test_deleted_record_gone_from_file_bytes(store):
    pid = _resident(store)
    token = store.conn.execute("SELECT payload FROM crisis_people WHERE id=?", (pid,)).fetchone()[0]
    assert token in store.path.read_bytes()
    proof = store.withdraw(pid)                  # withdrawing all consent deletes
    raw = store.path.read_bytes()
    assert token not in raw and token[:40] not in raw
    assert proof["verified_absent"]
    entry = store.audit_entries(1)[0]
    assert entry["action"] == "delete" and proof["sha256"] in entry["detail"]


def test_retention_and_crisis_end_delete(store):
    old = _resident(store, retention_days=1)
    keep = _resident(store, name="Ander Persoon", retention_days=300)
    assert store.purge(today=dt.date.today() + dt.timedelta(days=5)) == [old]
    assert [p["id"] for p in store.people("resident")] == [keep]
    token = store.conn.execute("SELECT payload FROM crisis_people WHERE id=?", (keep,)).fetchone()[0]
    store.declare(COORD, "hitte")
    out = store.end(COORD)
    assert out["deleted"] == [keep]
    assert token not in store.path.read_bytes()
    assert store.people("resident")[0]["needs"] == []
    assert any(e["action"] == "delete_need" for e in store.audit_entries())


def test_audit_is_append_only(store):
    _resident(store)
    import sqlite3
    with pytest.raises(sqlite3.DatabaseError):
        store.conn.execute("DELETE FROM crisis_audit")


def test_assignment_and_drop_out_keep_pairs(store):
    r1 = _resident(store, x=0)
    r2 = _resident(store, name="Tweede Bewoner", x=300)
    h = [_helper(store, f"Helper {i}", x) for i, x in enumerate([50, 100, 250, 350])]
    s1 = store.assign("coco", k=2, walk_range_m=500)
    assert s1["short"] == 0
    before = set((r, hh) for r, hh, _ in store.pairs())
    gone = next(hh for r, hh, _ in store.pairs() if r == r1)
    store.withdraw(gone)
    s2 = store.assign("coco", k=2, walk_range_m=500)
    after = set((r, hh) for r, hh, _ in store.pairs())
    assert {p for p in before if gone not in p} <= after
    assert s2["short"] == 0 and len(h) == 4 and r2


def test_logs_hold_no_personal_data(store, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    pid = _resident(store)
    _helper(store, "Helpy McHelpface", 30)
    _helper(store, "Second Helperson", 60)
    store.assign("coco")
    store.declare(COORD, "storing")
    store.needs(COORD)
    store.end(COORD)
    store.withdraw(pid)
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    for secret in (NAME, "Kwartelstraat", "Helpy", "trap"):
        assert secret not in text


def test_printed_list_checksum_detects_change(tmp_path):
    rows = [{"straat": "Kwartelstraat", "adres": "Kwartelstraat 77", "bewoner": "A.",
             "helpers": "B.; C.", "synthetisch": "ja"}]
    page = lists.render_html("BU00340101 Kwartelstraat", rows, "2026-11-30")
    f = tmp_path / "lijst.html"
    f.write_text(page, encoding="utf-8")
    ok, digest = lists.verify_file(f)
    assert ok and digest == lists.checksum("BU00340101 Kwartelstraat", rows)
    f.write_text(page.replace("Kwartelstraat 77", "Kwartelstraat 79"), encoding="utf-8")
    assert not lists.verify_file(f)[0]
    f.write_text(page, encoding="utf-8")
    assert not lists.verify_file(f, expected="0" * 64)[0]


def test_lists_per_buurt_and_per_noodsteunpunt(store, tmp_path):
    import duckdb

    from weefsel.web.demo import make_demo_warehouse

    w = make_demo_warehouse(tmp_path / "w.duckdb")
    con = duckdb.connect(str(w))
    con.execute("DELETE FROM facilities")
    con.execute("INSERT INTO facilities (facility_id, type, name, source, x_rd, y_rd) VALUES "
                "('t:1','library','Bieb West','test',0,0), ('t:2','school','School Oost','test',900,0)")
    con.close()
    _resident(store, x=10)
    _resident(store, name="Oost Bewoner", address="Oostweg 2, Almere", x=880)
    for i, x in enumerate([0, 20, 870, 890]):
        _helper(store, f"Helper {i}", x)
    store.assign("coco", walk_range_m=300)
    made = lists.produce(store, tmp_path / "l", actor="coco", pdf=False)
    assert len(made) == 1 and made[0]["rows"] == 2
    nsp = lists.produce_per_noodsteunpunt(store, w, tmp_path / "l", actor="coco", pdf=True)
    assert sorted(m["scope"] for m in nsp) == ["noodsteunpunt Bieb West", "noodsteunpunt School Oost"]
    page = (tmp_path / "l" / "bellijst_nsp_t_1.html").read_text()
    assert NAME in page and "Oost Bewoner" not in page and "trap" not in page
    assert (tmp_path / "l" / "bellijst_nsp_t_1.pdf").read_bytes()[:4] == b"%PDF"
    assert lists.verify_file(tmp_path / "l" / "bellijst_nsp_t_1.html")[0]
