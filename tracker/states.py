"""Records in a state that `tracker add` refuses, in a built database.

Each command checks the record it writes as a whole, but two clones can each make a
change that is valid where it is made, and merge into a state neither would write: a
meeting held in one clone and dated after today in the other; a chair or an official of
an actor the other clone took off the participants; a donor made of an actor the other
made a recipient. A build names such records, as it names references to retracted ones.
"""

from __future__ import annotations

import sqlite3

from .model import latest_today

# (kind, record id, what breaks the rule)
Broken = tuple[str, str, str]

# Each rule: the column of the record's id, and a query of (kind, id, what), in which
# `{near}` keeps the records an incremental build changed and `:today` is the latest
# date it is anywhere on Earth.
RULES = (
    ("id", "select 'meeting', id, '--status held but dated ' || date || ' (after today)' "
     "from meetings where status = 'held' and date_start > :today{near}"),
    ("id", "select 'meeting', id, '--chair ' || chair || ' not a participant' "
     "from meetings where chair is not null{near} and not exists (select 1 from "
     "meeting_participants taking where taking.meeting_id = meetings.id "
     "and taking.actor = meetings.chair)"),
    # An official of an actor not taking part is not projected: read from the record.
    ("records.id", "select distinct 'meeting', records.id, 'an --official of ' || "
     "json_extract(official.value, '$.actor') || ' not a participant' "
     "from records, json_each(records.data, '$.officials') official "
     "where records.kind = 'meeting' and not records.retracted "
     "and instr(records.data, '\"officials\"'){near} and not exists (select 1 from "
     "meeting_participants taking where taking.meeting_id = records.id "
     "and taking.actor = json_extract(official.value, '$.actor'))"),
    ("id", "select 'pledge', id, '--donor ' || donor || ' also a --recipient' from pledges "
     "where 1{near} and exists (select 1 from pledge_recipients given "
     "where given.pledge_id = pledges.id and given.actor = pledges.donor)"),
)


def broken_rules(conn: sqlite3.Connection, touched: bool = False) -> list[Broken]:
    """What breaks the rules of `tracker add` in the current records, in order of id.
    With `touched`, only in the records in `temp.touched_ids` (what an incremental build
    changed)."""
    found: list[Broken] = []
    for column, query in RULES:
        near = f" and {column} in (select value from temp.touched_ids)" if touched else ""
        found += conn.execute(query.format(near=near), {"today": latest_today()})
    return sorted(found, key=lambda broken: (broken[1], broken[2]))
