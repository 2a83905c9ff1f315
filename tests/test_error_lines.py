"""The one-line messages themselves: language of the "expected" part, OS and DuckDB errors
(disk full, lock, not a database) as the CLI shows them."""

from __future__ import annotations

import errno

import duckdb

from weefsel.cli.errors import one_line
from weefsel.errors import InputError, WeefselError


def test_expected_part_follows_the_message_language():
    nl = InputError("Onbekende gebiedscode: XX", where="XX", expected="een gebiedscode")
    assert str(nl) == "XX: Onbekende gebiedscode: XX (verwacht: een gebiedscode)"
    en = InputError("no value columns", where="f.csv", expected="columns like AantalInwoners_5")
    assert str(en) == "f.csv: no value columns (expected columns like AantalInwoners_5)"
    assert "verwacht" in str(InputError("x", expected="y", lang="nl"))


def test_os_errors_name_the_file_in_dutch():
    msg, code = one_line(OSError(errno.ENOSPC, "No space left on device", "/data/w.duckdb"))
    assert msg == "/data/w.duckdb: schijf vol; het vorige bestand is niet aangeraakt" and code
    msg, _ = one_line(FileNotFoundError(errno.ENOENT, "No such file", "/nonexistent/x.pdf"))
    assert msg.startswith("/nonexistent/x.pdf:") and "bestaat niet" in msg


def test_duckdb_errors_become_actionable_lines():
    full = duckdb.IOException('Could not write file "w.duckdb.tmp-1": No space left on device')
    assert "schijf vol" in one_line(full)[0]
    lock = duckdb.IOException('Could not set lock on file "w.duckdb": Conflicting lock is held')
    assert "in gebruik" in one_line(lock)[0]
    other = duckdb.Error("line one\nline two\n" + "x" * 1000)
    msg, code = one_line(other)
    assert "\n" not in msg and len(msg) <= 300 and code != 0


def test_unexpected_errors_are_one_line_too():
    msg, code = one_line(ValueError("invalid literal for int() with base 10: 'abc'\nmore"))
    assert "\n" not in msg and code == 1 and msg.startswith("onverwachte fout (ValueError)")
    assert one_line(WeefselError("Geen warehouse"))[1] == 2
    assert one_line(KeyboardInterrupt())[0] == "afgebroken"
