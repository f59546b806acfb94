"""Users of the HTTP API: keys and passwords, stored only as hashes, and who is asking.

A key is 256 random bits (`fsk_...`), shown once when created and stored as its SHA-256: a hash
of a random secret that long needs no salt or slowness. A password is stored with scrypt (n=2^14,
r=8, p=1, a 16-byte salt) and compared in constant time. While no key exists the server runs in
local single-user mode: nothing is asked and works have no owner. Once the first key is created,
every /v1 and /api request must carry `Authorization: Bearer KEY`, and each user sees only their
own works.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fabula.errors import InvalidParam, Unauthorized
from fabula.store.db import api_keys, users

KEY_PREFIX = "fsk_"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(engine: Engine, user_id: str, label: str = "default") -> str:
    """A new key for an existing user; the key itself is returned once and never stored."""
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
            raise InvalidParam("user", user_id, "no such user; create one with `fabula user add`")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        conn.execute(
            api_keys.insert().values(
                key_hash=hash_key(key), user_id=user_id, label=label[:100], created_at=datetime.now(UTC)
            )
        )
    return key


def keys_exist(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(api_keys.c.key_hash).limit(1)).first() is not None


def user_for(engine: Engine, authorization: str | None) -> str | None:
    """The user a request acts for: None in local mode; Unauthorized when a key is needed."""
    if not keys_exist(engine):
        return None
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIX):
        raise Unauthorized("this server has users: send Authorization: Bearer <your key> (`fabula user key create`)")
    with engine.connect() as conn:
        row = conn.execute(select(api_keys.c.user_id).where(api_keys.c.key_hash == hash_key(key.strip()))).first()
    if row is None:
        raise Unauthorized("unknown API key")
    return str(row[0])


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise InvalidParam("password", "(hidden)", "must be at least 10 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), dklen=32, **SCRYPT)
    return hmac.compare_digest(expected, actual)


def set_password(engine: Engine, user_id: str, password: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(users.update().where(users.c.id == user_id).values(password_hash=hash_password(password)))
        if done.rowcount == 0:
            raise InvalidParam("user", user_id, "no such user; create one with `fabula user add`")
