"""Who calls (contract 9 and 10): bearer JWTs checked with PyJWT, HS256 with a secret or
RS256 / ES256 with a public key from a PEM file; expiry when the token has one (or the setting
requires it), audience and issuer when set; `sub` a userId."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.auth import Authenticator, Caller
from api.problems import Problem
from services.settings import Settings


def _pem(private: Any) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _token(key: Any, algorithm: str, **claims: Any) -> str:
    body = {"sub": "ada", "roles": ["mentor"], "exp": int(time.time()) + 600} | claims
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm)


def _caller(auth: Authenticator, token: str) -> Caller:
    return auth.caller(f"Bearer {token}")


def _refused(auth: Authenticator, token: str) -> Problem:
    with pytest.raises(Problem) as refused:
        _caller(auth, token)
    assert refused.value.status == 401
    assert refused.value.headers.get("WWW-Authenticate", "").startswith("Bearer")
    return refused.value


@pytest.mark.parametrize(
    ("algorithm", "new_key"),
    [
        ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_a_token_signed_with_the_private_key_of_the_configured_public_key_is_accepted(
    tmp_path: Path, algorithm: str, new_key: Any
) -> None:
    key, stranger = new_key(), new_key()
    pem = tmp_path / "key.pem"
    pem.write_bytes(_pem(key))
    auth = Authenticator(Settings(api_jwt_public_key_file=str(pem)))
    assert _caller(auth, _token(key, algorithm)) == Caller("ada", ("mentor",))
    _refused(auth, _token(stranger, algorithm))  # signed by another key
    _refused(auth, _token(key, algorithm, exp=int(time.time()) - 5))  # expired
    assert (
        _caller(auth, _token(key, algorithm, exp=None)).user_id == "ada"
    )  # contract 9: sub, roles


def test_a_token_without_exp_is_accepted_unless_the_setting_requires_one() -> None:
    secret = "test-secret-0123456789-0123456789"
    assert _caller(
        Authenticator(Settings(api_jwt_secret=secret)), _token(secret, "HS256", exp=None)
    )
    strict = Authenticator(Settings(api_jwt_secret=secret, api_jwt_require_exp=True))
    assert _refused(strict, _token(secret, "HS256", exp=None)).code == "invalid-token"
    assert _caller(strict, _token(secret, "HS256")).user_id == "ada"
    _refused(strict, _token(secret, "HS256", exp=int(time.time()) - 5))


@pytest.mark.parametrize("sub", ["a\x00b", "line\nbreak", "ada\n", "x" * 257, "\ud800"])
def test_a_sub_that_cannot_be_a_user_id_is_refused(sub: str) -> None:
    secret = "test-secret-0123456789-0123456789"
    auth = Authenticator(Settings(api_jwt_secret=secret))
    assert "`sub` must be a userId" in _refused(auth, _token(secret, "HS256", sub=sub)).detail


def test_a_token_of_another_algorithm_than_the_key_is_refused_not_an_error(
    tmp_path: Path,
) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "rsa.pem"
    pem.write_bytes(_pem(rsa_key))
    auth = Authenticator(Settings(api_jwt_public_key_file=str(pem)))
    _refused(auth, _token(ec.generate_private_key(ec.SECP256R1()), "ES256"))
    _refused(auth, _token("a-guessed-secret-0123456789-0123456789", "HS256"))


def test_audience_and_issuer_are_checked_when_configured() -> None:
    secret = "test-secret-0123456789-0123456789"
    auth = Authenticator(
        Settings(api_jwt_secret=secret, api_jwt_audience="lms", api_jwt_issuer="https://idp")
    )
    assert _caller(auth, _token(secret, "HS256", aud="lms", iss="https://idp")).user_id == "ada"
    _refused(auth, _token(secret, "HS256", aud="other", iss="https://idp"))
    _refused(auth, _token(secret, "HS256", aud="lms", iss="https://elsewhere"))
    _refused(auth, _token(secret, "HS256", aud="lms"))  # no issuer at all
    unchecked = Authenticator(Settings(api_jwt_secret=secret))
    assert _caller(unchecked, _token(secret, "HS256", aud="any", iss="any")).user_id == "ada"
