"""Read the Sortition Foundation format: ``categories.csv`` and ``respondents.csv``.

categories.csv has columns ``category,feature,min,max``; respondents.csv has one row per
volunteer with one column per category (optionally an id column and a household/address
column). Everything is validated here, at the edge, with errors naming file, row and column.
"""

from __future__ import annotations

import csv
from pathlib import Path

from weefsel.errors import InputError
from weefsel.participation.sortition.model import Instance, Quota

ID_COLUMNS = ("id", "nationbuilder_id", "person_id", "respondent_id", "ID")


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError("file not found", where=str(path))
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", where=str(path)) from None


def _parse_rows(text: str, where: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV text (comma, semicolon or tab separated)."""
    text = text.lstrip("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise InputError("empty file, no header row", where=where)
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            for row in reader]
    return header, rows


def read_categories(path: str | Path, *, text: str | None = None) -> list[Quota]:
    """Quotas from categories.csv (or its ``text``); min/max integers with 0 ≤ min ≤ max."""
    path = Path(path)
    header, rows = _parse_rows(_read_text(path) if text is None else text, str(path))
    missing = [c for c in ("category", "feature", "min", "max") if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", where=str(path),
                         expected="header category,feature,min,max")
    quotas: list[Quota] = []
    seen: set[tuple[str, str]] = set()
    for r, row in enumerate(rows, start=2):
        where = f"{path}, row {r}"
        if not row["category"] or not row["feature"]:
            raise InputError("empty category or feature", where=where)
        try:
            lo, hi = int(row["min"]), int(row["max"])
        except ValueError:
            raise InputError(f"min/max not whole numbers: {row['min']!r}, {row['max']!r}",
                             where=f"{where}, column min/max") from None
        if lo < 0 or hi < lo:
            raise InputError(f"need 0 ≤ min ≤ max, got min={lo} max={hi}", where=where)
        key = (row["category"], row["feature"])
        if key in seen:
            raise InputError(f"duplicate quota for {key[0]}={key[1]}", where=where)
        seen.add(key)
        quotas.append(Quota(row["category"], row["feature"], lo, hi))
    if not quotas:
        raise InputError("no quotas", where=str(path))
    return quotas


def read_respondents(path: str | Path, quotas: list[Quota], *, id_column: str | None = None,
                     household_column: str | None = None, text: str | None = None
                     ) -> tuple[list[str], list[dict[str, str]], list[str | None] | None]:
    """People from respondents.csv (or its ``text``): ids, features, households (or None)."""
    path = Path(path)
    header, rows = _parse_rows(_read_text(path) if text is None else text, str(path))
    categories = list(dict.fromkeys(q.category for q in quotas))
    missing = [c for c in categories if c not in header]
    if missing:
        raise InputError(f"missing category column(s) {', '.join(missing)}", where=str(path),
                         expected=f"one column per category in categories.csv ({', '.join(categories)})")
    if household_column and household_column not in header:
        raise InputError(f"household column {household_column!r} not found", where=str(path),
                         expected=f"one of {', '.join(header)}")
    if id_column is None:
        id_column = next((c for c in ID_COLUMNS if c in header), None)
    elif id_column not in header:
        raise InputError(f"id column {id_column!r} not found", where=str(path))
    features = {c: {q.feature for q in quotas if q.category == c} for c in categories}
    ids: list[str] = []
    people: list[dict[str, str]] = []
    households: list[str | None] = []
    for r, row in enumerate(rows, start=2):
        person = {}
        for c in categories:
            value = row.get(c, "")
            if value not in features[c]:
                raise InputError(f"unknown value {value!r} for category {c!r}",
                                 where=f"{path}, row {r}, column {c}",
                                 expected=f"one of {', '.join(sorted(features[c]))}")
            person[c] = value
        pid = row[id_column] if id_column else str(r - 1)
        if not pid:
            raise InputError("empty id", where=f"{path}, row {r}, column {id_column}")
        ids.append(pid)
        people.append(person)
        households.append(row.get(household_column) or None if household_column else None)
    if not people:
        raise InputError("no respondents", where=str(path))
    dupes = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if dupes:
        raise InputError(f"duplicate id(s): {', '.join(dupes[:5])}", where=f"{path}, column {id_column}")
    return ids, people, households if household_column else None


def check_at_a_glance(inst: Instance, where: str = "categories.csv") -> None:
    """Reject quotas no panel can meet, saying which category and by how many people."""
    if inst.k <= 0:
        raise InputError(f"panel size k must be positive, got {inst.k}", where="--k")
    if inst.k > inst.n:
        raise InputError(f"panel size k={inst.k} exceeds the pool ({inst.n} people)", where="--k")
    counts = inst.membership().sum(axis=1)
    for q, have in zip(inst.quotas, counts):
        if have < q.min:
            raise InputError(
                f"quota {q.category}={q.feature} needs at least {q.min} but the pool has only "
                f"{int(have)} (short by {q.min - int(have)} people)", where=where)
    for c in inst.categories:
        qs = [q for q in inst.quotas if q.category == c]
        lo = sum(q.min for q in qs)
        hi = sum(min(q.max, int(counts[inst.quotas.index(q)])) for q in qs)
        if lo > inst.k:
            raise InputError(f"category {c!r}: the minimums add up to {lo} > panel size {inst.k} "
                             f"(over by {lo - inst.k} people)", where=where)
        if hi < inst.k:
            raise InputError(f"category {c!r}: at most {hi} people can be selected within the maximums "
                             f"and the pool, panel size is {inst.k} (short by {inst.k - hi} people)",
                             where=where)


def load_instance(categories: str | Path, respondents: str | Path, k: int, *,
                  household_column: str | None = None, id_column: str | None = None,
                  categories_text: str | None = None, respondents_text: str | None = None) -> Instance:
    """Read and validate both files; raise InputError before any algorithm runs.

    With ``*_text`` the CSV content is given directly (web uploads) and the paths only
    name the files in error messages.
    """
    quotas = read_categories(categories, text=categories_text)
    ids, people, households = read_respondents(respondents, quotas, id_column=id_column,
                                               household_column=household_column,
                                               text=respondents_text)
    inst = Instance(ids=ids, people=people, quotas=quotas, k=k, households=households,
                    source=f"{categories} + {respondents}")
    check_at_a_glance(inst, where=str(categories))
    return inst


def write_categories(quotas: list[Quota], path: str | Path) -> None:
    """Write quotas as categories.csv (category,feature,min,max), the file ``load_instance`` reads."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["category", "feature", "min", "max"])
        for q in quotas:
            w.writerow([q.category, q.feature, q.min, q.max])
    tmp.replace(path)                     # nothing half-written
