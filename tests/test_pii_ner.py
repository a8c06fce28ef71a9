"""NER tier (pii/ner/): the real spaCy model in a real process pool, no mocks.

One engine per module (the model loads once); the timeout and crash tests rebuild its pool, as
production would after a runaway or killed worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool

import pytest

from pii import ner
from pii.detect import Span

pytestmark = pytest.mark.skipif(not ner.ner_available(), reason="spaCy / presidio / model not installed")

ALL = ner.NER_TYPES


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    return None


@pytest.fixture(scope="module")
def engine() -> Iterator[ner.NerEngine]:
    eng = ner.NerEngine(processes=1, timeout_s=30.0)
    yield eng
    eng.close()


def found(text: str, spans: list[Span]) -> set[tuple[str, str]]:
    return {(s.type, text[s.start : s.end]) for s in spans}


def prose(kib: int) -> str:
    para = (
        "The quarterly review covered the migration plan, the on-call rotation and the budget for "
        "next year. Maria Gonzalez from Northwind Logistics GmbH joined the call from Berlin.\n"
    )
    return para * (kib * 1024 // len(para) + 1)


def wait_dead(pid: int, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


async def test_finds_person_organization_location(engine: ner.NerEngine) -> None:
    await engine.start()
    text = "Please ask Maria Gonzalez from Northwind Logistics GmbH about the delivery to Berlin."
    [spans] = await engine.detect([text], ALL)
    assert found(text, spans) == {
        ("PERSON", "Maria Gonzalez"),
        ("ORGANIZATION", "Northwind Logistics GmbH"),
        ("LOCATION", "Berlin"),
    }


async def test_labelled_values_in_structured_text(engine: ner.NerEngine) -> None:
    texts = [
        '{"customer_name":"John Dương","employer":"Marques Lévêque S.A.S.","city":"Lisbon","plan":"Enterprise"}',
        "full_name\tcompany\taddress_line1\nOwen Barnes\tPioneer Bank\t0754 Hanson Avenue Suite 494\n",
        "INSERT INTO users (ssn, address_line1, country) VALUES ('435244942', '91, avenue Toussaint', 'Morocco');",
        "stringData:\n  CUSTOMER_NAME: 橋本 裕美子\n  company-name: North Logistics\n",
    ]
    got = [found(t, s) for t, s in zip(texts, await engine.detect(texts, ALL), strict=True)]
    assert got[0] == {
        ("PERSON", "John Dương"),
        ("ORGANIZATION", "Marques Lévêque S.A.S."),
        ("LOCATION", "Lisbon"),
    }
    assert got[1] == {
        ("PERSON", "Owen Barnes"),
        ("ORGANIZATION", "Pioneer Bank"),
        ("LOCATION", "0754 Hanson Avenue Suite 494"),
    }
    assert got[2] == {("LOCATION", "91, avenue Toussaint"), ("LOCATION", "Morocco")}
    assert got[3] == {("PERSON", "橋本 裕美子"), ("ORGANIZATION", "North Logistics")}


async def test_ignores_tech_vendors_and_code_identifiers(engine: ner.NerEngine) -> None:
    texts = [
        "We moved from GitHub Actions to GitLab CI, keep sessions in Redis and orders in PostgreSQL, bill "
        "through Stripe and run the jobs on AWS Lambda. Alerts go to Slack and PagerDuty.",
        "public class CustomerAccountMapper {\n  private final Map<String, Object> fields = new HashMap<>();\n"
        "  UserFixtures.load(BillingAddress.EMPTY);\n}",
        '{"PaymentIntent": {"BillingAddress": null, "ShippingMethod": "Express"}, "ID_TOKEN": "x"}',
        "full_name,company_name,city,country\n",
        "| Order Id | Full Name | Tenant Name | Notify Email |\n|---|---|---|---|\n",
        'Traceback (most recent call last):\n  File "/app/InvoiceRenderer.py", line 88, in render\n'
        "AttributeError: 'NoneType' object has no attribute 'write'",
    ]
    results = await engine.detect(texts, ALL)
    assert [found(t, s) for t, s in zip(texts, results, strict=True)] == [set()] * len(texts)


async def test_type_filter(engine: ner.NerEngine) -> None:
    text = "Maria Gonzalez from Northwind Logistics GmbH flew to Berlin."
    [spans] = await engine.detect([text], frozenset({"PERSON", "EMAIL"}))
    assert found(text, spans) == {("PERSON", "Maria Gonzalez")}
    assert await engine.detect([text, ""], frozenset({"EMAIL"})) == [[], []]
    assert await engine.detect([], ALL) == []


async def test_many_texts_one_list_each_with_str_offsets(engine: ner.NerEngine) -> None:
    names = ["Anna Kowalski", "Derek Taylor", "Sofia Rossi", "Liam O'Connor", "Başok Akçay"]
    texts: list[str] = []
    expect: list[set[tuple[str, str]]] = []
    for i in range(40):
        name = names[i % len(names)]
        if i % 4 == 3:
            texts.append("" if i % 8 == 3 else f"Build {i} passed on node-{i}; nothing else to report.")
            expect.append(set())
            continue
        # non-ASCII before the name: offsets must be str indices, not UTF-8 byte offsets
        prefix = "🙂 Ünïcødé — " * (i % 3)
        texts.append(f"{prefix}Ticket #{i}: customer {name} asked for a refund.")
        expect.append({("PERSON", name)})
    results = await engine.detect(texts, ALL)
    assert len(results) == len(texts)
    assert [found(t, s) for t, s in zip(texts, results, strict=True)] == expect
    for spans in results:
        assert all(isinstance(s, Span) and 0 <= s.start < s.end for s in spans)


async def test_concurrent_calls_share_one_worker(engine: ner.NerEngine) -> None:
    texts = [f"Call {i}: Derek Taylor in Lyon." for i in range(6)]
    results = await asyncio.gather(*(engine.detect([t], ALL) for t in texts))
    assert all(
        found(t, r[0]) == {("PERSON", "Derek Taylor"), ("LOCATION", "Lyon")}
        for t, r in zip(texts, results, strict=True)
    )


async def test_timeout_raises_then_next_call_works(engine: ner.NerEngine) -> None:
    await engine.start()
    [old] = engine.worker_pids()
    with pytest.raises(TimeoutError):
        await engine.detect([prose(64)], ALL, timeout_s=0.001)
    wait_dead(old)  # the runaway worker was killed, not left holding a core
    text = "Sofia Rossi moved to Madrid."
    [spans] = await engine.detect([text], ALL)
    assert found(text, spans) == {("PERSON", "Sofia Rossi"), ("LOCATION", "Madrid")}
    assert old not in engine.worker_pids()


async def test_killed_worker_raises_and_engine_recovers(engine: ner.NerEngine) -> None:
    await engine.start()
    [pid] = engine.worker_pids()
    task = asyncio.create_task(engine.detect([prose(200)], ALL))
    await asyncio.sleep(0.4)  # the worker is busy with the long text now
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):  # the caller fails closed on it
        await task
    text = "Derek Taylor from Crescent Retail Group."
    [spans] = await engine.detect([text], ALL)
    assert found(text, spans) == {("PERSON", "Derek Taylor"), ("ORGANIZATION", "Crescent Retail Group")}
    assert pid not in engine.worker_pids()


async def test_worker_dying_while_idle_is_replaced(engine: ner.NerEngine) -> None:
    await engine.start()
    [pid] = engine.worker_pids()
    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    await asyncio.sleep(0.2)  # let the pool notice
    text = "Anna Kowalski lives in Warsaw."
    try:
        [spans] = await engine.detect([text], ALL)
    except Exception:  # the death raced this call: it failed closed; the next one must work
        [spans] = await engine.detect([text], ALL)
    assert found(text, spans) == {("PERSON", "Anna Kowalski"), ("LOCATION", "Warsaw")}


async def test_unavailable_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ner, "_available", False)
    assert not ner.ner_available()
    eng = ner.NerEngine()
    with pytest.raises(ner.NerUnavailable):
        await eng.detect(["Maria Gonzalez"], ALL)
    assert await eng.detect(["Maria Gonzalez"], frozenset({"EMAIL"})) == [[]]  # no NER asked: no pool
    eng.close()


def test_thresholds_are_never_zero() -> None:
    assert set(ner.MIN_SCORE) == ner.NER_TYPES
    assert all(v > 0 for v in ner.MIN_SCORE.values())
    # a candidate under its type's floor is dropped; on overlap the stronger one wins
    cands = [(0, 5, "PERSON", 0.1), (10, 20, "ORGANIZATION", 0.7), (12, 18, "PERSON", 0.9)]
    assert ner.resolve(cands, ner.NER_TYPES) == [(12, 18, "PERSON")]
    assert ner.resolve(cands, frozenset({"ORGANIZATION"})) == [(10, 20, "ORGANIZATION")]


def test_spans_are_trimmed_to_the_value() -> None:
    text = 'owner: "Derek Taylor." (см.) and "Marques Lévêque S.A.S."'
    assert ner.score_model_entity(text, 7, 22, "PERSON") == (8, 20, "PERSON", 0.85)
    i = text.index('"Marques')
    s, e, t, _ = ner.score_model_entity(text, i, len(text), "ORGANIZATION") or (0, 0, "", 0)
    assert (text[s:e], t) == ("Marques Lévêque S.A.S.", "ORGANIZATION")
    # pieces of identifiers are no entities
    code = "UserFixtures.load(ID_TOKEN); java.util.Map<String, Object>"
    assert ner.score_model_entity(code, 0, 12, "ORGANIZATION") is None
    assert ner.score_model_entity(code, 18, 26, "ORGANIZATION") is None
    assert ner.score_model_entity(code, 33, 36, "PERSON") is None
