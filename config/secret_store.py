"""Where sealed secrets live: a JSON file (the default) or a PostgreSQL table.

Both hold only `SealedSecret` records (name, key id, nonce, ciphertext, times): a copy of either
is useless without the master key. The calls are synchronous because their callers are (the
CLI, and config loading, which also runs inside the event loop on reload); PostgreSQL queries
run on a thread of their own so that works from inside a running loop too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from config.secrets import SealedSecret, SecretError

FILE_FORMAT_VERSION = 1
# A store that does not answer within this long fails the load (the old config stays in force).
PG_TIMEOUT_S = 10.0
T = TypeVar("T")
Rewrite = Callable[[list[SealedSecret]], list[SealedSecret]]


class SecretStore(Protocol):
    location: str  # for messages: a path, or a DSN without its password

    def load(self) -> dict[str, SealedSecret]: ...

    def put(self, sealed: SealedSecret) -> None: ...

    def delete(self, name: str) -> bool: ...

    def rewrite(self, change: Rewrite) -> int:
        """Replace every record by `change(records)` in one step, concurrent writers held off
        meanwhile (rotation); all or nothing. Returns how many records there were."""


# --- file -----------------------------------------------------------------------------------


class FileStore:
    """One JSON document, replaced atomically (temp file, fsync, rename) with mode 0600.

    Concurrent writers (two `tollgate secrets set` at once) serialize on an flock of a sibling
    lock file, so neither loses the other's update.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    def load(self) -> dict[str, SealedSecret]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as e:
            raise SecretError(None, f"secret store {self.location}: cannot read: {e.__class__.__name__}") from None
        try:
            doc = json.loads(text)
            if doc.get("version") != FILE_FORMAT_VERSION:
                raise ValueError("unknown format version")
            return {name: _from_json(name, rec) for name, rec in doc["secrets"].items()}
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as e:
            raise SecretError(None, f"secret store {self.location}: not a tollgate secret file ({e})") from None

    def put(self, sealed: SealedSecret) -> None:
        with self._locked():
            records = self.load()
            old = records.get(sealed.name)
            if old is not None:
                sealed = SealedSecret(
                    sealed.name, sealed.key_id, sealed.nonce, sealed.ciphertext, old.created, sealed.updated
                )
            records[sealed.name] = sealed
            self._write(records)

    def delete(self, name: str) -> bool:
        with self._locked():
            records = self.load()
            if records.pop(name, None) is None:
                return False
            self._write(records)
            return True

    def rewrite(self, change: Rewrite) -> int:
        with self._locked():
            records = list(self.load().values())
            self._write({r.name: r for r in change(records)})
            return len(records)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, records: dict[str, SealedSecret]) -> None:
        doc = {"version": FILE_FORMAT_VERSION, "secrets": {n: _to_json(r) for n, r in sorted(records.items())}}
        data = json.dumps(doc, indent=1).encode() + b"\n"
        # mkstemp creates the file 0600 (O_EXCL), in the same directory so the rename is atomic.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)


def _to_json(r: SealedSecret) -> dict[str, str]:
    return {
        "key_id": r.key_id,
        "nonce": base64.b64encode(r.nonce).decode(),
        "ciphertext": base64.b64encode(r.ciphertext).decode(),
        "created": r.created,
        "updated": r.updated,
    }


def _from_json(name: str, rec: dict[str, Any]) -> SealedSecret:
    return SealedSecret(
        name,
        str(rec["key_id"]),
        base64.b64decode(rec["nonce"], validate=True),
        base64.b64decode(rec["ciphertext"], validate=True),
        str(rec["created"]),
        str(rec["updated"]),
    )


# --- PostgreSQL -----------------------------------------------------------------------------


