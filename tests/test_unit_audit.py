"""audit: the non-blocking emit seam and the batching pipeline with a local JSON-lines sink."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import audit
from audit import AuditEvent, LocalSink, Pipeline


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def event(i: int) -> AuditEvent:
    return AuditEvent(surface="llm", action="chat.completions", result="allowed", request_id=f"req_{i}")


class RecordingSink:
    """Records every batch written; the first `failures` writes raise."""

    def __init__(self, failures: int = 0, delay_s: float = 0.0) -> None:
        self.failures = failures
        self.delay_s = delay_s
        self.attempts = 0
        self.written: list[str] = []
        self.replays: list[bool] = []
        self.started = asyncio.Event()
        self.closed = False

    async def write(self, events: Sequence[AuditEvent], *, replay: bool = False) -> None:
        self.attempts += 1
        self.replays.append(replay)
        self.started.set()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.failures:
            self.failures -= 1
            raise OSError("sink down")
        self.written.extend(e.request_id for e in events)

    async def close(self) -> None:
        self.closed = True


async def wait_for(condition: Callable[[], bool], within_s: float = 2.0) -> None:
    """Poll until `condition()` holds; the batcher runs on its own schedule."""
    for _ in range(int(within_s / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met in time")


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_emit_before_install_is_a_no_op(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(audit, "_pipeline", None)
    assert audit.emit(event(1)) is None


async def test_emit_never_raises_even_when_the_pipeline_does(monkeypatch: pytest.MonkeyPatch):
    class Broken(Pipeline):
        def emit(self, event: AuditEvent) -> None:
            raise RuntimeError("boom")

    monkeypatch.setattr(audit, "_pipeline", Broken(RecordingSink(), queue_size=10, batch_size=10, flush_interval_s=1))
    audit.emit(event(1))


async def test_local_sink_rows_carry_every_audit_field(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    sink = LocalSink(str(path))
    await sink.write([event(1)])
    await sink.close()
    [row] = read_lines(path)
    assert set(row) == {
        "ts", "request_id", "org_id", "team_id", "actor_type", "actor_id", "parent_actor_id", "surface",
        "action", "resource", "result", "status", "latency_ms", "tokens_in", "tokens_out", "cost_usd",
        "pii_counts", "detail", "event_id", "version",
    }  # fmt: skip


async def test_local_sink_writes_json_lines(tmp_path: Path):
    path = tmp_path / "var" / "audit.jsonl"
    pipeline = Pipeline(LocalSink(str(path)), queue_size=100, batch_size=10, flush_interval_s=0.01)
    pipeline.start()
    for i in range(3):
        pipeline.emit(event(i))
    await wait_for(lambda: path.exists() and len(path.read_text().splitlines()) == 3)
    await pipeline.close()
    rows = read_lines(path)
    assert [r["request_id"] for r in rows] == ["req_0", "req_1", "req_2"]
    assert rows[0]["surface"] == "llm" and rows[0]["result"] == "allowed"


async def test_local_sink_appends_and_is_private(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    path.write_text('{"old": true}\n')
    path.chmod(0o600)
    sink = LocalSink(str(path))
    await sink.write([event(1)])
    await sink.close()
    assert [r.get("request_id") for r in read_lines(path)] == [None, "req_1"]


async def test_local_sink_creates_the_file_owner_only(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    sink = LocalSink(str(path))
    await sink.close()
    assert path.stat().st_mode & 0o777 == 0o600


async def test_close_flushes_what_is_queued(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    pipeline = Pipeline(LocalSink(str(path)), queue_size=100, batch_size=2, flush_interval_s=60)
    pipeline.start()
    for i in range(5):
        pipeline.emit(event(i))
    await pipeline.close()
    assert [r["request_id"] for r in read_lines(path)] == [f"req_{i}" for i in range(5)]


async def test_a_full_batch_is_written_before_the_flush_interval():
    sink = RecordingSink()
    pipeline = Pipeline(sink, queue_size=100, batch_size=3, flush_interval_s=60)
    pipeline.start()
    for i in range(3):
        pipeline.emit(event(i))
    await wait_for(lambda: len(sink.written) == 3)
    await pipeline.close()


async def test_failed_write_keeps_events_and_writes_them_in_order_later():
    sink = RecordingSink(failures=1)
    pipeline = Pipeline(sink, queue_size=100, batch_size=2, flush_interval_s=0.01)
    for i in range(5):
        pipeline.emit(event(i))
    pipeline.start()
    await wait_for(lambda: len(sink.written) == 5)
    assert sink.attempts > 3  # one failed batch, then three batches of at most two
    assert sink.written == [f"req_{i}" for i in range(5)]
    assert pipeline.dropped == 0
    await pipeline.close()


async def test_events_emitted_during_an_outage_come_after_the_kept_ones():
    sink = RecordingSink(failures=3)
    pipeline = Pipeline(sink, queue_size=100, batch_size=10, flush_interval_s=0.01)
    pipeline.emit(event(0))
    pipeline.start()
    await wait_for(lambda: sink.attempts >= 1)
    pipeline.emit(event(1))
    await wait_for(lambda: len(sink.written) == 2)
    assert sink.written == ["req_0", "req_1"]
    await pipeline.close()


def test_queue_overflow_counts_drops():
    pipeline = Pipeline(RecordingSink(), queue_size=2, batch_size=10, flush_interval_s=1)
    for i in range(5):
        pipeline.emit(event(i))
    assert pipeline.dropped == 3
    assert [e.request_id for e in pipeline.queue] == ["req_0", "req_1"]


async def test_close_closes_the_sink():
    sink = RecordingSink()
    pipeline = Pipeline(sink, queue_size=10, batch_size=10, flush_interval_s=1)
    pipeline.start()
    await pipeline.close()
    assert sink.closed


async def test_install_emit_uninstall_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(audit, "_pipeline", None)
    path = tmp_path / "audit.jsonl"
    audit.install(Pipeline(LocalSink(str(path)), queue_size=10, batch_size=10, flush_interval_s=60))
    audit.emit(event(7))
    await audit.uninstall()
    assert [r["request_id"] for r in read_lines(path)] == ["req_7"]
    audit.emit(event(8))  # after uninstall: discarded, no error
    assert len(read_lines(path)) == 1


async def test_close_during_an_in_flight_write_loses_nothing():
    sink = RecordingSink(delay_s=0.05)
    pipeline = Pipeline(sink, queue_size=10, batch_size=1, flush_interval_s=60)
    pipeline.start()
    pipeline.emit(event(1))
    await wait_for(sink.started.is_set)
    await pipeline.close()
    assert sink.written == ["req_1"]


async def test_close_with_a_sink_failing_once_loses_nothing_silently():
    sink = RecordingSink(failures=1)
    pipeline = Pipeline(sink, queue_size=10, batch_size=10, flush_interval_s=60)
    pipeline.start()
    for i in range(3):
        pipeline.emit(event(i))
    await pipeline.close()
    assert len(sink.written) + pipeline.dropped == 3


# -- back-off ----------------------------------------------------------------------------------


def test_backoff_grows_exponentially_is_capped_and_jittered():
    from audit.pipeline import BACKOFF_BASE_S, backoff_delay

    assert backoff_delay(1, 5.0, lambda: 0.0) == BACKOFF_BASE_S  # half the ceiling, fixed
    assert backoff_delay(1, 5.0, lambda: 1.0) == 2 * BACKOFF_BASE_S
    assert backoff_delay(3, 5.0, lambda: 1.0) == 8 * BACKOFF_BASE_S
    assert backoff_delay(40, 5.0, lambda: 1.0) == 5.0 and backoff_delay(40, 5.0, lambda: 0.0) == 2.5
    assert len({backoff_delay(4, 5.0) for _ in range(20)}) > 1


# -- spool -------------------------------------------------------------------------------------


def spool_ids(spool, n: int = 1000) -> list[str]:
    events, _, _ = spool.read(n)
    return [e.request_id for e in events]


def test_spool_appends_replays_in_order_and_empties(tmp_path: Path):
    from audit.spool import Spool

    spool = Spool(str(tmp_path), max_bytes=1 << 20, name="a")
    assert spool.append([event(i) for i in range(3)]) and spool.append([event(3)])
    events, offset, skipped = spool.read(2)
    assert [e.request_id for e in events] == ["req_0", "req_1"] and skipped == 0
    spool.consume(offset)
    assert spool_ids(spool) == ["req_2", "req_3"]
    spool.consume(spool.read(10)[1])
    assert spool.pending == 0 and Path(spool.path).stat().st_size == 0
    spool.close()
    assert not Path(spool.path).exists()


def test_spool_refuses_a_batch_past_its_cap(tmp_path: Path):
    from audit.spool import Spool

    spool = Spool(str(tmp_path), max_bytes=600, name="a")
    assert spool.append([event(1)])
    assert not spool.append([event(i) for i in range(10)])
    assert spool_ids(spool) == ["req_1"]
    spool.close()


def test_spool_skips_a_torn_last_line_and_keeps_the_rest(tmp_path: Path):
    from audit.spool import Spool

    spool = Spool(str(tmp_path), max_bytes=1 << 20, name="a")
    spool.append([event(1), event(2)])
    spool.close(remove_if_empty=False)
    with open(spool.path, "ab") as f:
        f.write(b'{"surface": "llm", "action": "cu')  # a crash in the middle of a write
    again = Spool(str(tmp_path), max_bytes=1 << 20, name="a")
    events, offset, skipped = again.read(10)
    assert [e.request_id for e in events] == ["req_1", "req_2"] and skipped == 1
    again.consume(offset)
    assert again.pending == 0
    again.close()


def test_a_new_spool_adopts_unheld_ones_in_order_but_never_a_live_one(tmp_path: Path):
    from audit.spool import Spool

    old = Spool(str(tmp_path), max_bytes=1 << 20, name="old")
    old.append([event(1), event(2)])
    live = Spool(str(tmp_path), max_bytes=1 << 20, name="live")
    live.append([event(9)])
    old.close()  # its worker is gone; the file stays
    new = Spool(str(tmp_path), max_bytes=1 << 20, name="new")
    assert new.adopt_orphans() > 0
    assert spool_ids(new) == ["req_1", "req_2"]  # the live worker's spool is still its own
    assert not Path(old.path).exists() and Path(live.path).exists()
    new.close(remove_if_empty=False)
    live.close(remove_if_empty=False)


def test_closing_a_partly_replayed_spool_keeps_only_the_rest(tmp_path: Path):
    from audit.spool import Spool

    spool = Spool(str(tmp_path), max_bytes=1 << 20, name="a")
    spool.append([event(i) for i in range(4)])
    spool.consume(spool.read(3)[1])
    spool.close()
    assert spool_ids(Spool(str(tmp_path), max_bytes=1 << 20, name="a")) == ["req_3"]


# -- pipeline with a spool -----------------------------------------------------------------------


async def test_an_outage_spills_the_oldest_batches_and_replays_them_first(tmp_path: Path):
    from audit.spool import Spool

    sink = RecordingSink(failures=10**9)
    spool = Spool(str(tmp_path), max_bytes=1 << 20, name="a")
    pipeline = Pipeline(sink, queue_size=20, batch_size=5, flush_interval_s=0.01, spool=spool, retry_max_s=0.02)
    pipeline.start()
    for i in range(40):
        pipeline.emit(event(i))
        await asyncio.sleep(0.001)
    await wait_for(lambda: spool.pending > 0 and len(pipeline.queue) <= 10)
    assert pipeline.dropped == 0
    sink.failures = 0  # the database is back
    await wait_for(lambda: len(sink.written) == 40)
    assert sink.written == [f"req_{i}" for i in range(40)]  # spooled ones first, all in order
    assert True in sink.replays  # the spool's batches went the deduplicating way
    await pipeline.close()


async def test_drops_happen_only_when_queue_and_spool_are_full_and_are_counted(tmp_path: Path, caplog):
    from audit.spool import Spool

    sink = RecordingSink(failures=10**9)
    spool = Spool(str(tmp_path), max_bytes=2000, name="a")
    pipeline = Pipeline(sink, queue_size=10, batch_size=5, flush_interval_s=0.01, spool=spool, retry_max_s=0.02)
    pipeline.start()
    for i in range(100):
        pipeline.emit(event(i))
        await asyncio.sleep(0.001)
    await wait_for(lambda: pipeline.dropped > 0)
    assert 0 < spool.size <= 2000
    assert sum("audit events dropped" in r.message for r in caplog.records) == 1  # once per interval
    await pipeline.close()


async def test_a_retried_batch_is_marked_as_possibly_stored():
    sink = RecordingSink(failures=1)
    pipeline = Pipeline(sink, queue_size=100, batch_size=5, flush_interval_s=0.01, retry_max_s=0.02)
    for i in range(8):
        pipeline.emit(event(i))
    pipeline.start()
    await wait_for(lambda: len(sink.written) == 8)
    # The failed batch is retried through the deduplicating path, what came after it is not.
    assert sink.replays == [False, True, False]
    await pipeline.close()


def test_emit_stamps_ids_system_org_and_subagent_parent():
    pipeline = Pipeline(RecordingSink(), queue_size=10, batch_size=10, flush_interval_s=1)
    pipeline.set_parents({"sub": "main"})
    a = AuditEvent("llm", "x", "allowed", org_id="acme", actor_id="sub")
    b = AuditEvent("auth", "authenticate", "denied", actor_type="anonymous", actor_id="sub")
    pipeline.emit(a)
    pipeline.emit(b)
    assert a.parent_actor_id == "main" and b.parent_actor_id == ""  # an unauthenticated claim gets no parent
    assert b.org_id == audit.SYSTEM_ORG and a.org_id == "acme"
    assert a.event_id != b.event_id and len(a.event_id) == 36


def test_event_ids_are_unique_uuids():
    import uuid

    from audit.event import new_event_id

    ids = {new_event_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(uuid.UUID(i).version == 4 for i in list(ids)[:100])


# -- queries -----------------------------------------------------------------------------------


def test_build_query_validates_every_parameter():
    from datetime import UTC, datetime

    from audit.query import Cursor, QueryError, build_query, datetime_to_us

    now = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)
    q = build_query({"org": "acme", "since": "15m", "until": "2026-12-02 14:05", "limit": "5"}, now)
    assert q.until_us == datetime_to_us(now) and q.until_us - q.since_us == 15 * 60 * 1_000_000
    cursor = Cursor(123, "0" * 8 + "-0000-4000-8000-" + "0" * 12)
    assert build_query({"org": "a", "cursor": cursor.encode()}).cursor == cursor
    for params, name in (
        ({}, "org"), ({"org": "a", "limit": "x"}, "limit"), ({"org": "a", "limit": "10001"}, "limit"),
        ({"org": "a", "result": "maybe"}, "result"), ({"org": "a", "with_subagents": "true"}, "with_subagents"),
        ({"org": "a", "cursor": "bm9wZQ"}, "cursor"), ({"org": "a", "until": "tomorrow"}, "until"),
    ):  # fmt: skip
        with pytest.raises(QueryError, match=f"^{name}: "):
            build_query(params, now)


def test_query_sql_binds_every_value_and_always_scopes_the_org():
    from audit.query import build_query

    sql, args = build_query({"org": "acme'; DROP TABLE x; --", "agent": "bob", "with_subagents": "1"}).sql()
    assert "DROP" not in sql and set(re.findall(r"\$(\d+)", sql)) == {"1", "2", "3"} and len(args) == 3
    assert "org_id = $1" in sql and "(actor_id = $2 OR parent_actor_id = $2)" in sql
    assert sql.endswith("ORDER BY ts DESC, event_id DESC LIMIT $3") and args[2] == 101


def test_the_dashboard_and_alerts_use_the_audit_metrics_that_exist():
    from audit import metrics

    root = Path(__file__).resolve().parent.parent
    exported = set()
    for m in (metrics.EVENTS, metrics.QUEUE_DEPTH, metrics.BATCH_SECONDS, metrics.SPOOLED, metrics.DROPPED):
        for family in m.describe():
            exported |= {family.name, family.name + "_total", family.name + "_bucket"}
    for name in ("grafana-dashboard.json", "alerts.yml"):
        used = set(re.findall(r"tollgate_audit_[a-z_]+", (root / "ops" / name).read_text()))
        assert used and used <= exported, (name, used - exported)
    dashboard = (root / "ops" / "grafana-dashboard.json").read_text()
    for metric in ("events_total", "queue_depth", "batch_seconds", "spooled_total", "dropped_total"):
        assert f"tollgate_audit_{metric}" in dashboard
