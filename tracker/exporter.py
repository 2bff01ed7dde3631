"""`tracker export`: the current records, read from the projected database, as import rows.

Each record is one row: its current data (as recorded, then amended), turned back into
the options of `tracker add` by `model.record_options`, with its first source; but a
rescheduled meeting has the date and status it had before its first reschedule (or
`held` update that counts as one: `rowformat.moving_updates`), which its updates then
move, and a revised pledge the amount it had before its first revision, which its
updates then revise (`rowformat.exported_data`). Then come one row per status update
and per further source, in the order they were recorded. A status set by an amendment
(`amend --set status=`), which no row of `tracker add` can carry, comes last as an
`update` row under the amendment's id, when the rows before would end in another
status; a date amended after a meeting's last reschedule comes right after that
reschedule, as an `update` row under the amendment's id that moves it to that date (an
amount amended after a pledge's last revision likewise, as a revision).
Records come in an order that `tracker import` accepts: formats, meetings, pledges, then
announcements, each after any record it refers to. Retracted records are left out. Event
ids are carried in `id`, so an export imported into an empty log gives the same records,
sources and status changes.

`tracker retract` and `tracker amend` refuse to leave a record referring to a retracted
one, or records referring to each other in a loop; but a merge of two analysts' logs can
(one retracts a format while the other records a meeting of it). Such a reference cannot
be imported: it is left out of the row, and `warn` is told.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import orjson

from .model import (
    AMENDED,
    MOVING,
    REFERRING,
    REVISING,
    STATUS_CHANGED,
    default_meeting_status,
    not_yet,
    record_options,
    today,
)
from .projection import dangling_references
from .rowformat import (
    RECORD_KINDS,
    ROW_STATUSES,
    all_columns,
    date_steps,
    exported_data,
    moved_status,
    moving_updates,
    to_csv_cell,
)

Row = dict[str, Any]
RESCHEDULED = STATUS_CHANGED["meeting"]
REVISED = STATUS_CHANGED["pledge"]

EXPORT_ORDER = ("format", "meeting", "pledge", "announcement")
# A record's current data: records.data once amended, else its recording event's data.
RECORDS = ("select records.id, coalesce(records.data, events.data) as data from records "
           "left join events on events.id = records.id "
           "where records.retracted = 0 and records.kind = ? "
           "order by records.recorded_at, records.id")


class Move(NamedTuple):
    """An amendment of a meeting's date or status, or a reschedule; or an amendment of a
    pledge's amount, or a revision: its event, the field, whether an update made it (a
    reschedule, a revision), the value it gave (for an update, the value before it), and
    for an update the value after it."""

    event_id: str
    field: str
    by_update: bool
    value: str
    after: str | None = None


def _source(row: sqlite3.Row) -> Row:
    return {"source": row["url"] or row["citation"], "publisher": row["publisher"],
            "published": row["published"], "quote": row["quote"]}


def _compact(row: Row) -> Row:
    """The row without empty cells, lists as lists."""
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in row.items() if value not in (None, "", (), [], False)}


Warn = Callable[[str], None]


def _ignore(message: str) -> None:
    pass


class Exporter:
    """Reads the sources and status changes once, then yields rows record by record."""

    def __init__(self, conn: sqlite3.Connection, warn: Warn = _ignore):
        conn.row_factory = sqlite3.Row
        self.conn = conn
        self.warn = warn
        # (record, option): {what it refers to that cannot be imported: retracted?}
        self.dangling: dict[tuple[str, str], dict[str, bool]] = defaultdict(dict)
        for _kind, record, option, referenced, retracted in dangling_references(conn):
            self.dangling[record, option][referenced] = bool(retracted)
        self.sources: dict[str, list[sqlite3.Row]] = defaultdict(list)
        for row in conn.execute("select * from sources order by recorded_at, event_id"):
            self.sources[row["subject"]].append(row)
        self.changes = {row["event_id"]: row for row in conn.execute(
            "select * from status_changes")}
        self.amended_status: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for row in conn.execute("select id, subject, data from events where type = ? "
                                "order by recorded_at, id", (AMENDED,)):
            changes = orjson.loads(row["data"]).get("changes")
            status = changes.get("status") if type(changes) is dict else None
            if status:
                self.amended_status[row["subject"]].append((row["id"], status))
        # meeting: the changes of its date (amendments, reschedules) and the amendments of
        # its status; pledge: the changes of its amount (amendments, revisions); in replay
        # order
        self.moves: dict[str, list[Move]] = defaultdict(list)
        self.amounts: dict[str, list[Move]] = defaultdict(list)
        for row in conn.execute(
                "select history.subject, history.kind, history.event_id, history.event_type, "
                "history.field, history.old_value, history.new_value from history "
                "join events on events.id = history.event_id "
                "where history.kind = 'meeting' and (history.field = 'date' or "
                "history.field = 'status' and history.event_type = ?) "
                "or history.kind = 'pledge' and history.field = 'amount' "
                "order by events.recorded_at, events.writer, events.seq, events.id",
                (AMENDED,)):
            by_update = row["event_type"] in (RESCHEDULED, REVISED)
            moves = self.moves if row["kind"] == "meeting" else self.amounts
            moves[row["subject"]].append(Move(
                row["event_id"], row["field"], by_update,
                row["old_value"] if by_update else row["new_value"],
                row["new_value"] if by_update else None))
        self._add_held_moves()

    def _add_held_moves(self) -> None:
        """Among the moves of a meeting whose date was amended, its `held` updates that
        count as moved (`rowformat.moving_updates`), each at its place in replay order."""
        held = {row["subject"] for row in self.changes.values()
                if row["status"] == "held" and not row["rescheduled_to"]}
        for subject, moves in self.moves.items():
            if subject not in held or all(move.by_update for move in moves):
                continue
            recorded = orjson.loads(self.conn.execute(
                "select data from events where id = ?", (subject,)).fetchone()[0])
            steps = date_steps(recorded, (
                (row["id"], row["type"], orjson.loads(row["data"])) for row in self.conn.execute(
                    "select id, type, data from events where subject = ? and type in (?, ?) "
                    "order by recorded_at, writer, seq, id", (subject, AMENDED, RESCHEDULED))))
            order = {step.event_id: index for index, step in enumerate(steps)}
            held_moves = set(moving_updates(steps)) - {move.event_id for move in moves
                                                       if move.by_update}
            added = [Move(step.event_id, "date", True, step.before, step.after)
                     for step in steps if step.event_id in held_moves]
            if added:
                self.moves[subject] = sorted([*moves, *added],
                                             key=lambda move: order.get(move.event_id, -1))

    def rows(self, kinds: tuple[str, ...] = RECORD_KINDS) -> Iterator[Row]:
        for kind in EXPORT_ORDER:
            if kind in kinds:
                records = [(row["id"], self._whole(kind, row["id"], orjson.loads(row["data"])))
                           for row in self.conn.execute(RECORDS, (kind,))]
                if kind == "announcement":
                    records = _referred_first(records, self.warn)
                for subject, data in records:
                    yield from self._record_rows(kind, subject, data)

    def _whole(self, kind: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
        """The data without references to records that are retracted or unknown."""
        for spec in REFERRING[kind]:
            dangling = self.dangling.get((subject, spec.option))
            if not dangling or spec.key not in data:
                continue
            for value, retracted in dangling.items():
                why = "was retracted" if retracted else "is not in the log"
                self.warn(f"{kind} {subject}: --{spec.option} {value} left out (it {why})")
            kept = [value for value in (data[spec.key] if spec.many else [data[spec.key]])
                    if value not in dangling]
            if not kept:
                del data[spec.key]
            elif spec.many:
                data[spec.key] = kept
        return data

    def _record_rows(self, kind: str, subject: str, data: dict[str, Any]) -> Iterator[Row]:
        sources = self.sources.get(subject, [])
        first = next((row for row in sources if row["kind"] == "record"), None)
        moves = [move for move in self.moves.get(subject, ()) if move.field == "date"]
        reschedules = [move for move in moves if move.by_update]
        rescheduled_from = self._rescheduled_from(subject, reschedules[0]) if reschedules \
            else None
        recorded_status = None
        if kind == "meeting" and (rescheduled_from or data).get("status") not in ROW_STATUSES:
            recorded_status = self._recorded_status(subject)
        revisions = [move for move in self.amounts.get(subject, ()) if move.by_update]
        row_data = exported_data(kind, data, recorded_status, rescheduled_from,
                                 revisions[0].value if revisions else None)
        rows = [_compact({"kind": kind, "id": first["event_id"] if first else None,
                          **record_options(kind, subject, row_data),
                          **(_source(first) if first else {})})]
        for row in sources:
            if row is first:
                continue
            change = self.changes.get(row["event_id"]) if row["kind"] == "update" else None
            if change is not None:
                rows.append(_update_row(
                    subject, row["event_id"], change["status"], change["date"],
                    change["amount_text"], change["note"], change["rescheduled_to"], row))
            else:  # a citation, or the source of an amendment
                rows.append(_compact({"kind": "citation", "id": row["event_id"],
                                      "subject": subject, **_source(row)}))
        moved = self._moved(subject, data["date"], moves, reschedules, sources) \
            if reschedules else None
        revised = self._amended_after_revisions(subject, data["amount"], revisions, sources) \
            if revisions else None
        placed = [*self._moved_between(subject, moves, reschedules, sources),
                  *((moving, updates[-1].event_id) for moving, updates
                    in ((moved, reschedules), (revised, revisions)) if moving is not None)]
        for moving, after_id in placed:
            rows = [row for row in rows if row.get("id") != moving["id"]]
            after = next((index for index, row in enumerate(rows)
                          if row.get("id") == after_id), len(rows) - 1)
            rows.insert(after + 1, moving)
        status_row = self._amended_status(kind, subject, rows, sources) \
            if kind in ("meeting", "pledge") else None
        if status_row is not None and moved is not None and moved["id"] == status_row["id"]:
            status_row = self._both(subject, data["date"], status_row, moved,
                                    reschedules[-1])
        if status_row is not None and revised is not None and revised["id"] == status_row["id"]:
            # one amendment set the amount and the status: one row only, both if a
            # revision gives that status
            if status_row["status"] == REVISING:
                status_row = revised
            else:
                self.warn(f"pledge {subject}: its amount {data['amount']} left out (no "
                          "update gives it)")
        if status_row is not None:
            rows = [row for row in rows if row.get("id") != status_row["id"]]
            rows.append(status_row)
        yield from rows

    def _both(self, subject: str, date: str, status_row: Row, moved: Row,
              rescheduled: Move) -> Row | None:
        """The row of an amendment that set a meeting's date after its last reschedule
        and the status it has now: one `update` row at the end, if an update with `to`
        can give that status (`held` only on a date up to today); else only one of them,
        with a warning. The status, unless it is held while the date of the last
        reschedule is after today (which `tracker import` refuses): then the date, and
        `moved` stays."""
        status = status_row["status"]
        if status in MOVING and not (status == "held" and not_yet(date)):
            return _update_row(subject, status_row["id"], status, to=date, source=moved)
        if status == "held" and not_yet(rescheduled.after):
            self.warn(f"meeting {subject}: its status {status} left out (no update gives it)")
            return None
        self.warn(f"meeting {subject}: its date {date} left out (no update gives it)")
        return status_row

    def _recorded_status(self, subject: str) -> str:
        return self.conn.execute("select json_extract(data, '$.status') from events "
                                 "where id = ?", (subject,)).fetchone()[0]

    def _rescheduled_from(self, subject: str, first: Move) -> dict[str, Any]:
        """A meeting's date and status (in its data: as recorded or amended) before the
        first reschedule."""
        status = None
        for move in self.moves[subject]:
            if move is first:
                break
            if move.field == "status":
                status = move.value
        return {"date": first.value,
                "status": self._recorded_status(subject) if status is None else status}

    def _moved(self, subject: str, date: str, moves: list[Move], reschedules: list[Move],
               sources: list[sqlite3.Row]) -> Row | None:
        """The `update` row that moves a meeting to the date an amendment gave it after its
        last reschedule (which neither the meeting's row nor its updates carry), to come
        right after that reschedule: under the id of the last such amendment, with its
        source (else the record's), and the status it set if a reschedule can give that
        status, else that of the reschedule."""
        if moves[-1] is reschedules[-1] or date == reschedules[-1].after:
            return None
        return self._moved_row(subject, moves[-1].event_id, date, reschedules[-1], sources)

    def _moved_between(self, subject: str, moves: list[Move], reschedules: list[Move],
                       sources: list[sqlite3.Row]) -> Iterator[tuple[Row, str]]:
        """The `update` rows that move a meeting to the date an amendment gave it between
        two of its moving updates, when the later one has no `to` (a day held on, which
        depends on the date it finds), each with the id of the earlier, to come right after
        it: as `_moved` gives after the last."""
        for earlier, later in pairwise(reschedules):
            between = moves[moves.index(earlier) + 1:moves.index(later)]
            if between and later.value != earlier.after and \
                    not self.changes[later.event_id]["rescheduled_to"]:
                row = self._moved_row(subject, between[-1].event_id, later.value, earlier,
                                      sources)
                if row is not None:
                    yield row, earlier.event_id

    def _moved_row(self, subject: str, amendment: str, date: str, rescheduled: Move,
                   sources: list[sqlite3.Row]) -> Row | None:
        """The `update` row of an amendment that moved a meeting to `date` after the update
        `rescheduled`: with its source (else the record's), and the status it set if a
        reschedule can give it, else that of `rescheduled` (`rowformat.moved_status`)."""
        source = next((row for row in sources if row["event_id"] == amendment),
                      sources[0] if sources else None)
        if source is None:
            return None
        status = moved_status(next((amended for event_id, amended
                                    in self.amended_status.get(subject, [])
                                    if event_id == amendment), None),
                              self.changes[rescheduled.event_id]["status"], date)
        return _update_row(subject, amendment, status, to=date, source=source)

    def _amended_after_revisions(self, subject: str, amount: str, revisions: list[Move],
                                 sources: list[sqlite3.Row]) -> Row | None:
        """The `update` row that revises a pledge to the amount an amendment gave it after
        its last revision (which neither the pledge's row nor its updates carry), to come
        right after that revision: under the id of the last such amendment, with its
        source (else the record's)."""
        last = self.amounts[subject][-1]
        if last is revisions[-1] or amount == self.changes[revisions[-1].event_id][
                "amount_text"]:
            return None
        source = next((row for row in sources if row["event_id"] == last.event_id),
                      sources[0] if sources else None)
        if source is None:
            return None
        return _update_row(subject, last.event_id, REVISING, amount=amount, source=source)

    def _amended_status(self, kind: str, subject: str, rows: list[Row],
                        sources: list[sqlite3.Row]) -> Row | None:
        """The `update` row that gives the record its current status, if an amendment set
        it and the rows would otherwise end in another: under the id of that amendment,
        with its source (else the record's)."""
        ending = next((row["status"] for row in reversed(rows) if row["kind"] == "update"),
                      rows[0].get("status"))
        if ending is None:
            ending = (default_meeting_status(rows[0]["date"], today()) if kind == "meeting"
                      else "pledged")
        table, amount = (("meetings", "null") if kind == "meeting"
                         else ("pledges", "disbursed_amount_text"))
        status, disbursed = self.conn.execute(
            f"select status, {amount} from {table} where id = ?", (subject,)).fetchone()
        if status == ending:
            return None
        amendment = next((event_id for event_id, amended in
                          reversed(self.amended_status.get(subject, [])) if amended == status),
                         None)
        source = next((row for row in sources if row["event_id"] == amendment),
                      sources[0] if sources else None)
        if amendment is None or source is None or (status == "disbursed" and not disbursed):
            self.warn(f"{kind} {subject}: its status {status} left out (no update gives it)")
            return None
        return _update_row(subject, amendment, status,
                           amount=disbursed if status == "disbursed" else None, source=source)


def _update_row(subject: str, event_id: str, status: str, date: str | None = None,
                amount: str | None = None, note: str | None = None, to: str | None = None,
                source: sqlite3.Row | Row | None = None) -> Row:
    """An `update` row (columns in the order of every update row, so that the export of
    a copy gives the same text), with the source of `source` (a row of `sources`, or
    another update row)."""
    if source is None:
        given: Row = {}
    elif isinstance(source, dict):
        given = {key: source.get(key) for key in ("source", "publisher", "published", "quote")}
    else:
        given = _source(source)
    return _compact({"kind": "update", "id": event_id, "subject": subject, "status": status,
                     "date": date, "amount": amount, "note": note, "to": to, **given})


def _referred_first(records: list[tuple[str, dict]], warn: Warn) -> list[tuple[str, dict]]:
    """Announcements in recorded order, except that one comes after those it is about.
    In a loop (each about the other), the one placed first leaves out its reference."""
    by_id = dict(records)
    ordered: list[tuple[str, dict]] = []
    placed: set[str] = set()

    def place(subject: str, path: set[str]) -> None:
        if subject in placed:
            return
        about = by_id[subject].get("about", [])
        for reference in list(about):
            if reference == subject or reference in path:
                why = ("itself" if reference == subject else
                       f"a loop: {reference} is about it, directly or through others")
                warn(f"announcement {subject}: --about {reference} left out ({why})")
                about.remove(reference)
            elif reference in by_id:
                place(reference, path | {subject})
        if not about:
            by_id[subject].pop("about", None)
        placed.add(subject)
        ordered.append((subject, by_id[subject]))

    for subject, _data in records:
        place(subject, set())
    return ordered


def export_rows(db_path: Path | str, kinds: tuple[str, ...] = RECORD_KINDS,
                warn: Warn = _ignore) -> Iterator[Row]:
    """The rows of every record of the given kinds in a built database."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        yield from Exporter(conn, warn).rows(kinds)


def write_jsonl(rows: Iterator[Row], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(orjson.dumps(row).decode() + "\n")
        count += 1
    return count


def write_csv(rows: Iterator[Row], out: TextIO, kinds: tuple[str, ...] = RECORD_KINDS) -> int:
    """CSV with a header of every column the kinds (and their updates and citations) use."""
    row_kinds = (*kinds, "citation") if kinds == ("format",) else (*kinds, "update", "citation")
    header = all_columns(row_kinds)
    writer = csv.writer(out)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([to_csv_cell(row.get(column)) for column in header])
        count += 1
    return count