class PostgresStore:
    """A table `(name, key_id, nonce, ciphertext, created, updated)`, created on first write.
    `table` is interpolated into SQL: it comes validated by the config schema's pattern."""

    def __init__(self, dsn: str, table: str) -> None:
        self.dsn = dsn
        self.table = table
        self.location = f"{_redacted(dsn)} table {table}"

    def load(self) -> dict[str, SealedSecret]:
        async def q(conn: Any) -> dict[str, SealedSecret]:
            import asyncpg

            try:
                rows = await conn.fetch(f"SELECT name, key_id, nonce, ciphertext, created, updated FROM {self.table}")
            except asyncpg.UndefinedTableError:
                return {}
            return {r["name"]: _sealed(r) for r in rows}

        return self._run(q)

    def put(self, sealed: SealedSecret) -> None:
        async def q(conn: Any) -> None:
            await self._ensure(conn)
            await conn.execute(
                f"INSERT INTO {self.table} AS t (name, key_id, nonce, ciphertext, created, updated) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET key_id = EXCLUDED.key_id, "
                "nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, updated = EXCLUDED.updated",
                *_row(sealed),
            )

        self._run(q)

    def delete(self, name: str) -> bool:
        async def q(conn: Any) -> bool:
            import asyncpg

            try:
                status = await conn.execute(f"DELETE FROM {self.table} WHERE name = $1", name)
            except asyncpg.UndefinedTableError:
                return False
            return bool(status == "DELETE 1")

        return self._run(q)

    def rewrite(self, change: Rewrite) -> int:
        async def q(conn: Any) -> int:
            await self._ensure(conn)
            async with conn.transaction():
                # EXCLUSIVE: reads go on, a concurrent `secrets set` waits for the rotation.
                await conn.execute(f"LOCK TABLE {self.table} IN EXCLUSIVE MODE")
                rows = await conn.fetch(f"SELECT name, key_id, nonce, ciphertext, created, updated FROM {self.table}")
                records = [_sealed(r) for r in rows]
                await conn.execute(f"DELETE FROM {self.table}")
                await conn.executemany(
                    f"INSERT INTO {self.table} (name, key_id, nonce, ciphertext, created, updated) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    [_row(r) for r in change(records)],
                )
                return len(records)

        return self._run(q)

    async def _ensure(self, conn: Any) -> None:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (name text PRIMARY KEY, key_id text NOT NULL, "
            "nonce bytea NOT NULL, ciphertext bytea NOT NULL, created timestamptz NOT NULL, "
            "updated timestamptz NOT NULL)"
        )

    def _run(self, query: Callable[[Any], Awaitable[T]]) -> T:
        async def go() -> T:
            import asyncpg

            conn = await asyncpg.connect(self.dsn, timeout=PG_TIMEOUT_S)
            try:
                return await asyncio.wait_for(query(conn), PG_TIMEOUT_S)
            finally:
                await conn.close()

        try:
            # A thread of its own: asyncio.run cannot nest in the worker's running loop.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                return pool.submit(asyncio.run, go()).result()
        except (OSError, TimeoutError) as e:
            raise SecretError(None, f"secret store {self.location}: cannot connect ({e.__class__.__name__})") from None
        except Exception as e:
            if type(e).__module__.startswith("asyncpg"):
                raise SecretError(None, f"secret store {self.location}: {e.__class__.__name__}") from None
            raise


def _sealed(r: Any) -> SealedSecret:
    created, updated = (r[k].isoformat(timespec="seconds") for k in ("created", "updated"))
    return SealedSecret(r["name"], r["key_id"], bytes(r["nonce"]), bytes(r["ciphertext"]), created, updated)


def _row(r: SealedSecret) -> tuple[Any, ...]:
    return (r.name, r.key_id, r.nonce, r.ciphertext, datetime.fromisoformat(r.created),
            datetime.fromisoformat(r.updated))  # fmt: skip


def _redacted(dsn: str) -> str:
    """The DSN for messages: scheme, host, port and database, never the user's password."""
    try:
        u = urlsplit(dsn)
        host = u.hostname or "localhost"
        port = f":{u.port}" if u.port else ""
    except ValueError:
        return "postgresql://…"
    return f"{u.scheme}://{host}{port}{u.path}"
