"""The registry: what residents and organisers enter (never touched by a warehouse rebuild).

SQLAlchemy Core on SQLite by default (``weefsel.config.DEFAULT_REGISTRY_URL``), any
SQLAlchemy URL (e.g. PostgreSQL) otherwise. Privacy by design: a ballot holds a random
ballot id, the chosen project ids and, only if the organiser asked for it, a district.
Voting codes (tokens) are stored as SHA-256 hashes in a separate table and are not linked
to the ballot they were used for. No names or e-mail addresses are stored or logged; the
audit log records actions and ids only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from fractions import Fraction

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from weefsel.config import DEFAULT_REGISTRY_URL
from weefsel.errors import InputError

metadata = MetaData()

processes = Table(
    "pb_processes", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, default=""),
    Column("area_code", String(20)),
    Column("budget", String(40), nullable=False),          # exact decimal text
    Column("currency", String(8), default="EUR"),
    Column("rule", String(60), default="equalshares/add1"),
    Column("max_choices", Integer),                          # Pabulib max_length
    Column("ask_district", Boolean, default=False),
    Column("require_code", Boolean, default=True),
    Column("phase", String(20), default="voorstellen"),      # voorstellen, controle, stemmen, gesloten
    Column("organiser_hash", String(64), nullable=False),
    Column("created_at", String(32)),
)

projects = Table(
    "pb_projects", metadata,
    Column("id", Integer, primary_key=True),
    Column("process_id", Integer, ForeignKey("pb_processes.id"), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, default=""),
    Column("cost", String(40), nullable=False),
    Column("lat", Float),
    Column("lon", Float),
    Column("area_code", String(20)),
    Column("status", String(20), default="proposed"),        # proposed, checked, rejected, on_ballot
    Column("check_note", Text, default=""),
    Column("created_at", String(32)),
)

ballots = Table(
    "pb_ballots", metadata,
    Column("id", Integer, primary_key=True),
    Column("process_id", Integer, ForeignKey("pb_processes.id"), nullable=False, index=True),
    Column("ballot_id", String(32), nullable=False, unique=True),   # random, the Pabulib voter_id
    Column("district", String(100)),
    Column("choices", Text, nullable=False),                         # comma-separated project ids
)

voting_codes = Table(
    "pb_voting_codes", metadata,
    Column("id", Integer, primary_key=True),
    Column("process_id", Integer, ForeignKey("pb_processes.id"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("used", Boolean, default=False),
)

audit_log = Table(
    "pb_audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("process_id", Integer),
    Column("at", String(32)),
    Column("action", String(40), nullable=False),
    Column("detail", Text, default=""),                               # ids and counts only
)

PROJECT_STATUSES = ("proposed", "checked", "rejected", "on_ballot")
PHASES = ("voorstellen", "controle", "stemmen", "gesloten")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _amount(text: str | float, what: str) -> str:
    try:
        value = Fraction(str(text).strip().replace(",", "."))
    except (ValueError, ZeroDivisionError):
        raise InputError(f"{what} {text!r} is geen bedrag", expected="a number such as 12500") from None
    if value <= 0:
        raise InputError(f"{what} moet groter dan nul zijn, niet {text}")
    return str(value.numerator) if value.denominator == 1 else str(float(value))


class Registry:
    """Small store for burgerbegroting processes; every method is one transaction."""

    def __init__(self, url: str = DEFAULT_REGISTRY_URL, engine: Engine | None = None):
        self.engine = engine or create_engine(url, future=True)
        metadata.create_all(self.engine)

    # --- processes ------------------------------------------------------------------------
    def create_process(self, name: str, budget: str | int, *, description: str = "", area_code: str | None = None,
                       currency: str = "EUR", rule: str = "equalshares/add1", max_choices: int | None = None,
                       ask_district: bool = False, require_code: bool = True) -> tuple[int, str]:
        """Create a process; returns (id, organiser token). The token is shown once, stored hashed."""
        if not name.strip():
            raise InputError("naam ontbreekt")
        from weefsel.participation.budgeting.rules import normalise_rule
        normalise_rule(rule)
        token = secrets.token_urlsafe(16)
        with self.engine.begin() as c:
            pid = c.execute(insert(processes).values(
                name=name.strip(), description=description, area_code=area_code, budget=_amount(budget, "budget"),
                currency=currency, rule=rule, max_choices=max_choices, ask_district=ask_district,
                require_code=require_code, phase="voorstellen", organiser_hash=_hash(token), created_at=_now(),
            )).inserted_primary_key[0]
            self._log(c, pid, "process_created", f"rule={rule}")
        return int(pid), token

    def process(self, pid: int) -> dict:
        with self.engine.connect() as c:
            row = c.execute(select(processes).where(processes.c.id == pid)).mappings().first()
        if row is None:
            raise InputError(f"burgerbegroting {pid} bestaat niet")
        out = dict(row)
        out.pop("organiser_hash")
        return out

    def list_processes(self) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(processes).order_by(processes.c.id)).mappings().all()
        return [{k: v for k, v in r.items() if k != "organiser_hash"} for r in rows]

    def _check_organiser(self, c, pid: int, token: str) -> None:
        h = c.execute(select(processes.c.organiser_hash).where(processes.c.id == pid)).scalar()
        if h is None:
            raise InputError(f"burgerbegroting {pid} bestaat niet")
        if not secrets.compare_digest(h, _hash(token or "")):
            self._log(c, pid, "organiser_denied", "")
            raise InputError("organisatiecode klopt niet")

    def set_phase(self, pid: int, phase: str, organiser_token: str) -> None:
        if phase not in PHASES:
            raise InputError(f"onbekende fase {phase!r}", expected=", ".join(PHASES))
        with self.engine.begin() as c:
            self._check_organiser(c, pid, organiser_token)
            c.execute(update(processes).where(processes.c.id == pid).values(phase=phase))
            self._log(c, pid, "phase", phase)

    # --- projects -------------------------------------------------------------------------
    def propose(self, pid: int, title: str, cost: str | int, *, description: str = "", lat: float | None = None,
                lon: float | None = None, area_code: str | None = None) -> int:
        """A resident proposes a project (with a location: lat/lon in WGS84 or an area code)."""
        if not title.strip():
            raise InputError("titel ontbreekt")
        if (lat is None) != (lon is None):
            raise InputError("geef zowel breedtegraad als lengtegraad, of geen van beide")
        if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(f"locatie {lat},{lon} bestaat niet", expected="WGS84 lat/lon")
        proc = self.process(pid)
        if proc["phase"] != "voorstellen":
            raise InputError("voorstellen kan niet meer: de fase is " + proc["phase"])
        with self.engine.begin() as c:
            prid = c.execute(insert(projects).values(
                process_id=pid, title=title.strip(), description=description, cost=_amount(cost, "kosten"),
                lat=lat, lon=lon, area_code=area_code, status="proposed", created_at=_now(),
            )).inserted_primary_key[0]
            self._log(c, pid, "project_proposed", f"project={prid}")
        return int(prid)

    def check(self, pid: int, project_id: int, status: str, organiser_token: str, note: str = "") -> None:
        """The organiser checks a proposal: checked, rejected (with a reason) or on_ballot."""
        if status not in PROJECT_STATUSES:
            raise InputError(f"onbekende status {status!r}", expected=", ".join(PROJECT_STATUSES))
        with self.engine.begin() as c:
            self._check_organiser(c, pid, organiser_token)
            n = c.execute(update(projects).where(projects.c.id == project_id, projects.c.process_id == pid)
                          .values(status=status, check_note=note)).rowcount
            if n != 1:
                raise InputError(f"project {project_id} hoort niet bij burgerbegroting {pid}")
            self._log(c, pid, "project_checked", f"project={project_id} status={status}")

    def projects(self, pid: int, status: str | None = None) -> list[dict]:
        q = select(projects).where(projects.c.process_id == pid).order_by(projects.c.id)
        if status:
            q = q.where(projects.c.status == status)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings().all()]

    # --- voting ---------------------------------------------------------------------------
    def issue_codes(self, pid: int, n: int, organiser_token: str) -> list[str]:
        """n one-time voting codes for letters or cards; only their hashes are stored."""
        if not 0 < n <= 100_000:
            raise InputError(f"aantal codes {n} buiten 1..100000")
        codes = [secrets.token_urlsafe(9) for _ in range(n)]
        with self.engine.begin() as c:
            self._check_organiser(c, pid, organiser_token)
            c.execute(insert(voting_codes), [{"process_id": pid, "code_hash": _hash(k), "used": False} for k in codes])
            self._log(c, pid, "codes_issued", f"n={n}")
        return codes

    def vote(self, pid: int, project_ids: list[int], *, code: str | None = None, district: str | None = None) -> str:
        """Store one ballot; returns the random ballot id (the receipt). Nothing personal is kept."""
        proc = self.process(pid)
        if proc["phase"] != "stemmen":
            raise InputError("stemmen kan nu niet: de fase is " + proc["phase"])
        on_ballot = {p["id"] for p in self.projects(pid, "on_ballot")}
        chosen = sorted({int(p) for p in project_ids})
        if not chosen:
            raise InputError("kies minstens één project")
        unknown = [p for p in chosen if p not in on_ballot]
        if unknown:
            raise InputError(f"project(en) {unknown} staan niet op het stembiljet")
        if proc["max_choices"] and len(chosen) > proc["max_choices"]:
            raise InputError(f"te veel keuzes: {len(chosen)}, hoogstens {proc['max_choices']}")
        ballot_id = secrets.token_hex(8)
        with self.engine.begin() as c:
            if proc["require_code"]:
                n = c.execute(update(voting_codes).where(
                    voting_codes.c.process_id == pid, voting_codes.c.code_hash == _hash(code or ""),
                    voting_codes.c.used.is_(False)).values(used=True)).rowcount
                if n != 1:
                    raise InputError("stemcode onbekend of al gebruikt")
            c.execute(insert(ballots).values(process_id=pid, ballot_id=ballot_id,
                                             district=(district or None) if proc["ask_district"] else None,
                                             choices=",".join(str(p) for p in chosen)))
            self._log(c, pid, "ballot_cast", "")
        return ballot_id

    def ballot_count(self, pid: int) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(ballots).where(ballots.c.process_id == pid)).scalar())

    # --- results --------------------------------------------------------------------------
    def to_pb(self, pid: int):
        """The process as a Pabulib file (projects on the ballot, all ballots)."""
        from weefsel.participation.budgeting.pabulib import build_pb

        proc = self.process(pid)
        prj = self.projects(pid, "on_ballot")
        with self.engine.connect() as c:
            rows = c.execute(select(ballots).where(ballots.c.process_id == pid).order_by(ballots.c.id)).mappings().all()
        votes: dict[str, int] = {}
        for r in rows:
            for p in r["choices"].split(","):
                votes[p] = votes.get(p, 0) + 1
        meta = {"description": proc["name"], "country": "Netherlands", "unit": proc["area_code"] or "",
                "instance": str(pid), "num_projects": str(len(prj)), "num_votes": str(len(rows)),
                "budget": proc["budget"], "vote_type": "approval", "rule": proc["rule"], "language": "nl",
                "currency": proc["currency"]}
        if proc["max_choices"]:
            meta["max_length"] = str(proc["max_choices"])
        prow = []
        for p in prj:
            row = {"project_id": str(p["id"]), "cost": p["cost"], "votes": str(votes.get(str(p["id"]), 0)),
                   "name": p["title"]}
            if p["lat"] is not None:
                row["latitude"], row["longitude"] = repr(p["lat"]), repr(p["lon"])
            prow.append(row)
        brow = []
        for r in rows:
            b = {"voter_id": r["ballot_id"], "vote": r["choices"]}
            if proc["ask_district"]:
                b["district"] = r["district"] or ""
            brow.append(b)
        return build_pb(meta, prow, brow)

    def export_pb(self, pid: int) -> str:
        from weefsel.participation.budgeting.pabulib import dumps_pb
        text = dumps_pb(self.to_pb(pid))
        with self.engine.begin() as c:
            self._log(c, pid, "exported", "")
        return text

    def audit(self, pid: int | None = None) -> list[dict]:
        q = select(audit_log).order_by(audit_log.c.id)
        if pid is not None:
            q = q.where(audit_log.c.process_id == pid)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings().all()]

    @staticmethod
    def _log(c, pid: int | None, action: str, detail: str) -> None:
        c.execute(insert(audit_log).values(process_id=pid, at=_now(), action=action, detail=detail))
