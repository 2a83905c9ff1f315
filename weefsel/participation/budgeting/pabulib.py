"""Read and write Pabulib ``.pb`` files (participatory-budgeting elections).

The format (pabulib.org; Stolicki, Szufa & Talmon, arXiv:2012.06539) has three sections,
each introduced by a line ``META``, ``PROJECTS`` or ``VOTES`` followed by a ``;``-separated
header line and one row per entry. META holds ``key;value`` pairs (``budget``, ``vote_type``,
``rule``, ...). PROJECTS has at least ``project_id;cost``; VOTES at least ``voter_id;vote``,
where ``vote`` is a comma-separated list of project ids and, for cumulative and scoring
ballots, ``points`` the matching comma-separated numbers. Ordinal ballots list projects
from most to least preferred. Fields may be quoted CSV-style (``"..."`` with ``""`` inside).

Round trip: :func:`write_pb` of a file read by :func:`read_pb` gives the same bytes. That
works because the reader remembers the original spelling of every row whose canonical
re-serialisation would differ (a field quoted although no quote is needed), the line ending
(``\\n`` or ``\\r\\n``) and whether the file ends with a newline. Documented normalisation for
data built in code (not read from a file): ``\\n`` line endings, a final newline, and fields
quoted only when they contain ``;``, ``"``, or start/end with a space.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from weefsel.errors import InputError

SECTIONS = ("META", "PROJECTS", "VOTES")
VOTE_TYPES = ("approval", "choose-1", "ordinal", "cumulative", "scoring")
#: Ballot types whose VOTES rows carry a ``points`` column.
POINT_TYPES = ("cumulative", "scoring")


def parse_number(text: str, *, where: str, what: str) -> Fraction:
    """A non-negative decimal as an exact Fraction; accepts a decimal comma (``1234,50``)."""
    t = text.strip().replace(" ", "")
    if "," in t and "." not in t and t.count(",") == 1:
        t = t.replace(",", ".")
    try:
        value = Fraction(t)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"{what} {text!r} is not a number", where=where, expected="a decimal number") from None
    return value


def format_number(value: Fraction) -> str:
    """Canonical text of a number: an integer when whole, else a short decimal."""
    if value.denominator == 1:
        return str(value.numerator)
    return repr(float(value))


@dataclass
class Project:
    """One PROJECTS row. ``fields`` holds every column as text (including id and cost)."""

    id: str
    cost: Fraction
    fields: dict[str, str]


@dataclass(slots=True)
class Ballot:
    """One VOTES row: the projects in file order (rank order for ordinal ballots)."""

    voter_id: str
    projects: tuple[str, ...]
    points: tuple[Fraction, ...] | None
    fields: dict[str, str]


@dataclass
class PbFile:
    """A parsed ``.pb`` file. ``meta``/``projects``/``ballots`` keep file order."""

    meta: dict[str, str]
    projects: dict[str, Project]
    ballots: list[Ballot]
    project_columns: list[str]
    vote_columns: list[str]
    meta_header: list[str] = field(default_factory=lambda: ["key", "value"])
    source: str = field(default="<memory>", compare=False)
    newline: str = field(default="\n", compare=False)
    final_newline: bool = field(default=True, compare=False)
    #: canonical row text -> original row text, for rows spelled differently in the source.
    raw_rows: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    #: 0-based line numbers whose line ending differs from ``newline`` (mixed-ending files).
    odd_endings: frozenset[int] = field(default=frozenset(), compare=False, repr=False)

    # --- typed views on META -------------------------------------------------------------
    @property
    def budget(self) -> Fraction:
        return parse_number(self.meta["budget"], where=f"{self.source}: META budget", what="budget")

    @property
    def vote_type(self) -> str:
        return self.meta.get("vote_type", "approval").strip().lower()

    @property
    def rule(self) -> str:
        return self.meta.get("rule", "unknown").strip()

    @property
    def currency(self) -> str:
        return self.meta.get("currency", "EUR").strip()

    def selected(self) -> list[str] | None:
        """The officially funded projects (``selected`` = 1), or None when not published."""
        if "selected" not in self.project_columns:
            return None
        return [p.id for p in self.projects.values() if p.fields.get("selected", "").strip() == "1"]

    def group_budgets(self) -> tuple[str, dict[str, Fraction]] | None:
        """Per-group spending caps the rule must respect, as (project column, {group: cap}).

        ``budget_per_neighborhood`` pairs with META ``neighborhoods`` and the project column
        ``neighborhood``; ``budget_per_category`` with ``categories``/``category``;
        ``budget_per_district`` with ``districts``/``district``. ``max_sum_cost_per_category``
        is a per-ballot constraint, not a rule constraint, so it is not returned here.
        """
        for kind, names_key, column in (
            ("budget_per_neighborhood", "neighborhoods", "neighborhood"),
            ("budget_per_district", "districts", "district"),
            ("budget_per_category", "categories", "category"),
        ):
            if kind in self.meta and names_key in self.meta and column in self.project_columns:
                names = [n.strip() for n in self.meta[names_key].split(",")]
                caps = [parse_number(x, where=f"{self.source}: META {kind}", what=kind)
                        for x in self.meta[kind].split(",")]
                if len(names) != len(caps):
                    raise InputError(
                        f"{kind} has {len(caps)} values but {names_key} names {len(names)} groups",
                        where=f"{self.source}: META",
                    )
                return column, dict(zip(names, caps))
        return None


# --- reading -------------------------------------------------------------------------------

def _split(line: str) -> list[str]:
    if '"' not in line:
        return line.split(";")
    return next(csv.reader([line], delimiter=";", quotechar='"'))


def _needs_quotes(value: str) -> bool:
    return ";" in value or value.startswith('"') or "\n" in value or "\r" in value


def _join(values: list[str]) -> str:
    out = []
    for v in values:
        if _needs_quotes(v):
            out.append('"' + v.replace('"', '""') + '"')
        else:
            out.append(v)
    return ";".join(out)


def read_pb(path: str | Path) -> PbFile:
    """Parse a ``.pb`` file; bad input raises InputError naming the file and line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", where=str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", where=str(path)) from None
    return parse_pb(text, source=str(path))


