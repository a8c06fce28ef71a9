"""Prometheus metrics of the LLM door and process core.

Multiprocess-safe: `tollgate serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory before
this module is imported, so every worker's values are summed at scrape time. Labels are
bounded: routes come from the code, models from the config, statuses from HTTP. Updates go
through the process's tally (`egress.metrics.TALLY`, shared with the egress door): applied once
a second and before every scrape this worker serves, so another worker's last second may lag.
"""

from __future__ import annotations

import asyncio
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

import audit
from egress.metrics import TALLY, Tallied

# Latency buckets from 1 ms (a cached mock reply) to 5 min (a long reasoning run).
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# route: the API path after /v1/ (chat/completions, responses, messages, …): a handful, from the code.
LLM_REQUESTS = Tallied(Counter("tollgate_llm_requests", "LLM door requests", ["route", "model", "status"]))
LLM_DURATION = Tallied(
    Histogram(
        "tollgate_llm_request_duration_seconds",
        "LLM request duration, end to end",
        ["route", "model"],
        buckets=_LATENCY,
    )
)
LLM_TTFT = Tallied(
    Histogram(
        "tollgate_llm_time_to_first_token_seconds", "Time to the first streamed chunk", ["model"], buckets=_LATENCY
    )
)
LLM_TOKENS = Tallied(Counter("tollgate_llm_tokens", "Tokens counted", ["model", "direction"]))
LLM_COST = Tallied(Counter("tollgate_llm_cost_usd", "Cost of LLM requests in USD", ["model"]))
LLM_IN_FLIGHT = Tallied(Gauge("tollgate_llm_in_flight", "LLM requests in flight", multiprocess_mode="livesum"))
AUTH_FAILURES = Tallied(Counter("tollgate_auth_failures", "Requests refused for missing or bad credentials", ["door"]))
PII_ENTITIES = Tallied(Counter("tollgate_pii_entities", "PII values found in requests", ["type", "action"]))
PII_BLOCKED = Tallied(Counter("tollgate_pii_blocked", "Requests refused by PII policy or detection failure"))
PII_DETECT_SECONDS = Tallied(Histogram(
    "tollgate_pii_detect_seconds", "PII detection time per request", ["tier"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
))  # fmt: skip
CONFIG_RELOADS = Tallied(Counter("tollgate_config_reloads", "Config reloads", ["result"]))
LOOP_LAG = Tallied(Histogram(
    "tollgate_event_loop_lag_seconds", "How late a worker's event loop ran a timer (time it was busy)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
))  # fmt: skip
LOOP_LAG_INTERVAL_S = 0.25


async def watch_loop_lag() -> None:
    """Sample the loop's lateness: what every timeout in the process (budget store, upstream) also suffers."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(LOOP_LAG_INTERVAL_S)
        LOOP_LAG.observe(max(0.0, loop.time() - start - LOOP_LAG_INTERVAL_S))


def render() -> tuple[bytes, str]:
    TALLY.flush()
    audit.flush_metrics()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
