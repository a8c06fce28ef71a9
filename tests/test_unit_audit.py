"""audit: the non-blocking emit seam and the batching pipeline with a local JSON-lines sink."""

from __future__ import annotations

import asyncio
import json
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
