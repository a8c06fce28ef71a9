"""Encrypted secrets: AES-256-GCM sealing, master keys with ids, and resolving `{secret:NAME}`.

A sealed secret is `AESGCM(key).encrypt(nonce, value, aad)` with a fresh random 96-bit nonce per
encryption (NIST SP 800-38D §8.2.2: random nonces are safe far beyond 2^32 values per key) and
associated data binding the secret's name and the key id: a ciphertext copied to another name,
or relabelled with another key id, fails authentication instead of decrypting to the wrong thing.

The master key comes from `TOLLGATE_MASTER_KEY`: base64 of 32 bytes, or the path of a file
holding that (re-read on every load, so a key file can be replaced and the config reloaded).
`TOLLGATE_OLD_MASTER_KEY` (same forms) is only needed while rotating. A key's id is derived from
the key itself, so a store says which key sealed each value without anyone naming keys.

Every error names the secret, never its value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_ENV = "TOLLGATE_MASTER_KEY"
OLD_MASTER_KEY_ENV = "TOLLGATE_OLD_MASTER_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12  # 96 bits: GCM's native IV size, no GHASH of the IV
# Bearer tokens, kubeconfig service-account tokens and PEM keys fit easily; anything bigger is a
# file that does not belong in a header.
MAX_VALUE_BYTES = 64 * 1024
NAME_PATTERN = r"[A-Za-z0-9_.-]{1,128}"
SECRET_REF = re.compile(r"\{secret:(" + NAME_PATTERN + r")\}")
_NAME_RE = re.compile(NAME_PATTERN)
_AAD_PREFIX = b"tollgate-secret-v1\0"


class SecretError(Exception):
    """A secret that cannot be stored or read; the message names the secret, never its value."""

    def __init__(self, name: str | None, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"secret {name!r}: {message}" if name else message)


def check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise SecretError(None, f"{name[:140]!r} is not a secret name (1-128 letters, digits, '_', '.', '-')")
    return name


# --- keys -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MasterKey:
    key_id: str
    _key: bytes

    def __repr__(self) -> str:  # never the key material, wherever a key ends up printed
        return f"MasterKey({self.key_id})"

    @classmethod
    def from_bytes(cls, key: bytes) -> MasterKey:
        if len(key) != KEY_BYTES:
            raise SecretError(None, f"a master key is {KEY_BYTES} bytes, got {len(key)}")
        # A public fingerprint: 32 bits of a domain-separated hash say which key sealed a value
        # and reveal nothing usable about a 256-bit random key.
        digest = hashlib.sha256(b"tollgate-master-key-id\0" + key).hexdigest()
        return cls("k" + digest[:8], key)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls.from_bytes(_random.token_bytes(KEY_BYTES))

    def encoded(self) -> str:
        return base64.b64encode(self._key).decode()

    def aead(self) -> AESGCM:
        return AESGCM(self._key)


def parse_master_key(value: str, variable: str = MASTER_KEY_ENV) -> MasterKey:
    """Base64 of 32 bytes, or a path to a file holding that; errors name the variable, not the value."""
    value = value.strip()
    key = _b64_key(value)
    if key is not None:
        return MasterKey.from_bytes(key)
    path = Path(value)
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError, ValueError):
        raise SecretError(
            None, f"{variable} is neither base64 of {KEY_BYTES} bytes nor a readable key file (make one with "
            "`tollgate secrets keygen`)",
        ) from None  # fmt: skip
    key = _b64_key(text)
    if key is None:
        raise SecretError(None, f"{variable}: the file {value} does not hold base64 of {KEY_BYTES} bytes")
    return MasterKey.from_bytes(key)


def _b64_key(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == KEY_BYTES else None


@dataclass(frozen=True)
class Keyring:
    """The key new values are sealed with, and every key values may still be opened with."""

    current: MasterKey
    keys: Mapping[str, MasterKey]

    @classmethod
    def of(cls, current: MasterKey, *older: MasterKey) -> Keyring:
        return cls(current, {k.key_id: k for k in (*older, current)})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Keyring:
        env = os.environ if environ is None else environ
        value = env.get(MASTER_KEY_ENV)
        if not value:
            raise SecretError(
                None, f"{MASTER_KEY_ENV} is not set (base64 of {KEY_BYTES} bytes or a key file path; "
                "`tollgate secrets keygen` makes one)",
            )  # fmt: skip
        current = parse_master_key(value)
        old = env.get(OLD_MASTER_KEY_ENV)
        return cls.of(current, parse_master_key(old, OLD_MASTER_KEY_ENV)) if old else cls.of(current)


# --- sealing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """What a store holds for one secret: no plaintext, and nothing usable without the key."""

    name: str
    key_id: str
    nonce: bytes
    ciphertext: bytes
    created: str
    updated: str


def _aad(name: str, key_id: str) -> bytes:
    return _AAD_PREFIX + name.encode() + b"\0" + key_id.encode()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def seal(key: MasterKey, name: str, value: str, created: str | None = None) -> SealedSecret:
    check_name(name)
    data = value.encode("utf-8")
    if not data:
        raise SecretError(name, "the value is empty")
    if len(data) > MAX_VALUE_BYTES:
        raise SecretError(name, f"the value is larger than {MAX_VALUE_BYTES} bytes")
    nonce = _random.token_bytes(NONCE_BYTES)
    now = _now()
    ciphertext = key.aead().encrypt(nonce, data, _aad(name, key.key_id))
    return SealedSecret(name, key.key_id, nonce, ciphertext, created or now, now)


def unseal(keyring: Keyring, sealed: SealedSecret) -> str:
    key = keyring.keys.get(sealed.key_id)
    if key is None:
        have = ", ".join(sorted(keyring.keys))
        raise SecretError(
            sealed.name,
            f"sealed with master key {sealed.key_id}, but the key given is {have} "
            f"(wrong {MASTER_KEY_ENV}, or set {OLD_MASTER_KEY_ENV} and run `tollgate secrets rotate`)",
        )
    if len(sealed.nonce) != NONCE_BYTES:
        raise SecretError(sealed.name, "the stored value is damaged (bad nonce)")
    try:
        data = key.aead().decrypt(sealed.nonce, sealed.ciphertext, _aad(sealed.name, sealed.key_id))
    except InvalidTag:
        raise SecretError(
            sealed.name, f"cannot be decrypted with master key {key.key_id}: the stored value was altered, "
            "copied from another secret, or the key is wrong",
        ) from None  # fmt: skip
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(sealed.name, "the decrypted value is not UTF-8") from None


def reseal(keyring: Keyring, sealed: SealedSecret) -> SealedSecret:
    """The same value under the current key (rotation); keeps the creation time."""
    if sealed.key_id == keyring.current.key_id:
        return sealed
    return seal(keyring.current, sealed.name, unseal(keyring, sealed), sealed.created)


def read_value(data: bytes, name: str) -> str:
    """A value as piped to `tollgate secrets set`: one trailing newline (echo's) is not part of it."""
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(name, "the value on stdin is not UTF-8") from None
