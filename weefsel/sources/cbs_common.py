"""Helpers shared by the CBS/RIVM tabular loaders.

Why one module: every StatLine table has the same quirks (padded codes, ``.`` for
suppressed figures, ``_<position>`` suffixes that change between releases, BOMs and
two delimiters). Handling them once keeps the loaders small and consistent.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from weefsel.errors import InputError
from weefsel.sources.base import (
    AREA_COLUMNS,
    OBSERVATION_COLUMNS,
    VARIABLE_COLUMNS,
    Rejection,
    sha256_of,
)

LICENCE = "CC BY 4.0"
PUBLISHER_CBS = "CBS"
PUBLISHER_RIVM = "RIVM/GGD via CBS"

#: KWB table id per reference year (README of shared/data; CBS StatLine).
KWB_TABLES = {"84799NED": "2020", "85039NED": "2021", "85318NED": "2022", "85618NED": "2023",
              "85984NED": "2024", "86165NED": "2025"}
KWB_TABLE_BY_YEAR = {int(v): k for k, v in KWB_TABLES.items()}

#: Cell values that mean "no figure": OData null, CBS '.', Excel KWB sentinels.
MISSING_TOKENS = frozenset({"", ".", "-99999999", "-99999997", "-99999998", "-99999996",
                            "-99999995", "nan", "NaN", "None", "null"})

_STEM_RE = re.compile(r"^(?P<stem>.+?)_(?P<pos>\d+)$")
CODE_RE = re.compile(r"^(NL0[01]|LD0[1-4]|PV\d{2}|GM\d{4}|WK\d{4}[0-9A-Z]{2}|BU\d{4}[0-9A-Z]{4})$")
_PREFIX_LEVEL = {"NL": "land", "LD": "landsdeel", "PV": "provincie", "GM": "gemeente", "WK": "wijk",
                 "BU": "buurt"}
SOORT_REGIO_LEVEL = {"land": "land", "gemeente": "gemeente", "wijk": "wijk", "buurt": "buurt",
                     "provincie": "provincie"}


def stem_of(column: str) -> str:
    """'AantalInwoners_5' -> 'AantalInwoners'; names without a position suffix stay as they are."""
    m = _STEM_RE.match(column)
    return m.group("stem") if m else column


def slug(text: str) -> str:
    """A CamelCase ASCII key from a CBS title: 'Geboren in Nederland' -> 'GeborenInNederland'."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", text)
    return "".join(w[:1].upper() + w[1:] for w in words)


def normalise_codes(codes: pd.Series) -> pd.Series:
    """Strip the OData padding; the Netherlands is NL00 everywhere (50090NED says NL01)."""
    out = codes.astype("string").str.strip().str.upper()
    return out.mask(out == "NL01", "NL00")


