"""The rows of `tracker import` and `tracker export`: kinds, columns and cell encodings.

A row is one event: a record (format, meeting, announcement, pledge), a status `update`
or a `citation`. Columns are named as the CLI options (`participant`, `at`, `source`).
In CSV, a multi-valued cell separates its items with `;` (`\\;` is a literal semicolon)
and a flag is `yes` or empty; in JSON Lines they are arrays and booleans.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from . import model
from .errors import TrackerError, shown

RECORD_KINDS = model.KINDS
ROW_KINDS = (*RECORD_KINDS, "update", "citation")
SOURCE_COLUMNS = ("source", *(spec.option for spec in model.SOURCE_FIELDS))
UPDATE_COLUMNS = ("status", *(spec.option for spec in model.UPDATE_FIELDS_OF["meeting"]))
LEADING = {"format": ("id", "slug"), "update": ("id", "subject"), "citation": ("id", "subject")}

MULTI_VALUED = frozenset(
    spec.option for specs in model.FIELDS.values() for spec in specs if spec.many
)
FLAGS = frozenset(
    spec.option for specs in model.FIELDS.values() for spec in specs
    if spec.parse is model.parse_flag
)
# The statuses a meeting's row takes (those of `tracker add meeting --status`).
ROW_STATUSES = model.MEETING_ADD_STATUSES
TRUE = frozenset(("yes", "y", "true", "1", "x"))
FALSE = frozenset(("no", "n", "false", "0", ""))


def columns(kind: str) -> tuple[str, ...]:
    """The columns of a row of one kind, in the order `tracker export` writes them."""
    if kind in RECORD_KINDS:
        fields = tuple(spec.option for spec in model.FIELDS[kind])
    elif kind == "update":
        fields = UPDATE_COLUMNS
    elif kind == "citation":
        fields = ()
    else:
        raise TrackerError(f"unknown kind {shown(kind)}: use one of {', '.join(ROW_KINDS)}")
    return (*LEADING.get(kind, ("id",)), *fields, *SOURCE_COLUMNS)


def all_columns(kinds: tuple[str, ...] = ROW_KINDS) -> tuple[str, ...]:
    """`kind` and then every column of the given kinds, meeting's first, without repeats."""
    ordered = sorted(kinds, key=lambda kind: (kind == "format", kinds.index(kind)))
    names = dict.fromkeys(["kind", "id", "subject", "slug"])
    for kind in ordered:
        names.update(dict.fromkeys(name for name in columns(kind) if name not in SOURCE_COLUMNS))
    for name in ("subject", "slug"):
        if not any(name in LEADING.get(kind, ()) for kind in kinds):
            del names[name]
    return (*names, *SOURCE_COLUMNS)


def exported_data(kind: str, data: dict[str, Any], recorded_status: str | None,
                  rescheduled_from: dict[str, Any] | None = None,
                  revised_from: str | None = None) -> dict[str, Any]:
    """A record's data as `tracker export` writes it in the record's row: its current data
    (as recorded, then amended and rescheduled), except what the update rows after it give.

    A rescheduled meeting has the date and status of its data before its first reschedule
    (`rescheduled_from`), as its updates then move it. A status that no option of `tracker
    add` takes (a pledge's; a meeting's amended to postponed or cancelled) gives way to the
    one the record was recorded with (`recorded_status`: none for a pledge). A meeting
    `held` whose row is dated after today (its date amended since, while its status was
    another) is `scheduled` in its row, which `tracker import` takes: its updates give the
    status it has now. A revised pledge has the amount it had before its first revision
    (`revised_from`), which its updates then revise.
    """
    data = dict(data)
    if kind != "meeting":
        data.pop("status", None)
        if revised_from is not None:
            data["amount"] = revised_from
        return data
    if rescheduled_from is not None:
        data["date"] = rescheduled_from["date"]
        data["status"] = rescheduled_from.get("status")
    if data.get("status") not in ROW_STATUSES:
        data["status"] = recorded_status
    if data["status"] == "held" and model.not_yet(data["date"]):
        data["status"] = "scheduled"
    return data


