"""The shape of the projected database: tables, indexes, full-text search and views.

Declared once here, in the manner of dogsheep, and created idempotently: tables by
`create_tables` before the events are loaded, indexes, full-text search and views by
`create_indexes_views_fts` after (faster than keeping them up to date row by row).
Table and column names are the public contract (see DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils



@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, type]
    pk: str | tuple[str, ...] | None = None
    foreign_keys: tuple[tuple[str, str, str], ...] = ()
    indexes: tuple[str | tuple[str, ...], ...] = ()
    fts: tuple[str, ...] = ()
    derived: bool = False  # kept by refresh_derived, not by replaying events

    @property
    def created(self) -> tuple[dict[str, type], str | tuple[str, ...] | None]:
        """The columns and key the table is created with. A table of no key of its own
        gets `rowid` declared its key: the rowid it has anyway, by name, so that Datasette
        0.65 can page it when "Hide this column" hides the sort column (it looks the sort
        value up by primary key, and makes an SQL error of a table that has none)."""
        if self.pk is not None:
            return self.columns, self.pk
        return {ROWID: int, **self.columns}, ROWID


ROWID = "rowid"

# Amounts keep whole numbers as integers and fractions as reals: a column declared ANY
# has NUMERIC affinity in SQLite.
AMOUNT = "ANY"
DATED = {"date": str, "date_start": str, "date_end": str, "date_precision": str}
STAMPS = {"recorded_at": str, "updated_at": str}
# A subject is any record's id (a format's slug): declared a key to `records`, whose
# page then links to what refers to it (and `tracker.serve.record_links` links the row
# of its kind as well).
SUBJECT = (("subject", "records", "id"),)

MEETING = {"id": str, "title": str, **DATED, "year": str, "status": str, "format": str,
           "level": str, "mode": str, "city": str, "country": str, "latitude": float,
           "longitude": float, "geonameid": int, "city_as_given": str, "chair": str,
           "participants": str, "topics": str, "summary": str, **STAMPS}

TABLES = (
    Table(
        "events",
        {"id": str, "type": str, "subject": str, "recorded_at": str, "recorded_by": str,
         "writer": str, "seq": int, "schema": int, "data": str, "hash": str},
        pk="id",
        foreign_keys=SUBJECT,
        indexes=("type", "subject", "recorded_at", "recorded_by", ("writer", "seq")),
    ),
    Table(
        "actors",
        {"code": str, "name": str, "kind": str, "official_name": str, "alpha_2": str},
        pk="code",
        indexes=("name", "kind"),
    ),
    Table("currencies", {"code": str, "name": str}, pk="code"),
    Table(
        "formats",
        {"slug": str, "name": str, "launched": str, "launched_start": str, "launched_end": str,
         "launched_precision": str, "members": str, "summary": str, **STAMPS},
        pk="slug",
        indexes=("name", "launched_start", "recorded_at"),
        fts=("name", "summary"),
    ),
    Table(
        "format_members",
        {"format": str, "actor": str},
        pk=("format", "actor"),
        foreign_keys=(("format", "formats", "slug"), ("actor", "actors", "code")),
        indexes=("actor",),
    ),
    Table(
        "meetings",
        MEETING,
        pk="id",
        foreign_keys=(("format", "formats", "slug"), ("country", "actors", "code"),
                      ("chair", "actors", "code")),
        # The dashboard's filter of a year reads date_end beside date_start, and its
        # chart per year the filtered columns, from the indexes alone (at 1M events: 17
        # ms, not 255 ms looking each meeting up).
        indexes=(("date_start", "date_end"), "date_precision", "format", "level", "mode",
                 ("status", "date_start"), ("status", "date_end", "date_start"),
                 ("status", "format"),
                 ("status", "level"), ("status", "country"), ("country", "date_start"),
                 ("chair", "date_start"), "recorded_at",
                 ("status", "year", "format", "date_start", "date_end", "country", "id")),
        fts=("title", "summary", "city", "city_as_given", "topics"),
    ),
    # A meeting as it stood when it was retracted: the calendar feed tells a calendar
    # that imported it that it is off (its row leaves `meetings`).
    Table(
        "retracted_meetings",
        {**MEETING, "retracted_at": str, "retraction_reason": str},
        pk="id",
        foreign_keys=(("country", "actors", "code"), ("chair", "actors", "code")),
        indexes=(("status", "date_end", "date_start"), "retracted_at"),
    ),
    Table(
        "meeting_participants",
        {"meeting_id": str, "actor": str, "official": str, "official_title": str,
         "date_start": str},
        foreign_keys=(("meeting_id", "meetings", "id"), ("actor", "actors", "code")),
        # (meeting_id, actor): who took part in a meeting, from the index alone (the
        # dashboard's count of each actor's meetings with another).
        indexes=(("meeting_id", "actor"), ("actor", "meeting_id", "date_start"), "official"),
    ),
    Table(
        "announcements",
        {"id": str, "title": str, **DATED, "by_actor": str, "about": str, "topics": str,
         "summary": str, **STAMPS},
        pk="id",
        foreign_keys=(("by_actor", "actors", "code"),),
        indexes=(("date_start", "date_end"), "date_precision",
                 ("by_actor", "date_start", "date_end"), "recorded_at"),
        fts=("title", "summary", "topics"),
    ),
    Table(
        "announcement_about",
        {"announcement_id": str, "subject": str},
        foreign_keys=(("announcement_id", "announcements", "id"), *SUBJECT),
        indexes=("announcement_id", "subject"),
    ),
    Table(
        "pledges",
        {"id": str, "title": str, **DATED, "donor": str, "recipients": str, "amount": AMOUNT,
         "amount_text": str, "currency": str, "approximate": int, "instrument": str,
         "purpose": str, "meeting_id": str, "status": str, "disbursed_amount": AMOUNT,
         "disbursed_amount_text": str, **STAMPS},
        pk="id",
        foreign_keys=(("donor", "actors", "code"), ("currency", "currencies", "code"),
                      ("meeting_id", "meetings", "id")),
        indexes=(("date_start", "date_end"), "date_precision",
                 ("donor", "status", "date_start", "date_end"),
                 ("currency", "status"), "approximate", "instrument", "meeting_id", "status",
                 "recorded_at"),
        fts=("title", "purpose"),
    ),
    Table(
        "pledge_recipients",
        {"pledge_id": str, "actor": str, "date_start": str},
        pk=("pledge_id", "actor"),
        foreign_keys=(("pledge_id", "pledges", "id"), ("actor", "actors", "code")),
        indexes=(("actor", "date_start"),),
    ),
    Table(
        "sources",
        {"subject": str, "event_id": str, "kind": str, "url": str, "citation": str,
         "publisher": str, "published": str, "quote": str, "recorded_at": str},
        pk="event_id",
        foreign_keys=SUBJECT,
        indexes=("subject", "kind", "publisher", "published", "recorded_at"),
        fts=("quote", "citation", "publisher"),
    ),
    Table(
        "status_changes",
        {"subject": str, "kind": str, "status": str, "previous_status": str, "date": str,
         "date_start": str, "amount": AMOUNT, "amount_text": str, "note": str,
         "rescheduled_to": str, "event_id": str, "recorded_at": str},
        pk="event_id",
        foreign_keys=SUBJECT,
        indexes=("subject", "kind", "status", "recorded_at"),
    ),
    Table(
        "records",
        {"id": str, "kind": str, "title": str, "data": str, "retracted": int,
         "retracted_at": str, "retraction_reason": str, "recorded_at": str},
        pk="id",
        indexes=("kind", "retracted", "recorded_at"),
    ),
    Table(
        "history",
        {"subject": str, "kind": str, "event_id": str, "event_type": str, "recorded_at": str,
         "recorded_by": str, "field": str, "old_value": str, "new_value": str, "reason": str},
        foreign_keys=SUBJECT,
        indexes=("subject", "kind", "event_id", "event_type", "recorded_at", "recorded_by",
                 "field"),
    ),
    # The rows behind the views that summarise the tables above: computed once by a
    # full build, refreshed for the records, formats and actors an incremental build
    # touched, so that their pages stay fast at a million events.
    Table(
        "timeline_rows",
        {"kind": str, "id": str, "title": str, **DATED, "status": str, "format": str,
         "actors": str, "city": str, "country": str, "summary": str, "recorded_at": str},
        pk="id",
        indexes=("kind", "status", "format", "date_start", "date_precision"),
        derived=True,
    ),
    Table(
        "format_history_rows",
        {"format": str, "format_name": str, "kind": str, "id": str, "title": str,
         "date": str, "date_start": str, "date_precision": str, "status": str, "level": str,
         "mode": str, "city": str, "country": str},
        pk="id",
        indexes=(("format", "date_start"), "date_start", "kind", "level"),
        derived=True,
    ),
    Table(
        "actor_activity_rows",
        {"actor": str, "name": str, "kind": str, "meetings": int, "meetings_chaired": int,
         "meetings_hosted": int, "announcements": int, "pledges_made": int,
         "pledges_received": int, "formats": int, "first_date": str, "last_date": str},
        pk="actor",
        indexes=("kind", "meetings"),
        derived=True,
    ),
    Table(
        "timeline_actors",
        {"actor": str, "id": str, "kind": str, "date_start": str},
        # (actor, kind, id), not (actor, id): an actor's meetings, or pledges, in one
        # range of the key (the dashboard filtered by an actor, at 1M events: 161 ms,
        # not 310 ms, in SQLite alone). An id is of one kind, so either is unique.
        pk=("actor", "kind", "id"),
        indexes=(("actor", "date_start", "id"), "id"),
        derived=True,
    ),
    Table(
        "correction_rows",
        {"event_id": str, "recorded_at": str, "recorded_by": str, "subject": str,
         "kind": str, "title": str, "correction": str, "fields": str, "reason": str},
        pk="event_id",
        indexes=("recorded_at", "correction", "kind", "recorded_by"),
    ),
    Table("build_info", {"key": str, "value": str}, pk="key"),
)

def _view_of(table: str, *computed: str) -> str:
    columns = next(t.columns for t in TABLES if t.name == table)
    return f"select {', '.join([*columns, *computed])} from {table}"


# A meeting still scheduled whose date is over needs an `update`: 1 (0 while to come).
# Cast, so that the column has INTEGER affinity: Datasette filters `?date_passed=1` with the
# text '1', which a bare comparison's 1 never equals (the facet's link gave no rows).
DATE_PASSED = ("cast(case when status = 'scheduled' then date_end < date('now') end "
               "as integer) as date_passed")


# Money in exact decimals, in SQL alone (so that the views work in any SQLite): an amount
# as recorded (`amount_text`: digits, an optional point, at most 15 significant digits,
# never a float) is its whole part and its fraction as 15 digits, two integers whose
# arithmetic is exact. `amount - disbursed_amount` in floats gives 0.010000000009313226
# for 999999.99 - 999999.98. The canned queries of datasette-metadata.json add amounts
# the same way.
FRACTION_DIGITS = 15


def whole_sql(text: str) -> str:
    """The whole part of an amount's text, an integer (null for null)."""
    return f"cast({text} as integer)"


