"""Agent tokens: random, shown once, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "tg-"


def generate_token() -> str:
    # 32 random bytes: far beyond guessing; the prefix lets secret scanners recognise leaks.
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
