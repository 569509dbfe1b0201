"""API Gateway TOKEN authorizer: accepts `Authorization: Bearer <JWT>` signed RS256 by the
configured issuer (keys from its OpenID discovery document), within its validity window and,
when JWT_AUDIENCE is set, for that audience. Standard library only.

Environment: JWT_ISSUER (required, https URL), JWT_AUDIENCE (optional), JWKS_CACHE_SECONDS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.request
from typing import Any, Callable, Optional

LEEWAY_SECONDS = 60
# DER prefix of a SHA-256 DigestInfo (RFC 8017, section 9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_cache: dict[str, Any] = {"keys": None, "expires": 0.0}


class Unauthorized(Exception):
    """API Gateway maps the message "Unauthorized" to a 401."""


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64url_int(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")


def _http_json(url: str) -> dict[str, Any]:
    if not url.startswith("https://"):
        raise Unauthorized("Unauthorized")
    with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (https only, checked above)
        return json.loads(response.read().decode("utf-8"))


def fetch_jwks(issuer: str, get_json: Callable[[str], dict[str, Any]] = _http_json) -> dict[str, dict[str, Any]]:
    """The issuer's RSA signing keys by kid (OpenID Connect discovery)."""
    discovery = get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if discovery.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise Unauthorized("Unauthorized")
    jwks = get_json(discovery["jwks_uri"])
    return {k["kid"]: k for k in jwks.get("keys", []) if k.get("kty") == "RSA" and "kid" in k}


def rs256_verify(signing_input: bytes, signature: bytes, n: int, e: int) -> bool:
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017, section 8.2.2)."""
    k = (n.bit_length() + 7) // 8
    if len(signature) != k or k < 256:  # keys under 2048 bits are refused
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    encoded = pow(s, e, n).to_bytes(k, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(encoded, expected)


def validate(token: str, *, issuer: str, audience: Optional[str], keys: dict[str, dict[str, Any]],
             now: Optional[float] = None) -> dict[str, Any]:
    """The token's claims, or Unauthorized."""
    now = time.time() if now is None else now
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(payload_b64))
        signature = b64url_decode(signature_b64)
    except ValueError:
        raise Unauthorized("Unauthorized") from None
    if header.get("alg") != "RS256" or header.get("kid") not in keys:
        raise Unauthorized("Unauthorized")
    key = keys[header["kid"]]
    if not rs256_verify(f"{header_b64}.{payload_b64}".encode(), signature, _b64url_int(key["n"]), _b64url_int(key["e"])):
        raise Unauthorized("Unauthorized")
    if claims.get("iss", "").rstrip("/") != issuer.rstrip("/"):
        raise Unauthorized("Unauthorized")
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now - LEEWAY_SECONDS:
        raise Unauthorized("Unauthorized")
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + LEEWAY_SECONDS:
        raise Unauthorized("Unauthorized")
    if audience:
        aud = claims.get("aud")
        if audience not in (aud if isinstance(aud, list) else [aud]):
            raise Unauthorized("Unauthorized")
    if not claims.get("sub"):
        raise Unauthorized("Unauthorized")
    return claims


def policy(principal: str, method_arn: str, claims: dict[str, Any]) -> dict[str, Any]:
    """Allow the whole stage: API Gateway caches the decision per token across its methods."""
    arn_parts = method_arn.split("/")
    stage_arn = "/".join(arn_parts[:2]) + "/*"
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": stage_arn}],
        },
        "context": {"sub": str(claims.get("sub", "")), "scope": str(claims.get("scope", ""))},
    }


def _keys(issuer: str) -> dict[str, dict[str, Any]]:
    if _cache["keys"] is None or time.time() > _cache["expires"]:
        _cache["keys"] = fetch_jwks(issuer)
        _cache["expires"] = time.time() + int(os.environ.get("JWKS_CACHE_SECONDS", "3600"))
    return _cache["keys"]


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    issuer = os.environ["JWT_ISSUER"]
    token = str(event.get("authorizationToken", ""))
    if not token.startswith("Bearer "):
        raise Unauthorized("Unauthorized")
    claims = validate(token[len("Bearer "):], issuer=issuer, audience=os.environ.get("JWT_AUDIENCE") or None,
                      keys=_keys(issuer))
    return policy(str(claims["sub"]), str(event.get("methodArn", "")), claims)
