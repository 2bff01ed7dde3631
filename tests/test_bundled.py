"""The bundled log: the developments of the two source articles, answerable in SQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tracker.build import build
from tracker.log import EventLog

from .conftest import BUNDLED_EVENTS, PROJECT, rows
from .test_projection import dump

FIVE = ["KAZ", "KGZ", "TJK", "TKM", "UZB"]
ULID = re.compile(r"\b[0-7][0-9A-HJKMNP-TV-Z]{25}\b")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def test_central_asia_japan_ministerial_meetings(bundled: Path) -> None:
    assert rows(bundled, "select count(*) as n from meetings "
                "where format = 'central-asia-japan' and level = 'ministerial'") == [{"n": 4}]
    assert rows(bundled, "select date, date_precision, city, country, mode, chair from meetings "
                "where format = 'central-asia-japan' and level = 'ministerial' "
                "order by date_start") == [
        {"date": "2004-08", "date_precision": "month", "city": "Astana", "country": "KAZ",
         "mode": None, "chair": None},
        {"date": "2017-05", "date_precision": "month", "city": "Ashgabat", "country": "TKM",
         "mode": None, "chair": None},
        {"date": "2020/2021", "date_precision": "year", "city": None, "country": None,
         "mode": "virtual", "chair": "JPN"},
        {"date": "2022-12", "date_precision": "month", "city": "Tokyo", "country": "JPN",
         "mode": None, "chair": None},
    ]


def test_a_year_is_never_more_precise_than_its_date(bundled: Path) -> None:
    """A meeting known to fall within 2020 and 2021 is of neither year alone."""
    assert rows(bundled, "select date, year from meetings where year like '2020%' "
                "order by date") == [
        {"date": "2020-05/2021-05", "year": "2020/2021"},
        {"date": "2020/2021", "year": "2020/2021"}]
    assert rows(bundled, "select count(*) as n from meetings where year = substr(date, 1, 4)"
                ) == [{"n": 7}]


def test_what_the_articles_do_not_say_was_cleared_by_amendments(bundled: Path) -> None:
    """A level and a mode first recorded from what the articles imply: each amendment
    keeps the value first recorded in history, with its reason and its article."""
    assert rows(bundled, "select date, level, mode, country from meetings "
                "where date in ('2019-05', '2024-07-23') order by date") == [
        {"date": "2019-05", "level": None, "mode": None, "country": "TJK"},
        {"date": "2024-07-23", "level": "ambassadorial", "mode": None, "country": "JPN"}]
    assert rows(bundled, "select field, old_value, new_value, substr(reason, 1, 9) as reason "
                "from history where event_type = 'record.amended' and new_value is null "
                "order by recorded_at") == [
        {"field": "level", "old_value": "ministerial", "new_value": None,
         "reason": "article B"},
        {"field": "mode", "old_value": "in-person", "new_value": None,
         "reason": "article A"}]


def test_the_pledge_at_the_video_conference(bundled: Path) -> None:
    [pledge] = rows(bundled, "select id, donor, amount, currency, approximate, instrument, "
                    "status, meeting_id from pledges")
    assert {key: pledge[key] for key in ("donor", "amount", "currency", "approximate",
                                          "instrument", "status")} == {
        "donor": "JPN", "amount": 2000000000, "currency": "JPY", "approximate": 1,
        "instrument": "grant", "status": "pledged"}
    assert rows(bundled, "select actor from pledge_recipients where pledge_id = ? "
                "order by actor", pledge["id"]) == [{"actor": code} for code in FIVE]
    assert rows(bundled, "select date, mode from meetings where id = ?",
                pledge["meeting_id"]) == [{"date": "2020/2021", "mode": "virtual"}]


def test_the_astana_summit_is_scheduled_for_august_2024(bundled: Path) -> None:
    assert rows(bundled, "select date, date_start, date_end, date_precision, status, level, "
                "city, country, latitude, longitude from meetings where level = 'summit' "
                "and format = 'central-asia-japan'") == [
        {"date": "2024-08", "date_start": "2024-08-01", "date_end": "2024-08-31",
         "date_precision": "month", "status": "scheduled", "level": "summit",
         "city": "Astana", "country": "KAZ", "latitude": 51.1801, "longitude": 71.44598}]
    assert rows(bundled, "select title from upcoming_meetings") == [
        {"title": "1st Central Asia + Japan summit"}]


def test_the_ambassadors_meeting_of_23_july_2024(bundled: Path) -> None:
    [meeting] = rows(bundled, "select id, date_precision, level, city, participants "
                     "from meetings where date = '2024-07-23'")
    assert meeting["level"] == "ambassadorial"
    assert meeting["city"] == "Tokyo"
    assert rows(bundled, "select actor, official from meeting_participants where meeting_id = ? "
                "and official is not null", meeting["id"]) == [
        {"actor": "JPN", "official": "Yoko Kamikawa"}]


def test_the_formats(bundled: Path) -> None:
    assert rows(bundled, "select slug, launched, launched_precision from formats "
                "order by slug") == [
        {"slug": "central-asia-china", "launched": "2020-05/2021-05",
         "launched_precision": "month"},
        {"slug": "central-asia-eu", "launched": None, "launched_precision": None},
        {"slug": "central-asia-germany", "launched": None, "launched_precision": None},
        {"slug": "central-asia-india", "launched": None, "launched_precision": None},
        {"slug": "central-asia-japan", "launched": "2004", "launched_precision": "year"},
        {"slug": "central-asia-korea", "launched": None, "launched_precision": None},
        {"slug": "central-asia-russia", "launched": None, "launched_precision": None},
        {"slug": "central-asia-united-states", "launched": None, "launched_precision": None},
    ]
    assert rows(bundled, "select actor from format_members where format = 'central-asia-japan' "
                "order by actor") == [{"actor": code} for code in ["JPN", *FIVE]]
    partners = rows(bundled, "select format, actor from format_members "
                    "where actor not in ('KAZ', 'KGZ', 'TJK', 'TKM', 'UZB') order by format")
    assert [(row["format"], row["actor"]) for row in partners] == [
        ("central-asia-china", "CHN"), ("central-asia-eu", "EU"),
        ("central-asia-germany", "DEU"), ("central-asia-india", "IND"),
        ("central-asia-japan", "JPN"), ("central-asia-korea", "KOR"),
        ("central-asia-russia", "RUS"), ("central-asia-united-states", "USA")]


def test_other_formats_first_meetings(bundled: Path) -> None:
    assert rows(bundled, "select format, date, level, mode, status from meetings "
                "where format in ('central-asia-china', 'central-asia-germany') "
                "order by format") == [
        {"format": "central-asia-china", "date": "2020-05/2021-05", "level": None,
         "mode": "virtual",
         "status": "held"},
        {"format": "central-asia-germany", "date": "2023", "level": "summit", "mode": None,
         "status": "held"},
    ]


def test_every_record_cites_an_article_with_a_quote(bundled: Path) -> None:
    assert rows(bundled, "select count(*) as n from timeline where id not in "
                "(select subject from sources where quote is not null and kind = 'record')") == [
        {"n": 0}]
    assert rows(bundled, "select count(*) as n from formats where slug not in "
                "(select subject from sources where quote is not null)") == [{"n": 0}]
    assert rows(bundled, "select count(*) as n from sources where quote is null") == [{"n": 0}]
    citations = {row["citation"].split(",")[0] for row in rows(bundled, "select citation "
                                                                "from sources")}
    assert citations == {"ORIENT news", "News report on the special video conference of the "
                         "Central Asia plus Japan Dialogue"}


def test_the_recording_script_reproduces_the_bundled_log(tmp_path: Path) -> None:
    """The bundled log is what scripts/record-bundled-log.sh records through the CLI."""
    events = tmp_path / "replayed"
    environment = {**os.environ, "TRACKER_EVENTS": str(events),
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("TRACKER_WRITER", None)
    environment.pop("TRACKER_USER", None)
    subprocess.run(["bash", str(PROJECT / "scripts" / "record-bundled-log.sh")],
                   env=environment, check=True, capture_output=True, timeout=300)
    build(EventLog(events), tmp_path / "replayed.db")
    build(EventLog(BUNDLED_EVENTS), tmp_path / "bundled.db")

    def content(db: Path) -> dict:
        """Contents with ids and timestamps, which differ between recordings, masked."""
        def mask(value: object) -> object:
            if not isinstance(value, str):
                return value
            value = ULID.sub("<id>", value)
            return TIMESTAMP.sub("<time>", value)

        return {name: sorted(tuple(mask(value) for value in row) for row in table_rows)
                for name, table_rows in dump(db).items()
                if name in ("meetings", "formats", "format_members", "pledges", "announcements",
                            "announcement_about", "sources", "pledge_recipients", "timeline")}

    assert content(tmp_path / "replayed.db") == content(tmp_path / "bundled.db")
