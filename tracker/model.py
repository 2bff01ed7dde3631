"""Records, their fields and validation: user input in, normalised event data out.

Each kind of record declares its fields once. A field is named as its CLI option
(`participant`), stored under its data key (`participants`), parsed from user text
and checked again, in its stored form, by `tracker verify`.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .actors import (
    all_actors,
    is_actor,
    out_of_tender,
    parse_actor,
    parse_actors,
    parse_currency,
    parse_new_currency,
)
from .dates import PRECISIONS, parse_date
from .envelope import ULID_PATTERN
from .errors import Invalid, TrackerError, a_or_an, shown

if TYPE_CHECKING:
    from .places import Place

KINDS = ("format", "meeting", "announcement", "pledge")
RECORDED = {kind: f"{kind}.recorded" for kind in KINDS}
STATUS_CHANGED = {"meeting": "meeting.status_changed", "pledge": "pledge.status_changed"}
SOURCE_ADDED = "source.added"
SOURCE_WITHDRAWN = "source.withdrawn"
AMENDED = "record.amended"
RETRACTED = "record.retracted"
EVENT_TYPES = (*RECORDED.values(), *STATUS_CHANGED.values(), SOURCE_ADDED, SOURCE_WITHDRAWN,
               AMENDED, RETRACTED)
# Corrections: they give a source only if one shows the correction (`optional_source`).
CORRECTIONS = (SOURCE_WITHDRAWN, AMENDED, RETRACTED)
# What comes before the dot of a type: a kind of record, "source" or "record".
EVENT_KINDS = tuple(dict.fromkeys(event_type.partition(".")[0] for event_type in EVENT_TYPES))

STATUSES = {
    "meeting": ("scheduled", "held", "postponed", "cancelled"),
    "pledge": ("pledged", "disbursed", "fulfilled", "withdrawn"),
}


def recorded_status(kind: str, data: dict[str, Any]) -> str:
    """The status a meeting's or pledge's data gives it: its own, else its kind's first
    (a pledge is recorded without one: it is pledged)."""
    return data.get("status", STATUSES[kind][0])


LEVELS = ("summit", "ministerial", "senior-officials", "ambassadorial", "working")
MODES = ("in-person", "virtual", "hybrid")
INSTRUMENTS = ("grant", "loan", "investment", "technical-assistance", "in-kind", "other")

MAX_ITEMS = 500
MAX_AMOUNT_DIGITS = 15  # exact as a number in SQLite, as well as in the text
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_RULE = "2-64 lower-case letters and digits, in words joined by single '-'"
CROCKFORD = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
AMOUNT = re.compile(r"([0-9]{1,3}(?:([,_])[0-9]{3})(?:\2[0-9]{3})*|[0-9]+)(?:\.([0-9]+))?")
# Control characters, DEL, C1 controls, line/paragraph separators and lone surrogates.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


# A command a message suggests: "(tracker places Springfield --country USA lists them)",
# its words quoted as a shell takes them. Its options stay as written where a message's
# options are named otherwise (as the columns of `tracker import`).
COMMAND_HINT = re.compile(r"""\(tracker (?:'[^']*'|"[^"]*"|[^()'"])*\)""")


def command_hint(*words: str) -> str:
    """A tracker command, as a message suggests it (see `COMMAND_HINT`)."""
    return f"tracker {shlex.join(words)}"


# -- parsers for single values ----------------------------------------------------


_FORBIDDEN_ANY = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Refused in new text too: the noncharacters U+FFFE and U+FFFF, which XML 1.0 forbids
# (an Atom feed could not carry them); the others (U+FDD0-U+FDEF, U+1FFFE, ...) XML
# allows. Not a check of stored events: earlier versions took them, and their logs stay
# valid (the site's feed puts U+FFFD in their place).
_NOT_XML = "\ufffe\uffff"
_REFUSED = re.compile(_FORBIDDEN.pattern[:-1] + _NOT_XML + "]")
_REFUSED_ANY = re.compile(_FORBIDDEN_ANY.pattern[:-1] + _NOT_XML + "]")

# The statuses `tracker add meeting --status` takes (the others come with `update`).
MEETING_ADD_STATUSES = ("scheduled", "held")


class Text:
    """A parser for free text: stripped, not empty, no control characters, bounded.

    `valid(value)` says, quickly, whether a stored value is already what parsing gives,
    or gave in earlier versions (a noncharacter U+FFFE or U+FFFF: see `_NOT_XML`).
    """

    def __init__(self, option: str, limit: int, multiline: bool = False,
                 name: str | None = None):
        self.option, self.limit = option, limit
        self.name = name or f"--{option}"  # as messages say it
        self.forbidden = _FORBIDDEN if multiline else _FORBIDDEN_ANY  # in stored text
        self.refused = _REFUSED if multiline else _REFUSED_ANY  # in new text

    def __call__(self, value: Any) -> str:
        name = self.name
        value = str(value).strip()
        bad = self.refused.search(value)  # first: a byte of bad UTF-8 is no blank
        if bad:
            raise Invalid(name, value, forbidden_character(bad.group()))
        if not value or all(unicodedata.category(ch)[0] in "CZ" for ch in value):
            raise Invalid(name, value, "empty", "empty {what}")
        if len(value) > self.limit:
            raise Invalid(name, value, f"too long: {len(value)} characters, at most "
                          f"{self.limit}", "{what} {reason} ({short})")
        return value

    def valid(self, value: Any) -> bool:
        return (type(value) is str and 0 < len(value) <= self.limit and value.strip() == value
                and self.forbidden.search(value) is None
                and (unicodedata.category(value[0])[0] not in "CZ"
                     or not all(unicodedata.category(ch)[0] in "CZ" for ch in value)))


def forbidden_character(character: str) -> str:
    """What a character refused in text is, for messages: a byte of invalid UTF-8 (which
    arrives as a surrogate U+DC80-U+DCFF), a lone surrogate, a separator, a control or a
    noncharacter that XML forbids."""
    code = ord(character)
    if character in _NOT_XML:
        return f"noncharacter U+{code:04X} (XML forbids it)"
    if 0xDC80 <= code <= 0xDCFF:
        return f"invalid UTF-8 (byte 0x{code - 0xDC00:02X})"
    if 0xD800 <= code <= 0xDFFF:
        return f"lone surrogate U+{code:04X}"
    if code in (0x2028, 0x2029):
        return f"{unicodedata.name(character).lower()} U+{code:04X}"
    return f"control character U+{code:04X}"


def text(option: str, limit: int, multiline: bool = False) -> Text:
    return Text(option, limit, multiline)


def parse_slug(value: Any) -> str:
    value = str(value).strip()
    if not (2 <= len(value) <= 64 and SLUG.fullmatch(value)):
        raise Invalid("format slug", value, f"use {SLUG_RULE}")
    return value


def parse_new_slug(value: Any) -> str:
    """The slug of a new format: also not one that reads as a ULID, as ids are read in
    any case (it could never be named again). Not a check of stored events: earlier
    versions took such a slug, and its log stays valid."""
    value = parse_slug(value)
    if ULID_PATTERN.fullmatch(value.upper()):
        raise TrackerError(f"invalid format slug {shown(value)}: it reads as a record id "
                           "(a ULID)")
    return value


def parse_id(value: Any) -> str:
    """A record or event id: a ULID (case-insensitive)."""
    text_value = str(value).strip().upper()
    if not ULID_PATTERN.fullmatch(text_value):
        raise Invalid("id", value, not_a_ulid(text_value))
    return text_value


def not_a_ulid(value: str) -> str:
    """Why text (upper-cased) is not a ULID, for messages."""
    if len(value) != 26:
        return "expected a 26-character ULID"
    bad = next((ch for ch in value if ch not in CROCKFORD), None)
    if bad is not None:
        return (f"not a ULID: {shown(bad)} is not a Crockford base32 digit "
                "(0-9 and A-Z without I, L, O, U)")
    return "not a ULID: its first character must be 0-7"


def parse_reference(value: Any) -> str:
    """A record id, or a format slug."""
    value = str(value).strip()
    if ULID_PATTERN.fullmatch(value.upper()):
        return value.upper()
    if 2 <= len(value) <= 64 and SLUG.fullmatch(value):
        return value
    if len(value) == 26 and value.isascii() and value.isalnum():
        reason = not_a_ulid(value.upper())  # meant as an id: say what is wrong with it
    else:
        reason = ("use a record id (a 26-character ULID) or a format slug "
                  f"({SLUG_RULE})")
    raise Invalid("id or format slug", value, reason)


