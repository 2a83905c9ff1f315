"""Quotas from a (hand-made) CBS table, the bilingual audit, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from weefsel.cli import app
from weefsel.errors import InputError
from weefsel.participation.sortition.audit import build_audit, render_report
from weefsel.participation.sortition.model import Instance, Quota
from weefsel.participation.sortition.quotas import area_shares, quotas_from_population
from weefsel.participation.sortition.select import run_draw

GEMEENTE = pd.DataFrame([{"area_code": "GM0034", "period": "2024", "AantalInwoners": 1000,
                          "Mannen": 490, "Vrouwen": 510, "k_15Tot25Jaar": 120, "k_25Tot45Jaar": 260,
                          "k_45Tot65Jaar": 250, "k_65JaarOfOuder": 170}])
WIJKEN = pd.DataFrame([{"area_code": "WK003401", "AantalInwoners": 600},
                       {"area_code": "WK003402", "AantalInwoners": 400},
                       {"area_code": "WK099901", "AantalInwoners": 5000}])


def test_quotas_from_population_bracket_the_target():
    shares = area_shares(GEMEENTE, "GM0034", WIJKEN)
    assert set(shares) == {"geslacht", "leeftijd", "wijk"}
    assert set(shares["wijk"]) == {"WK003401", "WK003402"}
    quotas = quotas_from_population(shares, 20, slack=0.1)
    by = {(q.category, q.feature): q for q in quotas}
    assert (by["geslacht", "vrouw"].min, by["geslacht", "vrouw"].max) == (9, 12)   # 10.2 → [9.18, 11.22]
    assert (by["wijk", "WK003401"].min, by["wijk", "WK003401"].max) == (10, 14)    # 12 → [10.8, 13.2]
    for cat in shares:                                  # a population-like panel always fits
        qs = [q for q in quotas if q.category == cat]
        assert sum(q.min for q in qs) <= 20 <= sum(q.max for q in qs)


def test_quotas_bad_input():
    with pytest.raises(InputError, match="missing CBS column"):
        area_shares(GEMEENTE.drop(columns=["Mannen"]), "GM0034")
    with pytest.raises(InputError, match="not in the table"):
        area_shares(GEMEENTE, "GM0363")
    with pytest.raises(InputError, match="slack"):
        quotas_from_population({"g": {"a": 1}}, 5, slack=1.5)


def test_audit_reports_quotas_population_and_command():
    people = [{"geslacht": "vrouw" if i % 2 else "man"} for i in range(10)]
    inst = Instance([f"p{i}" for i in range(10)], people,
                    [Quota("geslacht", "vrouw", 2, 3), Quota("geslacht", "man", 2, 3)], 5)
    result = run_draw(inst, "leximin", 5)
    audit = build_audit(result, command="weefsel beraad c.csv r.csv --k 5 --seed 5",
                        population={"geslacht": {"vrouw": 510, "man": 490}})
    assert audit["all_quotas_met"] and audit["min_probability"] == pytest.approx(0.5)
    assert audit["quotas"][0]["population_share"] == pytest.approx(0.51)
    text = render_report(audit)
    assert "Auditrapport" in text and "Audit report" in text and "--seed 5" in text
    assert "kleinste kans: 50.00%" in text and "Gini" in text
    json.dumps(audit)


def example_files(data_dir):
    d = data_dir / "participation/sortition/citizensassemblies-replication/data/example_small_20"
    return str(d / "categories.csv"), str(d / "respondents.csv")


def test_cli_json_and_report(data_dir, tmp_path):
    cats, resp = example_files(data_dir)
    report = tmp_path / "audit.md"
    out = CliRunner().invoke(app, ["beraad", cats, resp, "--k", "20", "--seed", "42", "--json",
                                   "--report", str(report)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert len(data["probabilities"]) == 200 and len(data["panel"]) == 20
    assert data["min_probability"] == pytest.approx(0.1, abs=1e-6) and data["gini"] < 1e-6
    assert data["seed"] == 42
    dist = data["distribution"]                 # groups of interchangeable people + panels
    assert sum(p["probability"] for p in dist["panels"]) == pytest.approx(1.0)
    assert all(sum(p["seats"].values()) == 20 for p in dist["panels"]) and len(dist["groups"]) == 3
    again = json.loads(CliRunner().invoke(app, ["beraad", cats, resp, "--k", "20", "--json"]).stdout)
    assert again["panel"] == data["panel"]              # default seed 42: the same panel
    assert "weefsel beraad" in report.read_text() and "seed" in report.read_text()
    drop = ",".join(data["panel"][:2])
    rep = json.loads(CliRunner().invoke(app, ["beraad", cats, resp, "--k", "20", "--json",
                                              "--dropouts", drop]).stdout)["replacements"]
    assert len(rep) == 2 and not set(rep) & set(data["panel"])
    text = CliRunner().invoke(app, ["beraad", cats, resp, "--k", "20", "--seed", "1"]).stdout
    assert "\t0.100000" in text and "# panel (seed 1" in text


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    c, r = tmp_path / "c.csv", tmp_path / "r.csv"
    c.write_text("category,feature,min,max\ng,f,1,2\ng,m,1,2\n")
    r.write_text("g\nf\nm\nx\n")
    proc = subprocess.run([sys.executable, "-c", "from weefsel.cli import main; main()", "beraad",
                           str(c), str(r), "--k", "2"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())          # rich may wrap long lines
    assert "rij 4, kolom g: onbekende waarde 'x'" in message and "Traceback" not in message


def hand_made_warehouse(path):
    """GM0034 with two wijken: the CBS columns the quota helper reads (Kerncijfers 2024 names)."""
    from weefsel.warehouse.writer import create_warehouse
    areas = pd.DataFrame([{"code": "GM0034", "level": "gemeente", "name": "Almere", "gemeente_code": "GM0034"},
                          {"code": "WK003401", "level": "wijk", "name": "Stad", "gemeente_code": "GM0034"},
                          {"code": "WK003402", "level": "wijk", "name": "Haven", "gemeente_code": "GM0034"}])
    values = {"GM0034": GEMEENTE.iloc[0].drop(["area_code", "period"]).to_dict(),
              "WK003401": {"AantalInwoners": 600}, "WK003402": {"AantalInwoners": 400}}
    obs = pd.DataFrame([{"area_code": a, "period": "2024", "variable": v, "breakdown": "",
                         "value": float(x), "source": "85984NED"}
                        for a, d in values.items() for v, x in d.items()])
    return create_warehouse(path, areas=areas, observations=obs)


def test_cli_quota_from_warehouse_and_population_in_audit(tmp_path):
    wh = hand_made_warehouse(tmp_path / "w.duckdb")
    cats = tmp_path / "categories.csv"
    out = CliRunner().invoke(app, ["beraad-quota", "GM0034", "--k", "4", "-w", str(wh), "-o", str(cats),
                                   "--slack", "0.5", "--wijk"])
    assert out.exit_code == 0, out.output
    text = cats.read_text()
    assert text.startswith("category,feature,min,max") and "wijk,WK003401" in text
    people = ["id,geslacht,leeftijd,wijk"] + [
        f"p{i},{'vrouw' if i % 2 else 'man'},{['15-24', '25-44', '45-64', '65+'][i % 4]},WK00340{1 + i % 2}"
        for i in range(24)]
    resp = tmp_path / "respondents.csv"
    resp.write_text("\n".join(people))
    report = tmp_path / "audit.json"
    res = CliRunner().invoke(app, ["beraad", str(cats), str(resp), "--k", "4", "--json", "--report", str(report),
                                   "--population", "GM0034", "-w", str(wh)])
    assert res.exit_code == 0, res.output
    audit = json.loads(report.read_text())
    share = {(r["category"], r["feature"]): r.get("population_share") for r in audit["quotas"]}
    assert share["geslacht", "vrouw"] == pytest.approx(0.51) and share["wijk", "WK003401"] == pytest.approx(0.6)
    assert audit["all_quotas_met"]
    dist = audit["distribution"]
    assert all(sum(p["seats"].values()) == 4 for p in dist["panels"])
    assert sorted(i for g in dist["groups"] for i in g) == sorted(f"p{i}" for i in range(24))


def test_verify_from_published_distribution(data_dir, tmp_path):
    """The seed re-selects the panel from the published JSON alone (no solver, no pool file)."""
    from weefsel.participation.sortition.audit import distribution_json
    from weefsel.participation.sortition.select import draw_from_published
    cats, resp = example_files(data_dir)
    pub = tmp_path / "pub.json"
    out = CliRunner().invoke(app, ["beraad", cats, resp, "--k", "20", "--seed", "9", "--json"])
    pub.write_text(out.stdout)
    ok = CliRunner().invoke(app, ["beraad-verify", str(pub)])
    assert ok.exit_code == 0 and "OK" in ok.stdout
    bad = CliRunner().invoke(app, ["beraad-verify", str(pub), "--seed", "10"])
    assert bad.exit_code == 1 and "MISMATCH" in bad.stdout
    # a pool where everyone differs: panels are listed by member
    people = [{"g": g, "a": a} for g in "fm" for a in "xyz"]
    inst = Instance([f"q{i}" for i in range(6)], people, [Quota("g", "f", 1, 2), Quota("g", "m", 1, 2),
                                                          Quota("a", "x", 0, 1), Quota("a", "y", 0, 1),
                                                          Quota("a", "z", 0, 1)], 3)
    for seed in range(5):
        result = run_draw(inst, "leximin", seed)
        dist = json.loads(json.dumps(distribution_json(result)))
        assert draw_from_published(dist, seed) == [inst.ids[i] for i in result.panel]
