"""ISO 8601 / RFC 3339 instants and intervals as the OGC APIs and STAC write them.

`2023-07-21T10:30:21Z`, `2023-07-21`, `2023-07`, `2023` (a whole period), `2023-05/2023-09`
(from the start of May to the end of September), `../2023-09` and `2023-05/..` (open). A partial
date stands for its whole period, so `2023-05/2023-09` includes every scene of September. Times
without an offset are UTC. An invalid text or an interval that ends before it starts is an error
naming the parameter, never an empty selection.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .errors import GraphError

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
MIN = datetime(1, 1, 1, tzinfo=timezone.utc)
MAX = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)


class DatetimeError(GraphError):
    pass


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime  # inclusive

    def contains(self, t: datetime) -> bool:
        return self.start <= t <= self.end


def parse_instant(text: str) -> datetime:
    """An RFC 3339 date-time (UTC when no offset is given)."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DatetimeError(f"'{text}' is not an RFC 3339 date-time") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _period(text: str, where: str) -> tuple[datetime, datetime]:
    """First and last instant of a date-time or of a partial date (year, month or day)."""
    m = _PARTIAL.match(text)
    if m is None:
        try:
            t = parse_instant(text)
        except DatetimeError:
            raise DatetimeError(f"'{text}' is not an ISO 8601 date or date-time (e.g. 2023-07-21, "
                                "2023-07-21T10:30:00Z, 2023-05/2023-09)", where) from None
        return t, t
    y, mo, d = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    try:
        if d:
            start = datetime(y, mo, d, tzinfo=timezone.utc)
            end = start + timedelta(days=1)
        elif mo:
            start = datetime(y, mo, 1, tzinfo=timezone.utc)
            end = start + timedelta(days=calendar.monthrange(y, mo)[1])
        else:
            start = datetime(y, 1, 1, tzinfo=timezone.utc)
            end = datetime(y + 1, 1, 1, tzinfo=timezone.utc) if y < 9999 else MAX
    except ValueError:
        raise DatetimeError(f"'{text}' is not a valid date", where) from None
    return start, end - timedelta(microseconds=1) if end is not MAX else MAX


def parse_interval(text: str, where: str = "datetime") -> Interval:
    """An instant, a partial date or an interval 'start/end' with '..' or '' for an open end."""
    if not isinstance(text, str) or not text.strip():
        raise DatetimeError("must be an ISO 8601 instant or interval string", where)
    parts = text.strip().split("/")
    if len(parts) == 1:
        return Interval(*_period(parts[0], where))
    if len(parts) != 2 or parts[0] in ("", "..") and parts[1] in ("", ".."):
        raise DatetimeError(f"'{text}' is not an interval 'start/end' (one end may be '..')", where)
    start = MIN if parts[0] in ("", "..") else _period(parts[0], where)[0]
    end = MAX if parts[1] in ("", "..") else _period(parts[1], where)[1]
    if end < start:
        raise DatetimeError(f"the interval '{text}' ends before it starts", where)
    return Interval(start, end)
