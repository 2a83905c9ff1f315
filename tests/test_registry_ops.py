"""The operational registry store: the same tests on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from registry_backends import pg_server, registry_url  # noqa: F401
from sqlalchemy import func, select, text

from weefsel.errors import InputError
from weefsel.registry import ops
from weefsel.registry.ops import Forbidden, OpsStore

AREAS = {"GM0034", "WK003401", "BU00340101", "BU00340102", "GM0995", "BU09950101"}


@pytest.fixture
def store(registry_url):
    from argon2 import PasswordHasher
    s = OpsStore(registry_url, area_codes=AREAS, suppress_below=3,
                 password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))  # cheap: tests only
    yield s
    s.engine.dispose()


@pytest.fixture
def people(store):
    store.create_user("admin.almere", "geheim-wachtwoord", "admin", "GM0034")
    admin = _user(store, "admin.almere")
    for name, role in (("bijdrager", "contributor"), ("moderator", "moderator"), ("kijker", "viewer")):
        store.create_user(name, "geheim-wachtwoord", role, "GM0034", actor=admin)
    return {n: _user(store, n) for n in ("admin.almere", "bijdrager", "moderator", "kijker")}


def _user(store, name):
    token, _ = store.login(name, "geheim-wachtwoord")
    return store.session_user(token)


def _count(store, table):
    with store.engine.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar()


def test_migrations_recorded_and_idempotent(store):
    with store.engine.connect() as c:
        versions = list(c.execute(select(ops.migrations_t.c.version)).scalars())
    assert versions == [v for v, _, _ in ops.MIGRATIONS]
    assert ops.migrate(store.engine) == []


def test_sqlite_is_wal(tmp_path):
    s = OpsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    with s.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path):
    """Two uvicorn workers start together: one migrates while the other asks for WAL. Seen
    in bench/registry.py as a worker dying with "database is locked" at PRAGMA journal_mode."""
    import subprocess
    import sys
    url = f"sqlite:///{tmp_path / 'samen.sqlite'}"
    code = ("import sys, time; from weefsel.registry.ops import OpsStore; "
            "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); "  # all open at one instant
            "s = OpsStore(sys.argv[1]); s.engine.dispose(); print('ok')")
    import time
    start = str(time.time() + 4)
    procs = [subprocess.Popen([sys.executable, "-c", code, url, start], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err[-300:] for _, err in outs]
    assert all(out.strip() == "ok" for out, _ in outs)
    assert [m["version"] for m in ops.applied(ops.make_engine(url))] == [v for v, _, _ in ops.MIGRATIONS]


def test_first_admin_then_only_admins_create(store, people):
    with pytest.raises(Forbidden):
        store.create_user("nog.een", "geheim-wachtwoord", "admin", "GM0034")  # no actor any more
    with pytest.raises(Forbidden, match="rol admin"):
        store.create_user("x.y.z", "geheim-wachtwoord", "viewer", "GM0034", actor=people["moderator"])
    with pytest.raises(Forbidden, match="GM0034"):
        store.create_user("x.y.z", "geheim-wachtwoord", "viewer", "GM0995", actor=people["admin.almere"])


def test_password_hashed_with_argon2_and_login_errors_are_vague(store, people):
    with store.engine.connect() as c:
        h = c.execute(select(ops.users.c.password_hash).where(ops.users.c.username == "kijker")).scalar()
    assert h.startswith("$argon2") and "geheim" not in h
    for user, pw in (("kijker", "fout-wachtwoord"), ("niemand", "geheim-wachtwoord")):
        with pytest.raises(InputError, match="gebruikersnaam of wachtwoord klopt niet"):
            store.login(user, pw)
    assert store.session_user("verzonnen-token") is None


def test_initiative_roundtrip_and_roles(store, people):
    data = {"name": "Buurtkamer De Wei", "area_codes": "BU00340101", "themes": "ontmoeting,ouderen",
            "crisis_functions": "ontmoeten,informeren", "ladder_step": "4", "contact_role": "coördinator buurtkamer",
            "start_date": "2024-01-01", "status": "actief", "source": "wijkteam"}
    with pytest.raises(Forbidden):
        store.add_initiative(people["kijker"], data)
    iid = store.add_initiative(people["bijdrager"], data)
    got = store.initiatives("GM0034")
    assert [g["id"] for g in got] == [iid]
    assert got[0]["crisis_functions"] == "ontmoeten,informeren" and got[0]["ladder_step"] == 4


@pytest.mark.parametrize("bad, msg", [
    ({"area_codes": "BU99999999"}, "onbekende gebiedscode"),
    ({"area_codes": "Almere"}, "geen CBS-code"),
    ({"area_codes": "BU09950101"}, "niet in uw gemeente"),
    ({"area_codes": "", "lat": "95", "lon": "5"}, "niet in Nederland"),
    ({"area_codes": "", "lat": "nan", "lon": "5"}, "ongeldige"),
    ({"name": "<script>alert(1)</script>"}, "HTML of script"),
    ({"description": "x" * 5000}, "te lang"),
    ({"description": "<img src=x onerror=alert(1)>"}, "HTML of script"),
    ({"ladder_step": "9"}, "trede 9"),
    ({"crisis_functions": "vliegen"}, "crisisfuncties"),
    ({"start_date": "2024-13-01"}, "geen datum"),
])
def test_bad_initiative_one_clear_error_nothing_written(store, people, bad, msg):
    base = {"name": "Repair café", "area_codes": "BU00340101"}
    before = (_count(store, ops.initiatives), _count(store, ops.audit))
    with pytest.raises(InputError, match=msg):
        store.add_initiative(people["bijdrager"], {**base, **bad})
    assert (_count(store, ops.initiatives), _count(store, ops.audit)) == before


def test_duplicate_submission_is_stored_once(store, people):
    d = {"name": "Tuin", "area_codes": "BU00340101"}
    a = store.add_initiative(people["bijdrager"], d, submission_key="form-123")
    b = store.add_initiative(people["bijdrager"], d, submission_key="form-123")
    assert a == b and _count(store, ops.initiatives) == 1


def test_audit_is_append_only_and_without_content(store, people):
    store.add_initiative(people["bijdrager"], {"name": "Geheime naam X", "area_codes": "BU00340101"})
    log = store.audit_log()
    assert {"user_created", "login", "initiative_added"} <= {r["action"] for r in log}
    assert not any("Geheime" in (r["detail"] or "") for r in log)
    assert not any("wachtwoord" in (r["detail"] or "") for r in log)
    for stmt in ("UPDATE reg_audit SET action='x'", "DELETE FROM reg_audit"):
        with pytest.raises(Exception, match="append-only"):
            with store.engine.begin() as c:
                c.execute(text(stmt))
    assert len(store.audit_log()) == len(log)


def test_place_kis_keys_recorded_not_guessed_and_import_dedup(store, people):
    u = people["bijdrager"]
    pid = store.add_place(u, {"name": "Buurthuis De Schakel", "type": "buurthuis", "lat": 52.37, "lon": 5.21,
                              "area_code": "BU00340101", "kis_uitnodigend": "ja", "step_free": "nee",
                              "capacity": "80"})
    p = store.places()[0]
    assert p["id"] == pid and p["kis_uitnodigend"] is True and p["step_free"] is False
    assert p["kis_veelzijdig"] is None  # not asked: unknown, not 'no'
    res = store.import_places(u, [
        {"name": "Buurthuis de Schakel", "type": "buurthuis", "lat": 52.3701, "lon": 5.2101},  # dup (≈13 m)
        {"name": "Bibliotheek Stad", "type": "bibliotheek", "lat": 52.375, "lon": 5.22},
        {"name": "Bibliotheek Stad", "type": "bibliotheek", "lat": 52.375, "lon": 5.2201},  # dup in file
    ], source="test.csv")
    assert res == {"added": 1, "duplicates": 2} and len(store.places()) == 2
    with pytest.raises(InputError, match="rij 2"):
        store.import_places(u, [{"name": "Ok", "type": "park", "lat": 52.36, "lon": 5.2},
                                {"name": "Fout", "type": "ruimteschip", "lat": 52.36, "lon": 5.2}], source="x.csv")
    assert len(store.places()) == 2  # all or nothing


def test_signal_moderation_response_and_reporter_view(store, people):
    sid, key = store.add_signal(None, {"area_code": "BU00340101", "theme": "eenzaamheid",
                                       "text": "Veel ouderen zitten alleen thuis", "reporter_contact": "06-123"})
    with pytest.raises(Forbidden):
        store.moderate(people["bijdrager"], sid, "geaccepteerd")
    with pytest.raises(InputError, match="reden"):
        store.moderate(people["moderator"], sid, "afgewezen")
    store.moderate(people["moderator"], sid, "geaccepteerd", text_shown="Veel ouderen zitten alleen")
    with pytest.raises(InputError, match="al beoordeeld"):
        store.moderate(people["moderator"], sid, "afgewezen", "dubbel")
    store.respond(people["moderator"], sid, "Buurtcoach gaat langs bij de flat")
    seen = store.signal_for_reporter(sid, key)
    assert seen["status"] == "geaccepteerd" and seen["response"].startswith("Buurtcoach")
    assert store.signal(sid)["original_text"] == "Veel ouderen zitten alleen thuis"
    with pytest.raises(InputError, match="hoort niet"):
        store.signal_for_reporter(sid, "geraden")


def test_public_counts_suppressed_below_threshold(store, people):
    for i in range(4):
        sid, _ = store.add_signal(None, {"area_code": "BU00340101", "theme": "eenzaamheid", "text": f"s{i}"})
        store.moderate(people["moderator"], sid, "geaccepteerd")
    sid, _ = store.add_signal(None, {"area_code": "BU00340102", "theme": "eenzaamheid", "text": "een"})
    store.moderate(people["moderator"], sid, "geaccepteerd")
    counts = {(r["area_code"], r["theme"]): r for r in store.public_signal_counts()}
    assert counts[("BU00340101", "eenzaamheid")]["count"] == 4
    assert counts[("BU00340102", "eenzaamheid")]["count"] is None
    assert counts[("BU00340102", "eenzaamheid")]["suppressed"] is True


def test_retention_blanks_contact(store):
    sid, _ = store.add_signal(None, {"area_code": "BU00340101", "theme": "wonen", "text": "lekkage",
                                     "reporter_contact": "a@b.nl"})
    assert store.apply_retention(30) == 0
    assert store.apply_retention(30, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31)) == 1
    assert store.signal(sid)["reporter_contact"] is None


def test_duplicate_signal_suggestion_without_map(store):
    store.add_signal(None, {"area_code": "BU00340101", "theme": "veiligheid", "text": "Slechte verlichting in het park"})
    store.add_signal(None, {"area_code": "BU00340102", "theme": "veiligheid", "text": "Slechte verlichting in het park"})
    hits = store.duplicate_signals("BU00340101", "veiligheid", "slechte verlichting park")
    assert [h["id"] for h in hits] == [1]
    assert store.duplicate_signals("BU00340101", "wonen", "slechte verlichting park") == []


def test_initiative_status_change_is_audited(store, people):
    iid = store.add_initiative(people["bijdrager"], {"name": "Moestuin", "area_codes": "BU00340101"})
    store.set_initiative_status(people["bijdrager"], iid, "gestopt")
    assert store.initiatives()[0]["status"] == "gestopt"
    assert store.audit_log(1)[0]["detail"] == "actief->gestopt"
    with pytest.raises(Forbidden):
        store.set_initiative_status(people["kijker"], iid, "actief")
    with pytest.raises(InputError, match="onbekend"):
        store.set_initiative_status(people["bijdrager"], iid, "verdwenen")


def test_import_initiatives_dedup_all_or_nothing(store, people):
    u = people["bijdrager"]
    store.add_initiative(u, {"name": "Repair Café Noord", "area_codes": "BU00340101"})
    res = store.import_initiatives(u, [
        {"name": "Repair cafe Noord", "area_codes": "BU00340101"},           # already there
        {"name": "Taalcafé", "area_codes": "BU00340102", "themes": "participatie"},
        {"name": "Taalcafe", "area_codes": "BU00340102"},                    # twice in the file
        {"name": "Repair Café Noord", "area_codes": "BU00340102"},           # same name, other buurt
    ], source="lijst.csv")
    assert res == {"added": 2, "duplicates": 2}
    with pytest.raises(InputError, match="lijst.csv: rij 2: .*onbekende gebiedscode"):
        store.import_initiatives(u, [{"name": "Ok", "area_codes": "BU00340101"},
                                     {"name": "Fout", "area_codes": "BU00349999"}], source="lijst.csv")
    assert len(store.initiatives()) == 3


def test_duplicate_search_compares_only_the_newest_candidates(store):
    for _ in range(3):
        store.add_signal(None, {"area_code": "BU00340101", "theme": "veiligheid", "text": "Slechte verlichting in het park"})
    hits = store.duplicate_signals("BU00340101", "veiligheid", "slechte verlichting park", recent=2)
    assert sorted(h["id"] for h in hits) == [2, 3]
    assert len(store.duplicate_signals("BU00340101", "veiligheid", "slechte verlichting park")) == 3
    # texts that cannot reach the threshold are skipped by difflib's upper bounds, not matched
    assert store.duplicate_signals("BU00340101", "veiligheid", "zzzz qqqq") == []


def test_concurrent_signals_each_stored_once(store):
    from concurrent.futures import ThreadPoolExecutor
    keys = [f"k{i:03d}" for i in range(40)]

    def send(k):
        return store.add_signal(None, {"area_code": "BU00340101", "theme": "wonen", "text": f"tekst {k}"},
                                submission_key=k)[0]
    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(send, keys))
        again = list(pool.map(send, keys))  # every form resubmitted: the same numbers
    assert first == again and len(set(first)) == 40
    assert len(store.signals()) == 40
