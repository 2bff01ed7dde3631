"""The rows of `tracker import` and `tracker export`: kinds, columns and cell encodings.

A row is one event: a record (format, meeting, announcement, pledge), a status `update`
or a `citation`. Columns are named as the CLI options (`participant`, `at`, `source`).
In CSV, a multi-valued cell separates its items with `;` (`\\;` is a literal semicolon)
and a flag is `yes` or empty; in JSON Lines they are arrays and booleans.
"""

from __future__ import annotations

from typing import Any

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


def moved_status(amended: str | None, rescheduled: str) -> str:
    """The status of the update row that carries a date amended after a meeting's last
    reschedule: the amendment's, if a reschedule can give it, else the reschedule's."""
    return amended if amended in model.RESCHEDULING else rescheduled


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