def is_code(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna("").str.match(CODE_RE.pattern)


def level_of(codes: pd.Series) -> pd.Series:
    """Level from the code prefix ('GM0034' -> 'gemeente'); None where unknown."""
    return codes.astype("string").str[:2].map(_PREFIX_LEVEL).astype(object)


def gemeente_of(codes: pd.Series) -> pd.Series:
    c = codes.astype("string")
    sub = c.str[:2].isin(["GM", "WK", "BU"])
    return ("GM" + c.str[2:6]).astype(object).where(sub.fillna(False).to_numpy(), None)


def wijk_of(codes: pd.Series) -> pd.Series:
    c = codes.astype("string")
    return ("WK" + c.str[2:8]).astype(object).where((c.str[:2] == "BU").fillna(False).to_numpy(), None)


_SENTINELS = (-99999999.0, -99999997.0, -99999998.0, -99999996.0, -99999995.0)
_MISSING_PA = pa.array(sorted(MISSING_TOKENS))


def _parse_arrow(arr: pa.Array, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    """Arrow strings -> (float64 array with NaN for missing, bool array of bad cells)."""
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    if decimal_comma:
        arr = pc.if_else(pc.equal(arr, "."), arr, pc.replace_substring(arr, ".", ""))
        arr = pc.replace_substring(arr, ",", ".")
    missing_pa = pc.or_kleene(pc.is_null(arr), pc.is_in(arr, value_set=_MISSING_PA))
    missing = missing_pa.to_numpy(zero_copy_only=False).astype(bool)
    arr = pc.if_else(missing_pa, pa.scalar(None, arr.type), arr)
    try:
        num = np.array(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")
        bad = np.zeros(len(arr), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        num = pd.to_numeric(pd.Series(arr.to_pylist(), dtype=object), errors="coerce").to_numpy(dtype="float64", copy=True)
        bad = np.isnan(num) & ~missing
    sentinel = np.isin(num, _SENTINELS)
    num = np.where(sentinel, np.nan, num)
    return num, bad & ~sentinel


def _to_arrow(values: pd.Series) -> pa.Array:
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array([None if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v)
                        for v in values], type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr


def parse_numbers(values: pd.Series, decimal_comma: bool = False) -> tuple[pd.Series, pd.Series]:
    """Vectorised number parsing. Returns (floats with NaN for missing, mask of bad cells).

    Missing tokens ('.', empty, -99999999 ...) become NaN and are not bad; anything
    else that does not parse is bad and is reported by the caller as a rejection.
    """
    if pd.api.types.is_numeric_dtype(values.dtype):
        num = values.astype("float64")
        num = num.mask(num.isin(_SENTINELS))
        return num, pd.Series(False, index=values.index)
    num, bad = _parse_arrow(_to_arrow(values), decimal_comma)
    return pd.Series(num, index=values.index), pd.Series(bad, index=values.index)


def parse_block(df: pd.DataFrame, cols: list[str], decimal_comma: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
    """Parse many columns in one Arrow pass: (n x k floats, n x k bad mask)."""
    n, k = len(df), len(cols)
    if k == 0 or n == 0:
        return np.full((n, k), np.nan), np.zeros((n, k), dtype=bool)
    arrs = [_to_arrow(df[c]) for c in cols]
    arrs = [a if pa.types.is_string(a.type) else pc.cast(a, pa.string()) for a in arrs]
    num, bad = _parse_arrow(pa.concat_arrays(arrs), decimal_comma)
    return num.reshape((k, n)).T, bad.reshape((k, n)).T


# --------------------------------------------------------------------------- reading files

def read_text_table(path: Path, required: list[str] | None = None, what: str = "CBS table",
                    skiprows: int = 0) -> pd.DataFrame:
    """Read a StatLine CSV (',' or ';', optional BOM, padded cells) as strings.

    Raises InputError for: missing file, empty file, wrong delimiter (one column),
    ragged/truncated lines, and missing required columns (matched by name stem).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", where=str(path), expected=f"a {what} CSV file")
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        head = [fh.readline() for _ in range(skiprows + 1)][-1]
    if not head.strip():
        raise InputError("file is empty or has no header line", where=str(path),
                         expected=f"a {what} CSV with a header row")
    sep = ";" if head.count(";") > head.count(",") else ","
    names = next(csv.reader([head.lstrip("\ufeff")], delimiter=sep))
    if len(names) < 2:
        raise InputError(f"only one column found ({names[0][:60]!r}): wrong delimiter?",
                         where=str(path), expected="fields separated by ',' or ';'")
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"column {dup!r} appears twice in the header", where=str(path),
                         expected="unique column names")
    try:
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(skip_rows=skiprows + 1, column_names=names,
                                                 encoding="utf8"),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        line, nfields = _first_ragged_line(path, sep, len(names), skiprows)
        if line is not None:
            raise InputError(
                f"line {line} has {nfields} fields instead of {len(names)}"
                + ("; the file looks truncated" if nfields < len(names) else ""),
                where=str(path), expected=f"{len(names)} fields on every line") from exc
        raise InputError(f"cannot parse CSV ({str(exc)[:200]})", where=str(path),
                         expected=f"a well-formed {what} CSV") from exc
    table = pa.table({n.strip(): pc.utf8_trim_whitespace(table[n]) for n in names})
    df = table.to_pandas()
    if required:
        stems = {stem_of(c) for c in df.columns}
        lacking = [r for r in required if r not in stems and r not in df.columns]
        if lacking:
            raise InputError(f"missing required column(s) {', '.join(lacking)}; found "
                             f"{', '.join(list(df.columns)[:8])}...", where=str(path),
                             expected=f"a {what}")
    return df


def _first_ragged_line(path: Path, sep: str, n: int, skiprows: int) -> tuple[int | None, int]:
    """(1-based line number, field count) of the first record whose width is not ``n``."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        for i, row in enumerate(reader):
            if i <= skiprows:
                continue
            if row and len(row) != n:
                return reader.line_num, len(row)
    return None, 0


def find_column(df: pd.DataFrame, stem: str, path: Path | str | None = None) -> str:
    """The one column whose stem is ``stem`` (InputError if absent or repeated)."""
    hits = [c for c in df.columns if c == stem or stem_of(c) == stem]
    if len(hits) != 1:
        raise InputError(f"expected exactly one column with stem {stem!r}, found {hits or 'none'}",
                         where=str(path) if path else None)
    return hits[0]


# --------------------------------------------------------------------------- building frames

@dataclass
class VarSpec:
    """One output variable and the column(s) it comes from."""

    variable: str
    value_col: str
    lower_col: str | None = None
    upper_col: str | None = None


def observations_from_wide(df: pd.DataFrame, specs: list[VarSpec], *, area_code: pd.Series,
                           period: pd.Series | str, breakdown: pd.Series | str = "",
                           source: str, lines: np.ndarray, file: str,
                           decimal_comma: bool = False) -> tuple[pd.DataFrame, list[Rejection]]:
    """Melt wide rows into long observations without Python row loops.

    Cells that are missing in value, lower and upper are dropped (long form keeps what is
    known). Non-numeric cells become rejections naming line and column.
    """
    n, k = len(df), len(specs)
    rejections: list[Rejection] = []
    mats = {}
    for role in ("value_col", "lower_col", "upper_col"):
        full = np.full((n, k), np.nan)
        idx = [i for i, spec in enumerate(specs) if getattr(spec, role) is not None]
        cols = [getattr(specs[i], role) for i in idx]
        if cols:
            block, badm = parse_block(df, cols, decimal_comma=decimal_comma)
            full[:, idx] = block
            for r, c in zip(*np.nonzero(badm)):
                rejections.append(Rejection(file, f"line {int(lines[r])}, column {cols[c]}",
                                            f"not a number: {df[cols[c]].iloc[r]!r}"))
        mats[role] = full
    value, lower, upper = (mats[r].ravel() for r in ("value_col", "lower_col", "upper_col"))
    keep = ~(np.isnan(value) & np.isnan(lower) & np.isnan(upper))
    row_idx = np.repeat(np.arange(n), k)[keep]
    var_idx = np.tile(np.arange(k), n)[keep]
    names = np.array([s.variable for s in specs], dtype=object)

    take = pa.array(row_idx)

    def per_row(x) -> pd.Series:
        """Repeat a per-row key column via Arrow (object arrays of 2M strings are slow)."""
        if isinstance(x, str):
            return pd.Series(pd.array(pa.repeat(pa.scalar(x, pa.string()), len(row_idx)), dtype="str"))
        vals = pd.Series(x).astype(object).where(pd.Series(x).notna(), None).tolist()
        return pd.Series(pd.array(pa.array(vals, pa.string()).take(take), dtype="str"))

    var_names = pd.Series(pd.array(pa.array(list(names), pa.string()).take(pa.array(var_idx)),
                                   dtype="str"))
    obs = pd.DataFrame({
        "area_code": per_row(area_code.to_numpy() if isinstance(area_code, pd.Series) else area_code),
        "period": per_row(period.to_numpy() if isinstance(period, pd.Series) else period),
        "variable": var_names,
        "breakdown": per_row(breakdown.to_numpy() if isinstance(breakdown, pd.Series) else breakdown),
        "value": value[keep], "lower": lower[keep], "upper": upper[keep],
        "source": per_row(source),
    }, columns=OBSERVATION_COLUMNS)
    return obs, rejections


def drop_duplicate_keys(df: pd.DataFrame, keys: list[str], lines: np.ndarray, file: str,
                        label: str) -> tuple[pd.DataFrame, np.ndarray, list[Rejection]]:
    """Identical repeated rows are rejected (kept once); conflicting repeats are an InputError."""
    dup = df.duplicated(keys, keep=False).to_numpy()
    if not dup.any():
        return df, lines, []
    sub = df[dup]
    exact_dup = sub.duplicated(keep="first")
    conflicting = sub.drop_duplicates().duplicated(keys, keep=False)
    if conflicting.any():
        first = sub.drop_duplicates()[conflicting].iloc[0]
        ln = lines[np.flatnonzero(dup)]
        raise InputError(
            f"duplicated {label} {', '.join(str(first[k]) for k in keys)} with different values "
            f"(lines {', '.join(str(int(x)) for x in ln[:4])})", where=file,
            expected=f"one row per {label}")
    drop_pos = np.flatnonzero(dup)[exact_dup.to_numpy()]
    rej = [Rejection(file, f"line {int(lines[p])}",
                     f"duplicate of an earlier row for {label} "
                     f"{', '.join(str(df.iloc[p][k]) for k in keys)}") for p in drop_pos]
    mask = np.ones(len(df), dtype=bool)
    mask[drop_pos] = False
    return df[mask], lines[mask], rej


def reject_bad_codes(codes: pd.Series, lines: np.ndarray, file: str) -> tuple[np.ndarray, list[Rejection]]:
    """Mask of rows with a recognisable CBS code; rejections for the others."""
    ok = is_code(codes).to_numpy()
    rej = [Rejection(file, f"line {int(lines[i])}",
                     f"unknown region code pattern {codes.iloc[i]!r} "
                     "(expected NL00, PVxx, GMxxxx, WKxxxxxx or BUxxxxxxxx)")
           for i in np.flatnonzero(~ok)]
    return ok, rej


def areas_frame(codes: pd.Series, levels: pd.Series | None, names: pd.Series | None,
                source: str, vintage: int | None) -> pd.DataFrame:
    codes = codes.reset_index(drop=True).astype(object)
    lv = level_of(codes) if levels is None else levels.reset_index(drop=True).astype(object)
    nm = (pd.Series([None] * len(codes), dtype=object) if names is None
          else names.reset_index(drop=True).astype(object))
    out = pd.DataFrame({
        "code": codes, "level": lv, "name": nm,
        "gemeente_code": gemeente_of(codes), "wijk_code": wijk_of(codes),
        "provincie_code": codes.where(codes.astype(str).str.startswith("PV"), None),
        "vintage": vintage, "geom_rd": None, "source": source,
    }, columns=AREA_COLUMNS)
    out["name"] = out["name"].where(out["name"].notna() & (out["name"].astype(str) != ""), None)
    return out.drop_duplicates("code", keep="first").reset_index(drop=True)


def variables_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=VARIABLE_COLUMNS)
    return df.drop_duplicates("variable", keep="first").reset_index(drop=True)


def provenance(path: Path | str, *, publisher: str, table_id: str, rows_read: int,
               rows_rejected: int, checksum: bool = True) -> dict:
    p = Path(path)
    return {"file": str(path), "sha256": sha256_of(p) if checksum and p.is_file() else None,
            "publisher": publisher, "licence": LICENCE, "table_id": table_id,
            "rows_read": int(rows_read), "rows_rejected": int(rows_rejected),
            "ingested_at": datetime.now(UTC).replace(tzinfo=None)}


def rows_rejected(rejections: list[Rejection]) -> int:
    """Distinct lines that lost data (cell-level rejections count their line once)."""
    return len({r.where.split(",")[0] for r in rejections if r.where.startswith("line")})


def title_from_stem(stem: str) -> str:
    """'ErnstigZeerErnstigEenzaam' -> 'Ernstig zeer ernstig eenzaam' (for tables without metadata)."""
    s = re.sub(r"^k_", "", stem)
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Za-z])(?=\d)", " ", s).split()
    return " ".join([words[0]] + [w.lower() for w in words[1:]]) if words else stem