def fraction_sql(text: str) -> str:
    """The fraction of an amount's text in units of 10^-15, an integer (0 for none)."""
    padding = "0" * (FRACTION_DIGITS - 1)
    return (f"case when instr({text}, '.') then cast(substr(substr({text}, instr({text}, "
            f"'.') + 1) || '{padding}', 1, {FRACTION_DIGITS}) as integer) else 0 end")


def decimal_text_sql(whole: str, fraction: str) -> str:
    """The decimal text of a whole part and a fraction (in units of 10^-15), as an amount
    is written: no trailing zeros, no point for a whole number."""
    return (f"{whole} || rtrim(rtrim('.' || printf('%0{FRACTION_DIGITS}d', {fraction}), "
            "'0'), '.')")


ONE = 10 ** FRACTION_DIGITS
# What remains to disburse of a pledge, exactly, never below 0: the whole parts and the
# fractions subtracted, one unit borrowed from the whole when the fraction is short.
_OUTSTANDING_PARTS = f"""
select *,
  amount_whole - disbursed_whole - (amount_fraction < disbursed_fraction)
    as outstanding_whole,
  amount_fraction - disbursed_fraction + (amount_fraction < disbursed_fraction) * {ONE}
    as outstanding_fraction
from (select *, {whole_sql('amount_text')} as amount_whole,
    {fraction_sql('amount_text')} as amount_fraction,
    coalesce({whole_sql('disbursed_amount_text')}, 0) as disbursed_whole,
    {fraction_sql('disbursed_amount_text')} as disbursed_fraction
  from pledges
  where status in ('pledged', 'disbursed'))"""

