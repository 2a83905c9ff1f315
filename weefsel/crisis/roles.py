"""Crisis roles and audit on the registry: one login, one audit log.

Why: a coordinator reading needs is the most sensitive act in weefsel, so it rides on the
registry's accounts (argon2 passwords, sessions, CSRF) instead of a separate code, and
every crisis action lands in the registry's append-only ``reg_audit`` that a reviewer
already reads. Crisis roles are separate from the registry ladder (viewer < contributor <
moderator < admin): no registry role reads needs; a registry admin of the same gemeente
grants ``coordinator`` or ``registrar`` (table ``reg_crisis_roles``, registry migration 4).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, insert, select, update

from weefsel.crisis.store import Forbidden, Principal
from weefsel.errors import InputError
from weefsel.registry.ops import OpsStore, audit, crisis_roles_t, users

#: crisis role -> what it may do (shown on the roles page)
CRISIS_ROLES = {
    "coordinator": "coördinator: wijst toe, maakt bellijsten, kondigt een crisis af en ziet "
                   "behoeften alleen tijdens een afgekondigde crisis",
    "registrar": "registrator: voert papieren aanmeldformulieren in (ziet geen behoeften)",
}
#: audit entity names (reg_audit.entity is 20 characters)
_ENTITY = {"person": "crisis_person", "crisis": "crisis", "buurt": "crisis_buurt",
           "noodsteunpunt": "crisis_noodsteunpunt", "user": "user"}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def grant(ops: OpsStore, admin: dict | None, username: str, role: str) -> int:
    """A registry admin gives a user of the same gemeente a crisis role; audited."""
    if role not in CRISIS_ROLES:
        raise InputError(f"onbekende crisisrol {role!r}", expected=", ".join(CRISIS_ROLES))
    ops.require(admin, "admin")
    target = _user(ops, username)
    if target["gemeente_code"] != admin["gemeente_code"]:
        raise Forbidden(f"{target['username']} werkt voor {target['gemeente_code']}, "
                        f"niet voor {admin['gemeente_code']}")
    with ops.engine.begin() as c:
        vals = dict(gemeente_code=target["gemeente_code"], role=role, granted_by=admin["id"],
                    granted_at=_now())
        if c.execute(update(crisis_roles_t).where(crisis_roles_t.c.user_id == target["id"])
                     .values(**vals)).rowcount == 0:
            c.execute(insert(crisis_roles_t).values(user_id=target["id"], **vals))
        OpsStore._audit(c, admin, admin["gemeente_code"], "crisis_grant", "user", target["id"],
                        f"role={role}")
    return int(target["id"])


def revoke(ops: OpsStore, admin: dict | None, username: str) -> None:
    """Take a crisis role away (same gemeente); audited."""
    ops.require(admin, "admin")
    target = _user(ops, username)
    if target["gemeente_code"] != admin["gemeente_code"]:
        raise Forbidden(f"{target['username']} werkt niet voor {admin['gemeente_code']}")
    with ops.engine.begin() as c:
        c.execute(delete(crisis_roles_t).where(crisis_roles_t.c.user_id == target["id"]))
        OpsStore._audit(c, admin, admin["gemeente_code"], "crisis_revoke", "user", target["id"], "")


def _user(ops: OpsStore, username: str) -> dict:
    with ops.engine.connect() as c:
        row = c.execute(select(users.c.id, users.c.username, users.c.gemeente_code)
                        .where(users.c.username == str(username or "").strip().lower())).mappings().first()
    if row is None:
        raise InputError(f"gebruiker {username!r} bestaat niet in het register")
    return dict(row)


def granted(ops: OpsStore, gemeente_code: str) -> list[dict]:
    """Users of a gemeente with a crisis role (for the roles page: usernames and roles only)."""
    with ops.engine.connect() as c:
        rows = c.execute(select(users.c.username, crisis_roles_t.c.role, crisis_roles_t.c.granted_at)
                         .join(users, users.c.id == crisis_roles_t.c.user_id)
                         .where(crisis_roles_t.c.gemeente_code == gemeente_code)
                         .order_by(users.c.username)).mappings().all()
    return [dict(r) for r in rows]


def principal_for(ops: OpsStore, user: dict | None, gemeente_code: str | None = None) -> Principal:
    """The registry user behind a session as a crisis :class:`Principal`.

    Without a crisis role (or for another gemeente than this register's) the principal
    carries the registry role, which never reads needs."""
    if user is None:
        return Principal("anoniem", "anoniem")
    role = None
    if not gemeente_code or user["gemeente_code"] == gemeente_code:
        with ops.engine.connect() as c:
            role = c.execute(select(crisis_roles_t.c.role).where(
                crisis_roles_t.c.user_id == user["id"],
                crisis_roles_t.c.gemeente_code == user["gemeente_code"])).scalar()
    return Principal(user["username"], role or user["role"], user_id=int(user["id"]),
                     gemeente_code=user["gemeente_code"])


class RegistryAudit:
    """The crisis' :class:`AuditSink` onto ``reg_audit``: ids, actions and counts only.

    ``obj`` like ``person:12`` becomes entity ``crisis_person`` / entity_id 12; actions get the
    prefix ``crisis_``; a human actor is the registry user id, ``self``/``system`` are NULL with
    the actor named in the detail."""

    def __init__(self, ops: OpsStore, gemeente_code: str | None = None):
        self.ops, self.gemeente_code = ops, gemeente_code

    def write(self, actor, action: str, obj: str, detail: str = "") -> None:
        kind, _, ident = str(obj).partition(":")
        entity, entity_id, extra = _ENTITY.get(kind, "crisis"), None, []
        if kind not in _ENTITY:
            extra.append(f"object={obj}")
        elif ident.isdigit():
            entity_id = int(ident)
        elif ident:
            extra.append(f"{kind}={ident}")
        user = None
        if isinstance(actor, Principal) and actor.user_id is not None:
            user = {"id": actor.user_id}
            gm = actor.gemeente_code or self.gemeente_code
        else:
            name = actor.user if isinstance(actor, Principal) else str(actor)
            extra.insert(0, f"actor={name}")
            gm = self.gemeente_code
        text = " ".join([*extra, detail] if detail else extra)[:1000]
        with self.ops.engine.begin() as c:
            OpsStore._audit(c, user, gm, f"crisis_{action}"[:40], entity, entity_id, text)

    def entries(self, gemeente_code: str | None, limit: int = 500) -> list[dict]:
        """Crisis entries of the registry audit, newest first (for the coordinator's page)."""
        q = select(audit, users.c.username).outerjoin(users, users.c.id == audit.c.user_id) \
            .where(audit.c.action.like("crisis_%")).order_by(audit.c.id.desc()).limit(limit)
        if gemeente_code:
            q = q.where(audit.c.gemeente_code == gemeente_code)
        with self.ops.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]
