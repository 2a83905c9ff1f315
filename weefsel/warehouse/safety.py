"""Guards around warehouse files: what a file is before DuckDB touches it, what a build may
overwrite, when a build that read (almost) nothing must not replace a good warehouse, and a
report line for every file of the data folder.

Why sniff before connecting: DuckDB given a SQLite file (the registry!) tries to download
its SQLite extension, and given any other file it fails with an IOException. Both become
one Dutch line here, and DuckDB never sees such a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from weefsel.errors import WeefselError

#: a build yielding fewer values than this share of the warehouse it replaces stops
MIN_SHARE = 0.5


def file_kind(path: str | Path) -> str:
    """'missing', 'folder', 'empty', 'duckdb', 'sqlite' or 'other', from the first bytes."""
    p = Path(path)
    if not p.exists():
        return "missing"
    if p.is_dir():
        return "folder"
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return "other"
    if not head:
        return "empty"
    if head.startswith(b"SQLite format 3"):
        return "sqlite"
    if len(head) >= 12 and head[8:12] == b"DUCK":
        return "duckdb"
    return "other"


def check_readable(path: str | Path) -> None:
    """Raise a one-line WeefselError unless ``path`` is a DuckDB file."""
    kind = file_kind(path)
    if kind == "duckdb":
        return
    reason = {"missing": "bestaat niet; maak het met 'weefsel build --region <naam>'",
              "folder": "is een map, geen warehouse-bestand",
              "empty": "is leeg, geen weefsel-warehouse",
              "sqlite": "is een SQLite-bestand (bijvoorbeeld het register), geen weefsel-warehouse",
              }.get(kind, "is geen weefsel-warehouse (geen DuckDB-bestand)")
    raise WeefselError(f"{path}: {reason}")


def connect(path: str | Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """duckdb.connect after the file check: DuckDB only ever sees a DuckDB file, so it never
    tries to fetch an extension for a SQLite one. (No extra config: DuckDB refuses a second
    connection to a file with a configuration other than the first one's.)"""
    check_readable(path)
    return duckdb.connect(str(path), read_only=read_only)


def is_warehouse(path: str | Path) -> bool:
    """True for a DuckDB file holding weefsel's build_info and areas tables."""
    if file_kind(path) != "duckdb":
        return False
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        names = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        return {"build_info", "areas"} <= names
    except duckdb.Error:
        return False
    finally:
        con.close()


def check_out_target(out: str | Path) -> None:
    """``build --out``: refuse to overwrite anything that is not a weefsel warehouse."""
    kind = file_kind(out)
    if kind == "missing":
        return
    if kind == "folder":
        raise WeefselError(f"--out {out} is een map; geef een bestandsnaam zoals "
                           f"{Path(out) / 'weefsel.duckdb'}")
    if kind == "duckdb" and is_warehouse(out):
        return
    what = {"sqlite": "een SQLite-bestand (misschien het register)",
            "empty": "een leeg bestand",
            "duckdb": "een DuckDB-bestand dat geen weefsel-warehouse is"}.get(kind, "geen weefsel-warehouse")
    raise WeefselError(f"--out {out} is {what}; de build overschrijft alleen een "
                       "weefsel-warehouse. Kies een andere bestandsnaam of verwijder het zelf.")


def previous_values(out: str | Path) -> int | None:
    """How many values the warehouse at ``out`` holds (None when there is none)."""
    if not is_warehouse(out):
        return None
    try:
        con = duckdb.connect(str(out), read_only=True)
    except duckdb.Error:
        return None
    try:
        return int(con.execute("SELECT count(*) FROM observations").fetchone()[0])
    except duckdb.Error:
        return None
    finally:
        con.close()


def check_replacement(new_values: int, previous: int | None, out: str | Path,
                      force: bool = False) -> None:
    """Stop a build that read nothing, or far less than the warehouse it would replace."""
    if force:
        return
    if new_values == 0:
        raise WeefselError(f"de bronnen leverden 0 waarden op; {out} is niet vervangen. Kijk "
                           "in het bestandsoverzicht hierboven welke bestanden niet gelezen "
                           "zijn, of bouw toch met --force.")
    if previous and new_values < MIN_SHARE * previous:
        raise WeefselError(f"de bronnen leverden {new_values:,} waarden op, minder dan de helft "
                           f"van de {previous:,} in {out}; het warehouse is niet vervangen. "
                           "Controleer de datamap, of bouw toch met --force.")


# -- every file of the data folder in the report ------------------------------------------

@dataclass
class FileLine:
    path: Path
    status: str          # gelezen | afgewezen | niet herkend | overgeslagen
    reason: str = ""


BINARY_OK = (".xlsx", ".gpkg", ".pbf", ".parquet", ".zip", ".gz")


def _sniff(path: Path) -> str:
    """Why a file the build did not read is not readable ('' = nothing wrong found)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        return f"niet te lezen ({exc.strerror})"
    if size == 0 or not head.strip():
        return "leeg bestand"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
            len(head) > 8 and head[1::2].count(0) > len(head) // 4):
        return "UTF-16-tekst (sla op als UTF-8)"
    if path.name.lower().endswith(BINARY_OK):
        return ""
    if b"\x00" in head:
        return "binair bestand, geen tekst"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return "geen UTF-8-tekst (sla op als UTF-8)"
    if path.suffix.lower() == ".csv":
        return "kolommen onbekend (geen bron die weefsel kent)"
    return ""


def inventory(data_dir: str | Path, read: set[str] | None = None) -> list[FileLine]:
    """Every file under ``data_dir``: read by the build, rejected (with the reason) or not
    recognised. ``read`` holds the paths the build used; when None, discovery decides."""
    from weefsel.warehouse.discover import SKIP_DIRS, discover, sniff_csv

    base = Path(data_dir)
    if read is None:
        try:
            read = {str(s.path) for s in discover(base) if s.path is not None}
        except WeefselError:
            read = set()
    out: list[FileLine] = []
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        rel = path.relative_to(base)
        if set(rel.parts[:-1]) & SKIP_DIRS or path.name.startswith("."):
            continue
        if str(path) in read:
            out.append(FileLine(rel, "gelezen"))
            continue
        if path.suffix.lower() == ".csv" and sniff_csv(path) == "dataproperties":
            out.append(FileLine(rel, "gelezen", "kolombeschrijving (DataProperties)"))
            continue
        reason = _sniff(path)
        if reason:
            out.append(FileLine(rel, "afgewezen", reason))
        elif re.search(r"\.(md|txt|pdf|html?)$", path.name, re.I):
            out.append(FileLine(rel, "overgeslagen", "documentatie"))
        else:
            out.append(FileLine(rel, "niet herkend", "geen bron die weefsel kent"))
    return out
