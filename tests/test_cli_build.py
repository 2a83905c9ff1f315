"""The build/info/export commands as a user runs them: one clear line on user errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from weefsel.cli import app
from weefsel.errors import WeefselError

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=True)


def weefsel(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Through the real entry point (main), which turns WeefselError into one line + exit 2."""
    return subprocess.run([sys.executable, "-c", "from weefsel.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def test_help_mentions_default_data_and_atomic_swap():
    r = run("build", "--help")
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    assert "../shared/data" in text and "previous warehouse" in text and "--online" in text


def test_missing_data_dir_is_one_clear_line(tmp_path):
    p = weefsel("build", "--region", "flevoland", "--data", str(tmp_path / "nope"),
                "--out", str(tmp_path / "w.duckdb"))
    assert p.returncode == 2
    err = p.stderr.replace("\n", "")      # the console wraps long lines
    assert "does not exist" in err and "Traceback" not in err


def test_info_without_warehouse(tmp_path):
    p = weefsel("info", "--warehouse", str(tmp_path / "none.duckdb"))
    assert p.returncode == 2 and "weefsel build" in p.stderr


def test_unknown_region_on_real_data(data_dir, tmp_path):
    sub = tmp_path / "data" / "boundaries"
    sub.mkdir(parents=True)
    kwb = tmp_path / "data" / "kwb"
    kwb.mkdir()
    shutil.copy(data_dir / "kwb" / "kwb_2024_85984NED_regions.csv", kwb)
    for f in ("gemeente_2025_gegeneraliseerd.geojson", "provincie_2020_gegeneraliseerd.geojson"):
        shutil.copy(data_dir / "boundaries" / f, sub)
    out = tmp_path / "w.duckdb"
    p = weefsel("build", "--region", "Atlantis", "--data", str(tmp_path / "data"),
                "--out", str(out), "--quiet")
    assert p.returncode == 2, p.stderr
    err = p.stderr.replace("\n", "")
    assert "Atlantis" in err and "Traceback" not in err
    assert not out.exists()


def test_broken_file_keeps_previous_warehouse(data_dir, tmp_path):
    """A truncated KWB file in a copied data folder: clear error naming the file, and the
    warehouse built before stays byte for byte the same."""
    d = tmp_path / "data"
    (d / "kwb").mkdir(parents=True)
    (d / "boundaries").mkdir()
    for f in ("kwb_2024_85984NED_regions.csv", "kwb_2024_85984NED_flevoland.csv",
              "kwb_2024_85984NED_DataProperties.csv"):
        shutil.copy(data_dir / "kwb" / f, d / "kwb")
    for f in ("gemeente_2025_gegeneraliseerd.geojson", "provincie_2020_gegeneraliseerd.geojson"):
        shutil.copy(data_dir / "boundaries" / f, d / "boundaries")
    out = tmp_path / "w.duckdb"
    p = weefsel("build", "--region", "flevoland", "--data", str(d), "--out", str(out), "--quiet")
    assert p.returncode == 0, p.stderr
    before = out.read_bytes()
    target = d / "kwb" / "kwb_2024_85984NED_flevoland.csv"
    raw = target.read_bytes()
    target.chmod(0o644)
    # cut in the middle of a line: the last row has too few fields
    target.write_bytes(raw[: len(raw) // 2])
    p = weefsel("build", "--region", "flevoland", "--data", str(d), "--out", str(out), "--quiet")
    assert p.returncode == 2
    err = p.stderr.replace("\n", "")
    assert "kwb_2024_85984NED_flevoland.csv" in err and "Traceback" not in err
    assert "truncated" in err
    assert out.read_bytes() == before
    assert not [x for x in tmp_path.iterdir() if ".tmp-" in x.name]


def test_info_and_export_on_flevoland(flevoland_warehouse, tmp_path):
    r = run("info", "--warehouse", str(flevoland_warehouse))
    assert r.exit_code == 0, r.output
    for word in ("Sources", "85984NED", "50090NED", "gemeente", "buurt", "Validation summary"):
        assert word in r.output
    out = tmp_path / "g.csv"
    r = run("export", "--level", "gemeente", "--format", "csv", "--period", "2024", "--excel",
            "-o", str(out), "--warehouse", str(flevoland_warehouse))
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, sep=";", decimal=",", encoding="utf-8-sig")
    assert sorted(df.code) == ["GM0034", "GM0050", "GM0171", "GM0184", "GM0303", "GM0995"]
    assert df.set_index("code").loc["GM0034", "AantalInwoners"] > 200_000
    r = run("export", "--format", "xls", "-o", str(tmp_path / "x"), "--warehouse",
            str(flevoland_warehouse))
    assert isinstance(r.exception, WeefselError)


KILL_SCRIPT = r"""
import sys, time
from pathlib import Path
import weefsel.warehouse.validate as V
from weefsel.sources.base import SourceFrames
from weefsel.warehouse import build as B
from weefsel.warehouse.discover import SourceSpec

def slow(con, report):      # runs while the new file is half written
    Path(sys.argv[2]).write_text("writing")
    time.sleep(60)

B._load = lambda spec, ctx: SourceFrames(source="x")
V.run_validation = slow
spec = SourceSpec("kwb_csv", Path(sys.argv[1]), "national")
B.build("nl", Path(sys.argv[1]).parent, Path(sys.argv[3]), progress=False, specs=[spec])
"""


def test_sigterm_during_build_leaves_previous_warehouse(tmp_path):
    import signal
    import time

    from weefsel.web.demo import make_demo_warehouse
    out = make_demo_warehouse(tmp_path / "w.duckdb")  # --out only replaces a warehouse
    previous = out.read_bytes()
    src = tmp_path / "src.csv"
    src.write_text("x")
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(src), str(marker), str(out)])
    for _ in range(300):
        if marker.exists():
            break
        time.sleep(0.1)
    assert marker.exists()
    assert [p for p in tmp_path.iterdir() if ".tmp-" in p.name]   # the build was under way
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) != 0
    assert out.read_bytes() == previous
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_info_on_a_hand_made_warehouse(tmp_path):
    """Warehouses written by create_warehouse (tests, demos) have no build_info/validation."""
    from weefsel.warehouse.writer import create_warehouse
    path = create_warehouse(tmp_path / "w.duckdb", areas=pd.DataFrame(
        {"code": ["GM0034"], "level": ["gemeente"], "name": ["Almere"]}))
    r = run("info", "--warehouse", str(path))
    assert r.exit_code == 0, r.output
    assert "gemeente" in r.output


def test_build_with_facilities_computes_accessibility(tmp_path, data_dir):
    """Issue 4: 'weefsel build' runs the accessibility measures when facilities are present
    (Amsterdam: the OSM sample in Amsterdam-Noord on the real buurt polygons)."""
    import duckdb
    from typer.testing import CliRunner

    from weefsel.cli import app

    out = tmp_path / "ams.duckdb"
    result = CliRunner().invoke(app, ["build", "--region", "amsterdam", "--data", str(data_dir),
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(out), read_only=True)
    n_buurten = con.execute(
        "SELECT count(DISTINCT area_code) FROM access_results WHERE level = 'buurt'").fetchone()[0]
    assert n_buurten == 518
