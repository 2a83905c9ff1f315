"""`weefsel begroting` on real files and on broken input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from weefsel.cli import app

PB_DIR = Path("participation/pabulib/pb_files")
runner = CliRunner()


def test_json_selected_equals_official(data_dir):
    f = data_dir / PB_DIR / "Netherlands_Assen_2024.pb"
    r = runner.invoke(app, ["begroting", str(f), "--json"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["rule"] == "equalshares/add1"
    assert sorted(obj["selected"]) == sorted(obj["official_selected"]) and obj["matches_official"] is True
    assert set(obj["explanations"]) == {str(i) for i in range(1, 15)}
    assert int(obj["budget_used"]) <= 100000


def test_rule_override_and_explain(data_dir):
    f = data_dir / PB_DIR / "Netherlands_Assen_2024.pb"
    r = runner.invoke(app, ["begroting", str(f), "--json", "--rule", "greedy"])
    obj = json.loads(r.output)
    assert obj["rule"] == "greedy" and obj["matches_official"] is False
    r = runner.invoke(app, ["begroting", str(f), "--explain"])
    assert r.exit_code == 0 and "niet gefinancierd" in r.output


def test_bad_file_is_one_clear_line(tmp_path):
    f = tmp_path / "kapot.pb"
    f.write_text("META\nkey;value\nbudget;100\nPROJECTS\nproject_id;cost\n1;10\n", encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "weefsel", "begroting", str(f), "--json"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert "section VOTES is missing" in res.stderr and "kapot.pb" in res.stderr
    assert "Traceback" not in res.stderr
