"""The iCalendar feed (RFC 5545): any table, view or query with `event_name` and
`event_dtstart` columns, at its address with `.ics`.

The columns are datasette-ics's (`event_dtend`, `event_duration`, `event_description`,
`event_uid`, `event_tzid`), with `event_location`, `event_url`, `event_dtstamp`,
`event_status` and `event_sequence` besides. A date (YYYY-MM-DD) makes an all-day event,
as calendars show a meeting known to the day or the month; a time makes a timed one,
written in UTC (a time without an offset is in `event_tzid`, else in UTC). The calendar
is written here, not by a library: icalendar took 170 to 250 ms for 1,000 events, most of
it folding lines a character at a time, and datasette-ics writes a date as midnight UTC,
which is the day before in America.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import date, datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from datasette import __version__
from datasette.utils.asgi import Response
from datasette.views.base import DatasetteError

from .errors import shown

REQUIRED = frozenset({"event_name", "event_dtstart"})
COLUMNS = ("event_name", "event_dtstart", "event_dtend", "event_duration",
           "event_description", "event_uid", "event_tzid", "event_location", "event_url",
           "event_dtstamp", "event_status", "event_sequence")
PRODID = f"-//tracker//Datasette {__version__}//EN"
REFRESH = "PT1H"  # how often a subscribed calendar is to ask again
LINE_OCTETS = 75  # the longest content line, before it is folded
_TIME = r"T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
DURATION = re.compile(rf"P(?:[0-9]+W|[0-9]+D(?:{_TIME})?|{_TIME})")  # RFC 5545 3.3.6
URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:|/)[^\s\x00-\x1f\x7f]*")  # scheme, or a path
# TEXT (RFC 5545 3.3.11): backslash, semicolon, comma and line breaks escaped; other
# control characters, which no value may hold, left out.
TEXT = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n", "\r": "\\n",
                      **dict.fromkeys(map(chr, (*range(9), 11, 12, *range(14, 32), 127)))})

Moment = date | datetime  # a date, or a time in UTC, to the second
TEXTS = (("event_name", "SUMMARY"), ("event_location", "LOCATION"),
         ("event_description", "DESCRIPTION"))
STATUSES = ("TENTATIVE", "CONFIRMED", "CANCELLED")  # of a VEVENT (RFC 5545 3.8.1.11)


class BadRow(ValueError):
    """A value that cannot go into a calendar; the message names it."""


def can_render(columns: list[str]) -> bool:
    return REQUIRED.issubset(columns)


async def render(datasette: Any, request: Any, database: str, table: str | None,
                 rows: list[Mapping[str, Any]], columns: list[str],
                 query_name: str | None, sql: str | None, data: dict) -> Response:
    """The calendar of the rows: an event per row, in their order."""
    if not can_render(columns):
        raise DatasetteError("An iCalendar feed needs the columns event_name and "
                             "event_dtstart", status=400)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    name = await _calendar_name(datasette, request, database, table, query_name, data)
    if name:
        lines += [f"NAME:{text(name)}", f"X-WR-CALNAME:{text(name)}"]
    lines += [f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}", f"X-PUBLISHED-TTL:{REFRESH}"]
    events = Events(utc_stamp(datetime.now(timezone.utc)), table or query_name or sql or "",
                    lambda path: datasette.absolute_url(request, path))
    present = [column for column in COLUMNS if column in columns]
    for number, row in enumerate(rows, 1):
        try:
            lines += events.lines({column: row[column] for column in present})
        except BadRow as error:
            raise DatasetteError(f"Row {number} cannot be a calendar event: {error}",
                                 status=400) from None
    lines.append("END:VCALENDAR")
    kind = "text/plain" if request.args.get("_plain") else "text/calendar"
    return Response(b"".join(map(folded, lines)), status=200,
                    content_type=f"{kind}; charset=utf-8")


async def _calendar_name(datasette: Any, request: Any, database: str, table: str | None,
                         query_name: str | None, data: dict) -> str:
    """`?_ics_title=`, else a canned query's title, else the table and its filters."""
    asked = request.args.get("_ics_title")
    if asked:
        return asked
    if query_name:
        query = await datasette.get_canned_query(database, query_name, request.actor)
        return (query or {}).get("title") or query_name
    if table and data.get("human_description_en"):
        return f"{table}: {data['human_description_en']}"
    return table or ""


