"""Respondent ids issued by the study server: a random part and its HMAC, so that ids a client
makes up are refused (they would let one person vote without limit).

An id is ``<32 hex>-<16 hex>``: a random token and the first 64 bits of HMAC-SHA256 of it
under the study's secret (kept in the vote database, so ids stay valid across restarts).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def _mac(secret: bytes, token: str) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()[:16]


def issue(secret: bytes) -> str:
    """A new respondent id."""
    token = secrets.token_hex(16)
    return f"{token}-{_mac(secret, token)}"


def verify(secret: bytes, respondent: str) -> bool:
    """True if ``respondent`` was issued under ``secret``."""
    token, sep, mac = (respondent or "").partition("-")
    if not sep or len(token) != 32 or len(mac) != 16:
        return False
    return hmac.compare_digest(mac, _mac(secret, token))
