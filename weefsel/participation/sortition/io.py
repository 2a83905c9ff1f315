"""Read the Sortition Foundation format: ``categories.csv`` and ``respondents.csv``.

categories.csv has columns ``category,feature,min,max``; respondents.csv has one row per
volunteer with one column per category (optionally an id column and a household/address
column). Everything is validated here, at the edge, with errors naming file, row and column.
The messages are Dutch: the burgerberaad web pages (/api/beraad/) show them to the organiser
as they are, and the CLI uses the same ones. ``_expect`` words the expected form in Dutch
(``InputError(expected=...)`` would add English).
"""

from __future__ import annotations

import csv
from pathlib import Path

from weefsel.errors import InputError
from weefsel.participation.sortition.model import Instance, Quota

ID_COLUMNS = ("id", "nationbuilder_id", "person_id", "respondent_id", "ID")


def _expect(text: str) -> str:
    return f" (verwacht: {text})"


def _row(path: Path | str, r: int, column: str | None = None) -> str:
    """Where in a file, in Dutch: 'respondents.csv, rij 12, kolom geslacht'."""
    return f"{path}, rij {r}" + (f", kolom {column}" if column else "")


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError("bestand niet gevonden", where=str(path))
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"geen UTF-8-tekst ({exc.reason})", where=str(path)) from None


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
        raise InputError("leeg bestand, geen kopregel", where=where)
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            for row in reader]
    return header, rows


def read_categories(path: str | Path, *, text: str | None = None) -> list[Quota]:
    """Quotas from categories.csv (or its ``text``); min/max integers with 0 ≤ min ≤ max."""
    path = Path(path)
    header, rows = _parse_rows(_read_text(path) if text is None else text, str(path))
    missing = [c for c in ("category", "feature", "min", "max") if c not in header]
    if missing:
        raise InputError(f"kolom(men) ontbreken: {', '.join(missing)}"
                         + _expect("kopregel category,feature,min,max"), where=str(path))
    quotas: list[Quota] = []
    seen: set[tuple[str, str]] = set()
    for r, row in enumerate(rows, start=2):
        where = _row(path, r)
        if not row["category"] or not row["feature"]:
            raise InputError("category of feature is leeg", where=where)
        try:
            lo, hi = int(row["min"]), int(row["max"])
        except ValueError:
            raise InputError(f"min/max zijn geen gehele getallen: {row['min']!r}, {row['max']!r}",
                             where=_row(path, r, "min/max")) from None
        if lo < 0 or hi < lo:
            raise InputError(f"nodig is 0 ≤ min ≤ max, maar min={lo} en max={hi}", where=where)
        key = (row["category"], row["feature"])
        if key in seen:
            raise InputError(f"dubbel quotum voor {key[0]}={key[1]}", where=where)
        seen.add(key)
        quotas.append(Quota(row["category"], row["feature"], lo, hi))
    if not quotas:
        raise InputError("geen quota (alleen een kopregel)", where=str(path))
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
        raise InputError(f"categoriekolom(men) ontbreken: {', '.join(missing)}"
                         + _expect(f"één kolom per categorie uit categories.csv ({', '.join(categories)})"),
                         where=str(path))
    if household_column and household_column not in header:
        raise InputError(f"huishouden-kolom {household_column!r} niet gevonden"
                         + _expect(f"een van {', '.join(header)}"), where=str(path))
    if id_column is None:
        id_column = next((c for c in ID_COLUMNS if c in header), None)
    elif id_column not in header:
        raise InputError(f"id-kolom {id_column!r} niet gevonden", where=str(path))
    features = {c: {q.feature for q in quotas if q.category == c} for c in categories}
    ids: list[str] = []
    people: list[dict[str, str]] = []
    households: list[str | None] = []
    for r, row in enumerate(rows, start=2):
        person = {}
        for c in categories:
            value = row.get(c, "")
            if value not in features[c]:
                raise InputError(f"onbekende waarde {value!r} voor categorie {c!r}"
                                 + _expect(f"een van {', '.join(sorted(features[c]))}"),
                                 where=_row(path, r, c))
            person[c] = value
        pid = row[id_column] if id_column else str(r - 1)
        if not pid:
            raise InputError("lege id", where=_row(path, r, id_column))
        ids.append(pid)
        people.append(person)
        households.append(row.get(household_column) or None if household_column else None)
    if not people:
        raise InputError("geen aanmelders (alleen een kopregel)", where=str(path))
    dupes = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if dupes:
        raise InputError(f"dubbele id('s): {', '.join(dupes[:5])}", where=f"{path}, kolom {id_column}")
    return ids, people, households if household_column else None


def check_at_a_glance(inst: Instance, where: str = "categories.csv") -> None:
    """Reject quotas no panel can meet, saying which category and by how many people."""
    if inst.k <= 0:
        raise InputError(f"panelgrootte k moet positief zijn, niet {inst.k}", where="--k")
    if inst.k > inst.n:
        raise InputError(f"panelgrootte k={inst.k} is groter dan de pool ({inst.n} mensen)", where="--k")
    counts = inst.membership().sum(axis=1)
    for q, have in zip(inst.quotas, counts):
        if have < q.min:
            raise InputError(
                f"quotum {q.category}={q.feature} vraagt er minstens {q.min}, maar de pool heeft er "
                f"maar {int(have)} ({q.min - int(have)} te weinig)", where=where)
    for c in inst.categories:
        qs = [q for q in inst.quotas if q.category == c]
        lo = sum(q.min for q in qs)
        hi = sum(min(q.max, int(counts[inst.quotas.index(q)])) for q in qs)
        if lo > inst.k:
            raise InputError(f"categorie {c!r}: de minima tellen op tot {lo} > panelgrootte {inst.k} "
                             f"({lo - inst.k} te veel)", where=where)
        if hi < inst.k:
            raise InputError(f"categorie {c!r}: binnen de maxima en de pool kunnen hoogstens {hi} mensen "
                             f"geloot worden, de panelgrootte is {inst.k} ({inst.k - hi} te weinig)",
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
