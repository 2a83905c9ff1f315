"""Burgerbegroting in the one store: propose → check → vote → export .pb → same result as the
rules; privacy; an older database upgraded in place. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from registry_backends import pg_server, registry_url  # noqa: F401

from weefsel.errors import InputError
from weefsel.participation.budgeting.pabulib import parse_pb
from weefsel.participation.budgeting.rules import run_rule
from weefsel.registry import Registry


@pytest.fixture()
def reg(registry_url):
    r = Registry(registry_url)
    yield r
    r.engine.dispose()


def test_full_cycle(reg):
    pid, org = reg.create_process("Buurtbudget Test", 10000, rule="equalshares/add1", ask_district=True,
                                  area_code="WK003401")
    a = reg.propose(pid, "Bankjes in het park", "4000", lat=52.37, lon=4.9)
    b = reg.propose(pid, "Moestuin", 7000, area_code="BU00340101")
    c = reg.propose(pid, "Te duur", 50000)
    with pytest.raises(InputError):
        reg.check(pid, a, "on_ballot", "verkeerde-code")
    reg.set_phase(pid, "controle", org)
    reg.check(pid, a, "on_ballot", org)
    reg.check(pid, b, "on_ballot", org)
    reg.check(pid, c, "rejected", org, note="boven het budget")
    reg.set_phase(pid, "stemmen", org)
    codes = reg.issue_codes(pid, 3, org)
    reg.vote(pid, [a], code=codes[0], district="Oost")
    reg.vote(pid, [a, b], code=codes[1])
    with pytest.raises(InputError, match="al gebruikt"):
        reg.vote(pid, [b], code=codes[0])
    with pytest.raises(InputError, match="niet op het stembiljet"):
        reg.vote(pid, [c], code=codes[2])
    reg.vote(pid, [b], code=codes[2])
    text = reg.export_pb(pid)
    pb = parse_pb(text)
    assert len(pb.ballots) == 3 and set(pb.projects) == {str(a), str(b)}
    assert pb.vote_columns == ["voter_id", "vote", "district"]
    out = run_rule(pb)
    assert out.cost <= 10000
    # privacy: no codes in the stored data or the log
    dump = text + repr(reg.audit(pid))
    assert all(code not in dump for code in codes) and org not in dump


def test_bad_input(reg):
    with pytest.raises(InputError):
        reg.create_process("x", 0)
    pid, _org = reg.create_process("x", 100)
    with pytest.raises(InputError):
        reg.propose(pid, "p", "duur")
    with pytest.raises(InputError):
        reg.propose(pid, "p", 10, lat=200, lon=4)
    with pytest.raises(InputError, match="titel bevat HTML of script"):   # the store's one text check
        reg.propose(pid, '<img src=x onerror="alert(1)">', 10)
    assert reg.projects(pid) == []
    with pytest.raises(InputError, match="fase"):
        reg.vote(pid, [1])


def _voting(reg, **kw):
    pid, org = reg.create_process("Buurtbudget", "10.000", **kw)
    a = reg.propose(pid, "Bankjes", "4.000")
    b = reg.propose(pid, "Moestuin", "€ 7.000,50")
    reg.set_phase(pid, "controle", org)
    reg.check(pid, a, "on_ballot", org)
    reg.check(pid, b, "on_ballot", org)
    reg.set_phase(pid, "stemmen", org)
    return pid, org, a, b


def test_dutch_amounts_are_stored_exactly(reg):
    pid, _org, a, b = _voting(reg)
    assert reg.process(pid)["budget"] == "10000"
    costs = {p["id"]: p["cost"] for p in reg.projects(pid)}
    assert costs == {a: "4000", b: "7000.5"}
    with pytest.raises(InputError, match="max_keuzes"):
        reg.create_process("x", "10.000", max_choices=-3)
    with pytest.raises(InputError, match="budget: '1/3' is geen bedrag"):
        reg.create_process("x", "1/3")
    with pytest.raises(InputError, match="gebiedscode"):
        reg.create_process("x", "100", area_code="Almere")


def test_codes_are_used_once_and_stored_hashed(reg):
    pid, org, a, _b = _voting(reg)
    codes = reg.issue_codes(pid, 5, org)
    assert len(set(codes)) == 5 and all(len(c) == 14 and c.count("-") == 2 for c in codes)
    with reg.engine.connect() as c:
        stored = [r[0] for r in c.exec_driver_sql("SELECT code_hash FROM pb_voting_codes")]
    assert len(stored) == 5 and not set(codes) & set(stored)
    assert all(len(h) == 64 for h in stored)
    # typed loosely (lower case, spaces instead of dashes) still works, exactly once
    reg.vote(pid, [a], code=codes[0].lower().replace("-", " "))
    with pytest.raises(InputError, match="al gebruikt"):
        reg.vote(pid, [a], code=codes[0])
    with pytest.raises(InputError, match="onbekend"):
        reg.vote(pid, [a], code="AAAA-BBBB-CCCC")
    with pytest.raises(InputError, match="ontbreekt"):
        reg.vote(pid, [a])
    assert reg.code_counts(pid) == {"issued": 5, "used": 1}
    with pytest.raises(InputError, match="organisatiecode"):
        reg.issue_codes(pid, 5, "fout")
    with pytest.raises(InputError, match="aantal codes"):
        reg.issue_codes(pid, 0, org)


def test_receipt_counts_but_does_not_reveal_the_ballot(reg):
    pid, org, a, b = _voting(reg)
    codes = reg.issue_codes(pid, 3, org)
    receipts = [reg.vote(pid, [a], code=codes[0]), reg.vote(pid, [a, b], code=codes[1]),
                reg.vote(pid, [b], code=codes[2])]
    assert all(reg.receipt_counted(pid, r) for r in receipts)
    assert reg.receipt_counted(pid, receipts[0].lower().replace("-", ""))
    assert not reg.receipt_counted(pid, "AAAA-BBBB-CCCC-DDDD") and not reg.receipt_counted(pid, "")
    import hashlib
    assert reg.receipt_hashes(pid) == sorted(hashlib.sha256(r.replace("-", "").encode()).hexdigest()
                                             for r in receipts)
    reg.set_phase(pid, "gesloten", org)
    pb = parse_pb(reg.export_pb(pid))
    ids = [bal.voter_id for bal in pb.ballots]
    assert not set(ids) & {r for r in receipts} and not set(ids) & {r.replace("-", "") for r in receipts}
    assert ids == sorted(ids)                     # random ids in sorted order: not the order of voting
    with reg.engine.connect() as c:               # receipt rows are not numbered in voting order
        rowids = [r[0] for r in c.exec_driver_sql("SELECT id FROM pb_receipts")]
    assert min(rowids) > 1000 and len(set(rowids)) == 3
    dump = reg.export_pb(pid) + repr(reg.audit(pid))
    assert not any(r in dump or r.replace("-", "") in dump for r in receipts)
    assert not any(c in dump for c in codes)


def test_open_eligibility_one_vote_per_browser(reg):
    pid, _org, a, _b = _voting(reg, eligibility="open")
    assert reg.process(pid)["eligibility"] == "open" and not reg.process(pid)["require_code"]
    reg.vote(pid, [a], browser="browser-token-1")
    with pytest.raises(InputError, match="al gestemd"):
        reg.vote(pid, [a], browser="browser-token-1")
    reg.vote(pid, [a], browser="browser-token-2")
    with pytest.raises(InputError, match="cookies"):
        reg.vote(pid, [a])
    with pytest.raises(InputError, match="cookies"):
        reg.vote(pid, [a], code="x")   # no browser token: refused, a code does not help
    assert reg.ballot_count(pid) == 2


def test_results_hidden_until_close_and_phases_only_forward(reg):
    pid, org, a, _b = _voting(reg)
    assert not reg.results_visible(pid)
    reg.vote(pid, [a], code=reg.issue_codes(pid, 1, org)[0])
    with pytest.raises(InputError, match="alleen nog naar gesloten"):
        reg.set_phase(pid, "controle", org)
    reg.set_phase(pid, "gesloten", org)
    assert reg.results_visible(pid)
    with pytest.raises(InputError, match="kan niet meer open"):
        reg.set_phase(pid, "stemmen", org)
    with pytest.raises(InputError, match="gesloten"):
        reg.issue_codes(pid, 1, org)
    pid2, _org2, _a, _b = _voting(reg, results_public=True)
    assert reg.results_visible(pid2)               # the organiser chose running results


#: The pb_* tables as weefsel's first registry created them (no receipts, no eligibility or
#: results_public, no reg_migrations): written by hand so the test does not depend on today's code.
FIRST_RELEASE = [
    "CREATE TABLE pb_processes (id {pk}, name VARCHAR(200) NOT NULL, description TEXT, area_code VARCHAR(20), "
    "budget VARCHAR(40) NOT NULL, currency VARCHAR(8), rule VARCHAR(60), max_choices INTEGER, "
    "ask_district BOOLEAN, require_code BOOLEAN, phase VARCHAR(20), organiser_hash VARCHAR(64) NOT NULL, "
    "created_at VARCHAR(32))",
    "CREATE TABLE pb_projects (id {pk}, process_id INTEGER NOT NULL REFERENCES pb_processes (id), "
    "title VARCHAR(200) NOT NULL, description TEXT, cost VARCHAR(40) NOT NULL, lat FLOAT, lon FLOAT, "
    "area_code VARCHAR(20), status VARCHAR(20), check_note TEXT, created_at VARCHAR(32))",
    "CREATE TABLE pb_ballots (id {pk}, process_id INTEGER NOT NULL REFERENCES pb_processes (id), "
    "ballot_id VARCHAR(32) NOT NULL UNIQUE, district VARCHAR(100), choices TEXT NOT NULL)",
    "CREATE TABLE pb_voting_codes (id {pk}, process_id INTEGER NOT NULL REFERENCES pb_processes (id), "
    "code_hash VARCHAR(64) NOT NULL UNIQUE, used BOOLEAN)",
    "CREATE TABLE pb_audit_log (id {pk}, process_id INTEGER, at VARCHAR(32), action VARCHAR(40) NOT NULL, "
    "detail TEXT)",
]


def _sha(s: str) -> str:
    import hashlib
    return hashlib.sha256(s.encode()).hexdigest()


def _old_database(url: str) -> None:
    """A registry as the first release left it: two processes, proposals, codes, a ballot, an audit."""
    from sqlalchemy import create_engine
    eng = create_engine(url)
    pk = "SERIAL PRIMARY KEY" if eng.dialect.name == "postgresql" else "INTEGER PRIMARY KEY"
    rows = [
        "INSERT INTO pb_processes (name, description, budget, currency, rule, ask_district, require_code, phase, "
        f"organiser_hash, created_at) VALUES ('Oud met codes', '', '5000', 'EUR', 'greedy', FALSE, TRUE, "
        f"'stemmen', '{_sha('oude-organisatiecode')}', '2025-01-01T10:00:00+00:00')",
        "INSERT INTO pb_processes (name, description, budget, currency, rule, ask_district, require_code, phase, "
        f"organiser_hash, created_at) VALUES ('Oud zonder code', '', '900', 'EUR', 'greedy', FALSE, FALSE, "
        f"'voorstellen', '{_sha('tweede-code')}', '2025-02-01T10:00:00+00:00')",
        "INSERT INTO pb_projects (process_id, title, description, cost, status, check_note) "
        "VALUES (1, 'Bankjes', '', '3000', 'on_ballot', '')",
        "INSERT INTO pb_projects (process_id, title, description, cost, status, check_note) "
        "VALUES (1, 'Moestuin', '', '2500', 'on_ballot', '')",
        "INSERT INTO pb_projects (process_id, title, description, cost, status, check_note) "
        "VALUES (2, 'Speeltuin', '', '800', 'proposed', '')",
        f"INSERT INTO pb_voting_codes (process_id, code_hash, used) VALUES (1, '{_sha('OUDE-CODE-1')}', TRUE)",
        f"INSERT INTO pb_voting_codes (process_id, code_hash, used) VALUES (1, '{_sha('OUDE-CODE-2')}', FALSE)",
        "INSERT INTO pb_ballots (process_id, ballot_id, choices) VALUES (1, 'b0001', '1,2')",
        "INSERT INTO pb_audit_log (process_id, at, action, detail) VALUES (1, '2025-01-01', 'process_created', '')",
        "INSERT INTO pb_audit_log (process_id, at, action, detail) VALUES (1, '2025-01-02', 'ballot_cast', '')",
    ]
    with eng.begin() as c:
        for ddl in FIRST_RELEASE:
            c.exec_driver_sql(ddl.format(pk=pk))
        for sql in rows:
            c.exec_driver_sql(sql)
    eng.dispose()


def test_first_release_database_upgrades_in_place(registry_url):
    """pb_* tables without reg_migrations and without the later columns: migration 3 keeps every
    row, adds what is missing, and the old processes, codes and organiser tokens keep working."""
    from weefsel.registry.ops import OpsStore, applied
    _old_database(registry_url)
    reg = Registry(registry_url)
    try:
        assert [m["version"] for m in applied(reg.engine)][:3] == [1, 2, 3]
        old, open_ = reg.process(1), reg.process(2)
        assert (old["name"], old["budget"], old["eligibility"], old["results_public"]) == \
            ("Oud met codes", "5000", "codes", False)
        assert open_["eligibility"] == "open"       # the first release's require_code=false: no code needed
        assert [p["title"] for p in reg.projects(1)] == ["Bankjes", "Moestuin"]
        assert reg.ballot_count(1) == 1 and reg.code_counts(1) == {"issued": 2, "used": 1}
        assert [a["action"] for a in reg.audit(1)][:2] == ["process_created", "ballot_cast"]
        with pytest.raises(InputError, match="al gebruikt"):
            reg.vote(1, [1], code="OUDE-CODE-1")
        receipt = reg.vote(1, [2], code="OUDE-CODE-2")  # an old code (hashed as typed) still counts once
        assert reg.receipt_counted(1, receipt) and reg.ballot_count(1) == 2
        reg.set_phase(1, "gesloten", "oude-organisatiecode")
        assert len(parse_pb(reg.export_pb(1)).ballots) == 2
        assert reg.propose(2, "Bloembakken", "100") == 4  # ids continue after the old rows
        assert migrate_again(registry_url) == []          # nothing left to do on the next start
        assert OpsStore(registry_url).check_area("GM0034") == "GM0034"  # the reg_* half is there too
    finally:
        reg.engine.dispose()


def migrate_again(url: str) -> list[int]:
    from weefsel.registry.ops import make_engine, migrate
    eng = make_engine(url)
    try:
        return migrate(eng)
    finally:
        eng.dispose()


def test_last_release_database_gains_migration_3(registry_url, monkeypatch):
    """The usual case: reg_* at migrations 1-2 and pb_* made beside them by the old Registry
    (its own create_all): only migration 3 runs, and it keeps the begroting's rows."""
    from weefsel.registry import ops, store
    with monkeypatch.context() as m:
        m.setattr(ops, "MIGRATIONS", ops.MIGRATIONS[:2])
        eng = ops.make_engine(registry_url)
        assert ops.migrate(eng) == [1, 2]
    store.metadata.create_all(eng, tables=store.PB_TABLES)    # what Registry() did before
    with eng.begin() as c:
        c.execute(store.processes.insert().values(name="Vorige versie", budget="700", organiser_hash=_sha("org"),
                                                  eligibility="open", results_public=True, phase="stemmen"))
    assert ops.migrate(eng)[:1] == [3]
    eng.dispose()
    reg = Registry(registry_url)
    p = reg.process(1)
    assert (p["name"], p["eligibility"], p["results_public"]) == ("Vorige versie", "open", True)
    reg.check_organiser(1, "org")
    reg.engine.dispose()