def parse_amount(value: Any, option: str = "amount") -> str:
    """A strictly positive exact decimal, as canonical text ("2000000000", "1.5")."""
    raw = str(value).strip()
    match = AMOUNT.fullmatch(raw)
    if not match:
        raise Invalid(f"--{option}", value, "use digits with an optional decimal point")
    whole = match[1].replace(",", "").replace("_", "").lstrip("0")
    fraction = (match[3] or "").rstrip("0")
    if not whole and not fraction:
        raise Invalid(f"--{option}", value, "must be greater than zero")
    if len((whole + fraction).lstrip("0")) > MAX_AMOUNT_DIGITS:
        raise Invalid(f"--{option}", value,
                      f"more than {MAX_AMOUNT_DIGITS} significant digits")
    if len(fraction) > MAX_AMOUNT_DIGITS:  # 0.0000000000000001: what the sums keep exactly
        raise Invalid(f"--{option}", value, f"more than {MAX_AMOUNT_DIGITS} decimal places")
    return (whole or "0") + (f".{fraction}" if fraction else "")


# An amount as a reader of European figures writes a thousands-grouped one ("1.000",
# "2.500"): one to three digits, a point, three digits, no other grouping.
POINT_AS_THOUSANDS = re.compile(r"[1-9][0-9]{0,2}\.[0-9]{3}")


def point_as_thousands(value: Any, given: str = "--amount ") -> list[str]:
    """A warning when an amount may mean thousands grouped with a point ("1.000" for a
    thousand), which tracker reads as a decimal point; `given` is how the value was
    given, before it ("--amount ", "--set amount=")."""
    text_value = str(value).strip()
    if not POINT_AS_THOUSANDS.fullmatch(text_value):
        return []
    whole = text_value.replace(".", "")
    return [f"{given}{text_value} is read as {parse_amount(text_value)} (a point is a decimal "
            f"point; {whole} is written {whole} or {text_value.replace('.', ',')})"]


def parse_date_text(value: Any) -> str:
    return parse_date(str(value).strip()).text


class Choice:
    """A parser for one of a few words (case-insensitive); `valid` checks a stored one."""

    def __init__(self, option: str, allowed: Iterable[str]):
        self.option, self.allowed = option, tuple(allowed)
        self.words = frozenset(self.allowed)

    def __call__(self, value: Any) -> str:
        value = str(value).strip().lower()
        if value not in self.words:
            raise Invalid(f"--{self.option}", value, f"use one of {', '.join(self.allowed)}")
        return value

    def valid(self, value: Any) -> bool:
        return type(value) is str and value in self.words


def choice(option: str, allowed: Iterable[str]) -> Choice:
    return Choice(option, allowed)


OFFICIAL_TEXT = text("official", 200)
SOURCE_TEXT = text("source", 2000)
CITY_TEXT = text("city", 200)


class GeoNamesId:
    """The parser of `--geonameid`: a GeoNames id, a whole number; `valid` checks a stored
    one (any 64-bit integer, as `tracker verify` has always taken)."""

    def __call__(self, value: Any) -> int:
        digits = str(value).strip()
        if not (digits.isascii() and digits.isdigit()) or not 0 < int(digits) < 2**63:
            raise Invalid("--geonameid", value,
                          "use a GeoNames id, a whole number such as 4409896")
        return int(digits)

    def valid(self, value: Any) -> bool:
        return type(value) is int and -(2**63) <= value < 2**63


parse_geonameid = GeoNamesId()


def parse_official(value: Any) -> dict[str, str]:
    """ACTOR:NAME[:TITLE] -> {"actor", "name", "title"?}."""
    parts = str(value).split(":", 2)
    if len(parts) < 2 or not parts[1].strip():
        raise Invalid("--official", value, "use ACTOR:NAME or ACTOR:NAME:TITLE")
    try:
        actor = parse_actor(parts[0])
    except TrackerError as error:
        raise Invalid("--official", value, str(error)) from None
    official = {"actor": actor, "name": OFFICIAL_TEXT(parts[1])}
    if len(parts) == 3 and parts[2].strip():
        official["title"] = OFFICIAL_TEXT(parts[2])
    return official


def is_valid(parse: Callable[[Any], Any], value: Any) -> bool:
    """Whether a stored value is already in the form its parser gives."""
    fast = getattr(parse, "valid", None)
    if fast is not None:
        return fast(value)
    if type(value) is str:
        return _valid_text_value(parse, value)
    return _valid(parse, value)


def _valid(parse: Callable[[Any], Any], value: Any) -> bool:
    try:
        return parse(value) == value
    except (TrackerError, TypeError, ValueError):
        return False


@lru_cache(maxsize=65536)
def _valid_text_value(parse: Callable[[Any], Any], value: str) -> bool:
    """is_valid for text values, which repeat (dates, codes, amounts): remembered."""
    return _valid(parse, value)


# -- field declarations -------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    option: str  # CLI option and amend name: "participant"
    key: str  # key in the event data: "participants"
    parse: Callable[[Any], Any]
    many: bool = False
    required: bool = False
    refers: str | None = None  # "format", "meeting" or "record": what a value must exist as

    @cached_property
    def check(self) -> Callable[[Any], bool]:
        """Whether a stored value is valid for this field (compiled once)."""
        one = self.check_item
        if not self.many:
            return one
        return lambda value: (type(value) is list and 0 < len(value) <= MAX_ITEMS
                              and all(map(one, value)))

    @cached_property
    def check_item(self) -> Callable[[Any], bool]:
        """Whether one stored value (one item, if the field repeats) is valid."""
        if self.parse is parse_actor:
            return is_actor
        if self.parse is parse_official:
            return lambda value: (
                type(value) is dict
                and value.keys() <= {"actor", "name", "title"}
                and is_actor(value.get("actor"))
                and all(OFFICIAL_TEXT.valid(value[k]) for k in value if k != "actor")
            )
        if self.parse is parse_flag:
            return lambda value: value is True
        fast = getattr(self.parse, "valid", None)
        if fast is not None:
            return fast
        parse = self.parse
        if parse in (parse_id, parse_reference):  # record ids, each seen once or twice:
            # a ULID is already as parsing gives it (not remembered, unlike dates or codes)
            return lambda value: type(value) is str and (
                ULID_PATTERN.fullmatch(value) is not None or _valid_text_value(parse, value))
        return lambda value: type(value) is str and _valid_text_value(parse, value)


def parse_flag(value: Any) -> bool:
    return True


def actor_field(option: str, key: str, **kwargs: Any) -> Field:
    return Field(option, key, parse_actor, **kwargs)


SOURCE_FIELDS = (
    Field("publisher", "publisher", text("publisher", 200)),
    Field("published", "published", parse_date_text),
    Field("quote", "quote", text("quote", 5000, multiline=True)),
)

COMMON = {
    "title": Field("title", "title", text("title", 300), required=True),
    "date": Field("date", "date", parse_date_text, required=True),
    "topic": Field("topic", "topics", text("topic", 100), many=True),
    "summary": Field("summary", "summary", text("summary", 20000, multiline=True)),
}

FIELDS: dict[str, tuple[Field, ...]] = {
    "format": (
        Field("name", "name", text("name", 200), required=True),
        actor_field("member", "members", many=True),
        Field("launched", "launched", parse_date_text),
        COMMON["summary"],
    ),
    "meeting": (
        COMMON["title"],
        COMMON["date"],
        Field("status", "status", choice("status", MEETING_ADD_STATUSES)),
        Field("format", "format", parse_slug, refers="format"),
        Field("level", "level", choice("level", LEVELS)),
        Field("mode", "mode", choice("mode", MODES)),
        Field("city", "city", CITY_TEXT),
        actor_field("country", "country"),
        Field("geonameid", "geonameid", parse_geonameid),
        actor_field("participant", "participants", many=True),
        actor_field("chair", "chair"),
        Field("official", "officials", parse_official, many=True),
        COMMON["topic"],
        COMMON["summary"],
    ),
    "announcement": (
        COMMON["title"],
        COMMON["date"],
        actor_field("by", "by", required=True),
        Field("about", "about", parse_reference, many=True, refers="record"),
        COMMON["topic"],
        COMMON["summary"],
    ),
    "pledge": (
        COMMON["title"],
        COMMON["date"],
        actor_field("donor", "donor", required=True),
        actor_field("recipient", "recipients", many=True, required=True),
        Field("amount", "amount", parse_amount, required=True),
        Field("currency", "currency", parse_currency, required=True),
        Field("approximate", "approximate", parse_flag),
        Field("instrument", "instrument", choice("instrument", INSTRUMENTS)),
        Field("purpose", "purpose", text("purpose", 2000, multiline=True)),
        Field("at", "meeting_id", parse_id, refers="meeting"),
    ),
}

