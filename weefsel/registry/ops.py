"""The one operational store: users, roles, audit, initiatives, meeting places, signals and
the burgerbegroting (``pb_*`` tables, used through :class:`weefsel.registry.store.Registry`).

Apart from the rebuildable warehouse. SQLAlchemy Core, SQLite by default (one file, WAL),
PostgreSQL as the server option (``WEEFSEL_REGISTRY=postgresql+psycopg://...``). The
schema is created by numbered migrations recorded in ``reg_migrations`` so both backends
reach exactly the same state. Every change is one transaction together with its audit row;
the audit table refuses UPDATE and DELETE (a trigger on both backends) and holds ids,
field names and counts, never the personal content itself.
"""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import hashlib
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    create_engine,
    event,
    false,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from weefsel.config import DEFAULT_REGISTRY_URL
from weefsel.errors import InputError

meta = MetaData()

migrations_t = Table(
    "reg_migrations", meta,
    Column("version", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("applied_at", String(32), nullable=False),
)
users = Table(
    "reg_users", meta,
    Column("id", Integer, primary_key=True),
    Column("gemeente_code", String(6), nullable=False),
    Column("username", String(80), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", String(32), nullable=False),
)
sessions = Table(
    "reg_sessions", meta,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("expires_at", String(32), nullable=False),
)
audit = Table(
    "reg_audit", meta,
    Column("id", Integer, primary_key=True),
    Column("at", String(32), nullable=False),
    Column("user_id", Integer),                       # NULL: an anonymous resident or the system
    Column("gemeente_code", String(6)),
    Column("action", String(40), nullable=False),
    Column("entity", String(20)),
    Column("entity_id", Integer),
    Column("detail", Text, default=""),               # field names, statuses, counts: no content
)
initiatives = Table(
    "reg_initiatives", meta,
    Column("id", Integer, primary_key=True),
    Column("gemeente_code", String(6), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, default=""),
    Column("area_codes", String(400), default=""),     # comma-separated CBS codes
    Column("lat", Float), Column("lon", Float),
    Column("themes", String(400), default=""),
    Column("crisis_functions", String(200), default=""),
    Column("ladder_step", Integer),
    Column("contact_role", String(200), default=""),   # a role or organisation, not a person
    Column("start_date", String(10)), Column("end_date", String(10)),
    Column("status", String(20), nullable=False, default="actief"),
    Column("source", String(200), default=""),
    Column("created_by", Integer),
    Column("created_at", String(32), nullable=False),
    Column("submission_key", String(64), unique=True),
)
places = Table(
    "reg_places", meta,
    Column("id", Integer, primary_key=True),
    Column("gemeente_code", String(6), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("type", String(40), nullable=False),
    Column("lat", Float, nullable=False), Column("lon", Float, nullable=False),
    Column("area_code", String(12)),
    Column("opening_hours", String(400), default=""),
    Column("capacity", Integer),
    Column("step_free", Boolean), Column("toilet", Boolean),
    Column("kis_veelzijdig", Boolean), Column("kis_vanzelfsprekend", Boolean),
    Column("kis_uitnodigend", Boolean), Column("kis_toegankelijk", Boolean),
    Column("programme", Text, default=""),
    Column("source", String(200), default=""),
    Column("created_by", Integer),
    Column("created_at", String(32), nullable=False),
    Column("submission_key", String(64), unique=True),
)
signals = Table(
    "reg_signals", meta,
    Column("id", Integer, primary_key=True),
    Column("gemeente_code", String(6), nullable=False, index=True),
    Column("area_code", String(12), nullable=False, index=True),
    Column("theme", String(40), nullable=False),
    Column("indicator", String(80)),
    Column("text", Text, nullable=False),              # as shown (may be edited by moderation)
    Column("original_text", Text, nullable=False),     # as submitted: kept for the audit
    Column("lat", Float), Column("lon", Float),
    Column("status", String(12), nullable=False, default="nieuw"),
    Column("reason", Text, default=""),
    Column("response", Text, default=""),
    Column("response_at", String(32)),
    Column("reporter_contact", String(200)),           # optional, blanked after retention
    Column("reporter_key_hash", String(64), index=True),
    Column("created_by", Integer),
    Column("created_at", String(32), nullable=False),
    Column("moderated_by", Integer), Column("moderated_at", String(32)),
    Column("submission_key", String(64), unique=True),
)
# crisis roles per registry user (issue 15; granted by an admin of the same gemeente)
crisis_roles_t = Table(
    "reg_crisis_roles", meta,
    Column("user_id", Integer, primary_key=True),
    Column("gemeente_code", String(6), nullable=False),
    Column("role", String(20), nullable=False),
    Column("granted_by", Integer, nullable=False),
    Column("granted_at", String(32), nullable=False),
)

ROLES = ("viewer", "contributor", "moderator", "admin")
# tags an initiative can take on in a crisis; weefsel.crisis.prepare.REGISTRY_TAGS maps them onto
# the five functions of seed 002 §2.4 ("signaleren" = observeren en signaleren, added for issue 15)
CRISIS_FUNCTIONS = ("ontmoeten", "informeren", "hulp_bieden", "opvang", "coordineren", "signaleren")
LADDER = {1: "informeren", 2: "raadplegen", 3: "adviseren", 4: "coproduceren",
          5: "meebeslissen", 6: "zelf beheren"}
THEMES = ("eenzaamheid", "ontmoeting", "veiligheid", "armoede", "gezondheid", "jeugd",
          "ouderen", "wonen", "voorzieningen", "participatie", "anders")
PLACE_TYPES = ("buurthuis", "bibliotheek", "sportvereniging", "gebedshuis", "cafe", "speeltuin",
               "school", "huisarts", "zorg", "winkel", "park", "anders")
KIS_KEYS = ("veelzijdig", "vanzelfsprekend", "uitnodigend", "toegankelijk")
SIGNAL_STATUSES = ("nieuw", "geaccepteerd", "afgewezen")
INITIATIVE_STATUSES = ("actief", "gepland", "gestopt")
SESSION_HOURS = 8
MAX_SHORT, MAX_TEXT, MAX_SIGNAL = 200, 4000, 1000
CODE_RE = re.compile(r"^(GM\d{4}|WK\d{6}|BU\d{8})$")
TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z!?]|javascript:|on\w+\s*=", re.IGNORECASE)
CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime | None = None) -> str:
    return (t or _now()).isoformat(timespec="seconds")


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def reporter_key(submission_key: str | None) -> str:
    """The code with which a resident reads the response to their signal. Derived from the
    form's submission key when that is a strong one (the form's is 128 random bits), so a form
    resubmitted after a lost answer (server killed mid-write) shows the same, working code as
    the first; otherwise random. It grants no more than the store already shows to whoever can
    read the submission key there."""
    if submission_key and len(submission_key) >= 20:
        digest = hashlib.sha256(b"weefsel-reporter-key:" + submission_key.encode("utf-8")).digest()
        return base64.urlsafe_b64encode(digest[:12]).decode()
    return secrets.token_urlsafe(12)


def clean_text(value, field: str, *, max_len: int = MAX_SHORT, required: bool = False) -> str:
    """One text field: trimmed, bounded, no markup or control characters (a clear Dutch error)."""
    s = "" if value is None else str(value).strip()
    if required and not s:
        raise InputError(f"{field} ontbreekt")
    if len(s) > max_len:
        raise InputError(f"{field} is te lang ({len(s)} tekens, hooguit {max_len})")
    if TAG_RE.search(s):
        raise InputError(f"{field} bevat HTML of script; dat is niet toegestaan")
    if CTRL_RE.search(s):
        raise InputError(f"{field} bevat onzichtbare stuurtekens")
    return s


def check_point(lat, lon, field: str = "locatie") -> tuple[float | None, float | None]:
    """A WGS84 point inside the Netherlands' bounding box, or (None, None) when absent."""
    if lat in (None, "") and lon in (None, ""):
        return None, None
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        raise InputError(f"{field}: geef breedte- én lengtegraad als getallen (bijv. 52.37, 5.21)") from None
    if not (math.isfinite(la) and math.isfinite(lo)):
        raise InputError(f"{field}: ongeldige coördinaten")
    if not (50.7 <= la <= 53.7 and 3.2 <= lo <= 7.3):
        raise InputError(f"{field} {la},{lo} ligt niet in Nederland (WGS84 breedte, lengte)")
    return la, lo


def _flag(value) -> bool | None:
    """Yes/no/unknown from a form or CSV: None means 'not asked', never a guess."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("1", "ja", "yes", "true", "waar", "j", "y", "on"):
        return True
    if s in ("0", "nee", "no", "false", "onwaar", "n"):
        return False
    raise InputError(f"{value!r} is geen ja/nee")


def _list(value, allowed: Iterable[str], field: str) -> str:
    items = value if isinstance(value, (list, tuple)) else str(value or "").replace(";", ",").split(",")
    out = [str(i).strip().lower() for i in items if str(i).strip()]
    allowed = tuple(allowed)
    for i in out:
        if i not in allowed:
            raise InputError(f"{field}: onbekende waarde {i!r}", expected=", ".join(allowed))
    return ",".join(dict.fromkeys(out))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres (enough for de-duplication within a few hundred metres)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _pragma(dbapi_conn, _record) -> None:
    """WAL, a 10 s busy wait and NORMAL sync on every new SQLite connection.

    WAL is a property of the file: switch only when it is not on yet, because switching takes
    a lock that SQLite does not wait for, and two server processes (uvicorn workers) opening
    the store at once otherwise fail with "database is locked" while the other migrates.
    """
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        for attempt in range(50):
            try:
                cur.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.1)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def store_url(url: str | None = None) -> str:
    """The store's URL: the one given, else ``$WEEFSEL_REGISTRY`` read now (tests and servers set
    it after weefsel.config is imported), else the default SQLite file."""
    return url or os.environ.get("WEEFSEL_REGISTRY") or DEFAULT_REGISTRY_URL


def make_engine(url: str) -> Engine:
    """SQLite (WAL, waiting on locks) or PostgreSQL (a small pool) from one URL."""
    if url.startswith("sqlite"):
        eng = create_engine(url, future=True, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(eng, "connect", _pragma)
        return eng
    return create_engine(url, future=True, pool_size=10, max_overflow=20, pool_pre_ping=True)


# --- migrations ------------------------------------------------------------------------------
def _m1_tables(c: Connection) -> None:
    meta.create_all(c, tables=[users, sessions, audit, initiatives, places, signals])


def _m2_audit_append_only(c: Connection) -> None:
    if c.dialect.name == "postgresql":
        c.execute(text("CREATE OR REPLACE FUNCTION reg_audit_append_only() RETURNS trigger AS $$ "
                       "BEGIN RAISE EXCEPTION 'reg_audit is append-only'; END $$ LANGUAGE plpgsql"))
        c.execute(text("CREATE TRIGGER reg_audit_no_change BEFORE UPDATE OR DELETE ON reg_audit "
                       "FOR EACH ROW EXECUTE FUNCTION reg_audit_append_only()"))
    else:
        for op in ("UPDATE", "DELETE"):
            c.execute(text(f"CREATE TRIGGER reg_audit_no_{op.lower()} BEFORE {op} ON reg_audit "
                           "BEGIN SELECT RAISE(ABORT, 'reg_audit is append-only'); END"))


#: Columns the burgerbegroting gained after its first release (before migrations existed).
PB_ADDED_COLUMNS = {"pb_processes": {"eligibility": "VARCHAR(20) DEFAULT 'codes'",
                                     "results_public": "BOOLEAN DEFAULT FALSE"}}


def _m3_begroting(c: Connection) -> None:
    """The burgerbegroting joins the one store. A registry made by an older weefsel (``pb_*``
    tables, no ``reg_migrations``) keeps its tables and rows and gains what it lacks."""
    from weefsel.registry.store import PB_TABLES, processes
    meta.create_all(c, tables=PB_TABLES)          # checkfirst: tables already there are kept
    insp = inspect(c)
    for table, columns in PB_ADDED_COLUMNS.items():
        have = {col["name"] for col in insp.get_columns(table)}
        for name, ddl in columns.items():
            if name in have:
                continue
            c.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))
            if name == "eligibility":              # first release: require_code false meant no code
                c.execute(update(processes).values(
                    eligibility=case((processes.c.require_code == false(), "open"), else_="codes")))
    c.execute(update(processes).where(processes.c.eligibility.is_(None)).values(eligibility="codes"))


def _m4_crisis_roles(c: Connection) -> None:
    meta.create_all(c, tables=[crisis_roles_t])


def _m6_oidc(c: Connection) -> None:
    """OIDC single sign-on: a user may be linked to (issuer, subject); pending logins by state."""
    c.execute(text("ALTER TABLE reg_users ADD COLUMN oidc_issuer VARCHAR(300)"))
    c.execute(text("ALTER TABLE reg_users ADD COLUMN oidc_subject VARCHAR(255)"))
    c.execute(text("CREATE UNIQUE INDEX reg_users_oidc ON reg_users (oidc_issuer, oidc_subject)"))
    c.execute(text("CREATE TABLE reg_oidc_pending (state_hash VARCHAR(64) PRIMARY KEY, "
                   "nonce VARCHAR(100) NOT NULL, verifier VARCHAR(128) NOT NULL, "
                   "link_user_id INTEGER, expires_at VARCHAR(32) NOT NULL)"))


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "users, sessions, audit, initiatives, places, signals", _m1_tables),
    (2, "audit log append-only", _m2_audit_append_only),
    (3, "burgerbegroting (pb_*) in the one store; older pb_* tables upgraded in place", _m3_begroting),
    (4, "crisis roles per registry user", _m4_crisis_roles),
    (6, "OIDC single sign-on: oidc_issuer/oidc_subject on reg_users, reg_oidc_pending", _m6_oidc),
]


def migrate(engine: Engine) -> list[int]:
    """Apply the migrations not yet recorded, all in one transaction; returns the versions applied now.

    One migrator at a time: an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite (which
    also makes SQLite's DDL part of the transaction, so a failed upgrade leaves nothing half-done)."""
    done: list[int] = []
    with engine.begin() as c:
        if c.dialect.name == "postgresql":
            c.execute(text("SELECT pg_advisory_xact_lock(14014)"))
        elif c.dialect.name == "sqlite":
            c.exec_driver_sql("BEGIN IMMEDIATE")
        meta.create_all(c, tables=[migrations_t])
        have = set(c.execute(select(migrations_t.c.version)).scalars())
        for version, name, fn in MIGRATIONS:
            if version in have:
                continue
            fn(c)
            c.execute(insert(migrations_t).values(version=version, name=name, applied_at=_iso()))
            done.append(version)
    return done


def applied(engine: Engine) -> list[dict]:
    """The migrations recorded in this database (version, name, applied_at), oldest first."""
    with engine.connect() as c:
        if not inspect(c).has_table(migrations_t.name):
            return []
        return [dict(r) for r in c.execute(select(migrations_t).order_by(migrations_t.c.version)).mappings()]


class Forbidden(InputError):
    """A user tried an action their role does not allow."""


class OpsStore:
    """Every public method is one transaction (with its audit row) or one read."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None,
                 area_codes: Callable[[str], bool] | set[str] | None = None,
                 suppress_below: int = 5, password_hasher=None):
        self.url = store_url(url)
        self.engine = engine or make_engine(self.url)
        migrate(self.engine)
        self._known = area_codes
        # SQLite has one writer at a time and its busy handler sleeps 1, 2, 5, 10... ms between
        # tries: threads of this process queue here instead (the tail of write latency)
        self._write_lock = threading.Lock() if self.engine.dialect.name == "sqlite" else nullcontext()
        self.suppress_below = suppress_below
        from argon2 import PasswordHasher
        self._ph = password_hasher or PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory)

    # --- areas -------------------------------------------------------------------------------
    def check_area(self, code, field: str = "gebied") -> str:
        s = str(code or "").strip().upper()
        if not CODE_RE.match(s):
            raise InputError(f"{field}: {s or '(leeg)'} is geen CBS-code (GM0034, WK003401 of BU00340101)")
        known = self._known
        ok = True if known is None else (s in known if isinstance(known, set) else known(s))
        if not ok:
            raise InputError(f"{field}: onbekende gebiedscode {s}")
        return s

    @staticmethod
    def gemeente_of(code: str) -> str:
        return "GM" + code[2:6]

    # --- users, sessions, roles --------------------------------------------------------------
    def create_user(self, username: str, password: str, role: str, gemeente_code: str,
                    *, actor: dict | None = None) -> int:
        """Create an account. Needs an admin of that gemeente, except for the very first admin."""
        username = clean_text(username, "gebruikersnaam", max_len=80, required=True).lower()
        if not re.fullmatch(r"[a-z0-9._-]{3,80}", username):
            raise InputError("gebruikersnaam: 3-80 tekens, alleen letters, cijfers, punt, streep")
        if role not in ROLES:
            raise InputError(f"onbekende rol {role!r}", expected=", ".join(ROLES))
        if len(password or "") < 10:
            raise InputError("wachtwoord is te kort (minstens 10 tekens)")
        gm = self.check_area(gemeente_code, "gemeente")
        if not gm.startswith("GM"):
            raise InputError("gemeente: geef een GM-code")
        if actor is not None:
            self.require(actor, "admin", gm)
        pw = self._ph.hash(password)
        with self.engine.begin() as c:
            if actor is None and c.execute(select(func.count()).select_from(users)).scalar():
                raise Forbidden("alleen een beheerder kan accounts aanmaken")
            if c.execute(select(users.c.id).where(users.c.username == username)).first():
                raise InputError(f"gebruikersnaam {username} bestaat al")
            uid = c.execute(insert(users).values(
                gemeente_code=gm, username=username, password_hash=pw, role=role,
                active=True, created_at=_iso())).inserted_primary_key[0]
            self._audit(c, actor, gm, "user_created", "user", uid, f"role={role}")
        return int(uid)

    def login(self, username: str, password: str) -> tuple[str, str]:
        """(session token, csrf token) or one error that does not say which part was wrong."""
        from argon2.exceptions import InvalidHashError, VerificationError
        with self.engine.connect() as c:
            row = c.execute(select(users).where(users.c.username == str(username or "").strip().lower())
                            ).mappings().first()
        try:
            if row is None or not row["active"]:
                raise VerificationError()
            self._ph.verify(row["password_hash"], password or "")
        except (VerificationError, InvalidHashError):
            with self.engine.begin() as c:
                self._audit(c, None, None, "login_failed", "user", row["id"] if row else None, "")
            raise InputError("gebruikersnaam of wachtwoord klopt niet") from None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as c:
            c.execute(insert(sessions).values(
                token_hash=_sha(token), user_id=row["id"], csrf=csrf,
                expires_at=_iso(_now() + dt.timedelta(hours=SESSION_HOURS))))
            self._audit(c, row, row["gemeente_code"], "login", "user", row["id"], "")
        return token, csrf

    def session_user(self, token: str | None) -> dict | None:
        """The user behind a session cookie (with its csrf token), None when absent/expired."""
        if not token:
            return None
        with self.engine.connect() as c:
            row = c.execute(select(users, sessions.c.csrf, sessions.c.expires_at)
                            .join(sessions, sessions.c.user_id == users.c.id)
                            .where(sessions.c.token_hash == _sha(token))).mappings().first()
        if row is None or row["expires_at"] < _iso() or not row["active"]:
            return None
        out = dict(row)
        out.pop("password_hash")
        return out

    def logout(self, token: str) -> None:
        with self.engine.begin() as c:
            c.execute(sessions.delete().where(sessions.c.token_hash == _sha(token)))

    def require(self, user: dict | None, role: str, gemeente_code: str | None = None) -> None:
        """Raise Forbidden unless the user has at least ``role`` in that gemeente."""
        if user is None:
            raise Forbidden("log eerst in")
        if ROLES.index(user["role"]) < ROLES.index(role):
            with self.engine.begin() as c:
                self._audit(c, user, user["gemeente_code"], "denied", None, None, f"needs={role}")
            raise Forbidden(f"hiervoor is de rol {role} nodig; u bent {user['role']}")
        if gemeente_code and user["gemeente_code"] != gemeente_code:
            raise Forbidden(f"u werkt voor {user['gemeente_code']}, niet voor {gemeente_code}")

    # --- audit -------------------------------------------------------------------------------
    @staticmethod
    def _audit(c: Connection, user: dict | None, gm: str | None, action: str, entity: str | None,
               entity_id, detail: str) -> None:
        c.execute(insert(audit).values(at=_iso(), user_id=(user or {}).get("id"), gemeente_code=gm,
                                       action=action, entity=entity,
                                       entity_id=int(entity_id) if entity_id is not None else None,
                                       detail=detail))

    def audit_log(self, limit: int = 500, gemeente_code: str | None = None) -> list[dict]:
        q = select(audit).order_by(audit.c.id.desc()).limit(limit)
        if gemeente_code:
            q = q.where(audit.c.gemeente_code == gemeente_code)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]

    # --- idempotent insert -------------------------------------------------------------------
    def _insert_once(self, table: Table, values: dict, user: dict | None, action: str) -> int:
        """Insert with its audit row; a repeated submission_key returns the first id."""
        key = values.get("submission_key")
        try:
            with self._write_lock, self.engine.begin() as c:
                new_id = int(c.execute(insert(table).values(**values)).inserted_primary_key[0])
                fields = ",".join(sorted(k for k, v in values.items() if v not in (None, "")
                                         and k not in ("created_at", "submission_key")))
                self._audit(c, user, values.get("gemeente_code"), action, table.name[4:], new_id,
                            f"fields={fields}")
                return new_id
        except IntegrityError:
            if key is None:
                raise
            with self.engine.connect() as c:
                got = c.execute(select(table.c.id).where(table.c.submission_key == key)).scalar()
            if got is None:
                raise
            return int(got)

    # --- initiatives -------------------------------------------------------------------------
    def add_initiative(self, user: dict | None, data: dict, *, submission_key: str | None = None) -> int:
        self.require(user, "contributor")
        v = self._initiative_values(user, data)
        return self._insert_once(initiatives, {**v, "created_by": user["id"], "created_at": _iso(),
                                               "submission_key": submission_key or None},
                                 user, "initiative_added")

    def _initiative_values(self, user: dict, d: dict) -> dict:
        codes = [self.check_area(x, "gebied") for x in
                 str(d.get("area_codes") or "").replace(";", ",").split(",") if x.strip()]
        lat, lon = check_point(d.get("lat"), d.get("lon"))
        if not codes and lat is None:
            raise InputError("geef een gebied (CBS-code) of een punt")
        for code in codes:
            if self.gemeente_of(code) != user["gemeente_code"]:
                raise Forbidden(f"gebied {code} ligt niet in uw gemeente {user['gemeente_code']}")
        step = d.get("ladder_step")
        if step not in (None, ""):
            try:
                step = int(step)
            except ValueError:
                raise InputError(f"participatieladder: {step!r} is geen trede 1-6") from None
            if step not in LADDER:
                raise InputError(f"participatieladder: trede {step} bestaat niet (1-6)")
        else:
            step = None
        dates = {}
        for f in ("start_date", "end_date"):
            s = str(d.get(f) or "").strip()
            if s:
                try:
                    dt.date.fromisoformat(s)
                except ValueError:
                    raise InputError(f"{f}: {s!r} is geen datum (JJJJ-MM-DD)") from None
            dates[f] = s or None
        if dates["start_date"] and dates["end_date"] and dates["end_date"] < dates["start_date"]:
            raise InputError("einddatum ligt voor de startdatum")
        status = str(d.get("status") or "actief").strip().lower()
        if status not in INITIATIVE_STATUSES:
            raise InputError(f"status {status!r} onbekend", expected=", ".join(INITIATIVE_STATUSES))
        return dict(
            gemeente_code=user["gemeente_code"],
            name=clean_text(d.get("name"), "naam", required=True),
            description=clean_text(d.get("description"), "beschrijving", max_len=MAX_TEXT),
            area_codes=",".join(codes), lat=lat, lon=lon,
            themes=_list(d.get("themes"), THEMES, "thema's"),
            crisis_functions=_list(d.get("crisis_functions"), CRISIS_FUNCTIONS, "crisisfuncties"),
            ladder_step=step,
            contact_role=clean_text(d.get("contact_role"), "contact (rol)"),
            status=status, source=clean_text(d.get("source"), "bron"), **dates)

    def set_initiative_status(self, user: dict | None, initiative_id: int, status: str) -> None:
        """A contributor of the same gemeente changes the status (audited: old → new)."""
        if status not in INITIATIVE_STATUSES:
            raise InputError(f"status {status!r} onbekend", expected=", ".join(INITIATIVE_STATUSES))
        with self.engine.connect() as c:
            row = c.execute(select(initiatives.c.gemeente_code, initiatives.c.status)
                            .where(initiatives.c.id == int(initiative_id))).first()
        if row is None:
            raise InputError(f"initiatief {initiative_id} bestaat niet")
        self.require(user, "contributor", row[0])
        with self.engine.begin() as c:
            c.execute(update(initiatives).where(initiatives.c.id == int(initiative_id)).values(status=status))
            self._audit(c, user, row[0], "initiative_status", "initiatives", initiative_id, f"{row[1]}->{status}")

    def import_initiatives(self, user: dict, rows: list[dict], *, source: str) -> dict:
        """Import initiatives; skip ones already there (similar name, same area or within 150 m);
        all or nothing."""
        self.require(user, "contributor")
        have = self.initiatives(user["gemeente_code"])
        prepared: list[dict] = []

        def same(a: dict, b: dict) -> bool:
            if _similar(a["name"], b["name"]) < 0.7:
                return False
            if set(filter(None, (a["area_codes"] or "").split(","))) & set(filter(None, (b["area_codes"] or "").split(","))):
                return True
            return (a["lat"] is not None and b["lat"] is not None
                    and distance_m(a["lat"], a["lon"], b["lat"], b["lon"]) <= 150)

        skipped = 0
        for i, r in enumerate(rows, start=1):
            try:
                v = self._initiative_values(user, {**r, "source": r.get("source") or source})
            except InputError as e:
                raise InputError(f"rij {i}: {e}", where=source) from None
            if any(same(v, h) for h in have) or any(same(v, p) for p in prepared):
                skipped += 1
                continue
            prepared.append(v)
        with self.engine.begin() as c:
            for v in prepared:
                iid = c.execute(insert(initiatives).values(**v, created_by=user["id"], created_at=_iso())
                                ).inserted_primary_key[0]
                self._audit(c, user, v["gemeente_code"], "initiative_imported", "initiatives", iid, "")
        return {"added": len(prepared), "duplicates": skipped}

    def initiatives(self, gemeente_code: str | None = None) -> list[dict]:
        q = select(initiatives).order_by(initiatives.c.id)
        if gemeente_code:
            q = q.where(initiatives.c.gemeente_code == gemeente_code)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]

    # --- meeting places ----------------------------------------------------------------------
    def add_place(self, user: dict | None, data: dict, *, submission_key: str | None = None) -> int:
        self.require(user, "contributor")
        v = self._place_values(user, data)
        return self._insert_once(places, {**v, "created_by": user["id"], "created_at": _iso(),
                                          "submission_key": submission_key or None},
                                 user, "place_added")

    def _place_values(self, user: dict, d: dict) -> dict:
        lat, lon = check_point(d.get("lat"), d.get("lon"))
        if lat is None:
            raise InputError("een ontmoetingsplek heeft een locatie nodig (breedte- en lengtegraad)")
        ptype = str(d.get("type") or "").strip().lower()
        if ptype not in PLACE_TYPES:
            raise InputError(f"type {ptype or '(leeg)'} onbekend", expected=", ".join(PLACE_TYPES))
        area = d.get("area_code")
        area = self.check_area(area) if area not in (None, "") else None
        if area and self.gemeente_of(area) != user["gemeente_code"]:
            raise Forbidden(f"gebied {area} ligt niet in uw gemeente {user['gemeente_code']}")
        cap = d.get("capacity")
        if cap not in (None, ""):
            try:
                cap = int(cap)
            except ValueError:
                raise InputError(f"capaciteit: {cap!r} is geen geheel getal") from None
            if not 0 <= cap <= 100_000:
                raise InputError(f"capaciteit {cap} is niet aannemelijk")
        else:
            cap = None
        out = dict(gemeente_code=user["gemeente_code"], name=clean_text(d.get("name"), "naam", required=True),
                   type=ptype, lat=lat, lon=lon, area_code=area, capacity=cap,
                   opening_hours=clean_text(d.get("opening_hours"), "openingstijden", max_len=400),
                   programme=clean_text(d.get("programme"), "programma", max_len=MAX_TEXT),
                   source=clean_text(d.get("source"), "bron"))
        for f in ("step_free", "toilet") + tuple("kis_" + k for k in KIS_KEYS):
            try:
                out[f] = _flag(d.get(f))
            except InputError as e:
                raise InputError(f"{f}: {e}") from None
        return out

    def places(self, gemeente_code: str | None = None) -> list[dict]:
        q = select(places).order_by(places.c.id)
        if gemeente_code:
            q = q.where(places.c.gemeente_code == gemeente_code)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def find_duplicate_place(self, name: str, lat: float, lon: float, gemeente_code: str,
                             within_m: float = 150.0) -> dict | None:
        """A place already there with a similar name within ``within_m`` metres."""
        for p in self.places(gemeente_code):
            if distance_m(lat, lon, p["lat"], p["lon"]) <= within_m and _similar(name, p["name"]) >= 0.7:
                return p
        return None

    def import_places(self, user: dict, rows: list[dict], *, source: str) -> dict:
        """Import rows (CSV dicts or GeoJSON properties with lat/lon); skip duplicates; all or nothing."""
        self.require(user, "contributor")
        prepared, skipped = [], 0
        seen: list[dict] = []
        for i, r in enumerate(rows, start=1):
            try:
                v = self._place_values(user, {**r, "source": r.get("source") or source})
            except InputError as e:
                raise InputError(f"rij {i}: {e}", where=source) from None
            dup = self.find_duplicate_place(v["name"], v["lat"], v["lon"], v["gemeente_code"]) or next(
                (s for s in seen if distance_m(v["lat"], v["lon"], s["lat"], s["lon"]) <= 150
                 and _similar(v["name"], s["name"]) >= 0.7), None)
            if dup:
                skipped += 1
                continue
            seen.append(v)
            prepared.append({**v, "created_by": user["id"], "created_at": _iso()})
        with self.engine.begin() as c:
            for v in prepared:
                pid = c.execute(insert(places).values(**v)).inserted_primary_key[0]
                self._audit(c, user, v["gemeente_code"], "place_imported", "places", pid, "")
        return {"added": len(prepared), "duplicates": skipped}

    # --- signals -----------------------------------------------------------------------------
    def add_signal(self, user: dict | None, data: dict, *, submission_key: str | None = None) -> tuple[int, str]:
        """A signal by a resident (anonymous) or a user; returns (id, reporter key to read the response)."""
        area = self.check_area(data.get("area_code"))
        theme = str(data.get("theme") or "").strip().lower()
        if theme not in THEMES:
            raise InputError(f"thema {theme or '(leeg)'} onbekend", expected=", ".join(THEMES))
        body = clean_text(data.get("text"), "signaal", max_len=MAX_SIGNAL, required=True)
        lat, lon = check_point(data.get("lat"), data.get("lon"))
        indicator = clean_text(data.get("indicator"), "indicator", max_len=80) or None
        contact = clean_text(data.get("reporter_contact"), "contact", max_len=200) or None
        key = reporter_key(submission_key)
        sid = self._insert_once(signals, dict(
            gemeente_code=self.gemeente_of(area), area_code=area, theme=theme, indicator=indicator,
            text=body, original_text=body, lat=lat, lon=lon, status="nieuw", reporter_contact=contact,
            reporter_key_hash=_sha(key), created_by=(user or {}).get("id"), created_at=_iso(),
            submission_key=submission_key or None), user, "signal_added")
        return sid, key

    def moderate(self, user: dict | None, signal_id: int, status: str, reason: str = "",
                 *, text_shown: str | None = None) -> None:
        """nieuw → geaccepteerd/afgewezen (a rejection needs a reason); the original text is kept."""
        if status not in ("geaccepteerd", "afgewezen"):
            raise InputError(f"status {status!r} onbekend", expected="geaccepteerd, afgewezen")
        reason = clean_text(reason, "reden", max_len=MAX_SIGNAL)
        if status == "afgewezen" and not reason:
            raise InputError("geef een reden bij afwijzen")
        sig = self.signal(signal_id)
        self.require(user, "moderator", sig["gemeente_code"])
        vals = dict(status=status, reason=reason, moderated_by=user["id"], moderated_at=_iso())
        if text_shown is not None:
            vals["text"] = clean_text(text_shown, "signaal", max_len=MAX_SIGNAL, required=True)
        with self.engine.begin() as c:
            n = c.execute(update(signals).where(signals.c.id == signal_id, signals.c.status == "nieuw")
                          .values(**vals)).rowcount
            if n != 1:
                raise InputError(f"signaal {signal_id} is al beoordeeld")
            self._audit(c, user, sig["gemeente_code"], "signal_moderated", "signals", signal_id,
                        f"status={status}" + (",text_edited" if text_shown is not None else ""))

    def respond(self, user: dict | None, signal_id: int, response: str) -> None:
        """The gemeente's response and what was done; visible to the reporter and in the profile."""
        sig = self.signal(signal_id)
        self.require(user, "moderator", sig["gemeente_code"])
        response = clean_text(response, "reactie", max_len=MAX_TEXT, required=True)
        with self.engine.begin() as c:
            c.execute(update(signals).where(signals.c.id == signal_id)
                      .values(response=response, response_at=_iso()))
            self._audit(c, user, sig["gemeente_code"], "signal_response", "signals", signal_id, "")

    def signal(self, signal_id: int) -> dict:
        with self.engine.connect() as c:
            row = c.execute(select(signals).where(signals.c.id == int(signal_id))).mappings().first()
        if row is None:
            raise InputError(f"signaal {signal_id} bestaat niet")
        return dict(row)

    def signal_for_reporter(self, signal_id: int, key: str) -> dict:
        """What the reporter may see of their own signal: status, reason, response."""
        sig = self.signal(signal_id)
        if not secrets.compare_digest(sig["reporter_key_hash"] or "", _sha(key or "")):
            raise InputError("deze code hoort niet bij dit signaal")
        return {k: sig[k] for k in ("id", "area_code", "theme", "text", "status", "reason",
                                    "response", "response_at", "created_at")}

    def signals(self, *, gemeente_code: str | None = None, status: str | None = None,
                area_code: str | None = None) -> list[dict]:
        q = select(signals).order_by(signals.c.id)
        if gemeente_code:
            q = q.where(signals.c.gemeente_code == gemeente_code)
        if status:
            q = q.where(signals.c.status == status)
        if area_code:
            q = q.where(signals.c.area_code == area_code)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def duplicate_signals(self, area_code: str, theme: str, body: str, *, lat=None, lon=None,
                          min_ratio: float = 0.6, recent: int = 100) -> list[dict]:
        """Signals that may say the same: same area and theme (or within 300 m), similar text.

        Only the ``recent`` newest candidates are compared: the hint is for the resident
        submitting now, and comparing every signal ever made a write O(n) (difflib on each;
        3 s of CPU a minute under the load bench). Bounds from difflib's cheap upper limits
        (real_quick_ratio, quick_ratio) skip texts that cannot reach ``min_ratio``."""
        out = []
        near_box = false()
        if lat is not None:  # about 300 m around the point, then the exact distance below
            near_box = and_(signals.c.lat.between(lat - 0.003, lat + 0.003),
                            signals.c.lon.between(lon - 0.005, lon + 0.005))
        with self.engine.connect() as c:
            rows = c.execute(select(signals.c.id, signals.c.area_code, signals.c.text, signals.c.lat,
                                    signals.c.lon, signals.c.status)
                             .where(signals.c.theme == theme, signals.c.status != "afgewezen",
                                    or_(signals.c.area_code == area_code, near_box))
                             .order_by(signals.c.id.desc()).limit(recent)).mappings().all()
        sm = difflib.SequenceMatcher(None)
        sm.set_seq2(body.lower())  # difflib caches its index of the second sequence
        for r in rows:
            near = r["area_code"] == area_code or (
                lat is not None and r["lat"] is not None and distance_m(lat, lon, r["lat"], r["lon"]) <= 300)
            if near:
                sm.set_seq1(r["text"].lower())
                if sm.real_quick_ratio() < min_ratio or sm.quick_ratio() < min_ratio:
                    continue
                score = sm.ratio()
                if score >= min_ratio:
                    out.append({"id": r["id"], "score": round(score, 2), "text": r["text"]})
        return sorted(out, key=lambda x: (-x["score"], x["id"]))

    def public_signal_counts(self) -> list[dict]:
        """Accepted signals per area and theme; counts below the threshold are suppressed (None)."""
        with self.engine.connect() as c:
            rows = c.execute(select(signals.c.area_code, signals.c.theme, func.count().label("n"))
                             .where(signals.c.status == "geaccepteerd")
                             .group_by(signals.c.area_code, signals.c.theme)
                             .order_by(signals.c.area_code, signals.c.theme)).mappings().all()
        return [{"area_code": r["area_code"], "theme": r["theme"],
                 "count": int(r["n"]) if r["n"] >= self.suppress_below else None,
                 "suppressed": bool(r["n"] < self.suppress_below)} for r in rows]

    def apply_retention(self, days: int, *, now: dt.datetime | None = None) -> int:
        """Blank reporters' contact details older than ``days``; returns how many were blanked."""
        cutoff = _iso((now or _now()) - dt.timedelta(days=days))
        with self.engine.begin() as c:
            n = c.execute(update(signals).where(signals.c.created_at < cutoff,
                                                signals.c.reporter_contact.is_not(None))
                          .values(reporter_contact=None)).rowcount
            self._audit(c, None, None, "retention", "signals", None, f"blanked={n},days={days}")
        return int(n)