def parse_pb(text: str, *, source: str = "<text>") -> PbFile:
    """Parse the text of a ``.pb`` file (see :func:`read_pb`)."""
    newline = "\r\n" if "\r\n" in text[:4096] else "\n"
    final_newline = text.endswith("\n")
    lines = text.split("\n")
    if final_newline:
        lines.pop()
    crlf = newline == "\r\n"
    odd = frozenset(i for i, ln in enumerate(lines) if ln.endswith("\r") != crlf)
    lines = [ln.removesuffix("\r") for ln in lines]

    meta: dict[str, str] = {}
    meta_header: list[str] = ["key", "value"]
    projects: dict[str, Project] = {}
    project_lines: dict[str, int] = {}
    raw_ballots: list[tuple[int, list[str]]] = []
    headers: dict[str, list[str]] = {}
    raw_rows: dict[str, str] = {}
    seen: list[str] = []
    section = None
    expect_header = False

    for lineno, line in enumerate(lines, start=1):
        where = f"{source}:{lineno}"
        stripped = line.strip()
        if stripped.upper() in SECTIONS and ";" not in line:
            section = stripped.upper()
            if section in seen:
                raise InputError(f"section {section} appears twice", where=where)
            seen.append(section)
            expect_header = True
            if line != section:
                raw_rows[section] = line
            continue
        if section is None:
            if not stripped:
                continue
            raise InputError("text before the META section", where=where, expected="a first line 'META'")
        row = _split(line)
        if '"' in line:  # only quoted rows can be spelled differently from their canonical form
            canonical = _join(row)
            if canonical != line:
                raw_rows[canonical] = line
        if expect_header:
            headers[section] = [h.strip() for h in row]
            expect_header = False
            if section == "META":
                meta_header = row
            continue
        if not stripped:
            raise InputError("empty line inside a section", where=where)
        if section == "META":
            if len(row) < 2:
                raise InputError("META line without a value", where=where, expected="key;value")
            meta[row[0].strip()] = ";".join(row[1:]) if len(row) > 2 else row[1]
        elif section == "PROJECTS":
            cols = headers["PROJECTS"]
            if len(row) != len(cols):
                raise InputError(f"{len(row)} fields, header has {len(cols)}", where=where)
            fields = dict(zip(cols, row))
            pid = fields.get("project_id", "").strip()
            if not pid:
                raise InputError("empty project_id", where=where)
            if pid in projects:
                raise InputError(f"project {pid} appears twice (first on line {project_lines[pid]})", where=where)
            if "cost" not in fields:
                raise InputError("PROJECTS has no cost column", where=where)
            cost = parse_number(fields["cost"], where=where, what="cost")
            if cost < 0:
                raise InputError(f"negative cost {fields['cost']}", where=where)
            projects[pid] = Project(pid, cost, fields)
            project_lines[pid] = lineno
        else:
            raw_ballots.append((lineno, row))

    for name in SECTIONS:
        if name not in seen:
            raise InputError(f"section {name} is missing", where=source, expected="META, PROJECTS and VOTES")
        if name not in headers:
            raise InputError(f"section {name} has no header line", where=source)
    for col in ("project_id", "cost"):
        if col not in headers["PROJECTS"]:
            raise InputError(f"PROJECTS header lacks '{col}'", where=source)
    for col in ("voter_id", "vote"):
        if col not in headers["VOTES"]:
            raise InputError(f"VOTES header lacks '{col}'", where=source)
    if "budget" not in meta:
        raise InputError("META has no budget", where=source)
    pb = PbFile(meta, projects, [], headers["PROJECTS"], headers["VOTES"], meta_header,
                source=source, newline=newline, final_newline=final_newline, raw_rows=raw_rows,
                odd_endings=odd)
    budget = pb.budget
    if budget <= 0:
        raise InputError(f"budget is {meta['budget']}", where=f"{source}: META budget", expected="a budget above zero")
    vtype = pb.vote_type
    if vtype not in VOTE_TYPES:
        raise InputError(f"unknown vote_type {vtype!r}", where=f"{source}: META vote_type",
                         expected=", ".join(VOTE_TYPES))
    pb.ballots = _ballots(raw_ballots, headers["VOTES"], projects, vtype, source)
    return pb


