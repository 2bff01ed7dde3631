"""Upcasting: old versions of an event's data schema mapped to the current one.

An event keeps the `schema` it was written with forever (the log is never edited).
When the data of an event type changes shape, bump `envelope.SCHEMA`, and register
here a function that maps an event of the old version to the next one. Replay and
`tracker verify` upcast every event before using it, so old logs keep projecting.
The fixture log in tests/fixtures/ (today's schema) checks that they do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .envelope import SCHEMA
from .errors import TrackerError

Event = dict[str, Any]

# (event type, schema version) -> function returning the event at version + 1.
UPCASTERS: dict[tuple[str, int], Callable[[Event], Event]] = {}


def can_upcast(event_type: str, schema: int) -> bool:
    """Whether an event of this type and version can be brought to the current version."""
    while schema < SCHEMA:
        if (event_type, schema) not in UPCASTERS:
            return False
        schema += 1
    return schema == SCHEMA


def upcast(event: Event) -> Event:
    """The event in the current schema version (the same object if it already is).
    TrackerError if this tracker cannot read its version: a newer one (a later tracker
    wrote it), or an old one without its upcaster."""
    schema = event["schema"]
    if schema == SCHEMA:
        return event
    if schema > SCHEMA:
        raise TrackerError(f"event {event['id']} has schema version {schema}, newer than "
                           f"this tracker reads ({SCHEMA}): upgrade tracker")
    if not can_upcast(event["type"], schema):
        raise TrackerError(f"event {event['id']} has unknown schema version {schema} of "
                           f"{event['type']}; run tracker verify")
    while event["schema"] < SCHEMA:
        step = UPCASTERS[(event["type"], event["schema"])]
        event = {**step(event), "schema": event["schema"] + 1}
    return event