class Events:
    """The events of one calendar. `stamp`: DTSTAMP unless a row has `event_dtstamp`;
    `origin`: what the rows come from, for the UID of a row without `event_uid`;
    `absolute`: the full URL of a path on this site."""

    def __init__(self, stamp: str, origin: str, absolute: Callable[[str], str]):
        self.stamp, self.origin, self.absolute = stamp, origin, absolute
        self.uids: Counter[str] = Counter()  # UIDs made so far: each is made unique

    def lines(self, row: Mapping[str, Any]) -> list[str]:
        """The content lines of the event of a row (an empty optional value: none)."""
        values = {column: None if value == "" and column != "event_dtstart" else value
                  for column, value in row.items()}
        zone = time_zone(values.get("event_tzid"))
        start = moment(values["event_dtstart"], "event_dtstart", zone)
        lines = ["BEGIN:VEVENT", *_when(values, start, zone)]
        lines.append(f"UID:{text(self._uid(values), 'event_uid')}")
        when = values.get("event_dtstamp")
        if when is not None:
            when = moment(when, "event_dtstamp", timezone.utc)
            if not isinstance(when, datetime):  # a date: its start
                when = datetime.combine(when, datetime.min.time(), timezone.utc)
        lines.append(f"DTSTAMP:{self.stamp if when is None else utc_stamp(when)}")
        status = values.get("event_status")
        if status is not None:
            lines.append(f"STATUS:{_status(status)}")
        sequence = values.get("event_sequence")
        if sequence is not None:
            lines.append(f"SEQUENCE:{_sequence(sequence)}")
        for column, key in TEXTS:
            value = values.get(column)
            if value is not None:
                lines.append(f"{key}:{text(value, column)}")
        url = values.get("event_url")
        if url is not None:
            lines.append(f"URL:{self._url(url)}")
        lines += ["TRANSP:TRANSPARENT", "END:VEVENT"]  # others' meetings: the subscriber is free
        return lines

    def _uid(self, values: Mapping[str, Any]) -> Any:
        """`event_uid`, else one made of what the rows come from and the event's name and
        start, the same each time the calendar is asked for (a second event of the
        same name and start: "-2" added)."""
        uid = values.get("event_uid")
        if uid is not None:
            return uid
        key = f"{self.origin}\n{values['event_name']}\n{values['event_dtstart']}"
        made = hashlib.sha256(key.encode(errors="replace")).hexdigest()[:32]
        self.uids[made] += 1
        count = self.uids[made]
        return f"{made}{'' if count == 1 else f'-{count}'}@tracker"

    def _url(self, url: Any) -> str:
        """A URL as given, or the full URL of a path on this site."""
        if isinstance(url, str) and URL.fullmatch(url):
            try:
                return self.absolute(url) if url.startswith("/") else url
            except ValueError:  # not one urljoin can read
                pass
        raise BadRow(f"event_url {shown(url)} is not a URL (with a scheme such as https:, "
                     "or a path on this site)")


def _when(values: Mapping[str, Any], start: Moment, zone: tzinfo) -> list[str]:
    """DTSTART, and DTEND or DURATION if given."""
    all_day = not isinstance(start, datetime)
    lines = [f"DTSTART{_typed(start)}"]
    end, duration = values.get("event_dtend"), values.get("event_duration")
    if end is not None:
        finish = moment(end, "event_dtend", zone)
        if isinstance(finish, datetime) != (not all_day):
            raise BadRow(f"event_dtend {shown(end)} and event_dtstart "
                         f"{shown(values['event_dtstart'])} are not both dates or both times")
        if finish < start or (all_day and finish == start):
            raise BadRow(f"event_dtend {shown(end)} is not after event_dtstart "
                         f"{shown(values['event_dtstart'])}"
                         + (" (an all-day event ends on the day after its last)"
                            if all_day else ""))
        if finish > start:
            lines.append(f"DTEND{_typed(finish)}")
    elif duration is not None:
        lines.append(f"DURATION:{_duration(duration, all_day)}")
    return lines