def test_failed_upgrade_leaves_the_old_database_untouched(registry_url, monkeypatch):
    """All migrations are one transaction: if a later one fails, migration 3's changes are undone too."""
    from sqlalchemy import inspect

    from weefsel.registry import ops
    _old_database(registry_url)

    def broken(c):
        raise RuntimeError("migration kapot")
    monkeypatch.setattr(ops, "MIGRATIONS", [*ops.MIGRATIONS, (999, "broken", broken)])
    with pytest.raises(RuntimeError, match="kapot"):
        Registry(registry_url)
    eng = ops.make_engine(registry_url)
    try:
        insp = inspect(eng)
        assert "eligibility" not in {c["name"] for c in insp.get_columns("pb_processes")}
        assert not insp.has_table("pb_receipts") and not insp.has_table("reg_users")
        assert ops.applied(eng) == []
        with eng.connect() as c:
            assert c.exec_driver_sql("SELECT count(*) FROM pb_projects").scalar() == 3
    finally:
        eng.dispose()


def test_proposals_are_capped(reg, monkeypatch):
    from weefsel.registry import store
    monkeypatch.setattr(store, "MAX_PROJECTS", 3)
    pid, _org = reg.create_process("x", "1.000")
    for i in range(3):
        reg.propose(pid, f"p{i}", "10")
    with pytest.raises(InputError, match="al 3 voorstellen"):
        reg.propose(pid, "p4", "10")