VIEWS = {
    "timeline": _view_of("timeline_rows", DATE_PASSED),
    "format_history": _view_of("format_history_rows"),
    "actor_activity": _view_of("actor_activity_rows"),
    "corrections": _view_of("correction_rows"),
    "upcoming_meetings": """
select id, title, date, date_start, date_end, date_precision, format, level, mode, city,
  country, latitude, longitude, participants, chair,
  cast(date_end < date('now') as integer) as date_passed
from meetings
where status = 'scheduled'""",
    "pledges_outstanding": f"""
select id, title, date, date_start, date_precision, donor, recipients, amount, currency,
  approximate, instrument, purpose, meeting_id, status, disbursed_amount,
  case when outstanding_whole < 0 then 0 when outstanding_fraction = 0 then outstanding_whole
    else cast(outstanding_amount_text as numeric) end as outstanding_amount, amount_text,
  disbursed_amount_text, outstanding_amount_text
from (select *, case when outstanding_whole < 0 then '0'
    when outstanding_fraction = 0 then cast(outstanding_whole as text)
    else {decimal_text_sql('outstanding_whole', 'outstanding_fraction')} end
    as outstanding_amount_text
  from ({_OUTSTANDING_PARTS}))""",
}

# How the derived tables are filled. `{ids:column}` and `{actors:column}` stand for
# "this row is about a touched record (or format) / actor"; a full build fills
# everything (each stands for 1).
DERIVED_FILL = {
    "timeline_rows": (
        """insert into timeline_rows
select 'meeting', id, title, date, date_start, date_end, date_precision, status, format,
  participants, city, country, summary, recorded_at
from meetings where {ids:id}""",
        """insert into timeline_rows
select 'announcement', id, title, date, date_start, date_end, date_precision, null, null,
  json_array(by_actor), null, null, summary, recorded_at
from announcements where {ids:id}""",
        """insert into timeline_rows
select 'pledge', pledges.id, pledges.title, pledges.date, pledges.date_start,
  pledges.date_end, pledges.date_precision, pledges.status, meetings.format,
  json_insert(pledges.recipients, '$[#]', pledges.donor), null, null, pledges.purpose,
  pledges.recorded_at
from pledges left join meetings on meetings.id = pledges.meeting_id where {ids:pledges.id}""",
        """insert into timeline_rows
select 'format', slug, 'Launch of ' || name, launched, launched_start, launched_end,
  launched_precision, null, slug, members, null, null, summary, recorded_at
from formats where launched is not null and {ids:slug}""",
    ),
    "format_history_rows": (
        """insert into format_history_rows
select slug, name, 'launch', slug, 'Launch of ' || name, launched, launched_start,
  launched_precision, null, null, null, null, null
from formats where launched is not null and {ids:slug}""",
        """insert into format_history_rows
select formats.slug, formats.name, 'meeting', meetings.id, meetings.title, meetings.date,
  meetings.date_start, meetings.date_precision, meetings.status, meetings.level,
  meetings.mode, meetings.city, meetings.country
from meetings join formats on formats.slug = meetings.format
where {ids:meetings.id}""",
        """insert into format_history_rows
select formats.slug, formats.name, 'pledge', pledges.id, pledges.title, pledges.date,
  pledges.date_start, pledges.date_precision, pledges.status, null, null, null, null
from pledges join meetings on meetings.id = pledges.meeting_id
  join formats on formats.slug = meetings.format
where {ids:pledges.id}""",
    ),
    # Who takes part in each record, in any role: for one actor's timeline, newest first.
    # An actor belongs to a meeting of its format only when the meeting names no one.
    "timeline_actors": (
        """insert or ignore into timeline_actors
select actor, meeting_id, 'meeting', date_start from meeting_participants
where {ids:meeting_id}""",
        """insert or ignore into timeline_actors
select country, id, 'meeting', date_start from meetings
where country is not null and {ids:id}""",
        """insert or ignore into timeline_actors
select format_members.actor, meetings.id, 'meeting', meetings.date_start
from meetings join format_members on format_members.format = meetings.format
where meetings.participants is null and {ids:meetings.id}""",
        """insert or ignore into timeline_actors
select by_actor, id, 'announcement', date_start from announcements where {ids:id}""",
        """insert or ignore into timeline_actors
select donor, id, 'pledge', date_start from pledges where {ids:id}""",
        """insert or ignore into timeline_actors
select actor, pledge_id, 'pledge', date_start from pledge_recipients where {ids:pledge_id}""",
    ),
    "actor_activity_rows": (
        """insert into actor_activity_rows
with participation as (
  select actor, count(distinct meeting_id) as n, min(date_start) as first,
    max(date_start) as last
  from meeting_participants where {actors:actor} group by actor),
chairs as (
  select chair as actor, count(*) as n, min(date_start) as first, max(date_start) as last
  from meetings where chair is not null and {actors:chair} group by chair),
hosts as (
  select country as actor, count(*) as n, min(date_start) as first, max(date_start) as last
  from meetings where country is not null and {actors:country} group by country),
announcers as (
  select by_actor as actor, count(*) as n, min(date_start) as first, max(date_start) as last
  from announcements where {actors:by_actor} group by by_actor),
donors as (
  select donor as actor, count(*) as n, min(date_start) as first, max(date_start) as last
  from pledges where {actors:donor} group by donor),
recipients as (
  select actor, count(*) as n, min(date_start) as first, max(date_start) as last
  from pledge_recipients where {actors:actor} group by actor),
members as (
  select actor, count(*) as n from format_members where {actors:actor} group by actor)
select actors.code, actors.name, actors.kind, coalesce(participation.n, 0),
  coalesce(chairs.n, 0), coalesce(hosts.n, 0), coalesce(announcers.n, 0),
  coalesce(donors.n, 0), coalesce(recipients.n, 0), coalesce(members.n, 0),
  nullif(min(coalesce(participation.first, '~'), coalesce(chairs.first, '~'),
    coalesce(hosts.first, '~'), coalesce(announcers.first, '~'),
    coalesce(donors.first, '~'), coalesce(recipients.first, '~')), '~'),
  nullif(max(coalesce(participation.last, ''), coalesce(chairs.last, ''),
    coalesce(hosts.last, ''), coalesce(announcers.last, ''), coalesce(donors.last, ''),
    coalesce(recipients.last, '')), '')
from actors
  left join participation on participation.actor = actors.code
  left join chairs on chairs.actor = actors.code
  left join hosts on hosts.actor = actors.code
  left join announcers on announcers.actor = actors.code
  left join donors on donors.actor = actors.code
  left join recipients on recipients.actor = actors.code
  left join members on members.actor = actors.code
where {actors:actors.code} and coalesce(participation.n, chairs.n, hosts.n, announcers.n,
  donors.n, recipients.n, members.n) is not null""",
    ),
}
# What an incremental refresh removes first, before filling again.
DERIVED_CLEAR = {
    "timeline_rows": "delete from timeline_rows where {ids:id}",
    "format_history_rows": "delete from format_history_rows where {ids:id}",
    "actor_activity_rows": "delete from actor_activity_rows where {actors:actor}",
    "timeline_actors": "delete from timeline_actors where {ids:id}",
}


