"""A small local OpenID provider for tests: hand-written, since no real identity provider is
reachable offline. A FastAPI app on a free port in the test process, with its own RSA keys,
discovery document, JWKS, authorize (auto-approves the next configured person) and token
endpoints (client_secret_basic, PKCE S256, one-time codes).

``Provider.claims`` are the person's claims for the next login; ``Provider.tamper`` changes the
next ID token (``aud``, ``iss``, ``exp``, ``nonce``, ``azp``, ``kid``, ``sign_with`` a key the
JWKS does not hold) so every refusal can be provoked through the real HTTP flow.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from urllib.parse import unquote_plus, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Header
from fastapi.responses import JSONResponse, RedirectResponse
from jwt.algorithms import RSAAlgorithm

CLIENT_ID, CLIENT_SECRET = "weefsel-test", "test-secret-not-real"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Provider:
    def __init__(self):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.keys = {"k1": new_key()}
        self.active = "k1"
        self.claims: dict = {"sub": "medewerker-1", "email": "piet@almere.example", "name": "Piet Jansen",
                             "groups": ["weefsel:GM0034:moderator"]}
        self.tamper: dict = {}
        self.codes: dict[str, dict] = {}
        self.jwks_fetches = 0
        self.client_secret = CLIENT_SECRET
        self.app = self._app()

    def rotate(self, kid: str) -> None:
        """A new signing key, published in the JWKS next to the old ones."""
        self.keys[kid] = new_key()
        self.active = kid

    def jwks(self) -> dict:
        out = []
        for kid, k in self.keys.items():
            d = RSAAlgorithm.to_jwk(k.public_key(), as_dict=True)
            out.append({**d, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": out}

    def id_token(self, nonce: str) -> str:
        t = dict(self.tamper)
        now = int(time.time())
        claims = {"iss": t.pop("iss", self.issuer), "aud": t.pop("aud", CLIENT_ID), "iat": now,
                  "exp": now + t.pop("exp", 300), "nonce": t.pop("nonce", nonce), **self.claims}
        if "azp" in t:
            claims["azp"] = t.pop("azp")
        key = t.pop("sign_with", None) or self.keys[self.active]
        kid = t.pop("kid", self.active)
        return jwt.encode(claims, key, algorithm=t.pop("alg", "RS256"), headers={"kid": kid})

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
                    "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic"]}

        @app.get("/jwks")
        def jwks():
            self.jwks_fetches += 1
            return self.jwks()

        @app.get("/authorize")
        def authorize(response_type: str, client_id: str, redirect_uri: str, scope: str, state: str,
                      nonce: str, code_challenge: str, code_challenge_method: str):
            assert response_type == "code" and client_id == CLIENT_ID and "openid" in scope.split()
            assert code_challenge_method == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"redirect_uri": redirect_uri, "challenge": code_challenge, "nonce": nonce}
            return RedirectResponse(redirect_uri + "?" + urlencode({"code": code, "state": state}), 302)

        @app.post("/token")
        def token(grant_type: str = Form(), code: str = Form(), redirect_uri: str = Form(),
                  code_verifier: str = Form(), authorization: str = Header("")):
            try:  # RFC 6749 2.3.1: Base64 of form-encoded id ":" secret
                ident, _, secret = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
            except ValueError:
                ident = secret = ""
            if authorization[:6] != "Basic " or (unquote_plus(ident), unquote_plus(secret)) != (CLIENT_ID, self.client_secret):
                return JSONResponse({"error": "invalid_client"}, 401)
            c = self.codes.pop(code, None)  # one-time
            if c is None or grant_type != "authorization_code" or c["redirect_uri"] != redirect_uri:
                return JSONResponse({"error": "invalid_grant"}, 400)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=")
            if challenge.decode() != c["challenge"]:
                return JSONResponse({"error": "invalid_grant"}, 400)
            return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                    "id_token": self.id_token(c["nonce"])}

        return app


class Serving:
    """Serve an app with uvicorn in a thread of the test process."""

    def __init__(self, app, port: int):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.025)
        raise RuntimeError("provider did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(5)
