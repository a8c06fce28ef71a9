"""Budget periods: which counter a moment falls in, and when that counter resets. Pure, UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PERIODS = ("daily", "monthly", "total")


def period_key(period: str, now: float) -> str:
    t = datetime.fromtimestamp(now, UTC)
    if period == "daily":
        return t.strftime("d%Y%m%d")
    if period == "monthly":
        return t.strftime("m%Y%m")
    return "total"


def resets_at(period: str, now: float) -> float | None:
    """The epoch second at which the current counter of `period` stops applying (None: never)."""
    t = datetime.fromtimestamp(now, UTC)
    if period == "daily":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return (start + timedelta(days=1)).timestamp()
    if period == "monthly":
        start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return nxt.timestamp()
    return None
