"""Users of the HTTP API: keys and passwords, stored only as hashes; sign-in, sessions and the audit log.

A key is 256 random bits (`fsk_...`), shown once when created and stored as its SHA-256: a hash
of a random secret that long needs no salt or slowness. A password is stored with scrypt (n=2^14,
r=8, p=1, a 16-byte salt) and compared in constant time. While no key exists the server runs in
local single-user mode: nothing is asked and works have no owner. Once the first key is created
(`fabula user key create`, never by signing in), every /v1 and /api request must carry
`Authorization: Bearer KEY`, and each user sees only their own works.

Signing in (`sign_in`) is the one place a password is guessed against, so it is where guessing is
made slow and uninformative:

- **The same work for every name.** An unknown user is checked against a fixed dummy scrypt hash,
  so the answer takes as long as for a real user with a wrong password (without this, 7 ms against
  167 ms told an attacker which names exist).
- **Throttled per user and per address, with back-off.** Failures are read back from the audit log
  (so the back-off survives a restart and is shared by workers): after `FREE_FAILURES` failures for
  a name within `WINDOW`, each further attempt must wait `BASE_WAIT * 2**(extra failures)` seconds
  since the last one, up to `MAX_WAIT`; an address gets `FREE_FAILURES_PER_ADDRESS` over all names.
  A throttled attempt is refused before its password is checked (429 with Retry-After). A success
  clears the name's count; the address's count only ages out.
- **Sessions expire** after `api_session_hours`, end with `sign_out` (`POST /api/logout`), and
  end all at once when the password changes. `revoke_keys` (`fabula user key revoke`) ends others.
- **Every step is in the audit log** (`audit_log` table, `fabula user audit`): sign-ins, failures,
  throttling, sign-outs, keys made and revoked, password changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.engine import Connection, Engine

from fabula.errors import Busy, Conflict, InvalidParam, Unauthorized
from fabula.store.db import api_keys, audit_log, users

KEY_PREFIX = "fsk_"
SESSION_LABEL = "session"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}

WINDOW = timedelta(minutes=15)  # failures older than this are forgotten
FREE_FAILURES = 5  # per name, before back-off starts
FREE_FAILURES_PER_ADDRESS = 20  # per address, over all names
BASE_WAIT = 1.0  # seconds, doubled for each failure past the free ones
MAX_WAIT = 900.0


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def audit(conn: Connection, event: str, user_id: str | None, address: str | None = None, **detail: Any) -> None:
    conn.execute(
        audit_log.insert().values(
            at=datetime.now(UTC),
            event=event,
            user_id=(user_id or None) and user_id[:64],
            address=(address or None) and address[:64],
            detail=detail,
        )
    )


def _new_key(conn: Connection, user_id: str, label: str, expires_at: datetime | None, address: str | None) -> str:
    if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
        raise InvalidParam("user", user_id, "no such user; create one with `fabula user add`")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    digest = hash_key(key)
    conn.execute(
        api_keys.insert().values(
            key_hash=digest, user_id=user_id, label=label[:100], created_at=datetime.now(UTC), expires_at=expires_at
        )
    )
    audit(
        conn,
        "key_created",
        user_id,
        address,
        key_id=digest[:12],
        label=label[:100],
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return key


def create_key(engine: Engine, user_id: str, label: str = "default") -> str:
    """A new key for an existing user, valid until revoked; returned once and never stored."""
    if label == SESSION_LABEL:
        raise InvalidParam("label", label, "is kept for sign-in sessions; choose another label")
    with engine.begin() as conn:
        return _new_key(conn, user_id, label, None, None)


def keys_exist(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(api_keys.c.key_hash).limit(1)).first() is not None


def user_for(engine: Engine, authorization: str | None) -> str | None:
    """The user a request acts for: None in local mode; Unauthorized when a key is needed."""
    if not keys_exist(engine):
        return None
    key = bearer_key(authorization)
    with engine.connect() as conn:
        row = conn.execute(
            select(api_keys.c.user_id, api_keys.c.expires_at).where(api_keys.c.key_hash == hash_key(key))
        ).first()
    if row is None:
        raise Unauthorized("unknown or revoked API key; sign in again or ask for a new key")
    if row.expires_at is not None and row.expires_at <= datetime.now(UTC):
        raise Unauthorized("this session has expired; sign in again")
    return str(row.user_id)


def bearer_key(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIX):
        raise Unauthorized("this server has users: send Authorization: Bearer <your key> (`fabula user key create`)")
    return key


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise InvalidParam("password", "(hidden)", "must be at least 10 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """What an unknown name is checked against: the same scrypt work as a real one."""
    return hash_password(secrets.token_urlsafe(24))


def check_password(password: str, stored: str | None) -> bool:
    """Constant time for a known and an unknown user alike: with no usable stored hash, the
    password is still run through scrypt (against a dummy) before False comes back."""
    usable = bool(stored) and str(stored).startswith("scrypt$") and str(stored).count("$") == 2
    _, salt, digest = (str(stored) if usable else _dummy_hash()).split("$")
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), dklen=32, **SCRYPT)
    return hmac.compare_digest(expected, actual) and usable


def set_password(engine: Engine, user_id: str, password: str) -> int:
    """Set a password; every session of the user ends (a stolen session dies with the old
    password). Returns how many sessions were ended."""
    new_hash = hash_password(password)
    with engine.begin() as conn:
        done = conn.execute(users.update().where(users.c.id == user_id).values(password_hash=new_hash))
        if done.rowcount == 0:
            raise InvalidParam("user", user_id, "no such user; create one with `fabula user add`")
        ended = conn.execute(
            delete(api_keys).where(api_keys.c.user_id == user_id, api_keys.c.label == SESSION_LABEL)
        ).rowcount
        audit(conn, "password_changed", user_id, sessions_ended=ended)
    return int(ended or 0)


@dataclass(frozen=True)
class Throttle:
    free: int = FREE_FAILURES
    free_per_address: int = FREE_FAILURES_PER_ADDRESS
    base: float = BASE_WAIT
    cap: float = MAX_WAIT
    window: timedelta = WINDOW

    def wait(self, failures: int, last: datetime | None, free: int, now: datetime) -> float:
        """Seconds still to wait before another attempt, 0 when one may be made now."""
        if failures < free or last is None:
            return 0.0
        needed = min(self.cap, self.base * 2 ** (failures - free))
        return max(0.0, needed - (now - last).total_seconds())


def _failures(
    conn: Connection, since: datetime, *, user_id: str | None = None, address: str | None = None
) -> tuple[int, datetime | None]:
    where = [audit_log.c.event == "login_failed", audit_log.c.at > since]
    if user_id is not None:
        cleared = conn.execute(
            select(func.max(audit_log.c.at)).where(audit_log.c.event == "login_ok", audit_log.c.user_id == user_id)
        ).scalar()
        if cleared is not None and cleared > since:
            where[1] = audit_log.c.at > cleared
        where.append(audit_log.c.user_id == user_id)
    else:
        where.append(audit_log.c.address == address)
    count, last = conn.execute(select(func.count(), func.max(audit_log.c.at)).where(*where)).one()
    return int(count), last


def sign_in(
    engine: Engine,
    user_id: str,
    password: str,
    address: str | None,
    session_hours: float,
    throttle: Throttle = Throttle(),
) -> str:
    """A password -> a session key that expires. Wrong user or password: Unauthorized, the same
    for both; too many recent failures for this name or address: Busy with the seconds to wait."""
    user_id, address = user_id[:64], (address or "")[:64] or None
    if not keys_exist(engine):
        raise Conflict(
            "this server is in local mode (no keys yet), so there is nothing to sign in to; "
            "turn users on with `fabula user key create USER` first"
        )
    now = datetime.now(UTC)
    with engine.begin() as conn:
        by_name = throttle.wait(*_failures(conn, now - throttle.window, user_id=user_id), throttle.free, now)
        by_address = (
            throttle.wait(*_failures(conn, now - throttle.window, address=address), throttle.free_per_address, now)
            if address
            else 0.0
        )
        wait = max(by_name, by_address)
        if wait > 0:
            audit(conn, "login_throttled", user_id, address, wait_s=round(wait, 1))
        stored = None if wait > 0 else conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar()
    if wait > 0:
        raise Busy(f"too many failed sign-ins; try again in {int(wait) + 1} s", retry_after=int(wait) + 1)
    if not check_password(password, stored):
        with engine.begin() as conn:
            audit(conn, "login_failed", user_id, address)
        raise Unauthorized("wrong user or password")  # the same answer for an unknown user
    with engine.begin() as conn:
        audit(conn, "login_ok", user_id, address)
        return _new_key(conn, user_id, SESSION_LABEL, now + timedelta(hours=session_hours), address)


def sign_out(engine: Engine, authorization: str | None, address: str | None = None) -> str:
    """End the session (or key) the request was made with; returns whose it was."""
    key = bearer_key(authorization)
    with engine.begin() as conn:
        row = conn.execute(select(api_keys.c.user_id).where(api_keys.c.key_hash == hash_key(key))).first()
        if row is None:
            raise Unauthorized("unknown or revoked API key")
        conn.execute(delete(api_keys).where(api_keys.c.key_hash == hash_key(key)))
        audit(conn, "logout", str(row.user_id), address, key_id=hash_key(key)[:12])
    return str(row.user_id)


def list_keys(engine: Engine, user_id: str) -> list[dict[str, Any]]:
    """A user's keys as `fabula user key list` shows them: the id is the hash's first 12 characters."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(api_keys).where(api_keys.c.user_id == user_id).order_by(api_keys.c.created_at)
        ).mappings()
        return [
            {
                "id": r["key_hash"][:12],
                "label": r["label"],
                "created_at": r["created_at"].isoformat(),
                "expires_at": r["expires_at"].isoformat() if r["expires_at"] else None,
            }
            for r in rows
        ]


