"""Benchmark of the burgerberaad draw against the published replication of Flanigan et al. (2021).

Peer: the published LEXIMIN runtimes in citizensassemblies-replication/reference_output/
*_statistics.txt ("Out of 3 runs, LEXIMIN took a median running time of … seconds"; their
code, Gurobi, their hardware). Only the two synthetic 'example' pools are public; the real
pools sf_a … obf are private, so those instances cannot be re-run here (their published
figures are printed for reference only).

Run:  .venv/bin/python bench/sortition.py [--runs 3] [--plain-large] [--synthetic] [--legacy-samples 2000]
Prints per instance, each as median (min-max) of ``--runs`` wall-clock runs:

* **like for like**: the per-person formulation (one unit per volunteer, as the published
  code), against the published runtime; on example_small_20 always, on example_large_200
  only with ``--plain-large`` (long);
* **grouped** (weefsel's default: identical volunteers merged into one unit first), also
  against the published runtime, but *not* like for like: the published code does not merge;
* the start-up of ``weefsel beraad`` (``--help``, and a whole draw of example_small_20 as a
  user runs it, wall and CPU seconds) and whether ``scipy.stats`` is imported on the way
  (``python -X importtime``);

then the minimum probability (exact; published: 10.0%) and the LEGACY minimum estimated by
seeded sampling with its 99% Jeffreys upper bound next to the published bound. The first
line gives the date and the machine load (``os.getloadavg``, as ``uptime``).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.config import default_data_dir
from weefsel.participation.sortition.fair import fair_distribution
from weefsel.participation.sortition.io import load_instance
from weefsel.participation.sortition.legacy import jeffreys_upper, legacy_probabilities
from weefsel.participation.sortition.select import rng_for
from weefsel.participation.sortition.stats import gini

INSTANCES = [("example_small_20", 20), ("example_large_200", 200)]


def synthetic_pool(n: int = 300, k: int = 30, seed: int = 0):
    """A made-up pool shaped like the private ones (6 categories, skewed volunteers, ±20% quotas).

    Not comparable to any published instance; it shows the runtime when almost nobody is
    interchangeable (the plain column generation does all the work).
    """
    from weefsel.participation.sortition.model import Instance, Quota
    rng = np.random.default_rng(seed)
    cats = {"geslacht": ["v", "m"], "leeftijd": ["16-24", "25-44", "45-64", "65+"],
            "opleiding": ["laag", "midden", "hoog"], "wijk": [f"w{i}" for i in range(5)],
            "herkomst": ["nl", "eu", "noneu"], "klimaat": ["ja", "nee"]}
    volunteers = {"opleiding": [0.15, 0.35, 0.5], "leeftijd": [0.08, 0.25, 0.35, 0.32],
                  "herkomst": [0.85, 0.07, 0.08]}
    population = {"opleiding": [0.3, 0.4, 0.3], "leeftijd": [0.15, 0.33, 0.3, 0.22],
                  "herkomst": [0.75, 0.1, 0.15]}
    people = []
    for _ in range(n):
        p = {c: v[rng.choice(len(v), p=volunteers.get(c))] for c, v in cats.items()}
        if p["leeftijd"] == "65+" and rng.random() < 0.5:
            p["opleiding"] = "hoog"
        people.append(p)
    quotas = []
    for c, values in cats.items():
        for f, share in zip(values, population.get(c, [1 / len(values)] * len(values))):
            have = sum(p[c] == f for p in people)
            lo = min(int(np.floor(share * k * 0.8)), have)
            quotas.append(Quota(c, f, lo, max(lo, int(np.ceil(share * k * 1.2)))))
    return Instance([f"p{i}" for i in range(n)], people, quotas, k, source="synthetic")


def published(ref: Path, name: str) -> dict[str, str]:
    text = (ref / "reference_output" / f"{name}_statistics.txt").read_text(encoding="utf-8")
    out = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
    m = re.search(r"median running time of ([\d.]+) seconds", text)
    out["runtime_s"] = m.group(1) if m else "nan"
    return out


def curve_distance(ref: Path, name: str, algorithm: str, probs: np.ndarray) -> float:
    """Largest gap between our sorted probability curve and the published one (same percentiles)."""
    df = pd.read_csv(ref / "reference_output" / f"{name}_prob_allocs_data.csv")
    df = df[df["algorithm"].str.lower() == algorithm]
    ranked = np.sort(probs)                     # published percentile q ↔ person number round(q·n/100)
    idx = np.minimum(np.rint(df["percentile of pool members"].to_numpy() * len(ranked) / 100).astype(int),
                     len(ranked) - 1)
    ours = ranked[idx]
    return float(np.abs(ours - df["selection probability"].to_numpy()).max())


def timed(fn, runs: int):
    """(median, min, max) wall seconds of ``runs`` calls, and the last result."""
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return (statistics.median(times), min(times), max(times)), out


def fmt(t) -> str:
    return f"{t[0]:.3f} s ({t[1]:.3f}-{t[2]:.3f})"


def startup(d: Path, runs: int) -> None:
    """Wall and CPU seconds of ``weefsel beraad`` as a user runs it, and its imports."""
    exe = Path(sys.executable).with_name("weefsel")
    cmd = [str(exe), "beraad", str(d / "categories.csv"), str(d / "respondents.csv"), "--k", "20", "--seed", "1"]
    for label, args in (("weefsel beraad --help", [str(exe), "beraad", "--help"]),
                        ("weefsel beraad example_small_20 --k 20 (whole draw)", cmd)):
        walls, cpus = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(args, capture_output=True, check=True)
            walls.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        print(f"{label}: wall {fmt((statistics.median(walls), min(walls), max(walls)))}, "
              f"CPU {statistics.median(cpus):.2f} s (median of {runs})")
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "weefsel", *cmd[1:]],
                         capture_output=True, text=True, check=True)
    mods = {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    heavy = [m for m in ("scipy.stats", "pandas", "scipy.optimize") if m in mods]
    print(f"  imported during the draw (python -X importtime): {', '.join(heavy) or 'none of'} "
          f"{'(scipy.stats NOT imported)' if 'scipy.stats' not in mods else '(scipy.stats imported!)'}; "
          f"scipy.optimize is the LP/ILP solver interface the draw itself needs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain-large", action="store_true",
                        help="also time the per-person formulation on example_large_200 (long)")
    parser.add_argument("--legacy-samples", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--synthetic", action="store_true",
                        help="also time a made-up 6-category pool (n=300, k=30) without interchangeable people")
    args = parser.parse_args()
    data = default_data_dir()
    ref = (data / "participation/sortition/citizensassemblies-replication") if data else None
    if ref is None or not ref.is_dir():
        sys.exit("reference data not found (set WEEFSEL_DATA)")
    load = os.getloadavg()
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load {load[0]:.1f} "
          f"{load[1]:.1f} {load[2]:.1f} (uptime); times: median (min-max) of {args.runs} runs, wall clock")
    print("Published LEXIMIN runtimes: Flanigan et al. 2021 replication, reference_output/*_statistics.txt")
    print("(their hardware, Gurobi; ours: HiGHS via highspy/scipy on this machine)\n")
    startup(ref / "data" / "example_small_20", args.runs)
    print()
    for name, k in INSTANCES:
        d = ref / "data" / name
        inst = load_instance(d / "categories.csv", d / "respondents.csv", k)
        pub = published(ref, name)
        pub_t = float(pub["runtime_s"])
        print(f"== {name} (n={inst.n}, k={k}); published LEXIMIN runtime {pub_t:.1f} s")
        if name == "example_small_20" or args.plain_large:
            t_plain, (dist2, stats2) = timed(lambda: fair_distribution(inst, group_identical=False), args.runs)
            p2 = dist2.marginals(inst.n)
            print(f"  like for like, per-person formulation (one unit per volunteer): {fmt(t_plain)}, "
                  f"{stats2['iterations']} rounds, min {p2.min():.6f}; ratio published/ours {pub_t / t_plain[0]:.2f}x")
        else:
            print("  like for like, per-person formulation: not run (pass --plain-large)")
        t_grp, (dist, stats) = timed(lambda: fair_distribution(inst), args.runs)
        p = dist.marginals(inst.n)
        print(f"  grouped (identical volunteers merged first; NOT like for like): {fmt(t_grp)}, "
              f"ratio published/ours {pub_t / t_grp[0]:,.0f}x ({stats['units']} groups, "
              f"{stats['iterations']} LP/ILP rounds, {stats['panels_in_support']} panel compositions)")
        print(f"  LEXIMIN min probability (exact): ours {p.min():.6f} | published "
              f"{pub['LEXIMIN minimum probability (exact)']} | max |p_i - k/n| = {np.abs(p - k / inst.n).max():.2e} "
              f"| gini {gini(p):.4f}; curve vs published: max gap {curve_distance(ref, name, 'leximin', p):.2e}")
        samples = args.legacy_samples if k <= 20 else max(200, args.legacy_samples // 10)
        t0 = time.perf_counter()
        lp = legacy_probabilities(inst, samples, rng_for(1))
        t_leg = time.perf_counter() - t0
        print(f"LEGACY ({samples} seeded samples, {t_leg:.1f} s): min {lp.min():.4f}, 99% upper bound "
              f"{jeffreys_upper(lp.min(), samples):.4f} | published {pub['LEGACY minimum probability'].split(' (')[0]} "
              f"(10,000 samples) | gini ours {gini(lp):.3f} vs published {pub['gini coefficient of LEGACY']}")
        print(f"  LEGACY sorted curve vs published curve: max gap {curve_distance(ref, name, 'legacy', lp):.4f} "
              f"(sampling noise alone: ~{3 * np.sqrt(k / inst.n * (1 - k / inst.n) / samples):.4f})")
        print()
    if args.synthetic:
        inst = synthetic_pool()
        t0 = time.perf_counter()
        dist, stats = fair_distribution(inst)
        p = dist.marginals(inst.n)
        print(f"== synthetic pool (n={inst.n}, k={inst.k}, 6 categories, {stats['units']} groups): LEXIMIN "
              f"{time.perf_counter() - t0:.1f} s, {stats['iterations']} rounds, {stats['tiers']} tiers, "
              f"min {p.min():.4f}, gini {gini(p):.3f}; LEGACY min (500 samples) "
              f"{legacy_probabilities(inst, 500, rng_for(1)).min():.4f}")
        print("   (no published counterpart; compare in size with sf_a_35 n=312 k=35: 19.6 s published)\n")
    print("Real pools (private, not re-runnable; published LEXIMIN runtime and minimum):")
    for f in sorted((ref / "reference_output").glob("*_statistics.txt")):
        name = f.name.removesuffix("_statistics.txt")
        if name.startswith("example"):
            continue
        pub = published(ref, name)
        print(f"  {name:10s} n={pub['pool size n']:>5s} k={pub['panel size k']:>4s} "
              f"LEXIMIN min {pub['LEXIMIN minimum probability (exact)']:>5s} runtime {float(pub['runtime_s']):8.1f} s")


if __name__ == "__main__":
    main()
