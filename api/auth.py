"""Who calls: a bearer JWT checked with PyJWT (`sub` is the caller's userId, `roles` a list).

HS256 with a shared secret, or RS256 / ES256 with a public key (PEM file); expiry is checked
whenever the token has one (required with `BATCH_SERVICE_API_JWT_REQUIRE_EXP=true`: contract 9
names only `sub` and `roles`), audience and issuer when configured. `sub` must be a userId (an
identifier, contract 1). `BATCH_SERVICE_API_AUTH=disabled` accepts every
call as an admin: local use only, said loudly in the log at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.problems import Problem
from schemas.types import is_identifier
from services.settings import Settings

__all__ = ["ANONYMOUS_ADMIN", "Authenticator", "Caller"]

log = structlog.get_logger("batch_service.api")


@dataclass(frozen=True)
class Caller:
    """The authenticated caller."""

    user_id: str
    roles: tuple[str, ...] = ()

    @property
    def admin(self) -> bool:
        """Whether the caller may do anything."""
        return "admin" in self.roles


ANONYMOUS_ADMIN = Caller("local-admin", ("admin",))
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="batch-service"'}


class Authenticator:
    """Turns an `Authorization` header into a Caller, or a 401 problem."""

    def __init__(self, settings: Settings) -> None:
        self.disabled = settings.api_auth == "disabled"
        self._audience = settings.api_jwt_audience
        self._issuer = settings.api_jwt_issuer
        self._required = ["exp", "sub"] if settings.api_jwt_require_exp else ["sub"]
        self._keys: list[tuple[str | bytes, list[str]]] = []
        if settings.api_jwt_secret is not None:
            self._keys.append((settings.api_jwt_secret.get_secret_value(), ["HS256"]))
        if settings.api_jwt_public_key_file:
            pem = Path(settings.api_jwt_public_key_file).read_bytes()
            self._keys.append((pem, [_algorithm_of(pem)]))
        if self.disabled:
            log.warning(
                "api_auth_disabled",
                warning="BATCH_SERVICE_API_AUTH=disabled: every HTTP call is accepted as an "
                "admin. For local use only; never expose this port.",
            )
        elif not self._keys:
            log.warning(
                "api_auth_unconfigured",
                warning="no BATCH_SERVICE_API_JWT_SECRET nor _PUBLIC_KEY_FILE: every API call "
                "will answer 401",
            )

    def caller(self, authorization: str | None) -> Caller:
        """The caller a bearer token names; 401 without one or with a bad one."""
        if self.disabled:
            return ANONYMOUS_ADMIN
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(401, "unauthenticated", "a bearer token is required", headers=_CHALLENGE)
        claims = self._decode(token.strip())
        subject, roles = claims.get("sub"), claims.get("roles", [])
        if not isinstance(subject, str) or not subject:
            raise Problem(401, "invalid-token", "the token has no `sub`", headers=_CHALLENGE)
        if not is_identifier(subject):
            detail = "`sub` must be a userId: 1-256 characters without control characters"
            raise Problem(401, "invalid-token", detail, headers=_CHALLENGE)
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Problem(
                401, "invalid-token", "`roles` must be a list of strings", headers=_CHALLENGE
            )
        return Caller(subject, tuple(roles))

    def _decode(self, token: str) -> dict[str, object]:
        failure = "no key is configured to check tokens"
        for key, algorithms in self._keys:
            try:
                return jwt.decode(
                    token,
                    key,
                    algorithms=algorithms,
                    audience=self._audience,
                    issuer=self._issuer,
                    options={"require": self._required, "verify_aud": self._audience is not None},
                )
            except jwt.ExpiredSignatureError:
                raise Problem(
                    401, "token-expired", "the token has expired", headers=_CHALLENGE
                ) from None
            except jwt.PyJWTError as exc:  # a bad token, or one not made for this key
                failure = str(exc)
        raise Problem(
            401, "invalid-token", f"the token is not valid: {failure}", headers=_CHALLENGE
        )


def _algorithm_of(pem: bytes) -> str:
    """RS256 for an RSA public key, ES256 for an elliptic-curve one (P-256)."""
    key = serialization.load_pem_public_key(pem)
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ES256"
    raise ValueError("BATCH_SERVICE_API_JWT_PUBLIC_KEY_FILE: an RSA or EC public key is needed")
