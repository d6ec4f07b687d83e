"""A local OpenID provider for the tests: oidc-provider-mock, plus PKCE enforcement and token tampering.

Run as a process (`python -m tests.oidc_provider --port 0`); it prints its issuer URL on the first
line of stdout. oidc-provider-mock 0.3 (the last for Python 3.11) does not check PKCE, so this
wrapper does (S256 only), the way a real provider refuses a code redeemed with the wrong verifier.
`POST /_control/tamper` with {"claims": {...}, "other_key": bool} makes the next ID token carry
other claims (a wrong audience, an old `exp`, another nonce) or another signature, re-signed with
the provider's own key unless `other_key`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import threading
from typing import Any

import flask
import werkzeug.serving
from joserfc import jwt
from joserfc.jwk import RSAKey

DEMO_USERS = [("uwv-jan", "Jan Vermeulen"), ("uwv-ingrid", "Ingrid Bos"), ("duo-eva", "Eva Hendriks"),
              ("beheer", "Functioneel Beheer"), ("nieuw", "Nieuwe Medewerker")]


def build_app(users: list[tuple[str, str]]) -> flask.Flask:
    import oidc_provider_mock

    app = oidc_provider_mock.app(require_nonce=True, user_claims=[
        oidc_provider_mock.User(sub=sub, claims={"name": name}) for sub, name in users])
    challenges: dict[str, str] = {}
    tamper: dict[str, Any] = {}
    lock = threading.Lock()

    @app.before_request
    def _pkce_required() -> Any:
        req = flask.request
        if req.path == "/oauth2/authorize" and (req.args.get("code_challenge_method") != "S256"
                                                or not req.args.get("code_challenge")):
            return flask.jsonify(error="invalid_request", error_description="PKCE (S256) is required"), 400
        if req.path == "/oauth2/token" and req.form.get("grant_type") == "authorization_code":
            with lock:
                challenge = challenges.pop(req.form.get("code", ""), None)
            verifier = req.form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge is None or digest != challenge:
                return flask.jsonify(error="invalid_grant", error_description="PKCE verification failed"), 400
        return None

    @app.after_request
    def _remember_and_tamper(response: flask.Response) -> flask.Response:
        req = flask.request
        if req.path == "/oauth2/authorize" and response.status_code in (302, 303):
            location = response.headers.get("Location", "")
            from urllib.parse import parse_qs, urlsplit

            code = parse_qs(urlsplit(location).query).get("code", [""])[0]
            if code:
                with lock:
                    challenges[code] = req.args["code_challenge"]
        if req.path == "/oauth2/token" and response.status_code == 200:
            with lock:
                change = dict(tamper)
                tamper.clear()
            if change:
                body = response.get_json()
                storage = flask.g.oidc_provider_mock_storage
                own = RSAKey.import_key(storage.jwk.as_dict(is_private=True))
                token = jwt.decode(body["id_token"], own)
                claims = {**token.claims, **change.get("claims", {})}
                key = RSAKey.generate_key(2048) if change.get("other_key") else own
                header = {"alg": "RS256", "kid": token.header.get("kid", own.kid) if not change.get("other_key") else "x"}
                body["id_token"] = jwt.encode(header, claims, key)
                response.set_data(json.dumps(body))
        return response

    @app.post("/_control/tamper")
    def _tamper() -> Any:
        with lock:
            tamper.clear()
            tamper.update(flask.request.get_json())
        return "", 204

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    server = werkzeug.serving.make_server("127.0.0.1", args.port, build_app(DEMO_USERS), threaded=True)
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
