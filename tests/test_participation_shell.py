"""Participation command lines as a person runs them: real processes, real shell pipes.

In-process CliRunner tests cannot see what C libraries write to file descriptor 1 (the
HiGHS banner that broke ``beraad --json``), so these run ``weefsel`` through ``/bin/sh``.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from registry_backends import pg_server, registry_url  # noqa: F401

WEEFSEL = Path(sys.executable).with_name("weefsel")
SORTITION = Path("participation/sortition/citizensassemblies-replication/data/example_small_20")


def sh(command: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    if not WEEFSEL.exists():
        pytest.skip("the weefsel script is not installed next to this Python (pip install -e .)")
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, cwd=cwd, timeout=600, check=False,
                          env={**os.environ, **(env or {})})


def test_beraad_json_pipes_into_verify(data_dir, tmp_path):
    d = data_dir / SORTITION
    w = shlex.quote(str(WEEFSEL))
    cmd = (f"{w} beraad {shlex.quote(str(d / 'categories.csv'))} {shlex.quote(str(d / 'respondents.csv'))} "
           f"--k 20 --seed 7 --json")
    alone = sh(cmd)
    assert alone.returncode == 0, alone.stderr
    data = json.loads(alone.stdout)                         # pure JSON: nothing before or after
    assert len(data["panel"]) == 20 and data["seed"] == 7
    piped = sh(f"set -e; {cmd} | {w} beraad-verify -")
    assert piped.returncode == 0, piped.stderr
    assert "OK: the published panel matches the seed" in piped.stdout
    bad = sh(f"{cmd} | {w} beraad-verify - --seed 8")
    assert bad.returncode == 1 and "MISMATCH" in bad.stdout
    junk = sh(f"echo 'Running HiGHS 1.x' | {w} beraad-verify -")
    assert junk.returncode == 2 and "Traceback" not in junk.stderr
    assert "stdin: not JSON" in " ".join(junk.stderr.split())


def test_beraad_quota_real_almere_has_no_zero_zero(flevoland_warehouse, tmp_path):
    """GM0034 has wijken CBS counts as 0 inhabitants; none may get a 0-0 quota."""
    out = tmp_path / "categories.csv"
    r = sh(f"{shlex.quote(str(WEEFSEL))} beraad-quota GM0034 --k 30 --wijk -w {shlex.quote(str(flevoland_warehouse))} "
           f"-o {shlex.quote(str(out))}")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    wijk = [q for q in rows if q["category"] == "wijk"]
    assert len(wijk) >= 60                                   # Almere has 71 wijken in KWB 2024
    assert all(int(q["max"]) >= 1 and int(q["min"]) <= int(q["max"]) for q in rows)
    for cat in {q["category"] for q in rows}:
        qs = [q for q in rows if q["category"] == cat]
        assert sum(int(q["min"]) for q in qs) <= 30 <= sum(int(q["max"]) for q in qs)
    assert "# note: wijk" in r.stdout                       # the raised maxima are named


def test_quota_keeps_target_between_min_and_max():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from weefsel.participation.sortition.quotas import quotas_from_population

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=80).filter(lambda v: sum(v) > 0),
           st.integers(min_value=1, max_value=200), st.floats(min_value=0, max_value=0.9))
    def check(pops, k, slack):
        shares = {"wijk": {f"w{i}": float(p) for i, p in enumerate(pops)}}
        qs = quotas_from_population(shares, k, slack=slack)
        total = sum(pops)
        for q, p in zip(qs, pops):
            target = k * p / total
            assert q.min <= target + 1e-9 and target - 1e-9 <= q.max and q.max >= 1 and q.max <= k
        assert sum(q.min for q in qs) <= k <= sum(q.max for q in qs)
    check()


def test_begroting_codes_cli(tmp_path, registry_url):
    """On both backends of the one store."""
    from weefsel.registry import Registry
    url = registry_url
    reg = Registry(url)
    pid, org = reg.create_process("Buurtbudget Haven", "25.000")
    w = shlex.quote(str(WEEFSEL))
    r = sh(f"{w} begroting-codes {pid} --n 25 -o codes.csv --letters brieven.html --url https://stem.example.nl "
           f"--registry {shlex.quote(url)}", cwd=tmp_path, env={"WEEFSEL_ORGANISATIECODE": org})
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((tmp_path / "codes.csv").open()))
    assert len(rows) == 25 and rows[0]["adres"] == f"https://stem.example.nl/api/begroting/p/{pid}"
    assert (tmp_path / "brieven.html").read_text().count('class="brief"') == 25
    assert Registry(url).code_counts(pid) == {"issued": 25, "used": 0}
    reg.set_phase(pid, "stemmen", org)
    again = sh(f"{w} begroting-codes {pid} --n 5 -o codes.csv --registry {shlex.quote(url)}", cwd=tmp_path,
               env={"WEEFSEL_ORGANISATIECODE": org})
    assert again.returncode == 2 and "bestaat al" in again.stderr and "Traceback" not in again.stderr
    wrong = sh(f"{w} begroting-codes {pid} --n 5 -o c2.csv --registry {shlex.quote(url)} --organisatiecode fout",
               cwd=tmp_path)
    assert wrong.returncode == 2 and "organisatiecode klopt niet" in wrong.stderr
    assert not (tmp_path / "c2.csv").exists()
    neg = sh(f"{w} begroting-codes {pid} --n -3 -o c3.csv --registry {shlex.quote(url)}", cwd=tmp_path,
             env={"WEEFSEL_ORGANISATIECODE": org})
    assert neg.returncode == 2 and "moet tussen 1 en 100.000" in " ".join(neg.stderr.split())
