"""The shape of the projected database: tables, indexes, full-text search and views.

Declared once here and created idempotently by `ensure_db_shape`, in the manner of
dogsheep. Table and column names are the public contract (see DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, type]
    pk: str | tuple[str, ...] | None = None
    foreign_keys: tuple[tuple[str, str, str], ...] = ()
    indexes: tuple[str | tuple[str, ...], ...] = ()
    fts: tuple[str, ...] = ()


# Amounts keep whole numbers as integers and fractions as reals: a column declared ANY
# has NUMERIC affinity in SQLite.
AMOUNT = "ANY"
DATED = {"date": str, "date_start": str, "date_end": str, "date_precision": str}
STAMPS = {"recorded_at": str, "updated_at": str}

TABLES = (
    Table(
        "events",
        {"id": str, "type": str, "subject": str, "recorded_at": str, "recorded_by": str,
         "writer": str, "seq": int, "schema": int, "data": str, "hash": str},
        pk="id",
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
        {"id": str, "title": str, **DATED, "status": str, "format": str, "level": str,
         "mode": str, "city": str, "country": str, "latitude": float, "longitude": float,
         "geonameid": int, "city_as_given": str, "chair": str, "participants": str,
         "topics": str, "summary": str, **STAMPS},
        pk="id",
        foreign_keys=(("format", "formats", "slug"), ("country", "actors", "code"),
                      ("chair", "actors", "code")),
        indexes=("title", "date_start", "date_end", "date_precision", "status", "format",
                 "level", "mode", "city", "country", "chair", "recorded_at", "updated_at",
                 ("date_start", "format")),
        fts=("title", "summary", "city", "topics"),
    ),
    Table(
        "meeting_participants",
        {"meeting_id": str, "actor": str, "official": str, "official_title": str},
        foreign_keys=(("meeting_id", "meetings", "id"), ("actor", "actors", "code")),
        indexes=("meeting_id", "actor", "official"),
    ),
    Table(
        "announcements",
        {"id": str, "title": str, **DATED, "by_actor": str, "about": str, "topics": str,
         "summary": str, **STAMPS},
        pk="id",
        foreign_keys=(("by_actor", "actors", "code"),),
        indexes=("title", "date_start", "date_precision", "by_actor", "recorded_at", "updated_at"),
        fts=("title", "summary", "topics"),
    ),
    Table(
        "announcement_about",
        {"announcement_id": str, "subject": str},
        foreign_keys=(("announcement_id", "announcements", "id"),),
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
        indexes=("title", "date_start", "date_precision", "donor", "amount", "currency",
                 "approximate", "instrument", "meeting_id", "status", "recorded_at",
                 "updated_at"),
        fts=("title", "purpose"),
    ),
    Table(
        "pledge_recipients",
        {"pledge_id": str, "actor": str},
        pk=("pledge_id", "actor"),
        foreign_keys=(("pledge_id", "pledges", "id"), ("actor", "actors", "code")),
        indexes=("actor",),
    ),
    Table(
        "sources",
        {"subject": str, "event_id": str, "kind": str, "url": str, "citation": str,
         "publisher": str, "published": str, "quote": str, "recorded_at": str},
        pk="event_id",
        indexes=("subject", "kind", "publisher", "published", "recorded_at"),
        fts=("quote", "citation", "publisher"),
    ),
    Table(
        "status_changes",
        {"subject": str, "kind": str, "status": str, "previous_status": str, "date": str,
         "date_start": str, "amount": AMOUNT, "amount_text": str, "note": str,
         "event_id": str, "recorded_at": str},
        pk="event_id",
        indexes=("subject", "kind", "status", "date_start", "recorded_at"),
    ),
    Table(
        "records",
        {"id": str, "kind": str, "title": str, "data": str, "retracted": int,
         "retracted_at": str, "retraction_reason": str, "recorded_at": str},
        pk="id",
        indexes=("kind", "title", "retracted", "recorded_at", "retracted_at"),
    ),
    Table(
        "history",
        {"subject": str, "kind": str, "event_id": str, "event_type": str, "recorded_at": str,
         "recorded_by": str, "field": str, "old_value": str, "new_value": str, "reason": str},
        indexes=("subject", "kind", "event_id", "event_type", "recorded_at", "recorded_by",
                 "field"),
    ),
    Table("build_info", {"key": str, "value": str}, pk="key"),
)

VIEWS = {
    "timeline": """
select 'meeting' as kind, id, title, date, date_start, date_end, date_precision, status,
  format, participants as actors, city, country, summary, recorded_at
from meetings
union all
select 'announcement', id, title, date, date_start, date_end, date_precision, null,
  null, json_array(by_actor), null, null, summary, recorded_at
from announcements
union all
select 'pledge', pledges.id, pledges.title, pledges.date, pledges.date_start,
  pledges.date_end, pledges.date_precision, pledges.status, meetings.format,
  json_insert(pledges.recipients, '$[#]', pledges.donor), null, null, pledges.purpose,
  pledges.recorded_at
