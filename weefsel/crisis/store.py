"""The crisis register: opt-in residents and helpers, encrypted at rest, forgotten on time.

Own tables in the operational SQLite store (never the warehouse). Everything personal
(name, address, coordinates, needs, skills) is one Fernet token (AES-128-CBC + HMAC) per
person; the key lives outside the database (``WEEFSEL_CRISIS_KEY`` or the key file named
by ``WEEFSEL_CRISIS_KEY_FILE``). In clear stay only what the system must act on without a
key: kind, buurt code, synthetic flag, consents and the retention date. Deletion uses
``PRAGMA secure_delete`` and ``VACUUM`` so a deleted token is gone from the file bytes;
the audit log keeps a hash-chained proof (the SHA-256 of the token that was removed).

Access goes through :class:`Principal` (who, which role) and :class:`AuditSink`. On the web
both come from the registry (``weefsel.crisis.roles``): its session says who, its
``reg_crisis_roles`` which crisis role, and its ``reg_audit`` is the audit a reviewer reads;
the hash chain in ``crisis_audit`` stays beside the encrypted data as tamper evidence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from weefsel.errors import InputError

NEEDS = {
    "geen_trap": "kan geen trap op",
    "stroom_apparaat": "apparaat heeft stroom nodig",
    "alleen": "woont alleen",
    "slecht_ter_been": "slecht ter been",
    "slechthorend_ziend": "hoort of ziet slecht",
    "geen_telefoon": "heeft geen (mobiele) telefoon",
    "zorg_dieren": "heeft huisdieren die zorg nodig hebben",
}
PURPOSES = {
    "bezoek": "bij een crisis bezocht worden door buren",
    "lijst": "op een papieren lijst staan voor de helpers",
    "behoefte": "mijn behoefte tonen aan de coördinator tijdens een crisis",
}
HELPER_PURPOSES = {"helpen": "bij een crisis aanbellen bij buren", "lijst": PURPOSES["lijst"]}
SKILLS = ("ehbo", "reanimatie", "auto", "tolk")
COORDINATOR = "coordinator"
DEFAULT_RETENTION_DAYS = 365


class Forbidden(InputError):
    """A role may not do this (shown as one line, never a traceback)."""


@dataclass(frozen=True)
class Principal:
    """Who acts and in which crisis role (``coordinator`` reads needs during a crisis).

    Made from a registry session by :func:`weefsel.crisis.roles.principal_for`; without a
    crisis role the registry role (viewer ... admin) is carried, which never reads needs.
    """

    user: str
    role: str
    user_id: int | None = None
    gemeente_code: str | None = None


def actor_name(actor: "Principal | str") -> str:
    return actor.user if isinstance(actor, Principal) else str(actor)


class AuditSink(Protocol):
    def write(self, actor: Principal | str, action: str, obj: str, detail: str = "") -> None: ...


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def load_key() -> bytes:
    """The Fernet key from the environment or a key file; never from the database."""
    key = os.environ.get("WEEFSEL_CRISIS_KEY")
    if key:
        return key.encode()
    path = os.environ.get("WEEFSEL_CRISIS_KEY_FILE")
    if path and Path(path).is_file():
        return Path(path).read_bytes().strip()
    raise InputError("geen sleutel voor het crisisregister: zet WEEFSEL_CRISIS_KEY of "
                     "WEEFSEL_CRISIS_KEY_FILE (maak er een met 'weefsel crisis keygen')",
                     where="crisis")


def new_key_file(path: str | Path) -> Path:
    """Write a fresh key readable by the owner only."""
    from cryptography.fernet import Fernet

    p = Path(path)
    if p.exists():
        raise InputError("sleutelbestand bestaat al; overschrijven zou alle gegevens onleesbaar "
                         "maken", where=str(p))
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(Fernet.generate_key())
    return p


SCHEMA = """
CREATE TABLE IF NOT EXISTS crisis_people (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('resident','helper')),
    buurt_code TEXT,
    synthetic INTEGER NOT NULL DEFAULT 0,
    capacity INTEGER NOT NULL DEFAULT 0,
    walk_range_m INTEGER NOT NULL DEFAULT 800,
    payload BLOB NOT NULL,
    receipt_hash TEXT UNIQUE,
    created_at TEXT NOT NULL,
    retain_until TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS crisis_consents (
    person_id INTEGER NOT NULL REFERENCES crisis_people(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    given_at TEXT NOT NULL,
    withdrawn_at TEXT,
    PRIMARY KEY (person_id, purpose)
);
CREATE TABLE IF NOT EXISTS crisis_pairs (
    resident_id INTEGER NOT NULL REFERENCES crisis_people(id) ON DELETE CASCADE,
    helper_id INTEGER NOT NULL REFERENCES crisis_people(id) ON DELETE CASCADE,
    distance_m REAL NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (resident_id, helper_id)
);
CREATE TABLE IF NOT EXISTS crisis_state (
    id INTEGER PRIMARY KEY, declared_by TEXT, declared_at TEXT, ended_at TEXT, reason TEXT
);
CREATE TABLE IF NOT EXISTS crisis_lists (
    checksum TEXT PRIMARY KEY, scope TEXT NOT NULL, produced_at TEXT NOT NULL, rows INTEGER
);
CREATE TABLE IF NOT EXISTS crisis_audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    object TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', prev TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS crisis_audit_no_update BEFORE UPDATE ON crisis_audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS crisis_audit_no_delete BEFORE DELETE ON crisis_audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""


class SqliteAudit:
    """The crisis store's own log: append-only, hash-chained (each entry hashes the previous)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def write(self, actor: Principal | str, action: str, obj: str, detail: str = "") -> None:
        actor = actor_name(actor)
        row = self.conn.execute("SELECT hash FROM crisis_audit ORDER BY id DESC LIMIT 1").fetchone()
        prev = row[0] if row else "0" * 64
        at = _now().isoformat()
        h = hashlib.sha256("|".join([prev, at, actor, action, obj, detail]).encode()).hexdigest()
        self.conn.execute("INSERT INTO crisis_audit (at, actor, action, object, detail, prev, hash)"
                          " VALUES (?,?,?,?,?,?,?)", (at, actor, action, obj, detail, prev, h))

    def verify_chain(self) -> bool:
        prev = "0" * 64
        for at, actor, action, obj, detail, p, h in self.conn.execute(
                "SELECT at, actor, action, object, detail, prev, hash FROM crisis_audit ORDER BY id"):
            if p != prev or hashlib.sha256("|".join([p, at, actor, action, obj, detail])
                                           .encode()).hexdigest() != h:
                return False
            prev = h
        return True


class _Tee:
    """The registry audit (what a reviewer reads) and the local hash chain, both written."""

    def __init__(self, *sinks: AuditSink):
        self.sinks = sinks

    def write(self, actor, action: str, obj: str, detail: str = "") -> None:
        for s in self.sinks:
            s.write(actor, action, obj, detail)


class CrisisStore:
    """Register, consent, assign, activate, forget. All writes are audited."""

    def __init__(self, path: str | Path, key: bytes | None = None, audit: AuditSink | None = None):
        from cryptography.fernet import Fernet

        self.fernet = Fernet(key or load_key())      # no key: fail before touching the disk
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA secure_delete = ON")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA journal_mode = DELETE")
        self.conn.executescript(SCHEMA)
        self.audit_log = SqliteAudit(self.conn)
        self.audit: AuditSink = _Tee(self.audit_log, audit) if audit else self.audit_log

    # -- roles and crisis state -------------------------------------------------------
    def issue_receipt(self, pid: int) -> str:
        """A code the person keeps to see, change or withdraw his registration."""
        code = secrets.token_urlsafe(9)
        self.conn.execute("UPDATE crisis_people SET receipt_hash=? WHERE id=?", (_sha(code), pid))
        return code

    def by_receipt(self, code: str) -> int:
        row = self.conn.execute("SELECT id FROM crisis_people WHERE receipt_hash=?",
                                (_sha(code.strip()),)).fetchone()
        if not row:
            raise InputError("onbekende code (of de aanmelding is al verwijderd)", where="crisis")
        return int(row[0])

    def active(self) -> dict | None:
        row = self.conn.execute("SELECT id, declared_by, declared_at, reason FROM crisis_state "
                                "WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1").fetchone()
        return dict(zip(("id", "declared_by", "declared_at", "reason"), row)) if row else None

    def declare(self, who: Principal, reason: str) -> int:
        if who.role != COORDINATOR:
            raise Forbidden("alleen een coördinator kan een crisis afkondigen",
                            where="crisis")
        if self.active():
            raise InputError("er is al een crisis afgekondigd", where="crisis")
        cur = self.conn.execute("INSERT INTO crisis_state (declared_by, declared_at, reason) "
                                "VALUES (?,?,?)", (who.user, _now().isoformat(), reason[:200]))
        self.audit.write(who, "declare", f"crisis:{cur.lastrowid}", reason[:200])
        return int(cur.lastrowid)

    def end(self, who: Principal) -> dict:
        """End the crisis and forget every need-holder who consented only for this crisis."""
        act = self.active()
        if who.role != COORDINATOR:
            raise Forbidden("alleen een coördinator kan een crisis beëindigen",
                            where="crisis")
        if not act:
            raise InputError("er is geen crisis afgekondigd", where="crisis")
        self.conn.execute("UPDATE crisis_state SET ended_at=? WHERE id=?",
                          (_now().isoformat(), act["id"]))
        self.audit.write(who, "end", f"crisis:{act['id']}")
        return {"crisis": act["id"], "deleted": self.purge(reason="crisis_ended")}

    # -- registration -----------------------------------------------------------------
    def register(self, kind: str, *, name: str, address: str, lat: float, lon: float,
                 x: float, y: float, buurt_code: str | None, consents: list[str],
                 needs: list[str] | None = None, skills: list[str] | None = None,
                 capacity: int = 0, walk_range_m: int = 800, synthetic: bool = False,
                 retention_days: int = DEFAULT_RETENTION_DAYS,
                 actor: Principal | str = "self") -> int:
        """Opt-in: without consent for the core purpose nothing is stored."""
        if kind not in ("resident", "helper"):
            raise InputError(f"onbekende soort {kind!r}", expected="resident of helper")
        allowed = PURPOSES if kind == "resident" else HELPER_PURPOSES
        bad = [c for c in consents if c not in allowed]
        if bad:
            raise InputError(f"onbekend doel voor toestemming: {', '.join(bad)}",
                             expected=", ".join(allowed))
        core = "bezoek" if kind == "resident" else "helpen"
        if core not in consents:
            raise InputError("zonder toestemming voor '" + allowed[core] + "' slaan we niets op",
                             where="aanmelding")
        needs = needs or []
        unknown = [n for n in needs if n not in NEEDS]
        if unknown:
            raise InputError("een behoefte kiest u uit de lijst, geen diagnose of vrije tekst",
                             where="aanmelding", expected=", ".join(NEEDS))
        if needs and "behoefte" not in consents:
            raise InputError("een behoefte slaan we alleen op met toestemming om die aan de "
                             "coördinator te tonen", where="aanmelding")
        skills = [s for s in (skills or []) if s in SKILLS]
        if not (1 <= retention_days <= 3 * 365):
            raise InputError("bewaartermijn moet tussen 1 dag en 3 jaar liggen", where="aanmelding")
        payload = json.dumps({"name": str(name)[:120], "address": str(address)[:200],
                              "lat": lat, "lon": lon, "x": x, "y": y, "needs": needs,
                              "skills": skills}, ensure_ascii=False).encode()
        now = _now()
        token = self.fernet.encrypt(payload)
        cur = self.conn.execute(
            "INSERT INTO crisis_people (kind, buurt_code, synthetic, capacity, walk_range_m, "
            "payload, created_at, retain_until) VALUES (?,?,?,?,?,?,?,?)",
            (kind, buurt_code, int(synthetic), int(capacity), int(walk_range_m), token,
             now.isoformat(), (now + dt.timedelta(days=retention_days)).date().isoformat()))
        pid = int(cur.lastrowid)
        self.conn.executemany("INSERT INTO crisis_consents (person_id, purpose, given_at) "
                              "VALUES (?,?,?)", [(pid, c, now.isoformat()) for c in consents])
        self.audit.write(actor, "register", f"person:{pid}", kind)
        return pid

    def withdraw(self, pid: int, purpose: str | None = None,
                 actor: Principal | str = "self") -> dict:
        """Withdraw one purpose; withdrawing the core purpose (or all) deletes the person."""
        kind = self._kind(pid)
        core = "bezoek" if kind == "resident" else "helpen"
        if purpose in (None, core):
            return self.delete(pid, reason="withdrawn", actor=actor)
        self.conn.execute("UPDATE crisis_consents SET withdrawn_at=? WHERE person_id=? AND "
                          "purpose=? AND withdrawn_at IS NULL", (_now().isoformat(), pid, purpose))
        if purpose == "behoefte":
            data = self._decrypt(pid)
            data["needs"] = []
            self.conn.execute("UPDATE crisis_people SET payload=? WHERE id=?",
                              (self.fernet.encrypt(json.dumps(data).encode()), pid))
        self.audit.write(actor, "withdraw", f"person:{pid}", purpose)
        self.vacuum()
        return {"person": pid, "withdrawn": purpose}

    def _kind(self, pid: int) -> str:
        row = self.conn.execute("SELECT kind FROM crisis_people WHERE id=?", (pid,)).fetchone()
        if not row:
            raise InputError(f"aanmelding {pid} bestaat niet (meer)", where="crisis")
        return row[0]

    def _decrypt(self, pid: int) -> dict:
        row = self.conn.execute("SELECT payload FROM crisis_people WHERE id=?", (pid,)).fetchone()
        if not row:
            raise InputError(f"aanmelding {pid} bestaat niet (meer)", where="crisis")
        return json.loads(self.fernet.decrypt(row[0]))

    def consents(self, pid: int) -> dict[str, bool]:
        return {p: w is None for p, w in self.conn.execute(
            "SELECT purpose, withdrawn_at FROM crisis_consents WHERE person_id=?", (pid,))}

    def overview(self, pid: int) -> dict:
        """What a person sees about himself (after showing his receipt): not audited as a view
        by someone else. Includes the visible retention date."""
        kind = self._kind(pid)
        retain, synthetic = self.conn.execute(
            "SELECT retain_until, synthetic FROM crisis_people WHERE id=?", (pid,)).fetchone()
        data = self._decrypt(pid)
        return {"id": pid, "kind": kind, "retain_until": retain, "synthetic": bool(synthetic),
                "consents": self.consents(pid),
                "needs_nl": [NEEDS[n] for n in data.get("needs", [])]}

    # -- who may see a need -----------------------------------------------------------
    def needs(self, who: Principal, buurt_code: str | None = None) -> list[dict]:
        """Needs, only for a coordinator during a declared crisis; every view is audited."""
        act = self.active()
        if who.role != COORDINATOR:
            self.audit.write(who, "needs_denied", f"buurt:{buurt_code or '*'}", who.role)
            raise Forbidden("behoeften zijn alleen zichtbaar voor de coördinator", where="crisis")
        if not act:
            self.audit.write(who, "needs_denied", f"buurt:{buurt_code or '*'}", "no crisis")
            raise Forbidden("behoeften zijn alleen zichtbaar tijdens een afgekondigde crisis",
                            where="crisis")
        q = ("SELECT p.id, p.buurt_code, p.synthetic, p.payload FROM crisis_people p JOIN "
             "crisis_consents c ON c.person_id=p.id AND c.purpose='behoefte' AND "
             "c.withdrawn_at IS NULL WHERE p.kind='resident'")
        args: tuple = ()
        if buurt_code:
            q += " AND p.buurt_code=?"
            args = (buurt_code,)
        out = []
        for pid, buurt, syn, token in self.conn.execute(q + " ORDER BY p.id", args).fetchall():
            d = json.loads(self.fernet.decrypt(token))
            if not d["needs"]:
                continue
            out.append({"id": pid, "buurt_code": buurt, "synthetic": bool(syn), "name": d["name"],
                        "address": d["address"], "needs_nl": [NEEDS[n] for n in d["needs"]],
                        "helpers": self._helper_names(pid)})
            self.audit.write(who, "view_need", f"person:{pid}", f"crisis:{act['id']}")
        return out

    def _helper_names(self, rid: int) -> list[str]:
        ids = [h for (h,) in self.conn.execute(
            "SELECT helper_id FROM crisis_pairs WHERE resident_id=? ORDER BY helper_id", (rid,))]
        return [self._decrypt(h)["name"] for h in ids]

    # -- assignment -------------------------------------------------------------------
    def people(self, kind: str, buurt_code: str | None = None) -> list[dict]:
        """Decrypted rows for the system's own use (assignment, lists); not a human view."""
        q = "SELECT id, buurt_code, capacity, walk_range_m, synthetic, payload FROM crisis_people " \
            "WHERE kind=?"
        args: list = [kind]
        if buurt_code:
            q += " AND buurt_code=?"
            args.append(buurt_code)
        out = []
        for pid, buurt, cap, rng, syn, token in self.conn.execute(q + " ORDER BY id", args):
            d = json.loads(self.fernet.decrypt(token))
            d.update(id=pid, buurt_code=buurt, capacity=cap, walk_range_m=rng, synthetic=bool(syn))
            out.append(d)
        return out

    def assign(self, actor: Principal | str, *, k: int = 2, walk_range_m: float = 800.0) -> dict:
        """Re-run the assignment over everyone, keeping existing pairs where possible."""
        import numpy as np

        from weefsel.crisis.assign import assign

        res, hel = self.people("resident"), self.people("helper")
        old = {(r, h) for r, h in self.conn.execute("SELECT resident_id, helper_id FROM crisis_pairs")}
        rix = {p["id"]: i for i, p in enumerate(res)}
        hix = {p["id"]: i for i, p in enumerate(hel)}
        existing = {(rix[r], hix[h]) for r, h in old if r in rix and h in hix}
        a = assign(np.array([[p["x"], p["y"]] for p in res]).reshape(-1, 2),
                   np.array([[p["x"], p["y"]] for p in hel]).reshape(-1, 2),
                   capacity=np.array([p["capacity"] for p in hel], dtype=np.int64), k=k,
                   walk_range_m=walk_range_m, existing=existing)
        new = {(res[r]["id"], hel[h]["id"]): d for r, h, d in
               zip(a.resident.tolist(), a.helper.tolist(), a.distance_m.tolist())}
        now = _now().isoformat()
        self.conn.execute("BEGIN")
        for pair in old - set(new):
            self.conn.execute("DELETE FROM crisis_pairs WHERE resident_id=? AND helper_id=?", pair)
        for (r, h), d in new.items():
            if (r, h) not in old:
                self.conn.execute("INSERT INTO crisis_pairs VALUES (?,?,?,?)", (r, h, d, now))
        self.conn.execute("COMMIT")
        kept = len(old & set(new))
        summary = a.summary() | {"kept": kept, "changed": len(set(new) - old),
                                 "short_ids": [res[i]["id"] for i in np.flatnonzero(a.shortfall)]}
        self.audit.write(actor, "assign", "pairs",
                         f"pairs={len(new)} kept={kept} short={summary['short']}")
        return summary

    def pairs(self) -> list[tuple[int, int, float]]:
        return list(self.conn.execute(
            "SELECT resident_id, helper_id, distance_m FROM crisis_pairs ORDER BY 1, 2"))

    # -- forgetting -------------------------------------------------------------------
    def delete(self, pid: int, *, reason: str, actor: Principal | str = "system") -> dict:
        row = self.conn.execute("SELECT payload FROM crisis_people WHERE id=?", (pid,)).fetchone()
        if not row:
            raise InputError(f"aanmelding {pid} bestaat niet (meer)", where="crisis")
        digest = hashlib.sha256(row[0]).hexdigest()
        self.conn.execute("DELETE FROM crisis_people WHERE id=?", (pid,))
        self.vacuum()
        gone = self.conn.execute("SELECT count(*) FROM crisis_people WHERE id=?", (pid,)).fetchone()[0] == 0
        self.audit.write(actor, "delete", f"person:{pid}",
                         f"reason={reason} sha256={digest} verified_absent={gone}")
        return {"person": pid, "reason": reason, "sha256": digest, "verified_absent": gone}

    def purge(self, *, today: dt.date | None = None, reason: str = "retention") -> list[int]:
        """Delete everyone past the retention date; after a crisis, forget every need."""
        today = today or _now().date()
        if reason == "crisis_ended":
            return self.forget_needs()
        ids = [i for (i,) in self.conn.execute(
            "SELECT id FROM crisis_people WHERE retain_until < ?", (today.isoformat(),))]
        for pid in ids:
            self.delete(pid, reason=reason)
        return ids

    def forget_needs(self, actor: str = "system") -> list[int]:
        """After a crisis: every need is erased (re-encrypted without it, old token wiped),
        consent to show needs ends; the person stays in the network without a need."""
        rows = self.conn.execute(
            "SELECT p.id, p.payload FROM crisis_people p JOIN crisis_consents c ON "
            "c.person_id=p.id AND c.purpose='behoefte' AND c.withdrawn_at IS NULL").fetchall()
        now = _now().isoformat()
        for pid, token in rows:
            data = json.loads(self.fernet.decrypt(token))
            data["needs"] = []
            self.conn.execute("UPDATE crisis_people SET payload=? WHERE id=?",
                              (self.fernet.encrypt(json.dumps(data).encode()), pid))
            self.conn.execute("UPDATE crisis_consents SET withdrawn_at=? WHERE person_id=? AND "
                              "purpose='behoefte'", (now, pid))
            self.audit.write(actor, "delete_need", f"person:{pid}",
                             f"reason=crisis_ended sha256={hashlib.sha256(token).hexdigest()}")
        self.vacuum()
        return [pid for pid, _ in rows]

    def vacuum(self) -> None:
        self.conn.execute("VACUUM")

    def audit_entries(self, limit: int = 200) -> list[dict]:
        cols = ("id", "at", "actor", "action", "object", "detail")
        return [dict(zip(cols, r)) for r in self.conn.execute(
            "SELECT id, at, actor, action, object, detail FROM crisis_audit ORDER BY id DESC "
            "LIMIT ?", (limit,))]

    def close(self) -> None:
        self.conn.close()
