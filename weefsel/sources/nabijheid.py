"""CBS Nabijheid voorzieningen (85231NED, 2021) as StatLine's transposed CSV export.

Layout (UTF-8 with BOM, ';', decimal comma, '.' = not available)::

    "Nabijheid voorzieningen; afstand locatie, wijk- en buurtcijfers 2021"   <- title
    ""
    "";"";"Wijken en buurten"
    "Onderwerp";"";"Nederland";"Aa en Hunze";...                             <- region names
    "Regioaanduiding|Soort regio";"omschrijving";"Land";"Gemeente";...
    "Regioaanduiding|Codering";"code";"NL00";"GM1680";...
    "Gezondheid en welzijn|Huisartsenpraktijk|Afstand tot huisartsenpraktijk";"km";"1,0";...

One row per variable, one column per region. The variable key is a CamelCase slug of the
last element of the topic path ('AfstandTotHuisartsenpraktijk', the same key as the KWB stem);
counts 'Aantal ...|Binnen 3 km' take the last two elements
('AantalHuisartsenpraktijkenBinnen3Km'); repeats get the parent element as suffix
('AfstandTotZiekenhuis_ZiekenhuisExclBuitenpolikliniek').

The small two-column exports (region *names* only, no codes) cannot be tied to CBS codes
exactly; their rows come back as rejections.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from weefsel.errors import InputError
from weefsel.sources.base import Rejection, SourceFrames
from weefsel.sources.cbs_common import (
    PUBLISHER_CBS,
    SOORT_REGIO_LEVEL,
    VarSpec,
    areas_frame,
    is_code,
    level_of,
    normalise_codes,
    observations_from_wide,
    provenance,
    rows_rejected,
    slug,
    variables_frame,
)

TABLE_ID = "85231NED"
_IDENTITY_PREFIX = "Regioaanduiding|"


def _key_for(path_parts: list[str]) -> str:
    last = path_parts[-1]
    if re.match(r"(?i)^binnen\s", last) and len(path_parts) >= 2:
        return slug(path_parts[-2]) + slug(last)
    return slug(last)


def variable_keys(topics: list[str]) -> list[str]:
    """Keys for topic paths ('A|B|C'), disambiguated by the parent element where they repeat."""
    parts = [t.split("|") for t in topics]
    keys = [_key_for(p) for p in parts]
    counts = Counter(keys)
    out = []
    for k, p in zip(keys, parts):
        if counts[k] > 1:
            parent = p[-3] if re.match(r"(?i)^binnen\s", p[-1]) and len(p) >= 3 else (p[-2] if len(p) >= 2 else "")
            k = f"{k}_{slug(parent)}" if parent else k
        out.append(k)
    dup = Counter(out)
    seen: Counter = Counter()
    final = []
    for k in out:
        seen[k] += 1
        final.append(k if dup[k] == 1 else f"{k}_o{seen[k]}")
    return final


def load_nabijheid_csv(path: Path) -> SourceFrames:
    """Parse the transposed StatLine export into long observations (units km / aantal)."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise InputError("file not found", where=file, expected="a StatLine 85231NED CSV export")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    if not rows or all(len(r) <= 1 for r in rows):
        raise InputError("no ';'-separated fields found: wrong delimiter or not a StatLine export",
                         where=file, expected="a ';'-separated StatLine CSV export")
    out = SourceFrames(source=TABLE_ID)
    title = rows[0][0] if rows[0] else ""
    m = re.search(r"(20\d\d)\s*$", title.strip())
    header_i = next((i for i, r in enumerate(rows) if r and r[0].strip() == "Onderwerp"), None)
    if header_i is None:
        if rows[0] and rows[0][0].strip() == "Wijken en buurten" and len(rows[0]) == 2:
            out.rows_read = len(rows) - 1
            out.rejections = [Rejection(file, f"line {i + 2}",
                                        f"region given by name only ({r[0]!r}); names are not unique "
                                        "across gemeenten, so it cannot be tied to a CBS code")
                              for i, r in enumerate(rows[1:]) if r]
            out.provenance = [provenance(path, publisher=PUBLISHER_CBS, table_id=TABLE_ID,
                                         rows_read=out.rows_read, rows_rejected=len(out.rejections))]
            return out
        raise InputError("no 'Onderwerp' header line", where=file,
                         expected="the transposed StatLine export (title, blank line, 'Onderwerp' header)")
    if not m:
        raise InputError(f"cannot read the year from the title line {title!r}", where=file,
                         expected="a title ending in the year, e.g. '... buurtcijfers 2021'")
    period = m.group(1)
    header = rows[header_i]
    ncols = len(header)
    body = [(i + 1, r) for i, r in enumerate(rows) if i > header_i and r and any(x.strip() for x in r)]
    lines_meta = {r[0]: (ln, r) for ln, r in body if r[0].startswith(_IDENTITY_PREFIX)}
    if f"{_IDENTITY_PREFIX}Codering" not in lines_meta:
        raise InputError("no 'Regioaanduiding|Codering' line", where=file,
                         expected="region codes in the export (select 'Codering' when exporting)")
    data = []
    for ln, r in body:
        if r[0].startswith(_IDENTITY_PREFIX):
            continue
        if len(r) == 1 and r[0].startswith("Bron"):
            continue  # footer: "Bron: CBS"
        if len(r) != ncols:
            raise InputError(f"line {ln} has {len(r)} fields, the header has {ncols}: truncated file?",
                             where=file, expected=f"{ncols} fields per line")
        data.append((ln, r))
    if not data:
        raise InputError("no variable lines after the header", where=file)
    codes = normalise_codes(pd.Series([c.strip() for c in lines_meta[f"{_IDENTITY_PREFIX}Codering"][1][2:]]))
    names = pd.Series([n.strip() for n in header[2:]], dtype=object)
    soort_line = lines_meta.get(f"{_IDENTITY_PREFIX}Soort regio")
    levels = (pd.Series([s.strip().lower() for s in soort_line[1][2:]]).map(SOORT_REGIO_LEVEL)
              if soort_line else level_of(codes))
    rejections: list[Rejection] = []
    okcode = is_code(codes).to_numpy() & (levels.astype(object).to_numpy() == level_of(codes).to_numpy())
    for j in np.flatnonzero(~okcode):
        rejections.append(Rejection(file, f"column {j + 3}", f"region code {codes.iloc[j]!r} unknown or not "
                                    "matching its Soort regio"))
    if pd.Series(codes[okcode]).duplicated().any():
        dupc = pd.Series(codes[okcode])[pd.Series(codes[okcode]).duplicated()].iloc[0]
        raise InputError(f"region code {dupc} appears in two columns", where=file,
                         expected="one column per region")
    topics = [r[0] for _, r in data]
    units = [r[1].strip() or None for _, r in data]
    keys = variable_keys(topics)
    # Transpose: one row per region, one column per variable.
    matrix = np.array([r[2:] for _, r in data], dtype=object).T
    wide = pd.DataFrame(matrix, columns=[f"v{i}" for i in range(len(data))])
    wide = wide[okcode].reset_index(drop=True)
    specs = [VarSpec(k, f"v{i}") for i, k in enumerate(keys)]
    col_lines = np.array([j + 3 for j in np.flatnonzero(okcode)])  # report 'column N' as line
    obs, rej = observations_from_wide(wide, specs, area_code=codes[okcode].reset_index(drop=True),
                                      period=period, source=TABLE_ID, lines=col_lines, file=file,
                                      decimal_comma=True)
    for r in rej:  # the matrix is transposed: say which variable line and region column
        col = int(r.where.split(",")[0].split()[1])
        vi = int(r.where.split("column v")[1])
        r.where = f"line {data[vi][0]}, column {col}"
    rejections += rej
    out.areas = areas_frame(codes[okcode].reset_index(drop=True), levels[okcode].reset_index(drop=True),
                            names[okcode].reset_index(drop=True), TABLE_ID, int(period))
    out.observations = obs
    out.variables = variables_frame([
        {"variable": k, "stem": k, "title": t.split("|")[-1] if not re.match(r"(?i)^binnen\s", t.split("|")[-1])
         else " ".join(t.split("|")[-2:]), "unit": u, "description": f"85231NED topic path: {t}",
         "source_table": TABLE_ID, "topic": " / ".join(t.split("|")[:-1]) or None}
        for k, t, u in zip(keys, topics, units)])
    out.rejections = rejections
    out.rows_read = len(data)
    out.provenance = [provenance(path, publisher=PUBLISHER_CBS, table_id=TABLE_ID, rows_read=len(data),
                                 rows_rejected=rows_rejected(rejections))]
    return out