# Indexes sqlite-utils cannot declare (partial ones), created with the others.
EXTRA_INDEXES = (
    "create index if not exists meetings_format_naming_no_one on meetings(format) "
    "where participants is null",
    # The dashboard's map of the places where meetings were held, grouped by place, read
    # from this index alone (at 1M events: 60 ms, not 220 to 460 ms scanning the table;
    # filtered by an actor, 55 ms, not 225 ms looking each meeting's id up).
    "create index if not exists meetings_places on meetings(status, latitude, longitude, "
    "city, country, date_start, date_end, date, format, id) where latitude is not null "
    "and longitude is not null",
)

# The indexes replay itself looks rows up by (to amend or retract a record), created
# before loading; every other index is created after, which is faster.
REPLAY_INDEXES = (("meeting_participants", ("meeting_id", "actor")),
                  ("announcement_about", ("announcement_id",)), ("sources", ("subject",)),
                  ("status_changes", ("subject",)))


def create_tables(db: sqlite_utils.Database) -> None:
    """Every table, with only the indexes that replay needs (tables without keys to
    others first: sqlite-utils checks a key's table exists)."""
    for table in sorted(TABLES, key=lambda table: bool(table.foreign_keys)):
        columns, pk = table.created
        db[table.name].create(
            columns,
            pk=pk,
            foreign_keys=list(table.foreign_keys),
            if_not_exists=True,
        )
    for table, columns in REPLAY_INDEXES:
        db[table].create_index(list(columns), if_not_exists=True)


def create_indexes_views_fts(db: sqlite_utils.Database, derived: bool = True) -> None:
    """Indexes, full-text search (kept in step by triggers) and views, idempotently.

    With `derived=False`, only those of the tables events are replayed into."""
    for table in TABLES:
        if table.derived and not derived:
            continue
        for columns in table.indexes:
            db[table.name].create_index(
                [columns] if isinstance(columns, str) else list(columns), if_not_exists=True
            )
        if table.fts and not db[table.name].detect_fts():
            db[table.name].enable_fts(list(table.fts), create_triggers=True, tokenize="porter")
    for statement in EXTRA_INDEXES:
        db.execute(statement)
    if derived:
        for name, sql in VIEWS.items():
            db.create_view(name, sql.strip(), replace=True)

