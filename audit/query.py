"""Reading the audit trail back: the query, its parsing and its output, without any I/O.

A query is always scoped to one org. Pages are keyset-paginated, newest first: the cursor is
the (time, event id) of the last row returned, so a page costs the same however deep it is and
rows written meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from audit.event import RESULTS, SURFACES

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
FORMATS = ("table", "json", "csv")

# Columns in output order: what operators read first comes first.
COLUMNS = (
    "ts", "org_id", "team_id", "actor_type", "actor_id", "parent_actor_id", "surface", "action", "resource",
    "result", "status", "latency_ms", "tokens_in", "tokens_out", "cost_usd", "pii_counts", "detail", "request_id",
    "event_id", "version",
)  # fmt: skip
TABLE_COLUMNS = ("ts", "surface", "action", "result", "status", "actor_id", "parent_actor_id", "resource", "request_id")

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class QueryError(ValueError):
    """A bad query parameter; the message names it and says what is expected."""


@dataclass(frozen=True, slots=True)
class Cursor:
    ts_us: int
    event_id: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.ts_us}:{self.event_id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            ts, event_id = raw.split(":", 1)
            if not re.fullmatch(r"(?:[0-9a-f-]{36})?", event_id):  # empty: a line from before event ids
                raise ValueError
            return cls(int(ts), event_id)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise QueryError("cursor: not a cursor this appliance returned (pass next_cursor back unchanged)") from None


@dataclass(frozen=True, slots=True)
class Query:
    org_id: str
    agent_id: str | None = None
    with_subagents: bool = False
    since_us: int | None = None
    until_us: int | None = None
    surface: str | None = None
    result: str | None = None
    request_id: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None

    def matches(self, row: Mapping[str, Any], ts_us: int) -> bool:
        """The same filter the SQL applies, for rows of the embedded JSON-lines sink."""
        if row.get("org_id") != self.org_id:
            return False
        if self.agent_id is not None and self.agent_id not in self._actors(row):
            return False
        if self.since_us is not None and ts_us < self.since_us:
            return False
        if self.until_us is not None and ts_us >= self.until_us:
            return False
        if self.surface is not None and row.get("surface") != self.surface:
            return False
        if self.result is not None and row.get("result") != self.result:
            return False
        if self.request_id is not None and row.get("request_id") != self.request_id:
            return False
        return self.cursor is None or (ts_us, row.get("event_id") or "") < (self.cursor.ts_us, self.cursor.event_id)

    def _actors(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The ids under which a row counts as the queried agent's."""
        return (row.get("actor_id"), row.get("parent_actor_id")) if self.with_subagents else (row.get("actor_id"),)

    def sql(self) -> tuple[str, list[Any]]:
        """The page's SELECT and its arguments; every value is a bind parameter."""
        where = ["org_id = $1"]
        args: list[Any] = [self.org_id]

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if self.agent_id is not None:
            p = arg(self.agent_id)
            where.append(f"(actor_id = {p} OR parent_actor_id = {p})" if self.with_subagents else f"actor_id = {p}")
        if self.since_us is not None:
            where.append(f"ts >= {arg(us_to_datetime(self.since_us))}")
        if self.until_us is not None:
            where.append(f"ts < {arg(us_to_datetime(self.until_us))}")
        for column in ("surface", "result", "request_id"):
            value = getattr(self, column)
            if value is not None:
                where.append(f"{column} = {arg(value)}")
        if self.cursor is not None:
            ts, eid = arg(us_to_datetime(self.cursor.ts_us)), arg(self.cursor.event_id or str(uuid.UUID(int=0)))
            where.append(f"(ts, event_id) < ({ts}, {eid}::uuid)")
        select = ", ".join(c if c != "event_id" else "event_id::text AS event_id" for c in COLUMNS)
        sql = (
            f"SELECT {select} FROM audit_events WHERE {' AND '.join(where)} "
            f"ORDER BY ts DESC, event_id DESC LIMIT {arg(self.limit + 1)}"
        )
        return sql, args


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]  # in COLUMNS form, ts as ISO 8601 UTC
    next_cursor: str | None


def build_query(params: Mapping[str, str | None], now: datetime | None = None) -> Query:
    """A query from CLI options or URL parameters (the same names, `-` or `_`), validated."""

    def get(name: str) -> str | None:
        value = params.get(name)
        return value if value not in (None, "") else None

    org = get("org")
    if org is None:
        raise QueryError("org: required (every audit query is scoped to one org)")
    surface, result = get("surface"), get("result")
    if surface is not None and surface not in SURFACES:
        raise QueryError(f"surface: must be one of {', '.join(SURFACES)}, got {surface!r}")
    if result is not None and result not in RESULTS:
        raise QueryError(f"result: must be one of {', '.join(RESULTS)}, got {result!r}")
    with_sub = (get("with_subagents") or "false").lower()
    if with_sub not in ("1", "true", "yes", "0", "false", "no"):
        raise QueryError(f"with_subagents: must be true or false, got {with_sub!r}")
    agent = get("agent")
    if with_sub in ("1", "true", "yes") and agent is None:
        raise QueryError("with_subagents: needs agent (the parent whose subagents to include)")
    limit_text = get("limit") or str(DEFAULT_LIMIT)
    try:
        limit = int(limit_text)
    except ValueError:
        raise QueryError(f"limit: must be a whole number, got {limit_text!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit: must be between 1 and {MAX_LIMIT}, got {limit}")
    now = now or datetime.now(UTC)
    since, until = get("since"), get("until")
    cursor = get("cursor")
    return Query(
        org_id=org,
        agent_id=agent,
        with_subagents=with_sub in ("1", "true", "yes"),
        since_us=parse_time(since, now, "since") if since else None,
        until_us=parse_time(until, now, "until") if until else None,
        surface=surface,
        result=result,
        request_id=get("request_id"),
        limit=limit,
        cursor=Cursor.decode(cursor) if cursor else None,
    )


def parse_time(text: str, now: datetime, name: str) -> int:
    """ISO 8601 (`2026-12-02T14:05:00Z`, `2026-12-02 14:05`; no zone means UTC) or an age (`15m`, `2h`, `7d`)."""
    m = _RELATIVE.match(text.strip())
    if m:
        moment = now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(
                f"{name}: expected an ISO 8601 time (2026-12-02T14:05:00Z) or an age (15m, 2h, 7d), got {text!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return datetime_to_us(moment)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def datetime_to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def us_to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def seconds_to_us(ts: float) -> int:
    """The one rounding of an event's float time, shared by the writer and the local reader."""
    return round(ts * 1_000_000)


def iso(us: int) -> str:
    return us_to_datetime(us).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_from_event(data: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-lines event in the output form PostgreSQL rows also take."""
    row = {c: data.get(c) for c in COLUMNS}
    row["ts"] = iso(seconds_to_us(float(data.get("ts") or 0)))
    row["version"] = data.get("version") or 1
    return row


def render(page: Page, fmt: str) -> bytes:
    if fmt == "json":
        return orjson.dumps({"events": page.rows, "next_cursor": page.next_cursor})
    if fmt == "csv":
        return render_csv(page.rows)
    return render_table(page.rows)


def render_lines(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)


def render_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([_cell(r.get(c)) for c in COLUMNS])
    return out.getvalue().encode()


def render_table(rows: Sequence[Mapping[str, Any]]) -> bytes:
    cells = [list(TABLE_COLUMNS)] + [[_cell(r.get(c)) for c in TABLE_COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return ("\n".join(lines) + "\n").encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)
