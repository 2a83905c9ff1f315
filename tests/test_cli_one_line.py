"""Every CLI verb with bad arguments, as a subprocess: exit code other than 0, exactly one
line on stderr naming what went wrong, and never a traceback (issue 16, item 5)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from weefsel.cli import app
from weefsel.errors import is_dutch


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    import sqlite3

    from weefsel.web.demo import make_demo_warehouse
    d = tmp_path_factory.mktemp("cli")
    make_demo_warehouse(d / "good.duckdb")
    (d / "garbage.duckdb").write_text("garbage\n")
    (d / "empty.pb").write_text("")
    (d / "garbage.pb").write_bytes(b"\x00\x01\x02 not a pb file")
    (d / "garbage.json").write_text("{not json")
    (d / "cats.csv").write_text("category,name,min,max\ngeslacht,vrouw,x,3\n")
    (d / "resp.csv").write_text("id,geslacht\n1,vrouw\n")
    (d / "emptydir").mkdir()
    con = sqlite3.connect(d / "reg.sqlite")
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    return d


def cases(busy_port: int) -> dict[str, list[list[str]]]:
    """verb -> argument lists that must fail with one line."""
    return {
        "": [["frobnicate"], ["--bogus"]],
        "build": [[], ["--region"], ["--regio", "x"],
                  ["--region", "flevoland", "--data", "/nonexistent/data"],
                  ["--region", "flevoland", "--data", "emptydir", "--out", "reg.sqlite"],
                  ["--region", "flevoland", "--data", "emptydir", "--out", "emptydir"]],
        "info": [["-w", "garbage.duckdb"], ["-w", "reg.sqlite"], ["-w", "nothere.duckdb"]],
        "export": [[], ["-o", "x.csv", "-w", "reg.sqlite"],
                   ["-o", "x.csv", "--level", "planeet", "-w", "good.duckdb"],
                   ["-o", "x.csv", "--format", "docx", "-w", "good.duckdb"],
                   ["-o", "/nonexistent/dir/x.csv", "-w", "good.duckdb"]],
        "index": [["-w", "garbage.duckdb"], ["--draws", "abc"],
                  ["-w", "good.duckdb", "--level", "planeet"],
                  ["-w", "good.duckdb", "--weights", "/nonexistent/w.yaml"],
                  ["-w", "good.duckdb", "--normalisation", "magic"]],
        "access": [["-w", "reg.sqlite"], ["-w", "good.duckdb", "--decay", "wobbly:1"]],
        "serve": [["--port", "abc"], ["-w", "garbage.duckdb", "--port", str(free_port())],
                  ["-w", "good.duckdb", "--port", str(busy_port)],
                  ["-w", "good.duckdb", "--port", "70000"]],
        "profile": [[], ["GM0001", "-o", "/nonexistent/x.pdf", "-w", "good.duckdb"],
                    ["XX", "-o", "x.html", "-w", "good.duckdb"],
                    ["GM0001", "-o", "x.docx", "-w", "good.duckdb"],
                    ["GM0001", "-o", "x.html", "-w", "reg.sqlite"]],
        "beraad": [[], ["nothere.csv", "nothere2.csv", "--k", "5"],
                   ["cats.csv", "resp.csv", "--k", "1"],
                   ["cats.csv", "resp.csv", "--k", "1", "--algorithm", "magic"]],
        "beraad-quota": [["GM0001", "--k", "5", "-w", "garbage.duckdb"],
                         ["XX", "--k", "5", "-w", "good.duckdb"]],
        "beraad-verify": [[], ["nothere.json"], ["garbage.json"]],
        "begroting": [["nothere.pb"], ["garbage.pb"], ["empty.pb"]],
    }


def run(cwd: Path, verb: str, args: list[str]) -> tuple[str, list[str], subprocess.CompletedProcess]:
    cmd = [sys.executable, "-m", "weefsel", *([verb] if verb else []), *args]
    env = {**os.environ, "COLUMNS": "200", "WEEFSEL_DATA": str(cwd / "emptydir")}
    env.pop("WEEFSEL_DEBUG", None)
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    return verb, args, p


def test_every_verb_is_walked():
    """A new verb must get its bad-argument cases here."""
    verbs = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert verbs <= set(cases(0)), sorted(verbs - set(cases(0)))


def test_bad_arguments_give_one_line_and_no_traceback(files):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        jobs = [(verb, args) for verb, lists in cases(busy.getsockname()[1]).items()
                for args in lists]
        with ThreadPoolExecutor(4) as ex:
            results = list(ex.map(lambda va: run(files, *va), jobs))
    bad = []
    for verb, args, p in results:
        err = [ln for ln in p.stderr.splitlines() if ln.strip()]
        both = p.stdout + p.stderr
        message = err[0][len("fout: "):] if err else ""
        mixed = "(expected" in message and is_dutch(message.split("(expected")[0])
        ok = (p.returncode != 0 and "Traceback" not in both and len(err) == 1
              and err[0].startswith("fout: ") and not mixed)
        if not ok:
            bad.append(f"weefsel {verb} {' '.join(args)} -> rc {p.returncode}: {both[-600:]!r}")
    assert not bad, "\n".join(bad)


def test_error_lines_name_the_file(files):
    _, _, p = run(files, "info", ["-w", "reg.sqlite"])
    assert "reg.sqlite" in p.stderr and "SQLite" in p.stderr
    assert "download" not in p.stderr.lower()  # never tries to fetch a DuckDB extension
    _, _, p = run(files, "profile", ["GM0001", "-o", "/nonexistent/x.pdf", "-w", "good.duckdb"])
    assert "/nonexistent" in p.stderr


def test_busy_port_fails_before_printing_the_address(files):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        _, _, p = run(files, "serve", ["-w", "good.duckdb", "--port", str(port)])
    assert p.returncode != 0 and "http://" not in p.stdout
    assert re.search(rf"poort {port} .*in gebruik", p.stderr)


def test_help_keeps_brackets_and_shows_flags_plainly(files):
    p = subprocess.run([sys.executable, "-m", "weefsel", "index", "--help"], cwd=files,
                       capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert "[area codes]" in p.stdout
    assert "<bool>" not in p.stdout and "--skip-missing" in p.stdout
