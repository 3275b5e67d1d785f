"""Secrets handed out once: personal access tokens (SHA-256 kept) and receipt codes (Argon2,
plus a sealed copy in the outbox until the reporter's receipt message has gone)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

TOKEN_PREFIX = "qf"
# Crockford's base32: 32 symbols without I, L, O and U, so a code read aloud or typed from
# paper has no look-alikes, and 32 = 2**5 takes whole bits (no modulo bias).
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_SYMBOLS = 16  # 16 x 5 = 80 random bits, shown as four groups of four
_RECEIPT_BYTES = RECEIPT_SYMBOLS * 5 // 8
# What a reader may type for a symbol: the letters Crockford reads as digits.
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " \t\n-_.")
# OWASP's minimum Argon2id profile (19 MiB, 2 passes): receipt codes carry 80 random bits,
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
    """A receipt code, ``XXXX-XXXX-XXXX-XXXX`` (random, or derived from ``seed``).

    80 bits from ``secrets`` (the brief's floor) as 16 Crockford base32 symbols: with an
    Argon2id check per guess and the status API's per-client delays, guessing any one of a
    million codes stays out of reach. Letters and digits in four groups of four read and
    copy more easily than 5 x 5 digits (83 bits) and fit the 19 characters the API and the
    receipt message already show; ``normalise_receipt`` forgives case, spaces, dashes and
    O/I/L for 0/1/1."""
    raw = (seed or secrets.token_bytes(_RECEIPT_BYTES))[:_RECEIPT_BYTES]
    if len(raw) < _RECEIPT_BYTES:
        raise ValueError(f"a receipt seed needs {_RECEIPT_BYTES} bytes")
    number = int.from_bytes(raw, "big")
    symbols = "".join(
        RECEIPT_ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(RECEIPT_SYMBOLS))
    )
    return "-".join(symbols[i : i + 4] for i in range(0, RECEIPT_SYMBOLS, 4))


def derived_receipt_code(key: bytes, *parts: str) -> str:
    """A receipt code derived from a server secret, so an idempotent replay can re-issue it."""
    return receipt_code(hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest())


def normalise_receipt(code: str) -> str | None:
    """The 16 symbols of ``code`` as typed (full-width forms, case, spaces, dashes and
    O/I/L forgiven), or None when it cannot be a receipt code."""
    text = unicodedata.normalize("NFKC", code).upper().translate(_SEPARATORS)
    text = text.translate(_CONFUSABLE)
    if len(text) != RECEIPT_SYMBOLS or not all(ch in RECEIPT_ALPHABET for ch in text):
        return None
    return text


def _normalised(code: str) -> str:
    normal = normalise_receipt(code)
    if normal is None:
        raise ValueError("not a receipt code")  # the code itself is never in a message
    return normal


def hash_receipt(code: str) -> str:
    """The slow (Argon2id) hash of the normalised code: what the case row keeps."""
    return _hasher.hash(_normalised(code))


def receipt_lookup(key: bytes, code: str) -> str:
    """The keyed index of a receipt code: HMAC-SHA256 under a key derived from the server
    secret, over the normalised code. It finds the case without a scan; without the secret
    it cannot be searched offline, and the Argon2 hash still decides."""
    lookup_key = hmac.new(key, b"qingfeng receipt lookup v1", hashlib.sha256).digest()
    return hmac.new(lookup_key, _normalised(code).encode(), hashlib.sha256).hexdigest()


@functools.cache
def _dummy_hash() -> str:
    # Checked when no case matches, so a miss costs what a wrong code on a real case costs.
    return _hasher.hash(secrets.token_hex(16))


def check_receipt(stored_hash: str | None, code: str) -> bool:
    """True when ``code`` matches the stored Argon2 hash; with no hash (no case found) or a
    malformed code, a dummy hash is checked instead, so every miss does the same work."""
    normal = normalise_receipt(code)
    target = stored_hash if stored_hash and normal else _dummy_hash()
    try:
        return _hasher.verify(target, normal or code) and target is stored_hash
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
