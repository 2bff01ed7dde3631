"""The iCalendar feed (`tracker/icsfeed.py`): any page with event columns, plus `.ics`;
read back with the icalendar library."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import types
from contextlib import closing
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import icalendar
import pytest
from datasette import hookimpl
from datasette.plugins import pm
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker import icsfeed
from tracker.serve import load_metadata, make_datasette

from .conftest import METADATA, SOURCE, ok, rows

CALENDAR = "/tracker/scheduled_meetings.ics"


@pytest.fixture
async def site(bundled: Path):
    instance = make_datasette(bundled, load_metadata(METADATA))
    await instance.invoke_startup()
    return instance


async def feed(site, sql: str, status: int = 200, **params: str):
    """The response of `.ics` on a query."""
    response = await site.client.get("/tracker.ics?" + urlencode({"sql": sql, **params}))
    assert response.status_code == status, response.text[:500]
    return response


async def events_of(site, sql: str, **params: str) -> list[icalendar.Event]:
    return icalendar.Calendar.from_ical((await feed(site, sql, **params)).content).walk(
        "VEVENT")


async def calendar_events(site) -> list[icalendar.Event]:
    """The events of the calendar of meetings."""
    response = await site.client.get(CALENDAR)
    assert response.status_code == 200, response.text[:500]
    return icalendar.Calendar.from_ical(response.content).walk("VEVENT")


def error_of(response) -> str:
    """The message of an error page."""
    [message] = re.findall(r'border: 3px solid red;">(.*?)</div>', response.text)
    return message.replace("&#39;", "'")


async def test_the_calendar_gives_dated_meetings_as_all_day_events(site, bundled: Path) -> None:
    response = await site.client.get("/tracker/scheduled_meetings.ics")
    [event] = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    [meeting] = rows(bundled, "select * from meetings where status = 'scheduled'")
    assert "\r\nDTSTART;VALUE=DATE:20240801\r\nDTEND;VALUE=DATE:20240901\r\n" in response.text
    assert event.decoded("DTSTART") == date(2024, 8, 1)
    assert not isinstance(event.decoded("DTSTART"), datetime)
    assert str(event["LOCATION"]) == "Astana, Kazakhstan"
    assert str(event["TRANSP"]) == "TRANSPARENT"  # it does not make the subscriber busy
    assert str(event["URL"]) == f"http://localhost/tracker/meetings/{meeting['id']}"
    assert str(event["STATUS"]) == "CONFIRMED"


def stamp_of(recorded_at: str) -> datetime:
    """A time as the log records it, as DTSTAMP gives it (to the second)."""
    return datetime.fromisoformat(recorded_at).replace(microsecond=0)


async def test_a_meetings_dtstamp_is_when_it_last_changed(db: Path) -> None:
    """Not the time of the request (RFC 5545 3.8.7.2: without METHOD, DTSTAMP is when
    the event was last revised): the meeting's latest event, or its format's; for a
    meeting whose date passed without an update, from the day after its date on, as
    its description then says so."""
    ok("add", "format", "talks", "--name", "Talks", *SOURCE)
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2999-05", "--format",
                 "talks", *SOURCE)
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    [event] = await calendar_events(site)
    [row] = rows(db, "select updated_at from meetings")
    assert event.decoded("DTSTAMP") == stamp_of(row["updated_at"])
    await asyncio.sleep(1.1)
    [again] = await calendar_events(site)
    assert again.decoded("DTSTAMP") == event.decoded("DTSTAMP")  # asked again: the same
    ok("cite", meeting, "--source", "https://example.org/more")
    ok("build")
    [cited] = await calendar_events(site)
    [row] = rows(db, "select updated_at from meetings")
    assert cited.decoded("DTSTAMP") == stamp_of(row["updated_at"]) > event.decoded("DTSTAMP")
    ok("cite", "talks", "--source", "https://example.org/format")  # the format changes
    ok("build")
    [row] = rows(db, "select updated_at from formats")
    [renamed] = await calendar_events(site)
    assert renamed.decoded("DTSTAMP") == stamp_of(row["updated_at"])
    with closing(sqlite3.connect(db)) as conn, conn:  # last changed before its date passed
        conn.execute("update meetings set date_start = '2020-05-01', date_end = '2020-05-31',"
                     " updated_at = '2020-01-02T03:04:05.000006Z'")
        conn.execute("update formats set updated_at = '2020-01-02T03:04:05.000006Z'")
    [passed] = await calendar_events(site)
    assert passed.decoded("DTSTAMP") == datetime(2020, 6, 1, tzinfo=timezone.utc)
    assert "date passed without an update" in str(passed["DESCRIPTION"])


async def test_a_meeting_cancelled_or_postponed_stays_in_the_calendar(db: Path) -> None:
    """With its UID, so that a calendar that imported it learns of it: a cancelled
    meeting CANCELLED; one postponed with no new date CANCELLED at the date it had; one
    postponed to a new date TENTATIVE at that date. A meeting held leaves it. SEQUENCE
    counts the changes recorded to a meeting."""
    titles = ("Kept", "Cancelled", "Postponed", "Put off", "Held")
    ids = {title: ok("add", "meeting", "--title", title, "--date", "2025-05", "--status",
                     "scheduled", *SOURCE) for title in titles}
    ok("update", ids["Cancelled"], "--status", "cancelled", *SOURCE)
    ok("update", ids["Postponed"], "--status", "postponed", *SOURCE)
    ok("update", ids["Put off"], "--status", "postponed", "--to", "2999-03", *SOURCE)
    ok("update", ids["Held"], "--status", "held", *SOURCE)
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    response = await site.client.get("/tracker/scheduled_meetings.ics")
    events = {str(event["UID"]): event
              for event in icalendar.Calendar.from_ical(response.content).walk("VEVENT")}
    assert set(events) == {f"{ids[title]}@tracker" for title in titles[:4]}
    found = {title: events[f"{ids[title]}@tracker"] for title in titles[:4]}
    assert {title: (str(event["SUMMARY"]), str(event["STATUS"]), event.decoded("DTSTART"))
            for title, event in found.items()} == {
        "Kept": ("Kept", "CONFIRMED", date(2025, 5, 1)),
        "Cancelled": ("Cancelled: Cancelled", "CANCELLED", date(2025, 5, 1)),
        "Postponed": ("Postponed: Postponed", "CANCELLED", date(2025, 5, 1)),
        "Put off": ("Postponed: Put off", "TENTATIVE", date(2999, 3, 1))}
    assert [str(found[title]["DESCRIPTION"]) for title in titles[:4]] == [
        "Scheduled meeting, dated 2025-05 (known to the month), date passed without an "
        "update.",
        "Cancelled meeting, dated 2025-05 (known to the month).",
        "Postponed meeting, dated 2025-05 (known to the month), no new date yet.",
        "Postponed meeting, put off to 2999-03 (known to the month)."]
    ok("update", ids["Postponed"], "--status", "scheduled", "--to", "2999-06", *SOURCE)
    ok("build")
    response = await site.client.get("/tracker/scheduled_meetings.ics")
    [again] = [event for event in icalendar.Calendar.from_ical(response.content).walk("VEVENT")
               if str(event["UID"]) == f"{ids['Postponed']}@tracker"]
    assert (str(again["SUMMARY"]), str(again["STATUS"]), again.decoded("DTSTART")) == (
        "Postponed", "CONFIRMED", date(2999, 6, 1))
    [row] = rows(db, "select updated_at from meetings where id = ?", ids["Postponed"])
    assert again.decoded("DTSTAMP") == stamp_of(row["updated_at"])
    assert (found["Postponed"]["SEQUENCE"], again["SEQUENCE"]) == (1, 2)  # its updates
    assert found["Kept"]["SEQUENCE"] == 0

async def test_a_meeting_retracted_stays_in_the_calendar_cancelled(db: Path) -> None:
    """A calendar that imported a meeting later retracted is told it is off: the same
    UID, CANCELLED at the date it had, `Retracted: ...`, with when and why, a higher
    SEQUENCE and a DTSTAMP of the retraction. One retracted once held is not in it."""
    kept = ok("add", "meeting", "--title", "Kept", "--date", "2999-05", *SOURCE)
    wrong = ok("add", "meeting", "--title", "Talks in Tokyo", "--date", "2999-06",
               "--city", "Tokyo", "--country", "JPN", *SOURCE)
    held = ok("add", "meeting", "--title", "Held", "--date", "2020-06", *SOURCE)
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    [before] = [event for event in await calendar_events(site)
                if str(event["UID"]) == f"{wrong}@tracker"]
    ok("retract", wrong, "--reason", "The source speaks of talks in 2998.")
    ok("retract", held, "--reason", "Not a meeting")
    ok("build")
    events = {str(event["UID"]): event for event in await calendar_events(site)}
    assert list(events) == [f"{wrong}@tracker", f"{kept}@tracker"]
    after = events[f"{wrong}@tracker"]
    [retraction] = rows(db, "select recorded_at from events where type = 'record.retracted' "
                            "and subject = ?", wrong)
    assert (str(after["SUMMARY"]), str(after["STATUS"]), after.decoded("DTSTART"),
            after.decoded("DTEND"), str(after["LOCATION"]), str(after["URL"])) == (
        "Retracted: Talks in Tokyo", "CANCELLED", date(2999, 6, 1), date(2999, 7, 1),
        "Tokyo, Japan", f"http://localhost/tracker/records/{wrong}")
    assert str(after["DESCRIPTION"]) == (
        f"Retracted from the tracker on {retraction['recorded_at'][:10]}: The source speaks "
        "of talks in 2998. It was recorded as a scheduled meeting, dated 2999-06 (known to "
        "the month). Place: Tokyo, Japan.")
    assert after.decoded("DTSTAMP") == stamp_of(retraction["recorded_at"])
    assert (before["SEQUENCE"], after["SEQUENCE"]) == (0, 1)
    assert rows(db, "select id, title, status, city, retraction_reason "
                    "from retracted_meetings order by title") == [
        {"id": held, "title": "Held", "status": "held", "city": None,
         "retraction_reason": "Not a meeting"},
        {"id": wrong, "title": "Talks in Tokyo", "status": "scheduled", "city": "Tokyo",
         "retraction_reason": "The source speaks of talks in 2998."}]
    page = (await site.client.get("/tracker/scheduled_meetings.json?_shape=array")).json()
    assert [(row["event_name"], row["status"]) for row in page] == [
        ("Retracted: Talks in Tokyo", "retracted"), ("Kept", "scheduled")]
    assert (await site.client.get(f"/tracker/records/{wrong}")).status_code == 200



async def test_a_calendar_has_its_name_and_asks_to_be_refreshed(site) -> None:
    response = await site.client.get("/tracker/scheduled_meetings.ics")
    calendar = icalendar.Calendar.from_ical(response.content)
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert str(calendar["X-WR-CALNAME"]) == str(calendar["NAME"]) == (
        "Scheduled meetings and those postponed or cancelled (calendar)")
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["REFRESH-INTERVAL"].to_ical().decode()) == "PT1H"
    asked = await site.client.get("/tracker/scheduled_meetings.ics?_ics_title=Summits&_plain=1")
    assert asked.headers["content-type"] == "text/plain; charset=utf-8"
    assert str(icalendar.Calendar.from_ical(asked.content)["X-WR-CALNAME"]) == "Summits"


async def test_a_table_with_event_columns_offers_its_feed(site, bundled: Path) -> None:
    page = (await site.client.get("/tracker/scheduled_meetings")).text
    assert 'href="/tracker/scheduled_meetings.ics"' in page
    assert ".ics" not in (await site.client.get("/tracker/meetings")).text
    response = await site.client.get("/tracker/meetings.ics")
    assert response.status_code == 400
    assert error_of(response) == (
        "An iCalendar feed needs the columns event_name and event_dtstart")


async def test_times_are_written_in_utc(site) -> None:
    sql = ("select 'Talks' as event_name, :start as event_dtstart, :end as event_dtend, "
           ":zone as event_tzid")
    [event] = await events_of(site, sql, start="2026-03-01T10:00:00",
                              end="2026-03-01T11:30:00", zone="Asia/Tokyo")
    assert event.decoded("DTSTART") == datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc)
    assert event.decoded("DTEND") == datetime(2026, 3, 1, 2, 30, tzinfo=timezone.utc)
    [event] = await events_of(site, sql, start="2026-03-01T10:00:00+05:00",
                              end="2026-03-01T10:00:00+05:00", zone="Asia/Tokyo")
    assert event.decoded("DTSTART") == datetime(2026, 3, 1, 5, 0, tzinfo=timezone.utc)
    assert "DTEND" not in event  # a moment
    [event] = await events_of(site, "select 'Epoch' as event_name, 0 as event_dtstart, "
                                    "'2026-01-02T03:04:05.678Z' as event_dtstamp")
    assert event.decoded("DTSTART") == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert event.decoded("DTSTAMP") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    [event] = await events_of(site, "select 'Day' as event_name, '2026-01-02' as event_dtstart, "
                                    "'2026-01-02' as event_dtstamp")
    assert event.decoded("DTSTAMP") == datetime(2026, 1, 2, tzinfo=timezone.utc)


async def test_times_are_written_to_the_second(site) -> None:
    """An end within the second of its start is no end: the event is a moment."""
    [event] = await events_of(site, "select 'Talks' as event_name, "
                                    "'2026-01-01T10:00:00.2Z' as event_dtstart, "
                                    "'2026-01-01T10:00:00.7Z' as event_dtend")
    assert event.decoded("DTSTART") == datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
    assert "DTEND" not in event


@pytest.mark.parametrize("value", ["2026-01-02", "20260102", "2026-W01-5"])
async def test_a_date_in_any_iso_form_is_an_all_day_event(site, value: str) -> None:
    [event] = await events_of(site, f"select 'Day' as event_name, '{value}' as event_dtstart")
    assert event.decoded("DTSTART") == date(2026, 1, 2)
    assert not isinstance(event.decoded("DTSTART"), datetime)


async def test_an_event_has_the_status_given_in_any_case(site) -> None:
    for status in ("tentative", "Confirmed", "CANCELLED"):
        response = await feed(site, "select 'Talks' as event_name, '2026-01-02' as "
                                    "event_dtstart, :given as event_status", given=status)
        assert f"\r\nSTATUS:{status.upper()}\r\n" in response.text
        [event] = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
        assert str(event["STATUS"]) == status.upper()


async def test_an_empty_optional_value_is_none(site) -> None:
    [event] = await events_of(site, "select 'Day' as event_name, '2026-01-02' as event_dtstart, "
                                    "'' as event_dtend, '' as event_url, '' as event_tzid, "
                                    "'' as event_location")
    assert event.decoded("DTSTART") == date(2026, 1, 2)
    assert {"DTEND", "URL", "LOCATION"}.isdisjoint(event)


async def test_a_url_is_full(site) -> None:
    sql = "select 'Day' as event_name, '2026-01-02' as event_dtstart, :url as event_url"
    for url, written in (("/tracker/meetings/1", "http://localhost/tracker/meetings/1"),
                         ("https://example.org/a?b=c;d", "https://example.org/a?b=c;d"),
                         ("mailto:desk@example.org", "mailto:desk@example.org")):
        [event] = await events_of(site, sql, url=url)
        assert str(event["URL"]) == written


@pytest.mark.parametrize(("start", "duration", "written"), [
    ("2026-03-01T10:00:00Z", "'PT1H30M'", "PT1H30M"),
    ("2026-03-01", "'P2W'", "P2W"),
    ("2026-03-01", "3", "P3D"),
    ("2026-03-01T10:00:00Z", "0.5", "PT43200S"),
])
async def test_an_event_may_last_a_duration(site, start: str, duration: str,
                                            written: str) -> None:
    """A duration as RFC 5545 writes one, or a number of days."""
    response = await feed(site, f"select 'Talks' as event_name, '{start}' as event_dtstart, "
                                f"{duration} as event_duration")
    assert f"\r\nDURATION:{written}\r\n" in response.text
    [event] = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    assert event.decoded("DURATION") == icalendar.vDuration.from_ical(written)


async def test_an_event_without_a_uid_keeps_the_same_one(site) -> None:
    """Made of the event's name and start, and unique within the calendar."""
    sql = ("select column1 as event_name, '2026-05-01' as event_dtstart "
           "from (values ('A'), ('B'), ('A'))")
    first = [str(event["UID"]) for event in await events_of(site, sql)]
    again = [str(event["UID"]) for event in await events_of(site, sql)]
    assert first == again and len(set(first)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}@tracker", uid) for uid in first[:2])
    assert first[2] == first[0].replace("@", "-2@")


