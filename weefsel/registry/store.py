"""The burgerbegroting in the one operational store (never touched by a warehouse rebuild).

Its ``pb_*`` tables live beside the registry's ``reg_*`` tables in the same database, are
created and upgraded by the numbered migrations of :mod:`weefsel.registry.ops` (migration 3)
and reached through the same engine factory: SQLite by default
(``weefsel.config.DEFAULT_REGISTRY_URL``, WAL), PostgreSQL by URL. Privacy by design:

* a ballot holds a random ballot id (the Pabulib ``voter_id``), the chosen project ids and,
  only if the organiser asked for it, a district;
* voting codes are stored as SHA-256 hashes in their own table, not linked to the ballot
  they were used for; in the "open" eligibility mode the same table holds the hash of a
  random browser token (one vote per browser);
* the voter's receipt is a second random token, unrelated to the ballot id; only its hash
  is stored, in a table of counted receipts that is published sorted by hash, so a voter can
  check that the ballot counted and nobody can find the ballot from the receipt;
* ballots, the ``.pb`` export and results are hidden until the vote closes unless the
  organiser chose to show running results (``results_public``);
* no names, e-mail addresses, codes or receipts are stored in clear or logged; the audit
  log records actions and ids only.

Receipt rows get random ids, so not even the database's row order pairs a receipt with a
ballot. Whoever mails the letters knows which address got which code, and so (from the
``used`` flag) whether, never how, that address voted.
"""

from __future__ import annotations

import re
import secrets
from fractions import Fraction

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from weefsel.errors import InputError
from weefsel.participation.amounts import SYMBOLS, canonical, parse_amount, parse_count
from weefsel.registry.ops import CODE_RE, clean_text, make_engine, migrate, store_url
from weefsel.registry.ops import _iso as _now
from weefsel.registry.ops import _sha as _hash
from weefsel.registry.ops import meta as metadata

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
    Column("require_code", Boolean, default=True),           # kept in step with eligibility
    Column("phase", String(20), default="voorstellen"),      # voorstellen, controle, stemmen, gesloten
    Column("organiser_hash", String(64), nullable=False),
    Column("created_at", String(32)),
    Column("eligibility", String(20), default="codes"),      # codes | open
    Column("results_public", Boolean, default=False),        # running results during the vote
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

receipts = Table(
    "pb_receipts", metadata,
    # a random id (not a counter): the row order must not pair the nth receipt with the nth ballot
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("process_id", Integer, ForeignKey("pb_processes.id"), nullable=False, index=True),
    Column("receipt_hash", String(64), nullable=False, unique=True),  # sha256 of the receipt, no ballot link
)

audit_log = Table(
    "pb_audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("process_id", Integer),
    Column("at", String(32)),
    Column("action", String(40), nullable=False),
    Column("detail", Text, default=""),                               # ids and counts only
)

#: Created by migration 3 (parents first).
PB_TABLES = [processes, projects, ballots, voting_codes, receipts, audit_log]

PROJECT_STATUSES = ("proposed", "checked", "rejected", "on_ballot")
PHASES = ("voorstellen", "controle", "stemmen", "gesloten")
#: How a resident shows they may vote: a code from a letter, or one vote per browser.
ELIGIBILITY = ("codes", "open")
#: Characters of codes and receipts: no 0/O, 1/I/L, so they can be typed from paper.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MAX_CODES = 100_000
MAX_CHOICES = 1000
#: Proposals per process: an anonymous form must not grow one page without bound.
MAX_PROJECTS = 500


class UnknownProcess(InputError):
    """No burgerbegroting with this number (the web answers 404)."""

    def __init__(self, pid: int):
        super().__init__(f"burgerbegroting {pid} bestaat niet")