def revoke_keys(engine: Engine, user_id: str, key_id: str | None = None, *, sessions_only: bool = False) -> int:
    """Revoke one key of `user_id` (by the id `list_keys` shows), or all of them (only the
    sessions with `sessions_only`). Returns how many were revoked; an id that names none is an error."""
    if key_id is not None and (len(key_id) < 6 or any(c not in "0123456789abcdef" for c in key_id)):
        raise InvalidParam("key id", key_id, "use at least 6 hex characters of an id from `fabula user key list`")
    where = [api_keys.c.user_id == user_id]
    if key_id is not None:
        where.append(api_keys.c.key_hash.startswith(key_id, autoescape=True))
    if sessions_only:
        where.append(api_keys.c.label == SESSION_LABEL)
    with engine.begin() as conn:
        found = [r[0] for r in conn.execute(select(api_keys.c.key_hash).where(*where))]
        if key_id is not None and len(found) != 1:
            raise InvalidParam(
                "key id", key_id, f"names {len(found)} keys of {user_id}; see `fabula user key list {user_id}`"
            )
        conn.execute(delete(api_keys).where(api_keys.c.key_hash.in_(found)))
        for digest in found:
            audit(conn, "key_revoked", user_id, key_id=digest[:12])
    return len(found)


def audit_events(engine: Engine, user_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest audit events, newest last (of one name when `user_id` is given)."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(audit_log.c.user_id == user_id)
    with engine.connect() as conn:
        rows = list(conn.execute(query).mappings())
    return [
        {"at": r["at"].isoformat(), "event": r["event"], "user": r["user_id"], "address": r["address"], **r["detail"]}
        for r in reversed(rows)
    ]


def forget_expired(engine: Engine) -> int:
    """Delete sessions past their expiry (they are refused anyway; this keeps the table small)."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                delete(api_keys).where(
                    and_(api_keys.c.expires_at.is_not(None), api_keys.c.expires_at <= datetime.now(UTC))
                )
            ).rowcount
            or 0
        )
