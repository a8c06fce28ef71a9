"""config.tokens: random agent tokens, stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import re

import pytest

from config import generate_token, hash_token


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def test_token_has_the_tg_prefix():
    assert generate_token().startswith("tg-")


def test_token_is_long_and_url_safe():
    token = generate_token()
    assert len(token) >= 3 + 43  # 32 random bytes in base64url
    assert re.fullmatch(r"tg-[A-Za-z0-9_-]+", token)


def test_tokens_are_unique():
    tokens = {generate_token() for _ in range(1000)}
    assert len(tokens) == 1000


def test_hash_format_is_sha256_prefix_and_64_lower_hex():
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", hash_token(generate_token()))


def test_hash_is_the_sha256_of_the_utf8_token():
    assert hash_token("tg-abc") == "sha256:" + hashlib.sha256(b"tg-abc").hexdigest()


def test_hash_is_deterministic_and_distinguishes_tokens():
    assert hash_token("tg-a") == hash_token("tg-a")
    assert hash_token("tg-a") != hash_token("tg-b")


def test_hash_of_non_ascii_and_lone_surrogate_does_not_raise():
    assert hash_token("tg-é").startswith("sha256:")
    assert hash_token("tg-\udc80").startswith("sha256:")