def _ballots(raw: list[tuple[int, list[str]]], cols: list[str], projects: dict[str, Project],
             vtype: str, source: str) -> list[Ballot]:
    ncols = len(cols)
    i_vote = cols.index("vote")
    i_id = cols.index("voter_id")
    i_points = cols.index("points") if "points" in cols else None
    if vtype in POINT_TYPES and i_points is None:
        raise InputError(f"{vtype} ballots need a 'points' column in VOTES", where=source)
    out: list[Ballot] = []
    seen_ids: set[str] = set()
    known = set(projects)
    for lineno, row in raw:
        if len(row) != ncols:
            raise InputError(f"{len(row)} fields, header has {ncols}", where=f"{source}:{lineno}")
        vid = row[i_id].strip()
        if vid in seen_ids:
            raise InputError(f"voter {vid} appears twice", where=f"{source}:{lineno}")
        seen_ids.add(vid)
        vote = row[i_vote].strip()
        if not vote:
            chosen: tuple[str, ...] = ()
        elif " " in vote:
            chosen = tuple(p.strip() for p in vote.split(","))
        else:
            chosen = tuple(vote.split(","))
        if not known.issuperset(chosen):
            bad = next(p for p in chosen if p not in projects)
            raise InputError(f"vote for unknown project {bad!r}", where=f"{source}:{lineno}",
                             expected="a project_id from PROJECTS")
        points = None
        if i_points is not None and row[i_points].strip():
            where = f"{source}:{lineno}"
            points = tuple(parse_number(x, where=where, what="points") for x in row[i_points].split(","))
            if len(points) != len(chosen):
                raise InputError(f"{len(points)} points for {len(chosen)} projects", where=where)
        elif i_points is not None and vtype in POINT_TYPES and chosen:
            raise InputError("points missing", where=f"{source}:{lineno}")
        out.append(Ballot(vid, chosen, points, dict(zip(cols, row))))
    return out


# --- writing -------------------------------------------------------------------------------

def dumps_pb(pb: PbFile) -> str:
    """The text of ``pb`` in Pabulib format (byte-identical for unchanged files read from disk)."""
    raw = pb.raw_rows

    def emit(values: list[str]) -> str:
        canonical = _join(values)
        return raw.get(canonical, canonical) if raw else canonical

    lines: list[str] = [raw.get("META", "META"), emit(pb.meta_header)]
    for key, value in pb.meta.items():
        lines.append(emit([key, value]))
    lines.append(raw.get("PROJECTS", "PROJECTS"))
    lines.append(emit(pb.project_columns))
    for p in pb.projects.values():
        lines.append(emit([p.fields.get(c, "") for c in pb.project_columns]))
    lines.append(raw.get("VOTES", "VOTES"))
    lines.append(emit(pb.vote_columns))
    for b in pb.ballots:
        lines.append(emit([b.fields.get(c, "") for c in pb.vote_columns]))
    if pb.odd_endings:
        other = "\n" if pb.newline == "\r\n" else "\r\n"
        ends = [other if i in pb.odd_endings else pb.newline for i in range(len(lines))]
        text = "".join(a + b for a, b in zip(lines, ends))
        return text if pb.final_newline else text[: -len(ends[-1])]
    text = pb.newline.join(lines)
    if pb.final_newline:
        text += pb.newline
    return text


def write_pb(pb: PbFile, path: str | Path) -> None:
    """Write ``pb`` atomically (a temporary file renamed into place: never half-written)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(dumps_pb(pb))
    tmp.replace(path)


def build_pb(meta: dict[str, str], projects: list[dict[str, str]], ballots: list[dict[str, str]]) -> PbFile:
    """A PbFile from plain rows (used by the registry export); validated by a parse round trip."""
    pcols: list[str] = ["project_id", "cost"]
    for row in projects:
        pcols += [k for k in row if k not in pcols]
    vcols: list[str] = ["voter_id", "vote"]
    for row in ballots:
        vcols += [k for k in row if k not in vcols]
    lines = ["META", "key;value"] + [_join([k, v]) for k, v in meta.items()]
    lines += ["PROJECTS", _join(pcols)] + [_join([str(r.get(c, "")) for c in pcols]) for r in projects]
    lines += ["VOTES", _join(vcols)] + [_join([str(r.get(c, "")) for c in vcols]) for r in ballots]
    return parse_pb("\n".join(lines) + "\n", source="<export>")
