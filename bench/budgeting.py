"""Speed of weefsel's burgerbegroting rules against pabutools, paired, with identical outcomes.

Peer: pabutools (GPL-3.0; never a weefsel dependency). It runs in its own virtualenv,
``bench/.venv-peers`` (git-ignored), which this script creates on first use with
``python3 -m venv bench/.venv-peers && bench/.venv-peers/bin/pip install pabutools==1.2.3``
(pass ``--venv`` to use another one). Both sides run in a fresh subprocess per repetition,
peer and weefsel alternately (paired), each parsing the file and then running every rule.

Files: the largest Pabulib files in ../shared/data (by size, ``--largest``, default 3) and
the three held official Equal Shares elections (Assen 2024, Swiecie 2023, Wieliczka 2023).
Rules, each on the whole file (no per-group budgets, as pabutools has none):

==============  ===========================================  ====================================
row             weefsel                                      pabutools
==============  ===========================================  ====================================
greedy          ``greedy`` (score order)                     ``greedy_utilitarian_welfare``, Cost_Sat
mes             ``equalshares`` (no completion)              ``method_of_equal_shares``, Cost_Sat
add1-first      ``equalshares/add1-first``                   same, ``voter_budget_increment=1``
add1            ``equalshares/add1`` (default; continues     same call as add1-first: pabutools has
                past the first exhausting outcome)           no such variant, so "identical" only
                                                             says whether the two variants agree
==============  ===========================================  ====================================

Printed per row: median seconds of the rule alone (peer, weefsel), the ratio peer / weefsel
(higher = weefsel faster) as min / median / max over the paired repetitions, the same ratio
for the whole process (parse + rule), whether the funded sets are identical, and for the
official files whether each side reproduces the published ``selected`` column.

Usage: python bench/budgeting.py [--repeat 3] [--largest 3] [--only NAME] [--rules mes,add1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
OFFICIAL = ["Netherlands_Assen_2024.pb", "Poland_Swiecie_2023.pb", "Poland_Wieliczka_2023_Green_Budget.pb"]
RULES = ["greedy", "mes", "add1-first", "add1"]
OURS_RULE = {"greedy": "greedy", "mes": "equalshares", "add1-first": "equalshares/add1-first",
             "add1": "equalshares/add1"}

PEER = r"""
import json, sys, time
t0 = time.perf_counter()
from pabutools.election import parse_pabulib, Cost_Sat
from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares
path, rules = sys.argv[1], sys.argv[2].split(",")
t0 = time.perf_counter(); inst, prof = parse_pabulib(path); out = {"parse": time.perf_counter() - t0}
for rule in rules:
    if rule == "add1" and "add1-first" in out:   # the same pabutools call: run it once
        out[rule] = out["add1-first"]
        continue
    t0 = time.perf_counter()
    if rule == "greedy":
        sel = greedy_utilitarian_welfare(inst, prof, sat_class=Cost_Sat)
    elif rule == "mes":
        sel = method_of_equal_shares(inst, prof, sat_class=Cost_Sat)
    else:  # add1-first and add1: pabutools' only iterated variant
        sel = method_of_equal_shares(inst, prof, sat_class=Cost_Sat, voter_budget_increment=1)
    out[rule] = [time.perf_counter() - t0, sorted(p.name for p in sel)]
print(json.dumps(out))
"""

OURS = r"""
import json, sys, time
from weefsel.participation.budgeting.election import election_from_pb
from weefsel.participation.budgeting.pabulib import read_pb
from weefsel.participation.budgeting.rules import run_election
path, rules, names = sys.argv[1], sys.argv[2].split(","), json.loads(sys.argv[3])
t0 = time.perf_counter(); pb = read_pb(path); e = election_from_pb(pb); out = {"parse": time.perf_counter() - t0}
for rule in rules:
    t0 = time.perf_counter()
    res = run_election(e, names[rule])
    out[rule] = [time.perf_counter() - t0, sorted(res.selected)]