@pytest.mark.parametrize(("columns", "message"), [
    ("'tomorrow' as event_dtstart",
     "event_dtstart 'tomorrow' is not a date (YYYY-MM-DD) or a time (ISO 8601, or seconds "
     "since 1970)"),
    ("null as event_dtstart",
     "event_dtstart None is not a date (YYYY-MM-DD) or a time (ISO 8601, or seconds since "
     "1970)"),
    ("'2026-02-30' as event_dtstart",
     "event_dtstart '2026-02-30' is not a date (YYYY-MM-DD) or a time (ISO 8601, or seconds "
     "since 1970)"),
    ("'2026-03-02' as event_dtstart, '2026-03-01' as event_dtend",
     "event_dtend '2026-03-01' is not after event_dtstart '2026-03-02' (an all-day event "
     "ends on the day after its last)"),
    ("'2026-03-02' as event_dtstart, '2026-03-02' as event_dtend",
     "event_dtend '2026-03-02' is not after event_dtstart '2026-03-02' (an all-day event "
     "ends on the day after its last)"),
    ("'2026-03-02T10:00Z' as event_dtstart, '2026-03-02T09:00Z' as event_dtend",
     "event_dtend '2026-03-02T09:00Z' is not after event_dtstart '2026-03-02T10:00Z'"),
    ("'2026-03-02' as event_dtstart, '2026-03-03T10:00Z' as event_dtend",
     "event_dtend '2026-03-03T10:00Z' and event_dtstart '2026-03-02' are not both dates or "
     "both times"),
    ("'2026-03-02T10:00' as event_dtstart, 'Mars/Olympus' as event_tzid",
     "event_tzid 'Mars/Olympus' is not a time zone name (such as Asia/Tokyo)"),
    ("'2026-03-02' as event_dtstart, 'PT1H' as event_duration",
     "event_duration 'PT1H' is not a duration of whole days (such as P2D, PT1H30M, or a "
     "number of days)"),
    ("'2026-03-02T10:00Z' as event_dtstart, 'an hour' as event_duration",
     "event_duration 'an hour' is not a duration of a time (such as P2D, PT1H30M, or a "
     "number of days)"),
    ("'2026-03-02' as event_dtstart, 'https://example.org/a b' as event_url",
     "event_url 'https://example.org/a b' is not a URL (with a scheme such as https:, or a "
     "path on this site)"),
    ("'2026-03-02' as event_dtstart, 'meetings/1' as event_url",
     "event_url 'meetings/1' is not a URL (with a scheme such as https:, or a path on this "
     "site)"),
    ("'2026-03-02' as event_dtstart, '//[' as event_url",
     "event_url '//[' is not a URL (with a scheme such as https:, or a path on this site)"),
    ("'2026-03-02T10:00Z' as event_dtstart, 'PT1H1S' as event_duration",
     "event_duration 'PT1H1S' is not a duration of a time (such as P2D, PT1H30M, or a "
     "number of days)"),
    ("'2026-03-02' as event_dtstart, 'Talks' as event_location, x'00ff' as event_description",
     "event_description b'\\x00\\xff' is binary data, not text"),
    ("'2026-03-02' as event_dtstart, -1 as event_sequence",
     "event_sequence -1 is not a revision number (a whole number from 0)"),
    ("'2026-03-02' as event_dtstart, '1' as event_sequence",
     "event_sequence '1' is not a revision number (a whole number from 0)"),
    ("'2026-03-02' as event_dtstart, 'POSTPONED' as event_status",
     "event_status 'POSTPONED' is not the status of an event (TENTATIVE, CONFIRMED or "
     "CANCELLED)"),
])
async def test_a_value_that_cannot_be_an_event_is_named(site, columns: str,
                                                        message: str) -> None:
    response = await feed(site, f"select 'Talks' as event_name, {columns}", status=400)
    assert error_of(response) == f"Row 1 cannot be a calendar event: {message}"


