"""Speed of weefsel's burgerbegroting rules against pabutools, with identical outcomes.

pabutools (GPL-3.0) is never imported by weefsel: it runs in a separate virtualenv
(default /work/.venv-bench, created with ``python3 -m venv /work/.venv-bench &&
/work/.venv-bench/bin/pip install pabutools``) through a subprocess, or in-process if this
interpreter happens to have it. For each file both sides parse the file and run the same
rule; we print the wall-clock seconds of the rule (and of parsing), the ratio
pabutools / weefsel (higher = weefsel faster) and whether the funded sets are identical.

Rules compared: ``greedy`` (pabutools ``greedy_utilitarian_welfare`` with ``Cost_Sat``,
which orders approval projects by number of approvers) and ``equalshares/add1``
(pabutools ``method_of_equal_shares`` with ``Cost_Sat`` and ``voter_budget_increment=1``).

Usage: python bench/budgeting.py [--data DIR] [--venv /work/.venv-bench] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CASES = [
    ("Poland_Wieliczka_2023_Green_Budget.pb", "equalshares/add1"),
    ("Poland_Swiecie_2023.pb", "equalshares/add1"),
    ("Netherlands_Assen_2024.pb", "equalshares/add1"),
    ("Poland_Gdansk_2020.pb", "greedy"),
    ("France_Toulouse_2022.pb", "greedy"),
    ("Netherlands_Amsterdam_621.pb", "greedy"),
    ("Netherlands_Amsterdam_631.pb", "greedy"),
    ("Poland_Czestochowa_2020.pb", "parse"),  # cumulative: pabutools' greedy orders by points/cost, so parse only
]

PEER = r"""
import json, sys, time
from pabutools.election import parse_pabulib, Cost_Sat
from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares
path, rule, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter(); inst, prof = parse_pabulib(path); t_parse = time.perf_counter() - t0
sel, t_rule = None, None
if rule != "parse":
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        if rule == "greedy":
            out = greedy_utilitarian_welfare(inst, prof, sat_class=Cost_Sat)
        else:
            out = method_of_equal_shares(inst, prof, sat_class=Cost_Sat, voter_budget_increment=1)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    t_rule = best
    sel = sorted(p.name for p in out)
print(json.dumps({"parse": t_parse, "rule": t_rule, "selected": sel}))
"""


def run_peer(python: str | None, path: Path, rule: str, repeat: int) -> dict:
    if python is None:
        ns: dict = {}
        sys.argv = ["peer", str(path), rule, str(repeat)]
        import contextlib
        import io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(PEER, ns)  # noqa: S102 - our own fixed snippet
        return json.loads(buf.getvalue())
    res = subprocess.run([python, "-c", PEER, str(path), rule, str(repeat)], capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_ours(path: Path, rule: str, repeat: int) -> dict:
    from weefsel.participation.budgeting.election import election_from_pb
    from weefsel.participation.budgeting.pabulib import read_pb
    from weefsel.participation.budgeting.rules import run_election

    t0 = time.perf_counter()
    pb = read_pb(path)
    t_parse = time.perf_counter() - t0
    official = sorted(pb.selected()) if pb.selected() is not None else None
    if rule == "parse":
        return {"parse": t_parse, "rule": None, "selected": None, "official": official}
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = run_election(election_from_pb(pb), rule)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return {"parse": t_parse, "rule": best, "selected": sorted(out.selected), "official": official}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="folder with the .pb files")
    ap.add_argument("--venv", default="/work/.venv-bench", help="virtualenv holding pabutools")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", default=None, help="run only files whose name contains this text")
    args = ap.parse_args()
    if args.data:
        data = Path(args.data)
    else:
        from weefsel.config import default_data_dir
        base = default_data_dir()
        if base is None:
            sys.exit("no data dir: pass --data")
        data = base / "participation" / "pabulib" / "pb_files"
    try:
        import pabutools  # noqa: F401
        python = None
    except ImportError:
        python = str(Path(args.venv) / "bin" / "python")
        if not Path(python).exists():
            sys.exit(f"pabutools not found: create {args.venv} (see the module docstring)")
    from rich.progress import track

    rows = []
    cases = [c for c in CASES if args.only is None or args.only in c[0]]
    for name, rule in track(cases, description="bench"):
        path = data / name
        peer = run_peer(python, path, rule, args.repeat)
        ours = run_ours(path, rule, args.repeat)
        rows.append((name, rule, peer, ours))
    print(f"{'file':42} {'rule':18} {'pabutools s':>12} {'weefsel s':>10} {'ratio':>7} "
          f"{'parse p/w s':>14} identical  official(= published 'selected': weefsel/pabutools)")
    tot_p = tot_w = 0.0
    for name, rule, peer, ours in rows:
        if rule == "parse":
            print(f"{name:42} {rule:18} {'':>12} {'':>10} {'':>7} "
                  f"{peer['parse']:6.2f}/{ours['parse']:5.2f}  {peer['parse'] / ours['parse']:.1f}x parse")
            continue
        same = peer["selected"] == ours["selected"]
        ratio = peer["rule"] / ours["rule"]
        tot_p += peer["rule"]
        tot_w += ours["rule"]
        off = ours.get("official")
        off_txt = "" if off is None else (f"{'yes' if ours['selected'] == off else 'NO'}/"
                                          f"{'yes' if peer['selected'] == off else 'NO'}")
        print(f"{name:42} {rule:18} {peer['rule']:12.3f} {ours['rule']:10.3f} {ratio:6.1f}x "
              f"{peer['parse']:6.2f}/{ours['parse']:5.2f}  {'yes' if same else 'NO':9}  {off_txt}")
    if tot_w == 0:
        return
    print(f"total rule time: pabutools {tot_p:.2f} s, weefsel {tot_w:.2f} s, ratio {tot_p / tot_w:.1f}x "
          f"(wall clock, min of {args.repeat}; ratio = pabutools / weefsel, higher is faster)")


if __name__ == "__main__":
    main()
