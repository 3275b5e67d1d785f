"""Secrets handed out once: personal access tokens (SHA-256 kept) and receipt codes (Argon2,
plus a sealed copy in the outbox until the reporter's receipt message has gone)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

TOKEN_PREFIX = "qf"
_RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read over the phone
# OWASP's minimum Argon2id profile (19 MiB, 2 passes): receipt codes carry ~79 random bits,
# so this is ample, and filing a report stays around 45 ms of CPU.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def new_token() -> tuple[str, str]:
    """A fresh (public_id, token) pair; the token is shown once and never stored."""
    public_id = secrets.token_hex(4)
    return public_id, f"{TOKEN_PREFIX}_{public_id}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough and keeps auth O(1) per request;
    # Argon2 is for low-entropy secrets (receipt codes) below.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def receipt_code(seed: bytes | None = None) -> str:
    """A 16-character receipt code in groups of four (random, or derived from ``seed``)."""
    raw = seed or secrets.token_bytes(16)
    chars = [_RECEIPT_ALPHABET[b % len(_RECEIPT_ALPHABET)] for b in raw[:16]]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, 16, 4))


def derived_receipt_code(key: bytes, *parts: str) -> str:
    """A receipt code derived from a server secret, so an idempotent replay can re-issue it."""
    return receipt_code(hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest())


def hash_receipt(code: str) -> str:
    return _hasher.hash(code.upper())


def check_receipt(stored_hash: str, code: str) -> bool:
    """True when ``code`` matches the stored Argon2 hash."""
    try:
        return _hasher.verify(stored_hash, code.strip().upper())
    except (VerificationError, InvalidHashError):
        return False


def _fernet(key: bytes) -> Fernet:
    # A key of its own for sealing, derived from the server secret.
    derived = hmac.new(key, b"qingfeng seal v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(key: bytes, text: str) -> str:
    """``text`` encrypted and authenticated with the server secret (for the outbox)."""
    return _fernet(key).encrypt(text.encode()).decode()


def unseal(key: bytes, sealed: str) -> str:
    """The text ``seal`` sealed; ValueError when the key differs or the text was altered."""
    try:
        return _fernet(key).decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("sealed text does not open with this server secret") from exc