sel = pb.selected()
out["official"] = sorted(sel) if sel is not None else None
print(json.dumps(out))
"""


def peer_python(venv: Path) -> str:
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating {venv} with pabutools 1.2.3 (GPL-3.0, used only here) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "pabutools==1.2.3"], check=True)
    return str(py)


def run(cmd: list[str]) -> dict:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"bench subprocess failed: {res.stderr.strip().splitlines()[-1:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def spread(xs: list[float]) -> str:
    return f"{min(xs):6.1f} {statistics.median(xs):6.1f} {max(xs):6.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="folder with the .pb files (default ../shared/data/...)")
    ap.add_argument("--venv", default=str(HERE / ".venv-peers"), help="virtualenv holding pabutools")
    ap.add_argument("--repeat", type=int, default=3, help="paired repetitions (fresh processes each)")
    ap.add_argument("--largest", type=int, default=3, help="how many of the largest files")
    ap.add_argument("--only", default=None, help="only files whose name contains this text")
    ap.add_argument("--rules", default=",".join(RULES), help="comma-separated subset of " + ",".join(RULES))
    args = ap.parse_args()
    if args.data:
        data = Path(args.data)
    else:
        from weefsel.config import default_data_dir
        base = default_data_dir()
        if base is None:
            sys.exit("no data dir: pass --data")
        data = base / "participation" / "pabulib" / "pb_files"
    rules = [r for r in args.rules.split(",") if r]
    if any(r not in RULES for r in rules):
        sys.exit(f"--rules: choose from {','.join(RULES)}")
    peer = peer_python(Path(args.venv))
    largest = sorted(data.glob("*.pb"), key=lambda p: -p.stat().st_size)[: args.largest]
    files = [p.name for p in largest] + [f for f in OFFICIAL if f not in {p.name for p in largest}]
    files = [f for f in files if args.only is None or args.only in f]
    load = os.getloadavg()
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
          f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (uptime) at start; {args.repeat} paired "
          f"repetitions, fresh processes; peer pabutools in {args.venv}")
    print(f"{'file':38} {'rule':10} {'peer s':>8} {'ours s':>8}  {'rule ratio min/med/max':>22}  "
          f"{'whole ratio min/med/max':>23}  identical  official ours/peer")
    worst: dict[str, float] = {}
    for name in files:
        path = data / name
        samples = []
        for _ in range(args.repeat):
            p = run([peer, "-c", PEER, str(path), ",".join(rules)])
            o = run([sys.executable, "-c", OURS, str(path), ",".join(rules), json.dumps(OURS_RULE)])
            samples.append((p, o))
        for rule in rules:
            pt = [p[rule][0] for p, _ in samples]
            ot = [o[rule][0] for _, o in samples]
            rr = [a / b for a, b in zip(pt, ot)]
            wr = [(p["parse"] + p[rule][0]) / (o["parse"] + o[rule][0]) for p, o in samples]
            same = all(p[rule][1] == o[rule][1] for p, o in samples)
            off = samples[0][1]["official"]
            off_txt = "" if off is None else (f"{'yes' if samples[0][1][rule][1] == off else 'no'}/"
                                              f"{'yes' if samples[0][0][rule][1] == off else 'no'}")
            same_txt = ("yes" if same else "NO") + ("*" if rule == "add1" else "")
            print(f"{name.removesuffix('.pb'):38} {rule:10} {statistics.median(pt):8.3f} {statistics.median(ot):8.3f}"
                  f"  {spread(rr):>22}  {spread(wr):>23}  {same_txt:9}  {off_txt}", flush=True)
            if name in {p.name for p in largest[:3]}:
                worst[rule] = min(worst.get(rule, float("inf")), statistics.median(rr))
    print("* add1: pabutools only has add1-first; 'identical' says whether the two variants agree on that file.")
    print("ratio = pabutools seconds / weefsel seconds (higher: weefsel faster); 'whole' adds parsing "
          "(pabutools parse_pabulib; weefsel read_pb + election_from_pb).")
    if worst:
        print("three largest files, lowest median rule ratio: "
              + ", ".join(f"{r} {v:.1f}x" for r, v in worst.items()))
    load = os.getloadavg()
    print(f"# load at end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; finished "
          f"{datetime.now(timezone.utc):%H:%M} UTC")


if __name__ == "__main__":
    t = time.perf_counter()
    main()
    print(f"# bench wall time {time.perf_counter() - t:.0f} s")