# Data keys no option sets directly: resolved from --city, --country and --geonameid.
DERIVED_KEYS = {"meeting": ("city_as_given", "latitude", "longitude")}
# The options that give a meeting's place, and the keys of the place they give.
PLACE_OPTIONS = ("city", "country", "geonameid")
PLACE_KEYS = ("city", "city_as_given", "geonameid", "latitude", "longitude")

SPECS = {kind: {spec.key: spec for spec in specs} for kind, specs in FIELDS.items()}
REFERRING = {kind: tuple(spec for spec in specs if spec.refers) for kind, specs in FIELDS.items()}
# The fields an amendment's changes may refer through (each key names one field).
CHANGED_REFERENCES = tuple(spec for specs in REFERRING.values() for spec in specs)
# The option of each kind of reference: "format" -> "format", "meeting" -> "at", ...
REFERENCE_OPTIONS = {spec.refers: spec.option for spec in CHANGED_REFERENCES}
# The keys every recorded record holds: its required options, and a meeting's status
# (`tracker add` gives one by its date when none is given).
REQUIRED_KEYS = {kind: tuple(spec.key for spec in specs if spec.required)
                 + (("status",) if kind == "meeting" else ()) for kind, specs in FIELDS.items()}

UPDATE_FIELDS = (
    Field("date", "date", parse_date_text),
    Field("amount", "amount", parse_amount),
    Field("note", "note", text("note", 2000, multiline=True)),
)
# A meeting's update may also move it: the date it is now set for (rescheduled), or the
# day it was held on.
RESCHEDULED_TO = Field("to", "to", parse_date_text)
UPDATE_FIELDS_OF = {"meeting": (*UPDATE_FIELDS, RESCHEDULED_TO), "pledge": UPDATE_FIELDS}
# The statuses a meeting can be rescheduled with.
RESCHEDULING = ("scheduled", "postponed")
# The statuses that take `--to`: a meeting rescheduled, or held on another day than set.
MOVING = (*RESCHEDULING, "held")
# The status a pledge is revised with: `--status pledged --amount` is its new amount (with
# `--status disbursed`, `--amount` is the cumulative amount disbursed).
REVISING = "pledged"


