"""The iCalendar feed (RFC 5545): any table, view or query with `event_name` and
`event_dtstart` columns, at its address with `.ics`.

The columns are datasette-ics's (`event_dtend`, `event_duration`, `event_description`,
`event_uid`, `event_tzid`), with `event_location`, `event_url` and `event_dtstamp`
besides. A date (YYYY-MM-DD) makes an all-day event, as calendars show a meeting known
to the day or the month; a time makes a timed one, written in UTC (a time without an
offset is in `event_tzid`, else in UTC). The calendar is written here, not by a library:
icalendar took 170 to 250 ms for 1,000 events, most of it folding lines a character at a
time, and datasette-ics writes a date as midnight UTC, which is the day before in America.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from datasette import __version__
from datasette.utils.asgi import Response
from datasette.views.base import DatasetteError

REQUIRED = frozenset({"event_name", "event_dtstart"})
COLUMNS = ("event_name", "event_dtstart", "event_dtend", "event_duration",
           "event_description", "event_uid", "event_tzid", "event_location", "event_url",
           "event_dtstamp")
PRODID = f"-//tracker//Datasette {__version__}//EN"
REFRESH = "PT1H"  # how often a subscribed calendar is to ask again
LINE_OCTETS = 75  # the longest content line, before it is folded
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = r"T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+S)?"
DURATION = re.compile(rf"P(?:[0-9]+W|[0-9]+D(?:{_TIME})?|{_TIME})")  # RFC 5545 3.3.6
URI = re.compile(r"[^\s\x00-\x1f\x7f]+")
# TEXT (RFC 5545 3.3.11): backslash, semicolon, comma and line breaks escaped; other
# control characters, which no value may hold, left out.
TEXT = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n", "\r": "\\n",
                      **{chr(code): None for code in (*range(9), *range(11, 32), 127)
                         if code != 13}})
SHOWN = 80  # characters of a bad value shown in an error

Moment = date | datetime  # a date, or a time in UTC


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
    stamp = utc_stamp(datetime.now(timezone.utc))
    origin = table or query_name or sql or ""
    present = [column for column in COLUMNS if column in columns]

    def absolute(path: str) -> str:
        return datasette.absolute_url(request, path)

    for number, row in enumerate(rows, 1):
        values = {column: row[column] for column in present}
        try:
            lines += event_lines(values, stamp, origin, absolute)
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


def event_lines(values: Mapping[str, Any], stamp: str, origin: str,
                absolute: Callable[[str], str]) -> list[str]:
    """The content lines of one event. `stamp`: DTSTAMP unless it has `event_dtstamp`;
    `origin`: what the rows come from, for an event without `event_uid`; `absolute`:
    the full URL of a path on this site."""
    zone = time_zone(values.get("event_tzid"))
    start = moment(values["event_dtstart"], "event_dtstart", zone)
    lines = ["BEGIN:VEVENT", *_when(values, start, zone)]
    name = values["event_name"]
    uid = values.get("event_uid")
    if uid is None:
        key = f"{origin}\n{name}\n{values['event_dtstart']}".encode()
        uid = hashlib.sha256(key).hexdigest()[:32] + "@tracker"
    lines.append(f"UID:{text(uid)}")
    when = values.get("event_dtstamp")
    lines.append("DTSTAMP:" + (stamp if when is None else
                               utc_stamp(moment(when, "event_dtstamp", timezone.utc))))
    for column, key in (("event_name", "SUMMARY"), ("event_location", "LOCATION"),
                        ("event_description", "DESCRIPTION")):
        value = values.get(column)
        if value is not None:
            lines.append(f"{key}:{text(value)}")
    url = values.get("event_url")
    if url is not None:
        if not isinstance(url, str) or not URI.fullmatch(url):
            raise BadRow(f"event_url {shown(url)} is not a URL")
        lines.append(f"URL:{absolute(url) if url.startswith('/') else url}")
    lines += ["TRANSP:TRANSPARENT", "END:VEVENT"]  # others' meetings: the subscriber is free
    return lines


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
        if isinstance(value, str) and DATE.fullmatch(value):
            return date.fromisoformat(value)
        if isinstance(value, str):
            when = datetime.fromisoformat(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            when = datetime.fromtimestamp(value, timezone.utc)
        else:
            raise TypeError(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        return when.astimezone(timezone.utc)
    except (ValueError, TypeError, OverflowError, OSError):
        raise BadRow(f"{column} {shown(value)} is not a date (YYYY-MM-DD) or a time "
                     "(ISO 8601, or seconds since 1970)") from None


def utc_stamp(when: datetime) -> str:
    return (f"{when.year:04d}{when.month:02d}{when.day:02d}"
            f"T{when.hour:02d}{when.minute:02d}{when.second:02d}Z")


def text(value: Any) -> str:
    """A TEXT value, escaped."""
    return str(value).replace("\r\n", "\n").translate(TEXT)


def shown(value: Any) -> str:
    """A value as an error names it: its repr, cut short."""
    return repr(value) if len(repr(value)) <= SHOWN else repr(value)[:SHOWN] + "..."


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

