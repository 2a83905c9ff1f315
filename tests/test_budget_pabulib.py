"""Pabulib reader/writer: byte-exact round trip on the real files, clear errors on bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from weefsel.errors import InputError
from weefsel.participation.budgeting.pabulib import (
    build_pb,
    dumps_pb,
    parse_pb,
    read_pb,
    write_pb,
)

PB_DIR = Path("participation/pabulib/pb_files")


@pytest.fixture(scope="module")
def pb_files(data_dir) -> list[Path]:
    files = sorted((data_dir / PB_DIR).glob("*.pb"))
    if not files:
        pytest.skip("no .pb files")
    return files


def test_all_files_round_trip_byte_exact(pb_files, tmp_path):
    assert len(pb_files) == 72
    for f in pb_files:
        pb = read_pb(f)
        text = dumps_pb(pb)
        assert text.encode("utf-8") == f.read_bytes(), f.name
        # identical bytes parse to identical data; re-parse the tricky ones explicitly
        if pb.raw_rows or pb.odd_endings:
            assert parse_pb(text, source=str(f)) == pb, f.name
    out = tmp_path / "copy.pb"
    write_pb(read_pb(pb_files[0]), out)
    assert out.read_bytes() == pb_files[0].read_bytes()


def test_ballot_kinds_parsed(data_dir):
    d = data_dir / PB_DIR
    cz = read_pb(d / "Poland_Czestochowa_2020_Bleszno.pb")
    assert cz.vote_type == "cumulative"
    b = cz.ballots[0]
    assert b.points is not None and len(b.points) == len(b.projects)
    assert sum(b.points) <= 10
    sr = read_pb(d / "Switzerland_Zurich_S5R.pb")
    assert sr.vote_type == "ordinal" and sr.ballots[0].points is None
    ams = read_pb(d / "Netherlands_Amsterdam_252.pb")
    column, caps = ams.group_budgets()
    assert column == "neighborhood" and caps["Other"] == 250000
    # quoted names come back without the CSV quotes
    w = read_pb(d / "Poland_Wieliczka_2023_Green_Budget.pb")
    assert w.projects["81"].fields["name"].startswith('Sensoryczna') and '"Stok pod Baranem"' in w.projects["81"].fields["name"]
    assert w.budget == 1_000_000 and w.rule == "equalshares/add1-comparison"


GOOD = """META
key;value
budget;1000,50
vote_type;approval
rule;greedy
PROJECTS
project_id;cost;name
a;600;"Park; groen"
b;500;Bank
VOTES
voter_id;vote
v1;a,b
v2;b
"""


def test_decimal_comma_and_quotes():
    pb = parse_pb(GOOD, source="x.pb")
    assert pb.budget == Fraction(2001, 2)
    assert pb.projects["a"].fields["name"] == "Park; groen"
    assert dumps_pb(pb) == GOOD


@pytest.mark.parametrize(
    "change, message, line",
    [
        (lambda t: t.replace("VOTES\nvoter_id;vote\nv1;a,b\nv2;b\n", ""), "section VOTES is missing", None),
        (lambda t: t.replace("vote_type;approval", "vote_type;borda"), "unknown vote_type", None),
        (lambda t: t.replace("v2;b", "v2;zz"), "unknown project 'zz'", 13),
        (lambda t: t.replace("b;500;Bank", "b;vijfhonderd;Bank"), "not a number", 9),
        (lambda t: t.replace("budget;1000,50", "budget;0"), "budget is 0", None),
        (lambda t: t.replace("b;500;Bank", "a;500;Bank"), "appears twice", 9),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, change, message, line):
    f = tmp_path / "kapot.pb"
    f.write_text(change(GOOD), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_pb(f)
    text = str(exc.value)
    assert message in text and "kapot.pb" in text
    if line:
        assert f"kapot.pb:{line}" in text


def test_build_pb_validates_and_round_trips():
    pb = build_pb({"budget": "1000", "vote_type": "approval", "rule": "greedy"},
                  [{"project_id": "1", "cost": "400", "name": "A;B"}, {"project_id": "2", "cost": "700"}],
                  [{"voter_id": "t1", "vote": "1,2"}])
    assert parse_pb(dumps_pb(pb)) == pb
    with pytest.raises(InputError):
        build_pb({"budget": "1000"}, [{"project_id": "1", "cost": "400"}], [{"voter_id": "t", "vote": "9"}])


from hypothesis import given, settings
from hypothesis import strategies as st

_text = st.text(alphabet=st.sampled_from('ab ;",éł-'), min_size=1, max_size=12).filter(lambda t: t == t.strip())


@settings(max_examples=50, deadline=None)
@given(st.lists(_text, min_size=1, max_size=5), st.lists(st.integers(1, 10**7), min_size=5, max_size=5))
def test_round_trip_property(names, costs):
    prows = [{"project_id": str(i), "cost": str(costs[i]), "name": nm} for i, nm in enumerate(names)]
    pb = build_pb({"budget": "1000", "vote_type": "approval", "description": names[0]}, prows,
                  [{"voter_id": "v1", "vote": ",".join(str(i) for i in range(len(names)))}])
    again = parse_pb(dumps_pb(pb))
    assert again == pb
    assert [p.fields["name"] for p in again.projects.values()] == names
    assert [p.cost for p in again.projects.values()] == [Fraction(c) for c in costs[: len(names)]]