def update_changes(data: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """What an update (its data) changes in its record's data as it stands, as an
    amendment's changes: a meeting's with `to`, its date; a meeting's held on a `--date`
    within its date and more precise (a day of its month), that date; a pledge's revision
    (`--status pledged --amount`), its amount. The projection, the catalog and the checks
    of updates apply it alike."""
    if "to" in data:
        return {"date": data["to"]}
    if is_revision(data):
        return {"amount": data["amount"]}
    if may_move(data) and narrows(data["date"], record.get("date")):
        return {"date": data["date"]}
    return {}


def may_move(data: dict[str, Any]) -> bool:
    """Whether a meeting's update (its data) may change the meeting's date, whatever that
    is (`update_changes`): it gives `to`, or it is held on a `--date`."""
    return "to" in data or (data.get("status") == "held" and "date" in data)


def narrows(date: Any, within: Any) -> bool:
    """Whether a date falls within another and is more precise (2024-05-14 in 2024-05,
    2024-05 in 2024); False for a value that is not a date (a line `tracker verify`
    refuses)."""
    try:
        inner, outer = parse_date(date), parse_date(within)
    except Invalid:
        return False
    return outer.start <= inner.start and inner.end <= outer.end and \
        PRECISIONS.index(inner.precision) > PRECISIONS.index(outer.precision)


def is_revision(data: dict[str, Any]) -> bool:
    """Whether an update's data revises a pledge: a new amount pledged."""
    return data.get("status") == REVISING and "amount" in data


def disbursed_by(data: dict[str, Any]) -> str | None:
    """The cumulative amount disbursed that an update's data gives, if any (every `--amount`
    but a revision's)."""
    return None if is_revision(data) else data.get("amount")


# -- drafts: what a command asks to append -------------------------------------------


@dataclass
class Draft:
    """Event data ready to append, the references that must exist, and warnings."""

    type: str
    data: dict[str, Any]
    subject: str | None = None  # None: a new record whose id is the event id
    references: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_option(spec: Field, value: Any) -> Any:
    """The value of an option parsed by its field; a value refused is named by the option
    (`invalid --published '17-Sept': ...`, not `invalid date '17-Sept'`)."""
    try:
        return spec.parse(value)
    except Invalid as error:
        raise error.named(f"--{spec.option}") from None


def _present(value: Any) -> bool:
    return value not in (None, "", (), [], False)


def parse_source(options: dict[str, Any]) -> dict[str, str]:
    """`--source` (a URL or a citation) with `--publisher`, `--published`, `--quote`."""
    raw = options.get("source")
    if not _present(raw):
        raise TrackerError("missing --source: every record needs a URL or citation")
    value = SOURCE_TEXT(raw)
    if re.match(r"(?i)https?:", value):
        try:
            host = urlsplit(value).netloc
        except ValueError:  # brackets around no IPv6 address: "http://[::1", "https://[zz]/"
            host = ""
        if not host or " " in value:
            raise TrackerError(f"invalid --source URL {shown(value)}")
        source = {"url": value}
    else:
        source = {"citation": value}
    for spec in SOURCE_FIELDS:
        if _present(options.get(spec.option)):
            source[spec.key] = parse_option(spec, options[spec.option])
    return source


def refuse_unpublished_source(data: dict[str, Any]) -> None:
    """Refuse to record now a source published after today. (Only when recording: an
    import takes the events of another log as they were recorded.)"""
    published = (data.get("source") or {}).get("published")
    if published and not_yet(published):
        raise TrackerError(f"--published {published} is after today: a source is cited "
                           "once published")


def optional_source(options: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{"source": ...} if `--source` is given, else {}; refused if only its details are
    (a quote or a publisher with no source would be lost)."""
    if _present(options.get("source")):
        return {"source": parse_source(options)}
    for spec in SOURCE_FIELDS:
        if _present(options.get(spec.option)):
            raise TrackerError(f"--{spec.option} needs --source: the source it belongs to")
    return {}


def _parse_fields(kind: str, options: dict[str, Any]) -> tuple[dict[str, Any], list]:
    data: dict[str, Any] = {}
    references = []
    for spec in FIELDS[kind]:
        raw = options.get(spec.option)
        if not _present(raw):
            if spec.required:
                raise TrackerError(f"missing --{spec.option}")
            continue
        if spec.parse is parse_actor and spec.many:
            value: Any = parse_actors(raw)
        elif spec.many:
            value = []
            for item in raw:
                if spec.parse is parse_official and type(item) is str:
                    item = unescaped_item(item)  # `\,` a comma in a name or title
                parsed = parse_option(spec, item)
                if parsed not in value:
                    value.append(parsed)
        else:
            value = parse_option(spec, raw)
        if spec.many and not value:
            raise TrackerError(f"empty --{spec.option}")
        if spec.many and len(value) > MAX_ITEMS:
            raise TrackerError(f"too many --{spec.option}: {len(value)}, at most {MAX_ITEMS}")
        data[spec.key] = value
        if spec.refers:
            for item in value if spec.many else [value]:
                references.append((spec.refers, item))
    return data, references


def today() -> str:
    """Today's date in UTC, ISO format."""
    return datetime.now(timezone.utc).date().isoformat()


EARLIEST_ZONE = timezone(timedelta(hours=14))  # the first to reach a date (Kiribati)


def latest_today() -> str:
    """Today's date where the day is furthest on: the latest date anywhere on Earth."""
    return datetime.now(EARLIEST_ZONE).date().isoformat()


def not_yet(date_text: str) -> bool:
    """Whether a date starts after today everywhere on Earth: nothing can have been
    published, or have happened, then."""
    return parse_date(date_text).start > latest_today()


def draft_record(kind: str, options: dict[str, Any]) -> Draft:
    """Validate the options of `tracker add KIND` into a `KIND.recorded` draft."""
    draft = _record_fields(kind, options)
    if kind == "pledge":
        parse_new_currency(draft.data["currency"])
        draft.warnings += currency_of_another_time(draft.data)
    draft.data["source"] = parse_source(options)
    return draft


def currency_of_another_time(data: dict[str, Any], amending: bool = False) -> list[str]:
    """A warning when a pledge is in a retired currency (HRK, DEM) on a date when it was
    no country's legal tender: the currency or the date is likely wrong."""
    span = parse_date(data["date"])
    when = out_of_tender(data["currency"], span.start, span.end)
    if when is None:
        return []
    return [f"{option_given('currency', data['currency'], amending)} {when}, not on a day "
            f"of {data['date']}: check the currency or the date"]


def _record_fields(kind: str, options: dict[str, Any], amending: bool = False) -> Draft:
    """The fields of a record (no source yet), checked by the rules of `tracker add`;
    `amending`: its warnings name options as `tracker amend` takes them."""
    data, references = _parse_fields(kind, options)
    warnings: list[str] = []
    subject = None
    if kind == "format":
        subject = parse_new_slug(options.get("slug", ""))
    elif kind == "meeting":
        warnings += _settle_meeting(data, today(), amending)
    elif kind == "pledge":
        if data["donor"] in data["recipients"]:
            raise TrackerError(f"--donor {data['donor']} is also a --recipient")
        warnings += point_as_thousands(options["amount"])
    if kind in MADE and not_yet(data["date"]):
        raise TrackerError(f"{option_given('date', data['date'], amending)} is after today: "
                           f"{a_or_an(kind)} records what was {MADE[kind]}")
    return Draft(RECORDED[kind], data, subject, references, warnings)


# What an announcement or a pledge records: something done by its date, never to come.
MADE = {"announcement": "said", "pledge": "pledged"}


def pledged_off_its_meeting(date: str, meeting: str, meeting_date: str | None) -> list[str]:
    """A warning when a pledge made at a meeting (`--at`) is dated on none of the days
    the meeting's date can mean."""
    if not meeting_date:
        return []
    pledged, held = parse_date(date), parse_date(meeting_date)
    if pledged.end >= held.start and pledged.start <= held.end:
        return []
    return [f"--date {date} is not within {meeting_date}, the date of the meeting it was "
            f"pledged at (--at {meeting}): a pledge made at a meeting is dated as it is"]


def default_meeting_status(date_text: str, now: str) -> str:
    """The status of a meeting recorded without one: held once its date has passed."""
    return "held" if parse_date(date_text).end < now else "scheduled"


def _settle_meeting(data: dict[str, Any], now: str, amending: bool = False) -> list[str]:
    """Place, participants and default status of a meeting; returns warnings."""
    if "status" not in data:
        data["status"] = default_meeting_status(data["date"], now)
    elif data["status"] == "held" and not_yet(data["date"]):
        raise TrackerError(f"--status held for a meeting dated {data['date']}, after today")
    if "country" in data:
        _refuse_unless_a_state(data["country"])
    participants = data.get("participants", [])
    for code in _taking_part_by_role(data):
        if code not in participants:
            participants.append(code)
    if participants:
        data["participants"] = participants
    return _settle_place(data, amending) if data.keys() & {"city", "geonameid"} else []


def _taking_part_by_role(data: dict[str, Any]) -> list[str]:
    """The actors a meeting has among its participants by their role: its chair, and the
    actor of each official."""
    chair = [data["chair"]] if data.get("chair") else []
    return chair + [official["actor"] for official in data.get("officials", ())]


def _settle_place(data: dict[str, Any], amending: bool = False) -> list[str]:
    """The place of a meeting from its `--city` and `--country`, or its `--geonameid`:
    its name, GeoNames id and coordinates; returns warnings (naming the options of
    `tracker amend` when `amending`)."""
    from . import places

    given = (f"--city {shown(data['city'])}" if "city" in data
             else f"--geonameid {data['geonameid']}")
    country = data.get("country")
    if country is None:
        raise TrackerError(f"{given} needs --country")
    alpha_2 = all_actors()[country].alpha_2
    warnings = []
    if "geonameid" in data:
        place = places.city_by_id(data["geonameid"], alpha_2)
        if place is None:
            raise TrackerError(f"--geonameid {data['geonameid']} is not a city of {country} "
                               "in GeoNames (cities of 1000 people or more, and capitals)")
        if "city" in data and not places.names_place(data["city"], place, alpha_2):
            raise TrackerError(f"--city {shown(data['city'])} does not name --geonameid "
                               f"{data['geonameid']}, {place.described()}: give one of its "
                               "names, or leave --city out")
    else:
        place = places.find_city(data["city"], alpha_2)
        if place is None:
            return [f"city {shown(data['city'])} not found in {country}: recorded without "
                    "coordinates"]
        others = places.namesakes(data["city"], alpha_2)
        if others:
            warnings.append(
                f"city {shown(data['city'])} names {len(others) + 1} places in {country}: "
                f"recorded as {place.described()}"
                f"{', the largest' if place.population >= others[0].population else ''}; "
                f"to choose another, give its {option_taken('geonameid', amending)} "
                f"({command_hint('places', data['city'], '--country', country)} lists them)")
    city = data.setdefault("city", place.name)
    if place.name == unicodedata.normalize("NFC", city):
        data["city"] = place.name  # the same name, perhaps typed with its accents apart
    else:
        warnings.append(f"city {shown(city)} recorded as {place.name} (GeoNames "
                        f"{place.geonameid}); the name given is kept in city_as_given")
        data["city_as_given"] = city
        data["city"] = place.name
    data.update(geonameid=place.geonameid, latitude=place.latitude, longitude=place.longitude)
    return warnings


def _refuse_unless_a_state(country: str) -> None:
    """A meeting's `--country` (an actor's code) is a state."""
    if all_actors()[country].kind != "state":
        raise TrackerError(f"--country {country} is not a state")


def places_a_city_may_mean(city: str, country: str) -> list[Place]:
    """`tracker places NAME --country ACTOR`: the places `--city NAME --country ACTOR`
    may mean, the one it gives first."""
    code = parse_actor(country)
    _refuse_unless_a_state(code)
    from . import places

    try:
        name = CITY_TEXT(city)
    except Invalid as error:
        raise error.named("NAME") from None
    found = places.places_named(name, all_actors()[code].alpha_2)
    if not found:
        raise TrackerError(f"city {shown(city)} not found in {code}")
    return list(found)


def draft_update(
    kind: str, subject: str, options: dict[str, Any], record_date: str | None = None,
) -> Draft:
    """Validate `tracker update ID --status ...` for a record of `kind` dated `record_date`.
    Its warnings depend on the record as it stands: `update_warnings` gives them."""
    if kind not in STATUSES:
        raise TrackerError(f"{subject} is {a_or_an(kind)}, which has no status")
    status = str(options.get("status") or "").strip().lower()
    if status not in STATUSES[kind]:
        raise TrackerError(
            f"invalid --status {shown(status)} for {a_or_an(kind)}: "
            f"use one of {', '.join(STATUSES[kind])}"
        )
    data: dict[str, Any] = {"status": status}
    if _present(options.get(RESCHEDULED_TO.option)) and status not in MOVING:
        raise TrackerError(f"--to {shown(options[RESCHEDULED_TO.option])} (a new date) goes "
                           f"with a meeting's --status {', '.join(MOVING[:-1])} or "
                           f"{MOVING[-1]}")
    for spec in UPDATE_FIELDS_OF[kind]:
        if _present(options.get(spec.option)):
            data[spec.key] = parse_option(spec, options[spec.option])
    if status == "disbursed" and "amount" not in data:
        raise TrackerError("--status disbursed needs --amount (the cumulative amount disbursed)")
    if "amount" in data and status not in ("disbursed", REVISING):
        raise TrackerError(f"--amount {data['amount']} only goes with --status disbursed (the "
                           f"cumulative amount disbursed) or {REVISING} (a pledge revised)")
    if "date" in data and not_yet(data["date"]):
        raise TrackerError(f"--date {data['date']} is after today: an update records what "
                           "has happened")
    if status == "held" and "to" in data and not_yet(data["to"]):
        raise TrackerError(f"--status held with --to {data['to']}, after today")
    if status == "held" and "to" not in data and record_date and not_yet(record_date):
        raise TrackerError(f"--status held for a meeting dated {record_date}, after today")
    data["source"] = parse_source(options)
    warnings = point_as_thousands(options["amount"]) if "amount" in data else []
    return Draft(STATUS_CHANGED[kind], data, subject, warnings=warnings)


@dataclass(frozen=True)
class Standing:
    """A meeting or pledge as an update finds it: its data (as recorded, then amended and
    rescheduled), its status, and the cumulative amount disbursed so far (a pledge's
    latest `--amount`, whatever its status since; None if none was recorded)."""

    kind: str
    data: dict[str, Any]
    status: str | None
    disbursed: str | None = None

    def after(self, update: dict[str, Any]) -> Standing:
        """The record as an update's data leaves it."""
        disbursed = disbursed_by(update)
        return Standing(self.kind, apply_changes(self.data, update_changes(update, self.data)),
                        update["status"], self.disbursed if disbursed is None else disbursed)


def update_warnings(standing: Standing, update: dict[str, Any]) -> list[str]:
    """The warnings of an update (its data) of a record as it stands: the one place of
    the warnings of `tracker update` and `tracker import` alike. Each is about what is
    recorded all the same, as it happens in the world, rarely."""
    kind, status = standing.kind, update["status"]
    date = update.get(RESCHEDULED_TO.key, standing.data.get("date"))  # held on `--to`
    record_date = date if type(date) is str else None
    held_on_another_day = kind == "meeting" and RESCHEDULED_TO.key not in update
    warnings = _dated_before_the_record(kind, update, record_date,
                                        hint=HELD_ON_ANOTHER_DAY if held_on_another_day else "")
    if held_on_another_day:
        warnings += _held_off_the_meeting(update, record_date)
    elif kind == "meeting" and standing.status != "postponed":  # put off the first time:
        warnings += _put_off_to_earlier(update, standing.data.get("date"))  # from its date
    if kind == "pledge" and status == "disbursed" and "amount" in update:
        warnings += more_than_pledged(f"--amount {update['amount']}", update["amount"],
                                      standing.data)
    warnings += lower_disbursement(update, standing.disbursed)
    if kind == "pledge" and is_revision(update):
        warnings += _revised_below_disbursed(update["amount"], standing)
        warnings += _revised_after_an_end(update["amount"], standing.status)
    else:
        warnings += _after_an_end(kind, standing.status, status)
    if kind == "pledge" and status == "fulfilled":
        warnings += _fulfilled_in_part(standing)
    return warnings


# What cannot come before the date of its record: a meeting held, a pledge disbursed,
# fulfilled or withdrawn (a meeting may be postponed or cancelled before its date).
NOT_BEFORE_THE_RECORD = frozenset({"held", "disbursed", "fulfilled", "withdrawn"})


def _dated_before_the_record(kind: str, update: dict[str, Any], record_date: str | None,
                             amended: bool = False, hint: str = "") -> list[str]:
    """A warning when an update's --date is before every day its record's date can mean
    (an update of a status in NOT_BEFORE_THE_RECORD, or a pledge's revision): the
    record's date is likely wrong (amend it), or the update's (`hint`: what else to do).
    `amended`: the record's date is an amendment's (`--set date=`), the update recorded
    before."""
    status, date = update.get("status"), update.get("date")
    if type(date) is not str or not record_date or \
            (status not in NOT_BEFORE_THE_RECORD and not is_revision(update)):
        return []
    if parse_date(date).end >= parse_date(record_date).start:
        return []
    update = f"--status {status} --date {date}"
    if amended:
        return [f"--set date={record_date} is after the {kind}'s update {update}: if that "
                f"is its date, the {kind}'s date is wrong"]
    return [f"{update} is before the {kind}'s date {record_date}: "
            f"if the {kind}'s date is wrong, amend it{hint}"]


# What a warning of a meeting held on a `--date` outside its date suggests.
HELD_ON_ANOTHER_DAY = "; if it was held on another day than set, record that day as --to"


def _put_off_to_earlier(update: dict[str, Any], date: Any) -> list[str]:
    """A warning when a meeting is postponed to a date before every day its date can
    mean: put off means later (brought forward is `--status scheduled --to`). Once
    postponed, its date is the one it was put off to: a new one may come before it (put
    off to September, then to June, of a meeting set for May)."""
    to = update[RESCHEDULED_TO.key]
    if update["status"] != "postponed" or type(date) is not str \
            or parse_date(to).end >= parse_date(date).start:
        return []
    return [f"--status postponed --to {to} is before the meeting's date {date}: a meeting "
            "postponed is put off to a later date (one brought forward is --status "
            "scheduled --to DATE)"]


def _held_off_the_meeting(update: dict[str, Any], record_date: str | None) -> list[str]:
    """A warning when a meeting is held (with no `--to`) on a `--date` that does not date
    it: after every day its date can mean, across its bounds, or within it but no more
    precise (a day of its days 2024-05-10/2024-05-20). A date before it is
    `_dated_before_the_record`'s; one more precise within it dates the meeting."""
    date = update.get("date")
    if update["status"] != "held" or type(date) is not str or not record_date \
            or narrows(date, record_date):
        return []
    held, meeting = parse_date(date), parse_date(record_date)
    if held.end < meeting.start or (held.start <= meeting.start and meeting.end <= held.end):
        return []  # before it (warned of elsewhere), or holding it (its date, or a wider one)
    if held.start > meeting.end:
        where = "after"
    elif meeting.start <= held.start and held.end <= meeting.end:
        where = "within, but no more precise than,"
    else:
        where = "not within"
    return [f"--status held --date {date} is {where} the meeting's date {record_date}, "
            f"which stays as set{HELD_ON_ANOTHER_DAY}"]


def refuse_unchanged_status(kind: str, subject: str, data: dict[str, Any],
                            standing: Standing, date: str | None = None) -> None:
    """Refuse a status update that records nothing new: a `--to` that is the meeting's
    `date` already; or the record already has that status (and, for a disbursement, that
    cumulative amount disbursed; for a revision, that amount pledged), and the update
    gives no `--date`, `--note` or `--to` (a meeting postponed again, to a new date, is
    news)."""
    if date is not None and data.get(RESCHEDULED_TO.key) == date:
        raise TrackerError(f"--to {shown(date)} is the {kind}'s date already: "
                           "give its new date, or leave --to out")
    status = standing.status
    if data["status"] != status or data.keys() & {"date", "note", "to"}:
        return
    amount = standing.disbursed if status == "disbursed" else standing.data.get("amount")
    if "amount" in data and data["amount"] != amount:
        return  # more disbursed (or less: the cumulative amount was corrected), or revised
    given = f" with --amount {amount}" if "amount" in data or status == "disbursed" else ""
    raise TrackerError(f"{kind} {subject} is already {status}{given}")


def _less(smaller: Any, larger: Any) -> bool:
    """Whether both are amounts (as tracker stores them) and the first is the smaller."""
    return is_valid(parse_amount, smaller) and is_valid(parse_amount, larger) and \
        Decimal(smaller) < Decimal(larger)


def more_than_pledged(named: str, amount: str, pledge: dict[str, Any]) -> list[str]:
    """A warning when an amount disbursed (`named` as the message says it) is more than
    the pledge's amount: a pledge can be exceeded, but more often it is a slip."""
    pledged = pledge.get("amount")
    if not _less(pledged, amount):
        return []
    return [f"{named} is more than the {pledged} {pledge.get('currency', '')} pledged"]


# A status after which another is rare in the world: what it ends, and what it is.
ENDS = {"pledge": ("withdrawn", ("disbursed", "fulfilled"), "paid after all"),
        "meeting": ("cancelled", ("held",), "held after all")}


def _after_an_end(kind: str, before: str | None, status: str) -> list[str]:
    """A warning when a pledge withdrawn is then disbursed or fulfilled, or a meeting
    cancelled is then held."""
    end, rare, what = ENDS[kind]
    if before != end or status not in rare:
        return []
    return [f"--status {status} after the {kind} was {end}: a {kind} {end} is rarely "
            f"{what}; check that it was {end}"]


# The statuses after which a pledge is rarely revised: it ended.
REVISED_RARELY_AFTER = ("fulfilled", "withdrawn")


def _revised_after_an_end(amount: str, before: str | None) -> list[str]:
    """A warning when a pledge fulfilled or withdrawn is then revised (as when it is
    disbursed after it was withdrawn): its end is more often wrong."""
    if before not in REVISED_RARELY_AFTER:
        return []
    return [f"--status {REVISING} --amount {amount} after the pledge was {before}: a pledge "
            f"{before} is rarely revised; check that it was {before}"]


def _revised_below_disbursed(amount: str, pledge: Standing) -> list[str]:
    """A warning when a pledge is revised to less than was disbursed of it already."""
    if not _less(amount, pledge.disbursed):
        return []
    return [f"--amount {amount} is less than the {pledge.disbursed} "
            f"{pledge.data.get('currency', '')} disbursed already: a pledge revised is "
            "rarely cut below what was paid"]


def _fulfilled_in_part(pledge: Standing) -> list[str]:
    """A warning when a pledge is fulfilled with less of it disbursed than was pledged."""
    pledged, disbursed = pledge.data.get("amount"), pledge.disbursed
    if not _less(disbursed, pledged):
        return []
    return [f"--status fulfilled with {disbursed} of the {pledged} "
            f"{pledge.data.get('currency', '')} pledged disbursed: if more was disbursed, "
            "record the cumulative amount with --status disbursed"]


def lower_disbursement(data: dict[str, Any], disbursed: str | None) -> list[str]:
    """A warning when `--amount` is less than the amount disbursed before: it is the
    cumulative amount, so a new payment is added to what was disbursed (a correction of
    the cumulative amount is lower, and recorded)."""
    amount = data.get("amount")
    if data.get("status") != "disbursed" or not _less(amount, disbursed):
        return []
    return [f"--amount {amount} is less than the {disbursed} disbursed before: --amount is "
            "the cumulative amount disbursed so far, not the new payment"]


def draft_citation(subject: str, options: dict[str, Any]) -> Draft:
    """Validate `tracker cite ID --source ...`."""
    return Draft(SOURCE_ADDED, {"source": parse_source(options)}, subject)


# -- corrections: amend and retract -------------------------------------------------

REASON = text("reason", 2000)
FLAG_WORDS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def record_options(kind: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    """The `tracker add` options that record `data`: the inverse of `draft_record`."""
    options: dict[str, Any] = {"slug": subject} if kind == "format" else {}
    for spec in FIELDS[kind]:
        if spec.key not in data:
            continue
        value = data[spec.key]
        if spec.parse is parse_official and type(value) is list:
            value = tuple(map(official_given, value))
        elif spec.many:
            value = tuple(value) if type(value) is list else (value,)
        options[spec.option] = value
    if "city_as_given" in data:
        options["city"] = data["city_as_given"]
    return options


def option_taken(option: str, amending: bool) -> str:
    """An option as the command takes it, for messages: "--at", or in an amendment
    "--set at="."""
    return f"--set {option}=" if amending else f"--{option}"


def option_given(option: str, value: str, amending: bool) -> str:
    """An option with its value, for messages: "--date 2099", or in an amendment
    "--set date=2099"."""
    return f"--set {option}={value}" if amending else f"--{option} {value}"


def reference_given(draft_type: str, wanted: str) -> str:
    """How a draft's reference to a `wanted` was given, for messages: "--at", or in an
    amendment "--set at="."""
    return option_taken(REFERENCE_OPTIONS[wanted], draft_type == AMENDED)


def referred_ids(kind: str, data: dict[str, Any]) -> list[str]:
    """The records that a record's stored data refers to: its format, its meeting, what
    it is about (values that are not text are left out)."""
    return list(dict.fromkeys(item for _, item in _references_in(REFERRING.get(kind, ()), data)))


def changed_references(changes: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind wanted, subject) of what an amendment's changes refer to (a value that is not
    text refers to nothing: the checks of its field refuse it)."""
    return list(_references_in(CHANGED_REFERENCES, changes))


def _references_in(specs: tuple[Field, ...], data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind wanted, subject) of each text value of these referring fields in `data`."""
    for spec in specs:
        value = data.get(spec.key)
        for item in value if spec.many and isinstance(value, list) else [value]:
            if isinstance(item, str):
                yield spec.refers, item


def without_source(data: dict[str, Any]) -> dict[str, Any]:
    """Record data without its source (sources are kept apart, one row each)."""
    data = dict(data)
    data.pop("source", None)
    return data


def effective_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """An amendment's changes as they apply. A status of None changes nothing: a pledge
    amended to a status and amended again got one from versions before 2026-11-23, which
    meant to leave its status as it was."""
    if "status" in changes and changes["status"] is None:
        return {key: value for key, value in changes.items() if key != "status"}
    return changes


def apply_changes(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Record data after an amendment: changed keys replaced, keys set to None removed."""
    merged = {**data, **effective_changes(changes)}
    return {key: value for key, value in merged.items() if value is not None}


def _assign(kind: str, options: dict[str, Any], assignment: str, seen: dict[str, str]) -> str:
    """Apply one `--set FIELD=VALUE` to add-options; return the field name. `seen` holds
    the fields set so far and their values: a field of one value given another is refused,
    as the CLI refuses an option of one value given twice (the same value is no repeat)."""
    name, equals, value = str(assignment).partition("=")
    name = name.strip()
    specs = {spec.option: spec for spec in FIELDS[kind]}
    if not equals:
        raise TrackerError(f"invalid --set {shown(assignment)}: use FIELD=VALUE")
    if name not in specs and not (name == "status" and kind in STATUSES):
        allowed = ", ".join(dict.fromkeys([*specs, *(["status"] if kind in STATUSES else [])]))
        raise TrackerError(f"unknown field {shown(name)} for {a_or_an(kind)}: use one of {allowed}")
    spec = specs.get(name)
    if name in seen and (spec is None or not spec.many):
        if seen[name] == value.strip():
            return name
        raise TrackerError(f"--set {name}= given twice, as {shown(seen[name], 200)}, then "
                           f"{shown(value.strip(), 200)}: give {name} one value")
    if not value.strip():
        if spec is None or spec.required:  # a status is required too
            raise TrackerError(f"--set {name}= cannot clear the required field {name}")
        options.pop(name, None)
    elif spec is not None and spec.parse is parse_flag:
        if value.strip().lower() not in FLAG_WORDS:
            raise TrackerError(f"invalid --set {shown(assignment)}: use {name}=yes or {name}=no")
        options[name] = FLAG_WORDS[value.strip().lower()]
    elif spec is not None and spec.many:
        options[name] = (options.get(name, ()) if name in seen else ()) + _items(spec, value)
    else:
        options[name] = value
    seen[name] = value.strip()
    return name


def _items(spec: Field, value: str) -> tuple[str, ...]:
    """The items of one `--set` of a repeatable field, as its `add` option takes them:
    actors split at commas as `parse_actors` splits them (a name with a comma, such as
    "Korea, Republic of", stays whole); an official whole, one per `--set` as one per
    `--official` (a comma before what reads as another ACTOR: is refused: a name or a
    title, or a second official?); topics and ids at each comma not written `\\,`."""
    if spec.parse is parse_actor:
        return (value,)
    if spec.parse is parse_official:
        for part in UNESCAPED_COMMA.split(value)[1:]:
            if _actor_led(part):
                raise TrackerError(
                    f"invalid --set official={value}: is {shown(part.strip())} another "
                    "official? Give each official in its own --set official=, and write "
                    "\\, for a comma in a name or title")
        return (value,)  # read as `--official` is (`_parse_fields`)
    return tuple(item for item in split_items(value, ",") if item.strip())


UNESCAPED_COMMA = re.compile(r"(?<!\\),")
ESCAPED_IN_ITEM = re.compile(r"\\([\\,])")


def unescaped_item(text: str) -> str:
    """An official as `--official` and `--set official=` take it, read back: `\\,` a
    comma, `\\\\` a backslash (as `join_items` writes them, and `tracker show` shows)."""
    return ESCAPED_IN_ITEM.sub(r"\1", text)


def _actor_led(text: str) -> bool:
    """Whether text starts as `--official ACTOR:NAME` does."""
    head, colon, _rest = text.partition(":")
    if not colon:
        return False
    try:
        parse_actor(head)
    except TrackerError:
        return False
    return True


def split_items(text: str, separator: str) -> list[str]:
    """Text of several items, stripped: `a, b` -> ["a", "b"] with separator ","; a
    backslash keeps a separator (or a backslash) in an item."""
    if "\\" not in text:
        return [item.strip() for item in text.split(separator) if item.strip()]
    items, current, escaped = [], [], False
    for character in text:
        if escaped:
            current.append(character if character in ("\\", separator) else "\\" + character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == separator:
            items.append("".join(current))
            current = []
        else:
            current.append(character)
    items.append("".join(current) + ("\\" if escaped else ""))
    return [item.strip() for item in items if item.strip()]


def join_items(items: Iterable[Any], separator: str, space: str = " ") -> str:
    """The inverse of `split_items`: items joined by separator and a space (or `space`)."""
    return (separator + space).join(
        str(item).replace("\\", "\\\\").replace(separator, "\\" + separator) for item in items)


def official_option(official: Any) -> Any:
    """`--official ACTOR:NAME[:TITLE]` of a stored official (one not stored as tracker
    writes them, as it is: its parsing then names it)."""
    if type(official) is not dict or not all(
            type(official.get(key, "")) is str for key in ("actor", "name", "title")):
        return official
    return ":".join(filter(None, map(official.get, ("actor", "name", "title"))))


def official_given(official: Any) -> Any:
    """An official as `--official` takes it: `official_option` with a comma in its name
    or title written `\\,` (and a backslash `\\\\`)."""
    option = official_option(official)
    return join_items([option], ",") if type(option) is str else option


def draft_amendment(
    kind: str, subject: str, current: dict[str, Any], assignments: Iterable[str],
    options: dict[str, Any], current_status: str | None = None,
    disbursed: str | None = None, updates: Iterable[dict[str, Any]] = (),
) -> Draft:
    """Validate `tracker amend ID --set FIELD=VALUE... --reason TEXT [--source ...]`.

    The amended record is validated whole, by the rules of `tracker add`. A status is
    changed only when `--set status=` gives one other than `current_status` (the status
    after its updates; by default, the one in its data). A pledge's amount or currency
    amended is checked with the amount `disbursed` so far, and a date with the dates of
    its `updates` (their data) (warnings).
    """
    assignments = list(assignments)
    if not assignments:
        raise TrackerError("missing --set FIELD=VALUE: say what to change")
    reason = REASON(options.get("reason") or "")
    problem = _check_fields(kind, current, amending=True)  # a status too, if amended
    if problem:
        raise TrackerError(f"{subject} holds what tracker does not write ({problem}): "
                           "run tracker verify")
    merged = record_options(kind, subject, current)
    if kind == "meeting" and current_status is not None:
        merged["status"] = current_status  # checked as it is now, after its updates
    given: dict[str, str] = {}
    for assignment in assignments:
        _assign(kind, merged, assignment, given)
    seen = set(given)
    kept_place = kind == "meeting" and _amended_place(current, merged, seen)
    status = merged.pop("status", None)
    if status is not None:
        status = str(status).strip().lower()
        if status not in STATUSES.get(kind, ()):
            raise TrackerError(f"invalid --set status={shown(status)}: use one of "
                               f"{', '.join(STATUSES[kind])}")
        if kind == "meeting" and status in MEETING_ADD_STATUSES:
            merged["status"] = status
    try:
        if kind == "meeting":
            _refuse_held_to_come(merged, seen)
        draft = _record_fields(kind, merged, amending=True)
        if kind == "pledge" and draft.data["currency"] != current.get("currency"):
            parse_new_currency(draft.data["currency"])
    except Invalid as error:  # named as given: `--set date=`, not `--date`
        name = error.what.removeprefix("--")
        if name not in seen:
            raise
        raise TrackerError(f"invalid --set {name}={shown(error.value)}: {error.reason}"
                           ) from None
    except TrackerError as error:
        if str(error) != _broken_as_it_stands(kind, subject, current, current_status):
            raise
        raise TrackerError(f"{subject} breaks a rule of tracker add as it stands ({error}), "
                           "as a merge can leave it: amend what mends that, alone or with "
                           "this change") from None
    if kept_place:
        draft.data.update({key: current[key] for key in PLACE_KEYS if key in current})
    # The status is compared apart, with the status after the updates.
    new = {key: value for key, value in draft.data.items() if key != "status"}
    old = {key: value for key, value in current.items() if key != "status"}
    changes = {key: value for key, value in new.items()
               if not same_value(kind, key, old.get(key), value)}
    changes.update({key: None for key in old if key not in new})
    if current_status is None and kind in STATUSES:
        current_status = recorded_status(kind, current)
    if "status" in seen and status != current_status:
        changes["status"] = status
    kept = _kept_participants(current, merged, draft.data) if kind == "meeting" and \
        "participant" in seen else None
    if not changes:
        raise TrackerError(f"nothing to amend: {_unchanged(kind, seen, old, new, kept)}")
    # The place is looked up again to check it; what that says is news only when the
    # amendment changes the place (the only warnings of `_record_fields`).
    warnings = list(draft.warnings) if seen & set(PLACE_OPTIONS) else []
    if "amount" in seen:
        warnings += point_as_thousands(merged["amount"], "--set amount=")
    if kept:
        warnings.append(f"{kept[0]} does not drop {' or '.join(kept[1])}: {kept[2]}")
    if kind == "meeting" and "participants" in changes and "participant" not in seen:
        warnings += _taking_part_again(current, changes["participants"] or [])
    if kind == "pledge" and disbursed is not None:
        warnings += _disbursed_against(old, changes, draft.data, disbursed)
    if kind == "pledge" and "amount" in changes and any(map(is_revision, updates)):
        warnings.append(f"--set amount={changes['amount']} replaces {old.get('amount')}, the "
                        "amount the pledge stands at since an update revised it (its amount "
                        f"is now {changes['amount']}; the revision stays in its history)")
    if kind in STATUSES and "date" in changes:
        warnings += next(filter(None, (
            _dated_before_the_record(kind, update, changes["date"], amended=True)
            for update in updates)), [])
    if kind == "pledge" and changes.keys() & {"currency", "date"}:
        warnings += currency_of_another_time(draft.data, amending=True)
    data: dict[str, Any] = {"changes": dict(sorted(changes.items())), "reason": reason}
    data.update(optional_source(options))
    references = [ref for ref in draft.references if ref[1] in _values(changes)]
    if any(reference == subject for _wanted, reference in references):
        raise TrackerError(f"{subject} cannot refer to itself")
    return Draft(AMENDED, data, subject, references, warnings)


def _taking_part_again(current: dict[str, Any], participants: list[str]) -> list[str]:
    """A warning when the chair or an official's actor, left off the participants (as a
    merge can leave them), takes part again as the meeting is checked whole."""
    by_role = _taking_part_by_role(current)
    back = [actor for actor in participants
            if actor in by_role and actor not in current.get("participants", ())]
    if not back:
        return []
    return [f"{', '.join(back)} added to the participants again: the chair and the "
            "officials' actors take part"]


def _broken_as_it_stands(kind: str, subject: str, current: dict[str, Any],
                         current_status: str | None) -> str | None:
    """The rule of `tracker add` tying its fields a record breaks as it stands, if any: a
    merge of two changes each valid in its clone can leave one (see `states`). Its place
    is not looked up again (an amendment keeps it, unless it gives another)."""
    options = record_options(kind, subject, current)
    for option in ("city", "geonameid"):
        options.pop(option, None)
    if kind == "meeting" and current_status is not None:
        options["status"] = current_status
    try:
        _record_fields(kind, options, amending=True)
    except TrackerError as error:
        return str(error)
    return None


def _disbursed_against(old: dict[str, Any], changes: dict[str, Any], new: dict[str, Any],
                       disbursed: str) -> list[str]:
    """Warnings when an amendment changes the amount or currency of a pledge with an
    amount disbursed: a currency changed is the disbursed amount's too (it is an amount
    in the pledge's currency), and an amount may fall below what was disbursed (as
    `tracker update` warns of an amount disbursed above the pledge's)."""
    warnings = []
    if "currency" in changes:
        warnings.append(f"--set currency={new['currency']}: the {disbursed} disbursed is now "
                        f"read in {new['currency']}, not {old.get('currency')}: an amount "
                        "disbursed is in its pledge's currency")
    if changes.keys() & {"amount", "currency"}:
        warnings += more_than_pledged(f"the {disbursed} disbursed", disbursed, new)
    return warnings


def _amended_place(current: dict[str, Any], merged: dict[str, Any], seen: set[str]) -> bool:
    """Make a meeting's place options (`merged`) say what an amendment asks of its place,
    and whether the place stays as it is (no place option amended: it is not looked up,
    as GeoNames may have dropped its id since)."""
    if not seen & set(PLACE_OPTIONS):
        merged.pop("city", None)
        merged.pop("geonameid", None)
        return True
    if "geonameid" in seen:
        if "city" not in seen and str(merged.get("geonameid") or "").strip():
            merged.pop("city", None)  # a place chosen by its id alone: its GeoNames name
    elif _moves_place(current, merged, seen):
        merged.pop("geonameid", None)  # a new city or country: its place is looked up
    return False


def _moves_place(current: dict[str, Any], merged: dict[str, Any], seen: set[str]) -> bool:
    """Whether an amendment gives a meeting another city or country than it has: the
    same one given again keeps the place chosen (its GeoNames id)."""
    from .places import fold_name

    names = {fold_name(name) for name in (current.get("city"), current.get("city_as_given"))
             if name}  # a city cleared (`--set city=`) is a move too
    if "city" in seen and fold_name(str(merged.get("city") or "")) not in names:
        return True
    if "country" in seen:
        try:
            return parse_actor(str(merged.get("country") or "")) != current.get("country")
        except TrackerError:
            return True  # refused as the record is checked whole
    return False


def _refuse_held_to_come(options: dict[str, Any], seen: set[str]) -> None:
    """A meeting held cannot be dated after today: refused as the amendment asks for it
    (`tracker add` says it of --status held)."""
    if options.get("status") != "held" or not seen & {"date", "status"}:
        return
    date = parse_option(SPECS["meeting"]["date"], options["date"])
    if not not_yet(date):
        return
    if "status" not in seen:
        raise TrackerError(f"--set date={date} is after today, and the meeting is held: a "
                           "meeting to come is scheduled (add --set status=scheduled)")
    dated = f"with --set date={date}" if "date" in seen else f"for a meeting dated {date}"
    raise TrackerError(f"--set status=held {dated}, after today")


# Repeatable fields hold sets: `tracker add` drops repeats, their child tables
# (meeting_participants, format_members, pledge_recipients, announcement_about) have no
# order, and nothing reads a meaning into the order (a meeting's host is its --chair).
# Their order is stored as given, but an amendment that only reorders one changes nothing.
SET_KEYS = {kind: frozenset(spec.key for spec in specs if spec.many)
            for kind, specs in FIELDS.items()}


def same_value(kind: str, key: str, old: Any, new: Any) -> bool:
    """Whether a stored value and an amended one say the same: equal, or, for a set (a
    repeatable field), the same items in another order."""
    if old == new:
        return True
    if key not in SET_KEYS[kind] or type(old) is not list or type(new) is not list:
        return False
    return len(old) == len(new) and all(item in new for item in old) and \
        all(item in old for item in new)


def _items_text(key: str, items: list[Any]) -> str:
    """A set's items as one short text, as `--set` takes them: "JPN,KAZ"."""
    if key == "officials":
        items = [official_option(item) for item in items]
    text = join_items(items, ",", space="")  # a comma in an item as --set takes it: \,
    return text if len(text) <= 80 else text[:80] + "..."


def _unchanged(kind: str, seen: set[str], old: dict[str, Any], new: dict[str, Any],
               kept: tuple[str, list[str], str] | None) -> str:
    """Why an amendment changes nothing, field by field: already as given, only
    reordered (a set), or actors that stay participants as the chair or officials."""
    plain, special = [], []
    specs = {spec.option: spec for spec in FIELDS[kind]}
    for name in sorted(seen):
        spec = specs.get(name)
        if name == "participant" and kept:
            special.append(f"{kept[0]} leaves the participants as they were: {kept[2]}")
        elif spec is not None and spec.many and old.get(spec.key) != new.get(spec.key):
            special.append(f"{name}={_items_text(spec.key, new[spec.key])} only reorders "
                           f"{_items_text(spec.key, old[spec.key])} (the order of "
                           f"{spec.key} is not a change)")
        else:
            plain.append(name)
    return "; ".join(([f"{', '.join(plain)} already as given"] if plain else []) + special)


def _kept_participants(current: dict[str, Any], options: dict[str, Any],
                       data: dict[str, Any]) -> tuple[str, list[str], str] | None:
    """When `--set participant=` leaves out actors that were participants and that stay
    because they are the chair or of an official: the participants as asked
    ("participant=KAZ"), those actors, and why each stays; else None."""
    asked = parse_actors(options.get("participant", ()))
    kept = [actor for actor in current.get("participants", ())
            if actor not in asked and actor in data.get("participants", ())]
    if not kept:
        return None
    reasons = []
    for actor in kept:
        why = ["the --chair"] if data.get("chair") == actor else []
        officials = [f"--official {shown(official_given(official))}"
                     for official in data.get("officials", ()) if official["actor"] == actor]
        if officials:
            why.append(f"the actor of {' and '.join(officials)}")
        reasons.append(f"{actor} stays as {' and '.join(why)}")
    return f"participant={','.join(asked)}", kept, ", ".join(reasons)


def _values(changes: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    for value in changes.values():
        values.extend(value if isinstance(value, list) else [value])
    return values


def draft_retraction(subject: str, options: dict[str, Any]) -> Draft:
    """Validate `tracker retract ID --reason TEXT [--source ...]`."""
    data: dict[str, Any] = {"reason": REASON(options.get("reason") or "")}
    data.update(optional_source(options))
    return Draft(RETRACTED, data, subject)


def draft_withdrawal(subject: str, event_id: str, options: dict[str, Any]) -> Draft:
    """Validate `tracker uncite EVENT_ID --reason TEXT [--source ...]`: withdraw the source
    that the event `event_id`, about the record `subject`, gave."""
    data: dict[str, Any] = {"event": event_id, "reason": REASON(options.get("reason") or "")}
    data.update(optional_source(options))
    return Draft(SOURCE_WITHDRAWN, data, subject)


# -- checking stored data (tracker verify) -------------------------------------------


def _check_source(source: Any) -> str | None:
    if not isinstance(source, dict):
        return "missing source"
    keys = {"url", "citation"} & set(source)
    if len(keys) != 1 or not SOURCE_TEXT.valid(source[keys.pop()]):
        return "source needs one valid url or citation"
    for spec in SOURCE_FIELDS:
        if spec.key in source and not spec.check(source[spec.key]):
            return f"bad source {spec.key}"
    if set(source) - {"url", "citation", *(spec.key for spec in SOURCE_FIELDS)}:
        return "unknown source field"
    return None


def check_data(event_type: str, data: dict[str, Any]) -> str | None:
    """Why stored event data is not valid for its type, or None if it is. An amendment's
    changes need the kind of their record: `check_changes` checks them."""
    if "source" in data or event_type not in CORRECTIONS:
        problem = _check_source(data.get("source"))
        if problem:
            return problem
    rest = {key: value for key, value in data.items() if key != "source"}
    record_kind, _, action = event_type.partition(".")
    if action == "recorded" and record_kind in FIELDS:
        for key in REQUIRED_KEYS[record_kind]:
            if key not in rest:
                return f"missing {key}"
        return _check_fields(record_kind, rest)
    if event_type in STATUS_CHANGED.values():
        if rest.get("status") not in STATUSES[record_kind]:
            return f"bad status {shown(rest.get('status'), 40)}"
        specs = {spec.key: spec for spec in UPDATE_FIELDS_OF[record_kind]}
        for key, value in rest.items():
            if key != "status" and (key not in specs or not specs[key].check(value)):
                return f"bad {key} {shown(value, 40)}"
        return None
    if event_type == SOURCE_ADDED:
        return None if not rest else f"unknown field {next(iter(rest))!r}"
    if event_type == SOURCE_WITHDRAWN:
        withdrawn = rest.pop("event", None)
        if type(withdrawn) is not str or not ULID_PATTERN.fullmatch(withdrawn):
            return f"bad event {shown(withdrawn, 40)}"
    if event_type in CORRECTIONS:
        if not is_valid(REASON, rest.pop("reason", None)):
            return "missing or bad reason"
        changes = rest.pop("changes", None) if event_type == AMENDED else {}
        if rest:
            return f"unknown field {next(iter(rest))!r}"
        if event_type != AMENDED:
            return None
        if not isinstance(changes, dict) or not changes:
            return "an amendment needs changes"
        return None
    return f"unknown event type {event_type!r}"


def check_changes(kind: str, changes: dict[str, Any]) -> str | None:
    """Why an amendment's changes are not valid for a record of a kind, or None. Each
    field is checked by itself (the first bad one is named)."""
    return _check_fields(kind, changes, amending=True)


def _check_fields(kind: str, fields: dict[str, Any], amending: bool = False) -> str | None:
    """Check record fields in their stored form; in an amendment, None clears a field."""
    specs = SPECS[kind]
    derived = DERIVED_KEYS.get(kind, ())
    for key, value in fields.items():
        if amending and key == "status" and kind in STATUSES:
            ok = value is None or value in STATUSES[kind]  # None: see effective_changes
        elif amending and value is None:
            ok = key in derived or (key in specs and not specs[key].required)
        elif key in specs:
            ok = specs[key].check(value)
        elif key in derived:
            continue
        else:
            return f"unknown field {key!r}"
        if not ok:
            return f"bad {key} {shown(value, 40)}"
    return _check_derived({key: value for key, value in fields.items() if value is not None})


def _check_derived(data: dict[str, Any]) -> str | None:
    for key, valid in (("latitude", valid_latitude), ("longitude", valid_longitude)):
        if key in data and not valid(data[key]):
            return f"bad {key} {shown(data[key], 40)}"
    if "city_as_given" in data and not CITY_TEXT.valid(data["city_as_given"]):
        return "bad city_as_given"
    return None


@lru_cache(maxsize=65536)
def _valid_coordinate(value: str, limit: int) -> bool:
    """A coordinate is stored as decimal text (as GeoNames gives it) within +-limit."""
    try:
        return abs(Decimal(value)) <= limit
    except InvalidOperation:
        return False


def valid_latitude(value: Any) -> bool:
    return type(value) is str and _valid_coordinate(value, 90)


def valid_longitude(value: Any) -> bool:
    return type(value) is str and _valid_coordinate(value, 180)