def new_token(groups: int = 3) -> str:
    """A random code such as ``K7QM-2XRD-9PHT`` (groups of four; 12 characters ≈ 59 bits)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(4 * groups))
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def normalise_token(code: str | None) -> str:
    """What a person typed, as stored: upper case, without spaces and dashes."""
    return re.sub(r"[\s\-]", "", (code or "")).upper()


def receipt_hash(receipt: str) -> str:
    """The published hash of a receipt: SHA-256 of its 16 characters (``echo -n … | sha256sum``)."""
    return _hash(normalise_token(receipt))


def _area(code: str | None, field: str = "gebiedscode") -> str | None:
    code = (code or "").strip().upper()
    if not code:
        return None
    if not CODE_RE.match(code):
        raise InputError(f"{field} {code[:20]!r} bestaat niet; schrijf bijv. GM0034, WK003401 of BU00340101")
    return code


class Registry:
    """Small store for burgerbegroting processes; every method is one transaction."""

    def __init__(self, url: str | None = None, engine: Engine | None = None):
        # the one store: the same engine factory and migrations as weefsel.registry.ops.OpsStore
        self.url = store_url(url)
        self.engine = engine or make_engine(self.url)
        migrate(self.engine)

    # --- processes ------------------------------------------------------------------------
    def create_process(self, name: str, budget: str | int | Fraction, *, description: str = "",
                       area_code: str | None = None, currency: str = "EUR", rule: str = "equalshares/add1",
                       max_choices: int | str | None = None, ask_district: bool = False,
                       require_code: bool = True, eligibility: str | None = None,
                       results_public: bool = False) -> tuple[int, str]:
        """Create a process; returns (id, organiser token). The token is shown once, stored hashed.

        ``eligibility`` is ``codes`` (one-time codes from letters, the default) or ``open``
        (one vote per browser; the pages warn that this is weaker).
        """
        from weefsel.participation.budgeting.rules import RULES
        name = clean_text(name, "naam", max_len=200, required=True)
        description = clean_text(description, "omschrijving", max_len=5000)
        amount = parse_amount(budget, "budget")
        area = _area(area_code)
        if currency.upper() not in SYMBOLS:
            raise InputError(f"munteenheid {currency[:10]!r} onbekend; kies uit {', '.join(SYMBOLS)}")
        if rule not in RULES:
            raise InputError(f"verdeelregel {rule[:60]!r} onbekend; kies uit {', '.join(RULES)}")
        max_choices = parse_count(max_choices, "max_keuzes (hoogstens zoveel keuzes)", maximum=MAX_CHOICES,
                                  optional=True)
        eligibility = eligibility or ("codes" if require_code else "open")
        if eligibility not in ELIGIBILITY:
            raise InputError(f"stemrecht {eligibility[:20]!r} onbekend; kies uit {', '.join(ELIGIBILITY)}")
        token = secrets.token_urlsafe(16)
        with self.engine.begin() as c:
            pid = c.execute(insert(processes).values(
                name=name, description=description, area_code=area, budget=canonical(amount),
                currency=currency.upper(), rule=rule, max_choices=max_choices, ask_district=bool(ask_district),
                require_code=eligibility == "codes", eligibility=eligibility, results_public=bool(results_public),
                phase="voorstellen", organiser_hash=_hash(token), created_at=_now(),
            )).inserted_primary_key[0]
            self._log(c, pid, "process_created", f"rule={rule} eligibility={eligibility} "
                                                 f"results_public={bool(results_public)}")
        return int(pid), token

    def process(self, pid: int) -> dict:
        with self.engine.connect() as c:
            row = c.execute(select(processes).where(processes.c.id == pid)).mappings().first()
        if row is None:
            raise UnknownProcess(pid)
        out = dict(row)
        out.pop("organiser_hash")
        out["eligibility"] = out.get("eligibility") or ("codes" if out["require_code"] else "open")
        out["results_public"] = bool(out.get("results_public"))
        return out

    def list_processes(self) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(processes).order_by(processes.c.id)).mappings().all()
        return [{k: v for k, v in r.items() if k != "organiser_hash"} for r in rows]

    def _check_organiser(self, c, pid: int, token: str) -> None:
        h = c.execute(select(processes.c.organiser_hash).where(processes.c.id == pid)).scalar()
        if h is None:
            raise UnknownProcess(pid)
        if not secrets.compare_digest(h, _hash(token or "")):
            self._log(c, pid, "organiser_denied", "")
            raise InputError("organisatiecode klopt niet")

    def check_organiser(self, pid: int, token: str) -> None:
        """Raise unless ``token`` is this process's organiser token (attempts are logged)."""
        with self.engine.begin() as c:
            self._check_organiser(c, pid, token)

    def set_phase(self, pid: int, phase: str, organiser_token: str) -> None:
        """Move to another phase. A closed vote stays closed; once ballots exist the vote can
        only be closed (going back would let an organiser change the ballot after seeing votes)."""
        if phase not in PHASES:
            raise InputError(f"fase {phase[:20]!r} onbekend; kies uit {', '.join(PHASES)}")
        with self.engine.begin() as c:
            self._check_organiser(c, pid, organiser_token)
            current = c.execute(select(processes.c.phase).where(processes.c.id == pid)).scalar()
            if current == "gesloten" and phase != "gesloten":
                raise InputError("de stemming is gesloten en kan niet meer open")
            cast = c.execute(select(func.count()).select_from(ballots).where(ballots.c.process_id == pid)).scalar()
            if cast and phase not in ("stemmen", "gesloten"):
                raise InputError(f"er zijn al {cast} stemmen: de fase kan alleen nog naar gesloten")
            c.execute(update(processes).where(processes.c.id == pid).values(phase=phase))
            self._log(c, pid, "phase", phase)

    def results_visible(self, pid: int) -> bool:
        """Results, ballots and the .pb are public after the close, or earlier if the organiser chose so."""
        p = self.process(pid)
        return p["phase"] == "gesloten" or (p["results_public"] and p["phase"] == "stemmen")

    # --- projects -------------------------------------------------------------------------
    def propose(self, pid: int, title: str, cost: str | int | Fraction, *, description: str = "",
                lat: float | None = None, lon: float | None = None, area_code: str | None = None) -> int:
        """A resident proposes a project (with a location: lat/lon in WGS84 or an area code)."""
        title = clean_text(title, "titel", max_len=200, required=True)
        description = clean_text(description, "omschrijving", max_len=5000)
        amount = parse_amount(cost, "kosten")
        area = _area(area_code, "buurt- of wijkcode")
        if (lat is None) != (lon is None):
            raise InputError("locatie: geef zowel breedtegraad als lengtegraad, of geen van beide")
        if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(f"locatie {lat},{lon} bestaat niet (breedtegraad −90..90, lengtegraad −180..180)")
        proc = self.process(pid)
        if proc["phase"] != "voorstellen":
            raise InputError("voorstellen kan niet meer: de fase is " + proc["phase"])
        with self.engine.begin() as c:
            n = c.execute(select(func.count()).select_from(projects).where(projects.c.process_id == pid)).scalar()
            if n >= MAX_PROJECTS:
                raise InputError(f"deze burgerbegroting heeft al {MAX_PROJECTS} voorstellen; meer kan niet")
            prid = c.execute(insert(projects).values(
                process_id=pid, title=title, description=description, cost=canonical(amount),
                lat=lat, lon=lon, area_code=area, status="proposed", created_at=_now(),
            )).inserted_primary_key[0]
            self._log(c, pid, "project_proposed", f"project={prid}")
        return int(prid)

    def check(self, pid: int, project_id: int, status: str, organiser_token: str, note: str = "") -> None:
        """The organiser checks a proposal: checked, rejected (with a reason) or on_ballot."""
        if status not in PROJECT_STATUSES:
            raise InputError(f"oordeel {status[:20]!r} onbekend; kies uit {', '.join(PROJECT_STATUSES)}")
        note = clean_text(note, "toelichting", max_len=1000)
        with self.engine.begin() as c:
            self._check_organiser(c, pid, organiser_token)
            phase = c.execute(select(processes.c.phase).where(processes.c.id == pid)).scalar()
            if phase in ("stemmen", "gesloten"):
                raise InputError(f"het stembiljet ligt vast: de fase is {phase}")
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

    # --- voting codes -----------------------------------------------------------------------
    def issue_codes(self, pid: int, n: int | str, organiser_token: str) -> list[str]:
        """n one-time voting codes (``K7QM-2XRD-9PHT``) for letters or cards; only hashes are stored."""
        n = parse_count(n, "aantal codes", maximum=MAX_CODES)
        codes = [new_token() for _ in range(n)]
        with self.engine.begin() as c:
            self._check_organiser(c, pid, organiser_token)
            phase = c.execute(select(processes.c.phase).where(processes.c.id == pid)).scalar()
            if phase == "gesloten":
                raise InputError("de stemming is gesloten: geen nieuwe stemcodes")
            c.execute(insert(voting_codes),
                      [{"process_id": pid, "code_hash": _hash(normalise_token(k)), "used": False} for k in codes])
            self._log(c, pid, "codes_issued", f"n={n}")
        return codes

    def code_counts(self, pid: int) -> dict[str, int]:
        """How many codes were issued and used (browser tokens in the open mode count as used)."""
        with self.engine.connect() as c:
            rows = c.execute(select(voting_codes.c.used, func.count()).where(voting_codes.c.process_id == pid)
                             .group_by(voting_codes.c.used)).all()
        used = sum(n for u, n in rows if u)
        return {"issued": sum(n for _, n in rows), "used": used}

    # --- voting ---------------------------------------------------------------------------
    def vote(self, pid: int, project_ids: list[int], *, code: str | None = None, district: str | None = None,
             browser: str | None = None) -> str:
        """Store one ballot; returns the voter's receipt (random, unrelated to the ballot id).

        ``code``: the one-time code (eligibility ``codes``); ``browser``: a random token the
        browser keeps (eligibility ``open``: one vote per browser).
        """
        proc = self.process(pid)
        if proc["phase"] != "stemmen":
            raise InputError("stemmen kan nu niet: de fase is " + proc["phase"])
        on_ballot = {p["id"] for p in self.projects(pid, "on_ballot")}
        try:
            chosen = sorted({int(p) for p in project_ids})
        except (TypeError, ValueError):
            raise InputError("project: onbekend projectnummer") from None
        if not chosen:
            raise InputError("kies minstens één project")
        unknown = [p for p in chosen if p not in on_ballot]
        if unknown:
            raise InputError(f"project(en) {', '.join(map(str, unknown[:10]))} staan niet op het stembiljet")
        if proc["max_choices"] and len(chosen) > proc["max_choices"]:
            raise InputError(f"te veel keuzes: {len(chosen)}, hoogstens {proc['max_choices']}")
        district = clean_text(district, "wijk", max_len=100) or None
        ballot_id = secrets.token_hex(8)
        receipt = new_token(4)
        with self.engine.begin() as c:
            if proc["eligibility"] == "codes":
                raw = (code or "").strip()
                if not raw:
                    raise InputError("stemcode ontbreekt: die staat in uw brief")
                hashes = {_hash(normalise_token(raw)), _hash(raw)}    # raw: codes of older registries
                n = c.execute(update(voting_codes).where(
                    voting_codes.c.process_id == pid, voting_codes.c.code_hash.in_(hashes),
                    voting_codes.c.used.is_(False)).values(used=True)).rowcount
                if n != 1:
                    raise InputError("stemcode onbekend of al gebruikt")
            else:
                if not browser:
                    raise InputError("deze browser kan niet stemmen: sta cookies toe voor deze site")
                try:                   # the unique hash is the check; a failure rolls the whole vote back
                    c.execute(insert(voting_codes).values(process_id=pid, code_hash=_hash(f"browser:{pid}:{browser}"),
                                                          used=True))
                except IntegrityError:
                    raise InputError("in deze browser is al gestemd") from None
            c.execute(insert(ballots).values(process_id=pid, ballot_id=ballot_id,
                                             district=district if proc["ask_district"] else None,
                                             choices=",".join(str(p) for p in chosen)))
            c.execute(insert(receipts).values(id=secrets.randbelow(2**62) + 1, process_id=pid,
                                              receipt_hash=receipt_hash(receipt)))
            self._log(c, pid, "ballot_cast", "")
        return receipt

    def ballot_count(self, pid: int) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(ballots).where(ballots.c.process_id == pid)).scalar())

    def receipt_hashes(self, pid: int) -> list[str]:
        """SHA-256 of every counted receipt, sorted (publishable: says nothing about any ballot)."""
        with self.engine.connect() as c:
            return sorted(c.execute(select(receipts.c.receipt_hash).where(receipts.c.process_id == pid)).scalars())

    def receipt_counted(self, pid: int, receipt: str) -> bool:
        """Whether a ballot with this receipt was counted in process ``pid``."""
        if not normalise_token(receipt):
            return False
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(receipts).where(
                receipts.c.process_id == pid, receipts.c.receipt_hash == receipt_hash(receipt))).scalar() == 1

    # --- results --------------------------------------------------------------------------
    def to_pb(self, pid: int):
        """The process as a Pabulib file (projects on the ballot, all ballots).

        Ballots are listed by their random ballot id, i.e. in an order unrelated to when
        they were cast. Callers that publish it check :meth:`results_visible` first.
        """
        from weefsel.participation.budgeting.pabulib import build_pb

        proc = self.process(pid)
        prj = self.projects(pid, "on_ballot")
        with self.engine.connect() as c:
            rows = c.execute(select(ballots.c.ballot_id, ballots.c.choices, ballots.c.district)
                             .where(ballots.c.process_id == pid).order_by(ballots.c.ballot_id)).mappings().all()
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
        text_ = dumps_pb(self.to_pb(pid))
        with self.engine.begin() as c:
            self._log(c, pid, "exported", "")
        return text_

    def audit(self, pid: int | None = None) -> list[dict]:
        q = select(audit_log).order_by(audit_log.c.id)
        if pid is not None:
            q = q.where(audit_log.c.process_id == pid)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings().all()]

    @staticmethod
    def _log(c, pid: int | None, action: str, detail: str) -> None:
        c.execute(insert(audit_log).values(process_id=pid, at=_now(), action=action, detail=detail))
