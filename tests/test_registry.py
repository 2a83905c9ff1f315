"""Registry: propose → check → vote → export .pb → same result as the rules; privacy."""

from __future__ import annotations

import pytest

from weefsel.errors import InputError
from weefsel.participation.budgeting.pabulib import parse_pb
from weefsel.participation.budgeting.rules import run_rule
from weefsel.registry import Registry


@pytest.fixture()
def reg(tmp_path):
    return Registry(f"sqlite:///{tmp_path / 'reg.sqlite'}")


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
    with pytest.raises(InputError, match="fase"):
        reg.vote(pid, [1])