# RFC 5545 3.3.11: backslash, semicolon and comma escaped, no control but tab.
TEXT = re.compile(r"(?:[^\\;,\x00-\x08\x0a-\x1f\x7f]|\\[\\;,nN])*")


def unescaped(value: str) -> str:
    """What a TEXT value reads back as: line breaks as newlines, other controls dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(char for char in value if char in "\t\n" or not (
        ord(char) < 32 or ord(char) == 127))


@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_text_reads_back_from_the_calendar(value: str) -> None:
    values = {"event_name": value, "event_dtstart": "2026-01-02",
              "event_description": value * 3, "event_location": value}
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN",
             *icsfeed.Events("20260101T000000Z", "test", str).lines(values), "END:VCALENDAR"]
    written = b"".join(map(icsfeed.folded, lines))
    for line in written.split(b"\r\n")[:-1]:
        assert len(line) <= icsfeed.LINE_OCTETS
        line.decode()  # no character is split
    for line in written.replace(b"\r\n ", b"").split(b"\r\n"):  # unfolded
        if line.startswith((b"SUMMARY:", b"LOCATION:", b"DESCRIPTION:")):  # TEXT, escaped
            assert TEXT.fullmatch(line.partition(b":")[2].decode()), line
    [event] = icalendar.Calendar.from_ical(written).walk("VEVENT")
    assert str(event["SUMMARY"]) == str(event["LOCATION"]) == unescaped(value)
    assert str(event["DESCRIPTION"]) == unescaped(value * 3)


async def test_the_site_writes_the_calendar_even_beside_datasette_ics(bundled: Path) -> None:
    """datasette-ics, installed beside the tracker, would write dates as midnight UTC."""
    other = types.ModuleType("datasette_ics")

    @hookimpl
    def register_output_renderer():
        return {"extension": "ics", "render": lambda: None, "can_render": lambda: True}

    other.register_output_renderer = register_output_renderer
    pm.register(other, name="ics")
    try:
        site = make_datasette(bundled, load_metadata(METADATA))
        await site.invoke_startup()
        assert site.renderers["ics"][0] is icsfeed.render
        assert not pm.has_plugin("ics")
    finally:
        if pm.has_plugin("ics"):
            pm.unregister(name="ics")