def moved_status(amended: str | None, rescheduled: str, date: str) -> str:
    """The status of the update row that carries a date amended after a meeting's last
    reschedule: the amendment's, if an update with `to` can give it (`model.MOVING`),
    else the reschedule's; but `scheduled` for `held` on a date after today, which
    `tracker import` refuses."""
    status = _moved(amended, rescheduled)
    return "scheduled" if status == "held" and model.not_yet(date) else status


def moved_status_then(status: str, amended: str | None, rescheduled: str) -> bool:
    """Whether an export made on any day could give that update row this status: the
    one `moved_status` gives once the date has come, or `scheduled` for `held`, as
    written while the date was to come."""
    moved = _moved(amended, rescheduled)
    return status == moved or (moved == "held" and status == "scheduled")


def _moved(amended: str | None, rescheduled: str) -> str:
    """The amendment's status, if an update with `to` can give it, else the reschedule's."""
    return amended if amended in model.MOVING else rescheduled


class DateStep(NamedTuple):
    """An event that may change a meeting's date, in replay order: its id, its data if
    it is an update (None for an amendment), whether it moved the meeting (an update that
    changed its date), and the meeting's date before and after it."""

    event_id: str
    update: dict[str, Any] | None
    moved: bool
    before: str
    after: str


def date_steps(recorded: dict[str, Any],
               events: Iterable[tuple[str, str, dict[str, Any]]]) -> list[DateStep]:
    """The steps of a meeting's date: its data as recorded, then its amendments and
    updates as (id, type, data) in replay order."""
    steps, data = [], recorded
    for event_id, event_type, event_data in events:
        update = None if event_type == model.AMENDED else event_data
        changes = event_data.get("changes") if update is None else \
            model.update_changes(update, data)
        if type(changes) is not dict:
            continue
        after = model.apply_changes(data, changes)
        steps.append(DateStep(event_id, update, update is not None and bool(changes),
                              data["date"], after["date"]))
        data = after
    return steps


def moving_updates(steps: list[DateStep]) -> list[str]:
    """The ids of the updates that `tracker export` moves a meeting with, in replay
    order (its row has the date before the first): those that moved it, and each `held`
    update that an import would take otherwise at the date the export gives the meeting
    there (`_replayed_otherwise`), which counts as moved to the date it had then."""
    moving = [step for step in steps if step.moved]
    while True:
        other = next((step for index, step in enumerate(steps) if step not in moving
                      and _replayed_otherwise(step, _exported_date(steps, moving, index))),
                     None)
        if other is None:
            return [step.event_id for step in moving]
        moving = [step for step in steps if step in moving or step is other]


def _exported_date(steps: list[DateStep], moving: list[DateStep], index: int) -> str:
    """The date an export gives a meeting before its step `index`: before its first moving
    update, the date before it (its row's); between two, the date the later finds (an
    amendment between them comes right after the earlier), unless the later gives `to`
    (which undoes it): then the date the earlier gave; after the last, the date it has
    now (an amendment after the last comes right after it)."""
    earlier = [step for step in moving if steps.index(step) < index]
    if not earlier:
        return moving[0].before if moving else steps[-1].after
    if len(earlier) == len(moving):
        return steps[-1].after
    later = moving[len(earlier)]
    return earlier[-1].after if "to" in (later.update or {}) else later.before


def _replayed_otherwise(step: DateStep, date: str) -> bool:
    """Whether an update that did not move a meeting would be replayed otherwise on the
    meeting dated `date` instead of the date it had: `held` with no `to` would be
    refused on a date after today (with a `--date` or not), or, with a `--date`, would
    move a meeting whose date it falls within (`model.narrows`)."""
    update = step.update
    if update is None or update.get("status") != "held" or "to" in update:
        return False
    refused = model.not_yet(date) and not model.not_yet(step.before)
    return refused or ("date" in update and model.narrows(update["date"], date))


def split_list(cell: str) -> list[str]:
    """A CSV cell of several values: `JPN; KAZ` -> ["JPN", "KAZ"] (`\\;` keeps a `;`)."""
    return model.split_items(cell, ";")


def join_list(items: list[str]) -> str:
    """The CSV cell for several values: the inverse of `split_list`."""
    return model.join_items(items, ";")


def parse_flag_cell(column: str, cell: str) -> bool:
    value = cell.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise TrackerError(f"invalid {column} {shown(cell)}: use yes or no")


def to_csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, list):
        return join_list(value)
    return "" if value is None else str(value)
