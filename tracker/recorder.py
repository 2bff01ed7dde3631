"""Append a validated draft to the log: references, causal timestamps, idempotent retry."""

from __future__ import annotations

import getpass
import os
from contextlib import ExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import envelope
from .errors import TrackerError, listed, shown
from .log import EventLog
from .model import (
    AMENDED,
    RECORDED,
    RETRACTED,
    SOURCE_ADDED,
    SOURCE_WITHDRAWN,
    STATUS_CHANGED,
    STATUSES,
    Draft,
    Text,
    parse_id,
    pledged_off_its_meeting,
    reference_given,
    refuse_unchanged_status,
    refuse_unpublished_source,
    update_warnings,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .catalog import Catalog, Subject


USER_LIMIT = 200  # characters of recorded_by
USER = Text("user", USER_LIMIT, name="TRACKER_USER")  # one line, like any option's text


def recorded_by() -> str:
    """Who is recording: `TRACKER_USER`, else the login name."""
    name = os.environ.get("TRACKER_USER")
    if name:
        return USER(name)
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return name[:USER_LIMIT]


def after(timestamp: str) -> str | None:
    """The next representable moment after a timestamp; None if it is not one (a line
    that `tracker verify` refuses), or is the last."""
    moment = envelope.moment(timestamp)
    try:
        return envelope.format_timestamp(moment + timedelta(microseconds=1)) if moment else None
    except OverflowError:
        return None


def first_time(floors: Iterable[str]) -> str:
    """When to record an event that must sort after these moments: now, or just after
    the latest of them."""
    return max([envelope.now(), *filter(None, map(after, floors))])


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two events say the same thing (a retry), whenever and by whom recorded."""
    return all(a[key] == b[key] for key in ("type", "schema", "subject", "data"))


def record(log: EventLog, draft: Draft,
           event_id: str | None = None) -> tuple[dict[str, Any], str | None]:
    """Append the draft as one event; return it and None, or, if the event of that id is
    in the log already with the same content (a retry), that event and what to say of it
    (`retried`).

    The event sorts after every event it refers to, so replay order is causal even when
    clocks of different writers disagree.
    """
    event_id = parse_id(event_id) if event_id is not None else None  # "" is no id
    by = recorded_by()
    is_new_record = draft.type.endswith(".recorded")
    if not log.root.is_dir():
        _refuse_before_the_first_event(log, draft)
    with ExitStack() as stack, log.session() as appender:
        floor = [appender.last_recorded_at] if appender.last_recorded_at else []
        if draft.references or draft.subject or event_id:
            from .catalog import USED_UNREAD, Catalog

            catalog = stack.enter_context(Catalog.scan(log))
            if event_id and (existing := catalog.event(event_id)) is not None:
                candidate = {"type": draft.type, "schema": envelope.SCHEMA,
                             "subject": draft.subject or event_id, "data": draft.data}
                if same_content(existing, candidate):
                    return existing, retried(catalog, existing)
                raise TrackerError(f"id {event_id} is already used by another event")
            if event_id and catalog.held_unread(event_id):
                raise TrackerError(USED_UNREAD.format(event_id))
            for wanted, reference in draft.references:
                found = catalog.require(wanted, reference, reference_given(draft.type, wanted))
                floor.append(found.latest)
                if draft.type == RECORDED["pledge"] and wanted == "meeting":
                    draft.warnings += pledged_off_its_meeting(draft.data["date"], reference,
                                                              found.date)
            if draft.subject and is_new_record and (taken := already(catalog, draft.subject)):
                raise TrackerError(taken)
            if draft.subject and not is_new_record:
                found = catalog.require("record", draft.subject)
                floor.append(found.latest)
                if draft.type in STATUS_CHANGED.values():
                    standing = catalog.standing(draft.subject, found.kind)
                    refuse_unchanged_status(found.kind, draft.subject, draft.data, standing,
                                            found.date)
                    draft.warnings.extend(update_warnings(standing, draft.data))
                _keep_references_whole(catalog, draft)
                _refuse_a_second_withdrawal(catalog, draft)
                _refuse_a_second_citation(catalog, draft)
        refuse_unpublished_source(draft.data)  # after the retry check: a retry stands
        new_id = event_id or envelope.new_id()
        event = appender.write({
            "id": new_id,
            "type": draft.type,
            "schema": envelope.SCHEMA,
            "subject": draft.subject or new_id,
            "recorded_at": first_time(floor),
            "recorded_by": by,
            "data": draft.data,
        })
        return event, None


def retried(catalog: Catalog, event: dict[str, Any]) -> str:
    """What a retry of this event did (appended nothing) and whether the record it made,
    or is about, is retracted now (but by that event itself)."""
    found = catalog.subjects.get(event["subject"])
    if found is None or not found.retracted or event["type"] == RETRACTED:
        return "nothing appended"
    if event["type"].endswith(".recorded"):
        return "nothing appended; it was retracted since"
    return f"nothing appended; {event['subject']} is retracted"


def already(catalog: Catalog, subject: str) -> str | None:
    """Why a new record cannot have this subject (a format's slug), or None if it can."""
    taken = catalog.subjects.get(subject)
    if taken is None:
        return None
    return f"{shown(subject)} already exists" + (
        " (retracted: its slug is not used again)" if taken.retracted else "")


def _keep_references_whole(catalog: Catalog, draft: Draft) -> None:
    """Refuse to retract a record that others still refer to, or to amend a record into
    referring to one that refers back to it: either would leave records (and an export)
    pointing at nothing, or at each other in a loop."""
    if draft.type == RETRACTED and (referrers := catalog.referrers(draft.subject)):
        named = listed([f"{kind} {subject}" for kind, subject in referrers])
        them = "it" if len(referrers) == 1 else "them"
        raise TrackerError(f"{draft.subject} is still referred to by {named}: "
                           f"amend or retract {them} first")
    if draft.type == AMENDED:
        for _wanted, reference in draft.references:
            if catalog.leads_to(reference, draft.subject):
                direct = draft.subject in catalog.refs_of(reference)
                raise TrackerError(f"{draft.subject} cannot refer to {reference}: "
                                   f"{reference} refers to {draft.subject}"
                                   f"{'' if direct else ' through other records'}")


def _refuse_before_the_first_event(log: EventLog, draft: Draft) -> None:
    """Before the log's folder exists, what the session would refuse is refused before
    it makes the folder, its lock and its writer's files: a reference (`--format`,
    `--at`, `--about`), which can name nothing yet, and a source published after today
    (no retry can stand: nothing was recorded)."""
    if draft.references:
        from .catalog import Catalog

        with Catalog.scan(log) as catalog:
            for wanted, reference in draft.references:
                catalog.require(wanted, reference, reference_given(draft.type, wanted))
    refuse_unpublished_source(draft.data)


def _refuse_a_second_withdrawal(catalog: Catalog, draft: Draft) -> None:
    """Refuse to withdraw a source that was withdrawn already."""
    if draft.type == SOURCE_WITHDRAWN and \
            draft.data["event"] in catalog.withdrawn_sources(draft.subject):
        raise TrackerError(f"the source that {draft.data['event']} gave was withdrawn "
                           "already")


def _refuse_a_second_citation(catalog: Catalog, draft: Draft) -> None:
    """Refuse to cite a source the record has already, exactly as given: a second row
    in the sources table would add nothing but a count."""
    if draft.type == SOURCE_ADDED and (
            given := catalog.citing(draft.subject, draft.data["source"])):
        how = ("was recorded with this very source" if given == draft.subject
               else f"has this very source already (from {given})")
        raise TrackerError(f"{draft.subject} {how}: nothing to add")


# The events whose sources `tracker uncite` withdraws: those that add a source to a
# record. The source a record was made with, or an update, is the evidence of that
# event itself, and stays with it (an export gives each record with its own source).
WITHDRAWABLE = (SOURCE_ADDED, AMENDED)


def find_source(log: EventLog, event_id: str, retry_of: str | None = None) -> str:
    """The record whose source the event `event_id` gave, for `tracker uncite`; the
    record must stand (with `retry_of`: or have stood before that event)."""
    from .catalog import Catalog

    with Catalog.scan(log) as catalog:
        event = catalog.event(event_id)
        if event is None:
            raise TrackerError(f"unknown event id {shown(event_id)}")
        kind, _, action = event["type"].partition(".")
        if action == "recorded":
            raise TrackerError(f"event {event_id} recorded the {kind} {event['subject']}: "
                               "the source it was recorded with stays with it (if that "
                               "source is wrong, retract the record and record it again)")
        if event["type"] in STATUS_CHANGED.values():
            raise TrackerError(f"event {event_id} is a status update: its source is the "
                               "evidence of the update, and stays with it (if the update "
                               "was wrong, amend the status)")
        if event["type"] not in WITHDRAWABLE or \
                not isinstance(event["data"].get("source"), dict):
            raise TrackerError(f"event {event_id} ({event['type']}) gives no source to "
                               "withdraw: give the id of a citation (tracker cite), or of "
                               "an amendment with a --source")
        _found(catalog, event["subject"], retry_of=retry_of)
    return event["subject"]


def find_subject(log: EventLog, subject: str, with_data: bool = False,
                 with_status: bool = False, retry_of: str | None = None) -> Subject:
    """An existing record that was not retracted, for commands that name one.

    With `with_data`, its current data (as recorded, then amended) is read too; with
    `with_status`, a meeting's or pledge's status (after its updates), its updates' data
    and a pledge's amount disbursed. With `retry_of` (an `--id`) naming an event about the record
    already in the log, the record as it stood before that event (retracted since, if
    that event retracted it): a retry is then checked against what was asked the first
    time.
    """
    from .catalog import Catalog

    with Catalog.scan(log) as catalog:
        return _found(catalog, subject, with_data, with_status, retry_of)


def _found(catalog: Catalog, subject: str, with_data: bool = False,
           with_status: bool = False, retry_of: str | None = None) -> Subject:
    """`find_subject` in a catalog already open."""
    before = retry_of if retry_of and _about(catalog.event(retry_of), subject) else None
    found = catalog.subjects.get(subject) if before else None
    if found is None:
        found = catalog.require("record", subject)
    if with_data:
        found.data = catalog.data_of(subject, before)
    if with_status and found.kind in STATUSES:
        found.status, found.disbursed = catalog.status_of(subject, found.kind, before)
        found.updates = [data for _id, data in catalog.updates(subject, found.kind, before)]
    return found


def _about(event: dict[str, Any] | None, subject: str) -> bool:
    return event is not None and event["subject"] == subject and \
        not event["type"].endswith(".recorded")
