"""OpenID Connect single sign-on for registry accounts (issue 14 item 4), an option.

Why: a gemeente's staff should log in with the account they already have (their municipal
identity provider), and leaving the gemeente should end their access there. Authorization-code
flow with PKCE (S256), ``state`` bound to the browser (a cookie) and single-use (a row in
``reg_oidc_pending``, deleted on use), ``nonce`` in the ID token. The ID token is checked with
PyJWT (MIT) against the provider's JWKS (fetched with httpx, refreshed once when a token names an
unknown ``kid``: key rotation), and ``iss``, ``aud``, ``exp``, ``iat``, ``nonce`` and ``azp``.

The provider's groups claim maps to a gemeente and a role (``weefsel:GM0034:moderator``, or an
explicit table for providers that name groups by id); unmapped accounts are refused, or get
``viewer`` of one gemeente when so configured. The first login creates a registry user named
``sso-<hash>`` (no name or e-mail is stored, no password: password login is impossible for it);
a logged-in local account can instead be linked. The session is the ordinary registry session.
Every login, link and refusal is audited with ids and reason codes only; tokens, e-mail
addresses and names never reach the audit or the logs.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import httpx
import jwt
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, select, update
from sqlalchemy.exc import IntegrityError

from weefsel.errors import InputError
from weefsel.registry.ops import ROLES, SESSION_HOURS, OpsStore, _iso, _now, _sha, sessions

log = logging.getLogger(__name__)

#: the columns migration 6 adds (ops.users stays as migration 1 created it)
_meta = MetaData()
oidc_users = Table(
    "reg_users", _meta,
    Column("id", Integer, primary_key=True),
    Column("gemeente_code", String(6)), Column("username", String(80)),
    Column("password_hash", String(200)), Column("role", String(20)),
    Column("active"), Column("created_at", String(32)),
    Column("oidc_issuer", String(300)), Column("oidc_subject", String(255)),
)
pending = Table(
    "reg_oidc_pending", _meta,
    Column("state_hash", String(64), primary_key=True),
    Column("nonce", String(100)), Column("verifier", String(128)),
    Column("link_user_id", Integer), Column("expires_at", String(32)),
)

NO_PASSWORD = "!oidc"  # not an argon2 hash: a password login for such a user always fails
PENDING_MINUTES = 10
GROUP_RE = r"^{prefix}:(GM\d{{4}}):(viewer|contributor|moderator|admin)$"
ENV = "WEEFSEL_OIDC_"


class OidcRefused(InputError):
    """A refused single sign-on: a Dutch line for the person, a reason code for the audit."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class OidcConfig:
    """Where the provider is, who we are to it, and how its claims map to gemeente and role."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str
    scopes: tuple[str, ...] = ("openid",)
    label: str = "gemeente-account"
    groups_claim: str = "groups"
    group_prefix: str = "weefsel"
    group_map: dict[str, str] = field(default_factory=dict)   # provider group -> "GM0034:role"
    unmapped: str = "weigeren"                                # or "viewer:GM0034"
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")
    leeway_s: int = 60
    jwks_refresh_s: float = 10.0   # at most one JWKS refresh per this many seconds

    def __post_init__(self):
        for name in ("issuer", "redirect_url"):
            url = getattr(self, name)
            parts = urlsplit(url)
            local = parts.hostname in ("localhost", "127.0.0.1", "::1")
            if parts.scheme != "https" and not (parts.scheme == "http" and local):
                raise InputError(f"OIDC: {name} {url!r} moet https zijn (http alleen op localhost)")
        if "openid" not in self.scopes:
            raise InputError("OIDC: scopes moeten 'openid' bevatten")
        if self.unmapped != "weigeren" and not re.fullmatch(r"viewer:GM\d{4}", self.unmapped):
            raise InputError(f"OIDC: unmapped {self.unmapped!r} onbekend",
                             expected="weigeren of viewer:GMxxxx (alleen viewer als standaardrol)")
        for g, target in self.group_map.items():
            if not re.fullmatch(r"GM\d{4}:(viewer|contributor|moderator|admin)", str(target)):
                raise InputError(f"OIDC: groep {g!r} verwijst naar {target!r}; verwacht GMxxxx:rol")

    @classmethod
    def from_env(cls, env: dict | None = None) -> OidcConfig | None:
        """From ``WEEFSEL_OIDC_*`` (and the TOML file in ``WEEFSEL_OIDC_CONFIG``); None when off.

        The client secret is read from ``WEEFSEL_OIDC_CLIENT_SECRET`` only, never from a file."""
        env = os.environ if env is None else env
        conf: dict = {}
        if env.get(ENV + "CONFIG"):
            path = Path(env[ENV + "CONFIG"])
            try:
                conf = dict(tomllib.loads(path.read_text(encoding="utf-8")).get("oidc", {}))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise InputError(f"OIDC-configuratie onleesbaar: {exc}", where=str(path)) from None
            if "client_secret" in conf:
                raise InputError("OIDC: zet client_secret niet in het bestand maar in "
                                 "WEEFSEL_OIDC_CLIENT_SECRET", where=str(path))
        for key in ("issuer", "client_id", "redirect_url", "label", "groups_claim", "group_prefix",
                    "unmapped", "scopes"):
            if env.get(ENV + key.upper()):
                conf[key] = env[ENV + key.upper()]
        if not conf.get("issuer"):
            return None
        secret = env.get(ENV + "CLIENT_SECRET", "")
        missing = [k for k in ("client_id", "redirect_url") if not conf.get(k)] + \
            ([] if secret else ["WEEFSEL_OIDC_CLIENT_SECRET"])
        if missing:
            raise InputError("OIDC is half ingesteld: ontbreekt " + ", ".join(missing))
        scopes = conf.get("scopes", "openid")
        scopes = tuple(scopes.split() if isinstance(scopes, str) else scopes)
        extra = {k: conf[k] for k in ("label", "groups_claim", "group_prefix", "unmapped") if k in conf}
        return cls(issuer=conf["issuer"].rstrip("/"), client_id=conf["client_id"], client_secret=secret,
                   redirect_url=conf["redirect_url"], scopes=scopes,
                   group_map={str(k): str(v) for k, v in dict(conf.get("groups", {})).items()}, **extra)


def map_claims(claims: dict, cfg: OidcConfig) -> tuple[str, str]:
    """(gemeente code, role) from the ID token's groups claim; the highest role wins; refused
    when the groups name more than one gemeente, or none and unmapped accounts are refused."""
    raw = claims.get(cfg.groups_claim)
    groups = [raw] if isinstance(raw, str) else [g for g in (raw or []) if isinstance(g, str)] \
        if isinstance(raw, list) else []
    pattern = re.compile(GROUP_RE.format(prefix=re.escape(cfg.group_prefix)))
    found: set[tuple[str, str]] = set()
    for g in groups:
        if g in cfg.group_map:
            gm, role = cfg.group_map[g].split(":")
            found.add((gm, role))
        elif m := pattern.match(g):
            found.add((m.group(1), m.group(2)))
    gemeenten = {gm for gm, _ in found}
    if len(gemeenten) > 1:
        raise OidcRefused("multi_gemeente", "uw gemeente-account heeft rollen in meer dan één gemeente "
                          f"({', '.join(sorted(gemeenten))}); vraag uw beheerder er één te kiezen")
    if not found:
        if cfg.unmapped == "weigeren":
            raise OidcRefused("unmapped", "uw gemeente-account heeft geen rol in weefsel; vraag uw "
                              f"beheerder om een groep zoals {cfg.group_prefix}:GM0034:viewer")
        role, gm = cfg.unmapped.split(":")
        return gm, role
    gm = gemeenten.pop()
    return gm, max((r for _, r in found), key=ROLES.index)


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """(code verifier, S256 challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(64)
    return verifier, _b64(hashlib.sha256(verifier.encode("ascii")).digest())


class OidcClient:
    """The relying party's side: discovery, authorize URL, code exchange, ID-token validation."""

    def __init__(self, cfg: OidcConfig, http: httpx.Client | None = None):
        self.cfg = cfg
        self.http = http or httpx.Client(timeout=10.0, follow_redirects=False)
        self._disc: dict | None = None
        self._keys: dict | None = None
        self._keys_at = 0.0
        self._lock = threading.Lock()

    def _get_json(self, url: str, what: str) -> dict:
        try:
            r = self.http.get(url)
            r.raise_for_status()
            out = r.json()
        except (httpx.HTTPError, ValueError):
            log.info("oidc: %s not readable (%s)", what, urlsplit(url).netloc)
            raise OidcRefused("provider_unreachable", "de inlogdienst van de gemeente is niet bereikbaar; "
                              "probeer het later opnieuw") from None
        if not isinstance(out, dict):
            raise OidcRefused("provider_unreachable", f"de inlogdienst gaf een onbruikbaar antwoord ({what})")
        return out

    def discovery(self) -> dict:
        """The provider's metadata (cached); its issuer must be the configured one exactly."""
        if self._disc is None:
            d = self._get_json(self.cfg.issuer + "/.well-known/openid-configuration", "discovery")
            if d.get("issuer") != self.cfg.issuer:
                raise OidcRefused("wrong_issuer", "de inlogdienst meldt een andere uitgever dan ingesteld (issuer)")
            for k in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(d.get(k), str):
                    raise OidcRefused("provider_unreachable", f"de inlogdienst noemt geen {k}")
            self._disc = d
        return self._disc

    def authorize_url(self, state: str, nonce: str, challenge: str) -> str:
        q = {"response_type": "code", "client_id": self.cfg.client_id, "redirect_uri": self.cfg.redirect_url,
             "scope": " ".join(self.cfg.scopes), "state": state, "nonce": nonce,
             "code_challenge": challenge, "code_challenge_method": "S256"}
        ep = self.discovery()["authorization_endpoint"]
        return ep + ("&" if "?" in ep else "?") + urlencode(q)

    def exchange(self, code: str, verifier: str) -> str:
        """The ID token for an authorization code (client_secret_basic, or _post if that is all
        the provider supports)."""
        d = self.discovery()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.cfg.redirect_url,
                "code_verifier": verifier}
        methods = d.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        auth = None
        if "client_secret_basic" in methods:  # RFC 6749 2.3.1: form-encoded before Base64
            auth = httpx.BasicAuth(quote(self.cfg.client_id, safe=""), quote(self.cfg.client_secret, safe=""))
        else:
            form |= {"client_id": self.cfg.client_id, "client_secret": self.cfg.client_secret}
        try:
            r = self.http.post(d["token_endpoint"], data=form, auth=auth, headers={"Accept": "application/json"})
            body = r.json()
        except (httpx.HTTPError, ValueError):
            raise OidcRefused("token_endpoint", "de inlogdienst van de gemeente is niet bereikbaar; "
                              "probeer het later opnieuw") from None
        if r.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            err = body.get("error") if isinstance(body, dict) else None
            log.info("oidc: token endpoint refused (status %s, error %s)", r.status_code,
                     err if isinstance(err, str) and re.fullmatch(r"[a-z_]{1,40}", err) else "?")
            raise OidcRefused("token_endpoint", "de inlogdienst nam de inlogcode niet aan (verlopen of al "
                              "gebruikt); begin opnieuw bij het register")
        return body["id_token"]

    def _jwks(self, refresh: bool) -> dict:
        with self._lock:
            if self._keys is None or refresh:
                raw = self._get_json(self.discovery()["jwks_uri"], "jwks")
                keys = {}
                for k in raw.get("keys", []) if isinstance(raw.get("keys"), list) else []:
                    if not isinstance(k, dict) or k.get("use", "sig") != "sig":
                        continue
                    try:
                        keys[k.get("kid")] = (jwt.PyJWK(k), k.get("alg"))
                    except jwt.PyJWTError:
                        continue  # a key type we cannot use
                self._keys, self._keys_at = keys, time.monotonic()
            return self._keys

    def _key_for(self, kid) -> tuple[jwt.PyJWK, str | None]:
        """(key, the algorithm the JWKS pins it to or None) for a token's ``kid``."""
        keys = self._jwks(False)
        if kid not in keys and time.monotonic() - self._keys_at >= self.cfg.jwks_refresh_s:
            keys = self._jwks(True)  # the provider may have rotated its keys
        if kid in keys:
            return keys[kid]
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        raise OidcRefused("unknown_kid", "het inlogbewijs is ondertekend met een onbekende sleutel (kid)")

    def validate(self, id_token: str, nonce: str) -> dict:
        """The ID token's claims after every check, or OidcRefused naming the failed check."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise OidcRefused("bad_token", "het inlogbewijs is onleesbaar") from None
        alg = header.get("alg")
        if alg not in self.cfg.algorithms:
            raise OidcRefused("bad_signature", f"het inlogbewijs gebruikt een niet toegestane ondertekening ({alg})")
        key, pinned = self._key_for(header.get("kid"))
        if pinned is not None and pinned != alg:
            raise OidcRefused("bad_signature", f"het inlogbewijs gebruikt {alg}, de sleutel is voor {pinned}")
        try:
            claims = jwt.decode(id_token, key.key, algorithms=[alg], audience=self.cfg.client_id,
                                issuer=self.cfg.issuer, leeway=self.cfg.leeway_s,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.InvalidAudienceError:
            raise OidcRefused("wrong_audience", "het inlogbewijs is niet voor weefsel bestemd (aud)") from None
        except jwt.InvalidIssuerError:
            raise OidcRefused("wrong_issuer", "het inlogbewijs komt niet van de ingestelde inlogdienst (iss)") from None
        except jwt.ExpiredSignatureError:
            raise OidcRefused("expired", "het inlogbewijs is verlopen (exp); probeer opnieuw") from None
        except jwt.InvalidSignatureError:
            raise OidcRefused("bad_signature", "de handtekening van het inlogbewijs klopt niet") from None
        except jwt.MissingRequiredClaimError as exc:
            raise OidcRefused("missing_claim", f"het inlogbewijs mist het gegeven {exc.claim}") from None
        except jwt.ImmatureSignatureError:
            raise OidcRefused("not_yet_valid", "het inlogbewijs is nog niet geldig (iat/nbf); "
                              "controleer de klok van de server") from None
        except jwt.PyJWTError:
            raise OidcRefused("bad_token", "het inlogbewijs is ongeldig") from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcRefused("nonce", "het inlogbewijs hoort niet bij deze inlogpoging (nonce)")
        aud = claims["aud"]
        azp = claims.get("azp")
        if (azp is not None or (isinstance(aud, list) and len(aud) > 1)) and azp != self.cfg.client_id:
            raise OidcRefused("azp", "het inlogbewijs is voor een andere toepassing uitgegeven (azp)")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not 0 < len(sub) <= 255:
            raise OidcRefused("missing_claim", "het inlogbewijs heeft geen bruikbare sub")
        return claims


# --- the registry side ---------------------------------------------------------------------------
def start(store: OpsStore, client: OidcClient, link_user_id: int | None = None) -> tuple[str, str]:
    """(authorize URL, state for the browser cookie); records nonce and PKCE verifier by state."""
    url_state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    url = client.authorize_url(url_state, nonce, challenge)  # discovery first: nothing written if it fails
    with store.engine.begin() as c:
        c.execute(delete(pending).where(pending.c.expires_at < _iso()))
        c.execute(pending.insert().values(state_hash=_sha(url_state), nonce=nonce, verifier=verifier,
                                          link_user_id=link_user_id,
                                          expires_at=_iso(_now() + dt.timedelta(minutes=PENDING_MINUTES))))
    return url, url_state


def _take_pending(store: OpsStore, state: str) -> dict:
    """The pending login of this state, removed (single use); refused when absent or expired."""
    with store.engine.begin() as c:
        row = c.execute(select(pending).where(pending.c.state_hash == _sha(state))).mappings().first()
        if row is None or c.execute(delete(pending).where(pending.c.state_hash == _sha(state))).rowcount != 1:
            raise OidcRefused("state", "deze inlogpoging is verlopen of al gebruikt; begin opnieuw bij het register")
    if row["expires_at"] < _iso():
        raise OidcRefused("state", "deze inlogpoging is verlopen of al gebruikt; begin opnieuw bij het register")
    return dict(row)


def sso_username(issuer: str, subject: str) -> str:
    """A stable username that says nothing about the person."""
    return "sso-" + _sha(issuer + "\n" + subject)[:16]


def finish(store: OpsStore, client: OidcClient, *, state: str, cookie_state: str | None,
           code: str) -> tuple[str | None, str, dict]:
    """Complete a login or a link: (session token or None for a link, csrf, user summary).

    Everything it writes (user, link, role change, session, audit) is one transaction."""
    if not state or not cookie_state or not secrets.compare_digest(state, cookie_state):
        raise OidcRefused("state", "deze inlogpoging hoort niet bij deze browser (state); begin opnieuw bij het register")
    p = _take_pending(store, state)
    if not code or len(code) > 2000:
        raise OidcRefused("bad_token", "de inlogdienst gaf geen inlogcode terug")
    claims = client.validate(client.exchange(code, p["verifier"]), p["nonce"])
    gm, role = map_claims(claims, client.cfg)
    try:
        gm = store.check_area(gm, "gemeente")
    except InputError:
        raise OidcRefused("unknown_gemeente", f"gemeente {gm} uit uw gemeente-account is hier onbekend") from None
    try:
        return _sign_in(store, client.cfg.issuer, claims["sub"], gm, role, p["link_user_id"])
    except IntegrityError:  # the same person's first login twice at once: the other one won
        raise OidcRefused("concurrent", "er liep tegelijk een andere inlogpoging; probeer het opnieuw") from None


def _sign_in(store: OpsStore, iss: str, sub: str, gm: str, role: str,
             link_user_id: int | None) -> tuple[str | None, str, dict]:
    u = oidc_users.c
    with store.engine.begin() as c:
        row = c.execute(select(oidc_users).where(u.oidc_issuer == iss, u.oidc_subject == sub)).mappings().first()
        if link_user_id is not None:
            return _link(store, c, link_user_id, row, gm, iss, sub)
        if row is None:
            uid = c.execute(oidc_users.insert().values(
                gemeente_code=gm, username=sso_username(iss, sub), password_hash=NO_PASSWORD, role=role,
                active=True, created_at=_iso(), oidc_issuer=iss, oidc_subject=sub)).inserted_primary_key[0]
            store._audit(c, None, gm, "user_created", "user", uid, f"role={role},via=oidc")
            row = {"id": int(uid), "gemeente_code": gm, "role": role, "active": True}
        else:
            row = dict(row)
            if not row["active"]:
                raise OidcRefused("inactive", "dit account is uitgeschakeld; vraag uw beheerder")
            if row["gemeente_code"] != gm:
                raise OidcRefused("gemeente_changed", f"dit account hoort bij {row['gemeente_code']}, "
                                  f"uw gemeente-account bij {gm}; vraag uw beheerder")
            if row["role"] != role:
                c.execute(update(oidc_users).where(u.id == row["id"]).values(role=role))
                store._audit(c, row, gm, "role_changed", "user", row["id"], f"{row['role']}->{role},via=oidc")
                row["role"] = role
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        c.execute(sessions.insert().values(token_hash=_sha(token), user_id=row["id"], csrf=csrf,
                                           expires_at=_iso(_now() + dt.timedelta(hours=SESSION_HOURS))))
        store._audit(c, row, gm, "login", "user", row["id"], "via=oidc")
    return token, csrf, {"id": row["id"], "role": row["role"], "gemeente_code": gm}


def _link(store: OpsStore, c, link_user_id: int, existing, gm: str, iss: str,
          sub: str) -> tuple[None, str, dict]:
    """Link the account that started the flow (its session and CSRF token were checked then; the
    state cookie binds this browser to it: the Strict session cookie does not come along on the
    provider's cross-site redirect back)."""
    me = c.execute(select(oidc_users).where(oidc_users.c.id == link_user_id)).mappings().first()
    if me is None or not me["active"]:
        raise OidcRefused("inactive", "dit account is uitgeschakeld; vraag uw beheerder")
    me = dict(me)
    if existing is not None:
        raise OidcRefused("already_linked", "dit gemeente-account is al aan een registeraccount gekoppeld")
    if me["oidc_subject"] is not None:
        raise OidcRefused("already_linked", "dit registeraccount is al aan een gemeente-account gekoppeld")
    if me["gemeente_code"] != gm:
        raise OidcRefused("gemeente_changed", f"uw account hoort bij {me['gemeente_code']}, "
                          f"uw gemeente-account bij {gm}")
    try:
        with c.begin_nested():
            c.execute(update(oidc_users).where(oidc_users.c.id == link_user_id)
                      .values(oidc_issuer=iss, oidc_subject=sub))
    except IntegrityError:
        raise OidcRefused("already_linked", "dit gemeente-account is al aan een registeraccount gekoppeld") from None
    store._audit(c, me, gm, "oidc_linked", "user", link_user_id, "")
    return None, "", {"id": link_user_id, "role": me["role"], "gemeente_code": gm}


def is_linked(store: OpsStore, user_id: int) -> bool:
    with store.engine.connect() as c:
        return c.execute(select(oidc_users.c.oidc_subject).where(oidc_users.c.id == user_id)).scalar() is not None


def refuse(store: OpsStore, exc: OidcRefused, user: dict | None = None) -> None:
    """Audit a refusal: the reason code only."""
    log.info("oidc login refused: %s", exc.reason)
    with store.engine.begin() as c:
        store._audit(c, user, (user or {}).get("gemeente_code"), "oidc_refused", "user",
                     (user or {}).get("id"), f"reason={exc.reason}")


def config_from_env_or_off() -> OidcConfig | None:
    """For the server: a half or wrong configuration turns SSO off with one warning line."""
    try:
        return OidcConfig.from_env()
    except InputError as exc:
        log.warning("OIDC not enabled: %s", exc)
        return None


# --- routes --------------------------------------------------------------------------------------
STATE_COOKIE = "weefsel_oidc_state"
CALLBACK_PATH = "/registratie/oidc/callback"


def oidc_router(store, cfg: OidcConfig, login_limit, client: OidcClient | None = None):
    """``/registratie/oidc/start`` (GET: to the provider), ``/registratie/oidc/koppelen`` (POST,
    CSRF: link the logged-in account) and ``/registratie/oidc/callback`` (back from the provider).
    ``store`` is a callable returning the OpsStore (made lazily, as the other registry routes)."""
    from weefsel.web.registry_web import SESSION_COOKIE, _page, esc

    router = APIRouter()
    client = client or OidcClient(cfg)
    who = cfg.label

    def refused(exc: OidcRefused, user: dict | None = None, status: int = 400):
        try:
            refuse(store(), exc, user)
        except Exception:  # the audit must not turn a refusal into a traceback
            log.warning("oidc: refusal not audited")
        resp = _page("Inloggen lukte niet", f'<p role="alert">Inloggen met {esc(who)} lukte niet: {esc(str(exc))}.</p>'
                     '<p><a href="/registratie">Terug naar het register</a></p>', status)
        resp.delete_cookie(STATE_COOKIE, path="/registratie/oidc")
        return resp

    def to_provider(link_user_id: int | None):
        url, state = start(store(), client, link_user_id)
        if link_user_id is None:  # from a link: a redirect
            resp = RedirectResponse(url, status_code=303)
        else:  # from a form: the CSP's form-action 'self' would block a redirect to the provider
            resp = _page("Naar uw " + who, f'<meta http-equiv="refresh" content="0; url={esc(url)}">'
                         f'<p role="status"><a href="{esc(url)}">Verder naar uw {esc(who)}</a> om het account te koppelen.</p>')
        # Lax, not Strict: the provider's redirect back is a cross-site top-level navigation
        resp.set_cookie(STATE_COOKIE, state, httponly=True, secure=True, samesite="lax",
                        max_age=PENDING_MINUTES * 60, path="/registratie/oidc")
        return resp

    def client_key(request: Request) -> str:
        return request.client.host if request.client else "?"

    @router.get("/registratie/oidc/start", include_in_schema=False)
    def oidc_start(request: Request):
        if not login_limit.allow(client_key(request)):
            return _page("Even wachten", '<p role="alert">Te veel pogingen; probeer het over een minuut opnieuw.</p>', 429)
        try:
            return to_provider(None)
        except OidcRefused as exc:
            return refused(exc, status=502)

    @router.post("/registratie/oidc/koppelen", include_in_schema=False)
    async def oidc_link(request: Request):
        form = await request.form()
        return await run_in_threadpool(link_sync, request.cookies.get(SESSION_COOKIE), str(form.get("csrf", "")))

    def link_sync(cookie: str | None, csrf: str):  # store and provider calls block: off the event loop
        user = store().session_user(cookie)
        if user is None or not secrets.compare_digest(csrf, user["csrf"]):
            return _page("Formulier verlopen", '<p role="alert">Log eerst in en laad de pagina opnieuw '
                         '(CSRF-controle).</p>', 403)
        try:
            return to_provider(user["id"])
        except OidcRefused as exc:
            return refused(exc, user, status=502)

    @router.get(CALLBACK_PATH, include_in_schema=False)
    def oidc_callback(request: Request, code: str = "", state: str = "", error: str = ""):
        if not login_limit.allow(client_key(request)):
            return _page("Even wachten", '<p role="alert">Te veel pogingen; probeer het over een minuut opnieuw.</p>', 429)
        user = store().session_user(request.cookies.get(SESSION_COOKIE))
        if error:
            code_txt = error if re.fullmatch(r"[a-z_]{1,40}", error) else "onbekend"
            return refused(OidcRefused("idp_error", f"de inlogdienst weigerde ({code_txt})"), user)
        try:
            token, _csrf, summary = finish(store(), client, state=state, code=code,
                                           cookie_state=request.cookies.get(STATE_COOKIE))
        except OidcRefused as exc:
            return refused(exc, user)
        what = ("Uw account is gekoppeld aan uw " + esc(who)) if token is None else \
            f"U bent ingelogd met uw {esc(who)} als {esc(summary['role'])} ({esc(summary['gemeente_code'])})"
        # a page, not a redirect: the browser then goes on same-site, so it sends the Strict cookie
        resp = _page("Gekoppeld" if token is None else "Ingelogd", '<meta http-equiv="refresh" content="0; url=/registratie">'
                     f'<p role="status">{what}.</p><p><a href="/registratie">Verder naar het register</a></p>')
        resp.delete_cookie(STATE_COOKIE, path="/registratie/oidc")
        if token is not None:
            resp.set_cookie(SESSION_COOKIE, token, httponly=True, secure=True, samesite="strict",
                            max_age=SESSION_HOURS * 3600, path="/")
        return resp

    return router