def _status(value: Any) -> str:
    """An event's STATUS, in any case."""
    if isinstance(value, str) and value.upper() in STATUSES:
        return value.upper()
    raise BadRow(f"event_status {shown(value)} is not the status of an event (TENTATIVE, "
                 "CONFIRMED or CANCELLED)")


def _sequence(value: Any) -> int:
    """A revision number (RFC 5545 3.8.7.4): a whole number from 0."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    raise BadRow(f"event_sequence {shown(value)} is not a revision number (a whole number "
                 "from 0)")


def _typed(when: Moment) -> str:
    if isinstance(when, datetime):
        return f":{utc_stamp(when)}"
    return f";VALUE=DATE:{when.year:04d}{when.month:02d}{when.day:02d}"


def _duration(value: Any, all_day: bool) -> str:
    """An RFC 5545 duration from one (`PT1H30M`, `P2D`) or a number of days."""
    if isinstance(value, str):
        if DURATION.fullmatch(value) and not (all_day and "T" in value):
            return value
    elif isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        if isinstance(value, int) or value.is_integer():
            return f"P{int(value)}D"
        if not all_day and value < 1e9:
            return f"PT{round(value * 86400)}S"
    kind = "whole days" if all_day else "a time"
    raise BadRow(f"event_duration {shown(value)} is not a duration of {kind} "
                 "(such as P2D, PT1H30M, or a number of days)")


def time_zone(name: Any) -> tzinfo:
    """The zone of times given without an offset: `event_tzid`, else UTC."""
    if name is None:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, TypeError, OSError):  # (not found: a KeyError)
        pass
    raise BadRow(f"event_tzid {shown(name)} is not a time zone name (such as Asia/Tokyo)")


def moment(value: Any, column: str, zone: tzinfo) -> Moment:
    """A date as it is, or a time (ISO 8601, or Unix seconds) in UTC."""
    try:
        if isinstance(value, str):
            with suppress(ValueError):
                return date.fromisoformat(value)  # YYYY-MM-DD, YYYYMMDD, 2026-W01-1
            when = datetime.fromisoformat(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            when = datetime.fromtimestamp(value, timezone.utc)
        else:
            raise TypeError(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        return when.astimezone(timezone.utc).replace(microsecond=0)
    except (ValueError, TypeError, OverflowError, OSError):
        raise BadRow(f"{column} {shown(value)} is not a date (YYYY-MM-DD) or a time "
                     "(ISO 8601, or seconds since 1970)") from None


def utc_stamp(when: datetime) -> str:
    return (f"{when.year:04d}{when.month:02d}{when.day:02d}"
            f"T{when.hour:02d}{when.minute:02d}{when.second:02d}Z")


def text(value: Any, column: str = "") -> str:
    """A TEXT value, escaped."""
    if isinstance(value, bytes):
        raise BadRow(f"{column} {shown(value)} is binary data, not text")
    return str(value).replace("\r\n", "\n").translate(TEXT)


def folded(line: str) -> bytes:
    """A content line in UTF-8, folded so that no line is over 75 octets (a character is
    never split), ending with CRLF."""
    data = line.encode()
    if len(data) <= LINE_OCTETS:
        return data + b"\r\n"
    parts, start, width = [], 0, LINE_OCTETS
    while len(data) - start > width:
        end = start + width
        while data[end] & 0xC0 == 0x80:  # a continuation byte: break before its character
            end -= 1
        parts.append(data[start:end])
        start, width = end, LINE_OCTETS - 1  # a folded line starts with a space
    parts.append(data[start:])
    return b"\r\n ".join(parts) + b"\r\n"

