"""Safe files (issue 16, item 4): what ``build --out`` may overwrite, a build that read nothing
or far less, every data file in the report, atomic index, and a server that follows a
replaced warehouse while ``weefsel index`` runs beside it."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from weefsel.errors import WeefselError
from weefsel.warehouse.safety import (check_out_target, check_replacement, file_kind,
                                      inventory, is_warehouse)
from weefsel.web.demo import make_demo_warehouse

ROOT = Path(__file__).resolve().parents[1]


def weefsel(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "weefsel", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.fixture()
def registry(tmp_path) -> Path:
    path = tmp_path / "weefsel-registry.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE processes (id INTEGER, name TEXT)")
    con.execute("INSERT INTO processes VALUES (1, 'Buurt')")
    con.commit()
    con.close()
    return path


def test_file_kinds(tmp_path, registry):
    wh = make_demo_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "g.duckdb").write_text("garbage")
    (tmp_path / "e.duckdb").write_bytes(b"")
    assert [file_kind(p) for p in (wh, registry, tmp_path / "g.duckdb", tmp_path / "e.duckdb",
                                   tmp_path / "none", tmp_path)] == \
        ["duckdb", "sqlite", "other", "empty", "missing", "folder"]
    assert is_warehouse(wh) and not is_warehouse(registry)


def test_out_refuses_anything_but_a_warehouse(tmp_path, registry):
    before = registry.read_bytes()
    for target in (registry, tmp_path / "notes.txt", tmp_path):
        if target.suffix == ".txt":
            target.write_text("mijn aantekeningen")
        with pytest.raises(WeefselError, match="--out"):
            check_out_target(target)
    assert registry.read_bytes() == before
    check_out_target(make_demo_warehouse(tmp_path / "ok.duckdb"))  # a warehouse: fine
    check_out_target(tmp_path / "new.duckdb")                       # nothing there: fine


def test_build_out_on_the_registry_is_refused_by_the_cli(tmp_path, registry, data_dir):
    before = registry.read_bytes()
    p = weefsel("build", "--region", "flevoland", "--data", str(data_dir), "--out",
                str(registry), "-q", cwd=tmp_path)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert "SQLite" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert registry.read_bytes() == before


def test_replacement_rules():
    with pytest.raises(WeefselError, match="0 waarden"):
        check_replacement(0, None, "w.duckdb")
    with pytest.raises(WeefselError, match="minder dan de helft"):
        check_replacement(400, 1000, "w.duckdb")
    check_replacement(600, 1000, "w.duckdb")
    check_replacement(0, 1000, "w.duckdb", force=True)


def _utf16_folder(data_dir: Path, root: Path) -> Path:
    d = root / "data" / "kwb"
    d.mkdir(parents=True)
    src = data_dir / "kwb" / "kwb_2024_85984NED_flevoland.csv"
    (d / src.name).write_bytes(src.read_text(encoding="utf-8").encode("utf-16"))
    (d / "leeg.csv").write_bytes(b"")
    (d / "blob.csv").write_bytes(bytes(range(256)) * 8)
    shutil.copy(data_dir / "kwb" / "kwb_2024_85984NED_regions.csv", d)  # areas, no values
    return d.parent


def test_build_that_reads_nothing_keeps_the_old_warehouse(tmp_path, data_dir):
    folder = _utf16_folder(data_dir, tmp_path)
    lines = {str(ln.path): ln for ln in inventory(folder)}
    assert lines["kwb/kwb_2024_85984NED_flevoland.csv"].status == "afgewezen"
    assert "UTF-16" in lines["kwb/kwb_2024_85984NED_flevoland.csv"].reason
    assert "leeg" in lines["kwb/leeg.csv"].reason and "binair" in lines["kwb/blob.csv"].reason
    assert lines["kwb/kwb_2024_85984NED_regions.csv"].status == "gelezen"
    out = make_demo_warehouse(tmp_path / "weefsel.duckdb")
    before = out.read_bytes()
    p = weefsel("build", "--region", "flevoland", "--data", str(folder), "--out", str(out),
                cwd=tmp_path)
    assert p.returncode != 0 and "Traceback" not in p.stdout + p.stderr
    assert "0 waarden" in p.stderr and "--force" in p.stderr
    assert "UTF-16" in p.stdout and "leeg bestand" in p.stdout  # every file in the report
    assert out.read_bytes() == before


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_index_while_serving_is_picked_up(tmp_path, flevoland_warehouse):
    """weefsel serve holds the file; weefsel index writes beside it and swaps; the server
    answers from the new file without a restart and without a lock error."""
    wh = tmp_path / "weefsel.duckdb"
    shutil.copy(flevoland_warehouse, wh)
    port = _port()
    log = tmp_path / "serve.log"
    server = subprocess.Popen([sys.executable, "-m", "weefsel", "serve", "-w", str(wh),
                               "--port", str(port)], cwd=tmp_path, stdout=log.open("w"),
                              stderr=subprocess.STDOUT, env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                tables = httpx.get(url + "/api/info", timeout=10).json()["tables"]
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert "indicator_values" not in tables
        p = weefsel("index", "-w", str(wh), "--level", "wijk", "--skip-missing",
                    "--draws", "20", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert "lock" not in (p.stdout + p.stderr).lower()
        deadline = time.time() + 120
        while time.time() < deadline:
            tables = httpx.get(url + "/api/info", timeout=10).json()["tables"]
            if "indicator_values" in tables:
                break
            time.sleep(0.5)
        assert "indicator_values" in tables
        assert not list(tmp_path.glob("weefsel.duckdb.tmp-*"))  # no copy left behind
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.send_signal(6)  # SIGABRT: faulthandler prints every thread's stack
            server.wait(10)
            pytest.fail(f"serve did not stop on SIGTERM: {log.read_text()[-3000:]}")
    assert "Traceback" not in log.read_text()


def test_failed_index_leaves_the_warehouse_untouched(tmp_path):
    from weefsel.warehouse.writer import write_transaction
    wh = make_demo_warehouse(tmp_path / "w.duckdb")
    before = wh.read_bytes()
    with pytest.raises(RuntimeError):
        with write_transaction(wh) as con:
            con.execute("CREATE TABLE half_written AS SELECT 1 AS x")
            raise RuntimeError("disk full, say")
    assert wh.read_bytes() == before and not list(tmp_path.glob("w.duckdb.tmp-*"))