from pledges left join meetings on meetings.id = pledges.meeting_id
union all
select 'format', slug, 'Launch of ' || name, launched, launched_start, launched_end,
  launched_precision, null, slug, members, null, null, summary, recorded_at
from formats where launched is not null
order by date_start, kind, id""",
    "corrections": """
select history.event_id, history.recorded_at, history.recorded_by, history.subject,
  history.kind, records.title,
  case history.event_type when 'record.amended' then 'amended' else 'retracted' end
    as correction,
  group_concat(history.field, ', ') as fields, history.reason
from history left join records on records.id = history.subject
where history.event_type in ('record.amended', 'record.retracted')
group by history.event_id
order by history.recorded_at desc, history.event_id""",
    "upcoming_meetings": """
select id, title, date, date_start, date_end, date_precision, format, level, mode, city,
  country, latitude, longitude, participants, chair,
  date_end < date('now') as date_passed
from meetings
where status = 'scheduled'
order by date_start, id""",
    "pledges_outstanding": """
select id, title, date, date_start, date_precision, donor, recipients, amount, currency,
  approximate, instrument, purpose, meeting_id, status, disbursed_amount,
  max(amount - coalesce(disbursed_amount, 0), 0) as outstanding_amount
from pledges
where status in ('pledged', 'disbursed')
order by date_start, id""",
    "actor_activity": """
with involvement as (
  select distinct meeting_participants.actor, 'meeting' as role, meetings.id,
    meetings.date_start
  from meeting_participants join meetings on meetings.id = meeting_participants.meeting_id
  union all
  select chair, 'chair', id, date_start from meetings where chair is not null
  union all
  select country, 'host', id, date_start from meetings where country is not null
  union all
  select by_actor, 'announcement', id, date_start from announcements
  union all
  select donor, 'donor', id, date_start from pledges
  union all
  select pledge_recipients.actor, 'recipient', pledges.id, pledges.date_start
  from pledge_recipients join pledges on pledges.id = pledge_recipients.pledge_id
  union all
  select actor, 'member', format, null from format_members
)
select actors.code as actor, actors.name, actors.kind,
  sum(role = 'meeting') as meetings,
  sum(role = 'chair') as meetings_chaired,
  sum(role = 'host') as meetings_hosted,
  sum(role = 'announcement') as announcements,
  sum(role = 'donor') as pledges_made,
  sum(role = 'recipient') as pledges_received,
  sum(role = 'member') as formats,
  min(date_start) as first_date,
  max(date_start) as last_date
from involvement join actors on actors.code = involvement.actor
group by actors.code
order by meetings desc, announcements + pledges_made + pledges_received desc, actors.code""",
    "format_history": """
select formats.slug as format, formats.name as format_name, 'launch' as kind,
  formats.slug as id, 'Launch of ' || formats.name as title, formats.launched as date,
  formats.launched_start as date_start, formats.launched_precision as date_precision,
  null as status, null as level, null as mode, null as city, null as country
from formats where formats.launched is not null
union all
select formats.slug, formats.name, 'meeting', meetings.id, meetings.title, meetings.date,
  meetings.date_start, meetings.date_precision, meetings.status, meetings.level,
  meetings.mode, meetings.city, meetings.country
from meetings join formats on formats.slug = meetings.format
union all
select formats.slug, formats.name, 'pledge', pledges.id, pledges.title, pledges.date,
  pledges.date_start, pledges.date_precision, pledges.status, null, null, null, null
from pledges
  join meetings on meetings.id = pledges.meeting_id
  join formats on formats.slug = meetings.format
order by format, date_start, kind, id""",
}


# The indexes replay itself looks rows up by (to amend or retract a record), created
# before loading; every other index is created after, which is faster.
REPLAY_INDEXES = (("meeting_participants", "meeting_id"),
                  ("announcement_about", "announcement_id"), ("sources", "subject"))


def create_tables(db: sqlite_utils.Database) -> None:
    """Every table, with only the indexes that replay needs."""
    for table in TABLES:
        db[table.name].create(
            table.columns,
            pk=table.pk,
            foreign_keys=list(table.foreign_keys),
            if_not_exists=True,
        )
    for table, column in REPLAY_INDEXES:
        db[table].create_index([column], if_not_exists=True)


def create_indexes_views_fts(db: sqlite_utils.Database) -> None:
    """Indexes, full-text search (kept in step by triggers) and views, idempotently."""
    for table in TABLES:
        for columns in table.indexes:
            db[table.name].create_index(
                [columns] if isinstance(columns, str) else list(columns), if_not_exists=True
            )
        if table.fts and not db[table.name].detect_fts():
            db[table.name].enable_fts(list(table.fts), create_triggers=True, tokenize="porter")
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip(), replace=True)


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    create_tables(db)
    create_indexes_views_fts(db)
