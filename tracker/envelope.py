"""The event envelope: canonical JSON, content hash, parsing one log line."""

from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import datetime, timezone
from typing import Any

import orjson

from .errors import Invalid, TrackerError, shown

SCHEMA = 1
ENVELOPE_FIELDS = (
    "data", "hash", "id", "recorded_at", "recorded_by",
    "schema", "seq", "subject", "type", "writer",
)
HASH_KEY = b',"hash":"'
HASH_END = len(HASH_KEY) + 64  # after the key, where the hash's closing quote is
ULID_PATTERN = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
WRITER_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
TIMESTAMP_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


class BadLine(ValueError):
    """A log line that is not a well-formed event; the message says why."""


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(milliseconds: int | None = None) -> str:
    """A new ULID: 48 bits of Unix milliseconds, then 80 random bits, in Crockford base32.

    (python-ulid does the same, but importing it costs a third of `tracker add`'s start.)
    """
    if milliseconds is None:
        milliseconds = time.time_ns() // 1_000_000
    value = (milliseconds << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def id_milliseconds(event_id: str) -> int:
    """The Unix milliseconds in the time part (first 10 characters) of a ULID."""
    value = 0
    for character in event_id[:10]:
        value = value * 32 + CROCKFORD.index(character)
    return value


def canonical(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes that are hashed and written."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def content_hash(fields: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of every envelope field but `hash`."""
    return hashlib.sha256(canonical({k: v for k, v in fields.items() if k != "hash"})).hexdigest()


def payload_digest(event: dict[str, Any]) -> str:
    """A digest of what an event says, leaving out when, by whom and where it was
    written: two copies with the same digest are the same event (a retry in another
    clone), two with different ones are two events under one id."""
    payload = {key: event[key] for key in ("type", "schema", "subject", "data")}
    return hashlib.sha256(canonical(payload)).hexdigest()


def seal(fields: dict[str, Any]) -> bytes:
    """The complete log line (with its hash and final newline) for an envelope."""
    return canonical({**fields, "hash": content_hash(fields)}) + b"\n"


def now() -> str:
    return format_timestamp(datetime.now(timezone.utc))


def format_timestamp(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)  # the year in 4 digits, as %Y is not before 1000
    return f"{moment.year:04d}{moment:-%m-%dT%H:%M:%S.%fZ}"


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def line_hash_ok(line: bytes) -> bool:
    """Whether a canonical line's stored hash matches its content, without re-serialising.

    In a canonical line `"hash"` is the only top-level key between `data` and `id`, and no
    string can hold an unescaped quote, so cutting `,"hash":"<64 hex>"` out of the bytes
    gives exactly the canonical JSON that was hashed.
    """
    body = line[:-1] if line.endswith(b"\n") else line
    at = body.rfind(HASH_KEY)
    if at < 0 or body[at + HASH_END : at + HASH_END + 1] != b'"':
        return False
    stored = body[at + len(HASH_KEY) : at + HASH_END]
    content = body[:at] + body[at + HASH_END + 1 :]
    return hashlib.sha256(content).hexdigest().encode() == stored


def id_in(body: bytes) -> str:
    """The event id in a line, even a damaged one, for messages; "(unreadable id)" if none."""
    text = body.decode("utf-8", "replace")
    at = text.rfind(',"id":"')  # the envelope's: after the data, strings only follow
    match = (ULID_PATTERN.match(text, at + 7) if at >= 0
             else ULID_PATTERN.search(text.partition('"id":"')[2]))
    return match.group() if match else "(unreadable id)"


def _not_json(line: bytes, error: orjson.JSONDecodeError) -> BadLine:
    """Why a line is not JSON: an empty line (made by hand: no append writes one), or
    what the parser says."""
    if not line.strip():
        return BadLine("an empty line, which no append writes: delete it")
    return BadLine(f"not valid JSON ({error.args[0].split(':')[0]})")


def parse_line(line: bytes) -> dict[str, Any]:
    """Parse and check one log line: JSON object, envelope fields and types, hash."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise _not_json(line, error) from None
    if not isinstance(event, dict):
        raise BadLine("not a JSON object")
    check_envelope(event)
    body = line[:-1] if line.endswith(b"\n") else line
    try:
        written = canonical(event)
    except TypeError:  # JSON nested deeper than tracker writes (orjson: 254 levels)
        raise BadLine("nested too deeply") from None
    if written != body:
        raise BadLine("not in canonical form (hash, keys or spacing altered)")
    if not line_hash_ok(body):
        raise BadLine("hash does not match content")
    return event


def parse_hashed(line: bytes) -> dict[str, Any]:
    """Parse one log line and check its hash, and that it has the envelope's fields, each
    of its type: the fast path of replay, where `tracker verify` does the full checks.
    Tampering still shows: the hash covers every byte."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise _not_json(line, error) from None
    if not line_hash_ok(line):
        raise BadLine("hash does not match content")
    if not shaped(event):
        raise BadLine(_shape_problem(event))
    return event


def shaped(event: Any) -> bool:
    """Whether parsed JSON has the envelope's fields, each of its type (`_SHAPE`, written
    out: twice as fast as a loop over it), as every reader of events relies on."""
    return (type(event) is dict and event.keys() == _FIELD_SET
            and type(event["data"]) is dict and type(event["seq"]) is int
            and type(event["recorded_at"]) is str and type(event["writer"]) is str
            and type(event["id"]) is str and type(event["type"]) is str
            and type(event["subject"]) is str and type(event["schema"]) is int
            and type(event["recorded_by"]) is str and type(event["hash"]) is str)


def moment(recorded_at: str) -> datetime | None:
    """The moment a `recorded_at` names, written as tracker writes one; None if it names
    none, or is written otherwise (a line that `tracker verify` refuses)."""
    if type(recorded_at) is not str or not TIMESTAMP_PATTERN.fullmatch(recorded_at):
        return None
    try:
        return parse_timestamp(recorded_at)
    except ValueError:  # such as 2026-11-31, or 25:61
        return None


HASH_PATTERN = re.compile(r"[0-9a-f]{64}")
_FIELD_SET = frozenset(ENVELOPE_FIELDS)
# The type of each envelope field, which readers rely on (`parse_hashed` checks it;
# `check_envelope` checks the values too).
_SHAPE = {"data": dict, "hash": str, "id": str, "recorded_at": str, "recorded_by": str,
          "schema": int, "seq": int, "subject": str, "type": str, "writer": str}
_FIELD_CHECKS = (
    ("id", lambda v: type(v) is str and ULID_PATTERN.fullmatch(v) is not None),
    ("type", lambda v: type(v) is str),
    ("schema", lambda v: type(v) is int and v >= 1),
    ("subject", lambda v: type(v) is str and 0 < len(v) <= 64),
    ("recorded_at", lambda v: moment(v) is not None),
    ("recorded_by", lambda v: type(v) is str and len(v) <= 200),
    ("writer", lambda v: type(v) is str and WRITER_PATTERN.fullmatch(v) is not None),
    ("seq", lambda v: type(v) is int and v >= 1),
    ("data", lambda v: type(v) is dict),
    ("hash", lambda v: type(v) is str and HASH_PATTERN.fullmatch(v) is not None),
)


def _fields_problem(event: dict[str, Any]) -> str | None:
    """Which envelope field an event lacks, or has that it should not; None if neither."""
    if event.keys() == _FIELD_SET:
        return None
    missing = [key for key in ENVELOPE_FIELDS if key not in event]
    if missing:
        return f"missing field {missing[0]!r}"
    return f"unknown field {sorted(set(event) - _FIELD_SET)[0]!r}"


def _shape_problem(event: Any) -> str:
    """Why a parsed line is not shaped as an event (`parse_hashed` found it is not)."""
    if type(event) is not dict:
        return "not a JSON object"
    problem = _fields_problem(event)
    if problem:
        return problem
    name = next(name for name in ENVELOPE_FIELDS if type(event[name]) is not _SHAPE[name])
    return f"bad {name} {shown(event[name], 100)}"  # (test_every_envelope_field_is_typed)


def check_envelope(event: dict[str, Any]) -> None:
    problem = _fields_problem(event)
    if problem:
        raise BadLine(problem)
    for name, ok in _FIELD_CHECKS:
        if not ok(event[name]):
            if name == "id":
                raise BadLine(f"id {shown(event['id'], 100)} is not a ULID")
            raise BadLine(f"bad {name} {shown(event[name], 100)}")


def since_moment(text: str, name: str = "--since") -> str:
    """The first moment `--since TEXT` includes, as a recorded_at timestamp: the start of
    a date (YYYY, YYYY-MM or YYYY-MM-DD, UTC), or a time as `--as-of` takes it. Messages
    call the value `name`."""
    from .dates import parse_date

    value = str(text).strip()
    try:
        if not {"T", " ", "/"} & set(value):  # a date (else a time, or refused)
            return f"{parse_date(value).start}T00:00:00.000000Z"
        return format_timestamp(_instant(value))
    except (TrackerError, ValueError, OverflowError):  # Overflow: as in `as_of_moment`
        why = _no_such_moment(value) or ("use a date (YYYY, YYYY-MM or YYYY-MM-DD) or a "
                                         "time (YYYY-MM-DDTHH:MM:SSZ)")
        raise TrackerError(f"invalid {name} {shown(value)}: {why}") from None


# A date, or a day and a time, as far as its shape goes (not its numbers).
_MOMENT_SHAPE = re.compile(r"([0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?)"
                           r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?")


def _no_such_moment(value: str) -> str | None:
    """Why a value shaped as a date or a time names none, as dates say it ("no month 13",
    "2026-02 has 28 days", "no hour 25"); None if it is not so shaped."""
    from .dates import parse_date

    shape = _MOMENT_SHAPE.match(value)
    if not shape:
        return None
    try:
        parse_date(shape[1])
    except Invalid as error:
        return error.reason
    for unit, number, last in zip(("hour", "minute", "second"), shape.groups()[1:],
                                  (23, 59, 59), strict=True):
        if number is not None and int(number) > last:
            return f"no {unit} {number}"
    time = _TIME.fullmatch(value)
    if time and not _real_offset(time):
        return (f"no UTC offset {time['offset']} (offsets run from -12:00 to +14:00, "
                "with minutes up to 59)")
    return None


def _real_offset(time: re.Match) -> bool:
    """Whether a time's UTC offset, if any, is one a clock can have: minutes up to 59, and
    from -12:00 to +14:00 (Python reads +05:60 as +06:00 unsaid)."""
    if time["offset"] in (None, "Z"):
        return True
    hours, minutes = int(time["hours"]), int(time["minutes"] or 0)
    reach = 14 if time["offset"][0] == "+" else 12
    return minutes <= 59 and hours * 60 + minutes <= reach * 60


# A day and a time in ISO 8601's extended form, with an optional Z or UTC offset: the
# only times the options take (Python also reads 20260605 or 2026-W23-5 as a midnight).
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
                   r"(?P<offset>Z|[+-](?P<hours>[0-9]{2})(?::?(?P<minutes>[0-9]{2}))?)?")


def _instant(value: str) -> datetime:
    """A time as ISO 8601 writes it, with an optional Z or UTC offset (else UTC)."""
    time = _TIME.fullmatch(value)
    if not time or not _real_offset(time):
        raise ValueError(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def as_of_moment(text: str) -> str:
    """The last moment `--as-of TEXT` includes, as a recorded_at timestamp.

    A date (YYYY-MM-DD) means the end of that day, UTC; a time (YYYY-MM-DDTHH:MM[:SS[.f]]
    with an optional Z or UTC offset) means that instant; times without offset are UTC.
    """
    value = str(text).strip()
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            moment = datetime.fromisoformat(value + "T23:59:59.999999+00:00")
        else:
            moment = _instant(value)
        return format_timestamp(moment)
    except (ValueError, OverflowError):  # OverflowError: a time zone moves it out of range
        day = re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)  # as --as-of takes them
        why = (day and _no_such_moment(value)) or "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
        raise TrackerError(f"invalid --as-of {shown(value)}: {why}") from None
