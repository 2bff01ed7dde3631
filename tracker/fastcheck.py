"""The fast path of `tracker verify`: one msgspec pass checks a valid event in C.

msgspec types, built from the model's field declarations, decode a line and check its
envelope and data; encoding the result again must give the line byte for byte, which
shows it canonical. The types are never looser than the model's checks: a line they
refuse (or one they do not cover, such as an old schema version) goes to the full
checks, which name the problem. So the fast path changes how fast, never what, `tracker
verify` reports; tests/test_fastcheck.py holds it to that.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import cache
from hashlib import sha256
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from . import envelope, model, upcast
from .actors import all_actors
from .envelope import HASH_END

MsgspecType = Any


# What the checks across the whole log need of one valid event: id, seq, the kind of
# record it makes ("" if none), subject, references (each (wanted kind, subject)) and, for
# an amendment, its changes. A plain tuple: made fastest.
Checked = tuple[str, int, str, str, list[tuple[str, str]], dict | None]


# 64-bit integers, which orjson reads as integers (beyond, floats, which the full checks
# refuse; msgspec would read any integer).
INTEGER = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
POSITIVE = Annotated[int, Meta(ge=1, le=2**63 - 1)]


def _text_start() -> str:
    """A class of the characters a text may start with: those of the Basic Multilingual
    Plane that are not spaces, controls, format characters or unassigned (category C or
    Z). Texts starting in other planes are left to the full checks."""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code))[0] not in "CZ" and not chr(code).isspace():
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "[" + "".join(re.escape(chr(first)) + ("-" + re.escape(chr(last)) if last > first
                                                   else "") for first, last in ranges) + "]"


TEXT_START = _text_start()


def text_pattern(text: model.Text) -> str:
    """A pattern that only accepts what `text.valid` accepts: a first character as above,
    no forbidden character, and no space at the end."""
    forbidden = text.forbidden.pattern[1:-1]  # inside the brackets of "[...]"
    return rf"\A{TEXT_START}(?:[^{forbidden}]*[^\s{forbidden}])?\Z"


def plain_line(line: bytes) -> bool:
    """Whether every string in a line is printable ASCII without escapes: then a text
    passes the rules of `Text.valid` on characters if it neither starts nor ends with a
    space (`data_check`); only its length is left to check."""
    return line.isascii() and b"\\" not in line and b"\x7f" not in line


# Where texts are in event data: (key, shape), shape ONE, MANY or the texts of a nested
# object (a source, officials).
ONE, MANY = "one", "many"
Texts = tuple[tuple[str, Any], ...]


def _texts(specs: tuple[model.Field, ...]) -> Texts:
    found: list[tuple[str, Any]] = []
    for spec in specs:
        if isinstance(spec.parse, model.Text):
            found.append((spec.key, MANY if spec.many else ONE))
        elif spec.parse is model.parse_official:
            found.append((spec.key, OFFICIAL_TEXTS))
    return tuple(found)


OFFICIAL_TEXTS: Texts = (("name", ONE), ("title", ONE))
SOURCE_TEXTS: Texts = (("url", ONE), ("citation", ONE), *_texts(model.SOURCE_FIELDS))
SOURCE = ("source", SOURCE_TEXTS)


def _listed(one: MsgspecType, spec: model.Field) -> MsgspecType:
    if not spec.many:
        return one
    return Annotated[list[one], Meta(min_length=1, max_length=model.MAX_ITEMS)]


Field = tuple[str, MsgspecType, Any]  # (key, type, default); no default: required
# (key, repeats, the model's check of one value, its answers so far or None)
Check = tuple[str, bool, Callable[[Any], bool], dict[str, bool] | None]
ULID = rf"\A{envelope.ULID_PATTERN.pattern}\Z"
NO_DEFAULT = msgspec.NODEFAULT
ACTOR: MsgspecType = Literal[tuple(all_actors())]  # type: ignore[valid-type]


def _struct(name: str, fields: list[Field]) -> type[Struct]:
    ordered = sorted(fields)  # canonical JSON has sorted keys; structs encode in field order
    # gc=False: decoded values never form cycles, so the collector need not track them.
    return msgspec.defstruct(
        name, [(key, kind) if default is NO_DEFAULT else (key, kind, default)
               for key, kind, default in ordered],
        forbid_unknown_fields=True, kw_only=True, gc=False)


def _optional(key: str, kind: MsgspecType) -> Field:
    return (key, kind | UnsetType, UNSET)


class Types:
    """The msgspec types of the fields, for plain lines (see `plain_line`: texts checked
    for length here, and by `data_check` for spaces) or for any line (texts checked by
    pattern)."""

    def __init__(self, plain: bool):
        self.plain = plain
        self.official = _struct("Official", [
            ("actor", ACTOR, NO_DEFAULT),
            _optional("name", self.text(model.OFFICIAL_TEXT)),
            _optional("title", self.text(model.OFFICIAL_TEXT))])
        fields, self.source_checks = self.fields(model.SOURCE_FIELDS)
        self.source = _struct("Source", [_optional("url", self.text(model.SOURCE_TEXT)),
                                         _optional("citation", self.text(model.SOURCE_TEXT)),
                                         *fields])

    def text(self, text: model.Text) -> MsgspecType:
        if self.plain:
            return Annotated[str, Meta(min_length=1, max_length=text.limit)]
        return Annotated[str, Meta(max_length=text.limit, pattern=text_pattern(text))]

    def native(self, spec: model.Field) -> MsgspecType | None:
        """The msgspec type that checks a field by itself, or None if the model's check
        must run after decoding."""
        parse = spec.parse
        if parse is model.parse_actor:
            return ACTOR
        if isinstance(parse, model.Text):
            return self.text(parse)
        if isinstance(parse, model.Choice):
            return Literal[parse.allowed]  # type: ignore[valid-type]
        if parse is model.parse_flag:
            return Literal[True]
        if parse is model.parse_official:
            return self.official
        if parse is model.parse_id:
            return Annotated[str, Meta(pattern=ULID)]
        if parse is model.parse_geonameid:
            return INTEGER
        return None

    def fields(self, specs: tuple[model.Field, ...],
               required: tuple[str, ...] = ()) -> tuple[list[Field], list[Check]]:
        """The fields and the checks left to Python; `required`: keys required beyond
        the required options."""
        fields, checks = [], []
        for spec in specs:
            native = self.native(spec)
            if native is None:
                native = str
                checks.append(_check(spec))
            kind = _listed(native, spec)
            fields.append((spec.key, kind, NO_DEFAULT) if spec.required or spec.key in required
                          else _optional(spec.key, kind))
        return fields, checks

    def derived(self, kind: str) -> tuple[list[Field], list[Check]]:
        """The keys of a record that `tracker add` fills in (a meeting's place)."""
        if kind != "meeting":
            return [], []
        return ([_optional("city_as_given", self.text(model.CITY_TEXT)),
                 _optional("latitude", str), _optional("longitude", str)],
                [("latitude", False, model.valid_latitude, {}),
                 ("longitude", False, model.valid_longitude, {})])


class EventType(NamedTuple):
    """How to check one type of event: the decoder of its data (the envelope is decoded
    first, see `_envelope`), then the check of the data, which gives the references it
    makes (see `data_check`)."""

    decoder: msgspec.json.Decoder
    references: Callable[[Any, str], list[tuple[str, str]] | None]
    recorded: str  # the kind of record it creates, or ""
    amends: bool  # whether it is an amendment (its changes are checked later)


# What an event refers to: the fields of a record that do (key, kind wanted, repeats), or
# the kind of its subject (an update of a record: "record" for any kind).
Referring = tuple[tuple[str, str, bool], ...] | str


def _referring(specs: tuple[model.Field, ...]) -> Referring:
    return tuple((spec.key, spec.refers, spec.many) for spec in specs if spec.refers)


def _envelope() -> type[Struct]:
    """The envelope of an event of the current schema version (older ones are upcast by
    the full checks), its data left raw until its type is known. `hash`, `id` and
    `recorded_at` are checked on the line (`tail_of` and the digest), `type` by the types
    known, `writer` against its folder."""
    return _struct("Envelope", [
        ("data", msgspec.Raw, NO_DEFAULT), ("hash", str, NO_DEFAULT), ("id", str, NO_DEFAULT),
        ("recorded_at", str, NO_DEFAULT),
        ("recorded_by", Annotated[str, Meta(max_length=200)], NO_DEFAULT),
        ("schema", Literal[upcast.SCHEMA], NO_DEFAULT), ("seq", POSITIVE, NO_DEFAULT),
        ("subject", Annotated[str, Meta(min_length=1, max_length=64)], NO_DEFAULT),
        ("type", str, NO_DEFAULT), ("writer", str, NO_DEFAULT)])


# What an amendment may set a field to; the record's kind tells, in the checks across the
# whole log, which values its fields take (`model.check_data`).
CHANGE = str | INTEGER | Literal[True] | None | list[str]


def _event_types(types: Types) -> dict[str, EventType]:
    """The event types, by their name in a line."""
    source = ("source", types.source, NO_DEFAULT)
    declared: dict[str, tuple[list[Field], list[Check], Referring, str, Texts]] = {}
    for kind, specs in model.FIELDS.items():
        fields, checks = types.fields(specs, model.REQUIRED_KEYS[kind])
        derived_fields, derived_checks = types.derived(kind)
        derived_texts = (("city_as_given", ONE),) if derived_fields else ()
        declared[model.RECORDED[kind]] = (
            [*fields, *derived_fields, source], checks + derived_checks,
            _referring(specs), kind, (*_texts(specs), *derived_texts, SOURCE))
    for kind, event_type in model.STATUS_CHANGED.items():
        fields, checks = types.fields(model.UPDATE_FIELDS_OF[kind])
        status = ("status", Literal[model.STATUSES[kind]], NO_DEFAULT)
        declared[event_type] = ([*fields, status, source], checks, kind, "",
                                (*_texts(model.UPDATE_FIELDS_OF[kind]), SOURCE))
    declared[model.SOURCE_ADDED] = ([source], [], "record", "", (SOURCE,))
    reason = ("reason", types.text(model.REASON), NO_DEFAULT)
    optional_source = _optional("source", types.source)
    declared[model.RETRACTED] = ([reason, optional_source], [], "record", "",
                                 (("reason", ONE), SOURCE))
    withdrawn = ("event", Annotated[str, Meta(pattern=ULID)], NO_DEFAULT)
    declared[model.SOURCE_WITHDRAWN] = ([withdrawn, reason, optional_source], [], "record",
                                        "", (("reason", ONE), SOURCE))
    changes = ("changes", Annotated[dict[str, CHANGE], Meta(min_length=1)], NO_DEFAULT)
    declared[model.AMENDED] = ([changes, reason, optional_source], [], "record", "",
                               (("reason", ONE), SOURCE))
    checked = {}
    for event_type, (fields, checks, referring, recorded, texts) in declared.items():
        name = event_type.replace(".", "_")
        data = _struct(name, fields)
        references = data_check(texts if types.plain else (), checks, types.source_checks,
                                referring)
        if event_type == model.AMENDED:
            references = _and_changed(references)
        checked[event_type] = EventType(msgspec.json.Decoder(data), references,
                                                 recorded, event_type == model.AMENDED)
    return checked


def _and_changed(references: Callable[[Any, str], list[tuple[str, str]] | None]
                 ) -> Callable[[Any, str], list[tuple[str, str]] | None]:
    """An amendment's references: its record's, then what its changes refer to."""
    changed = model.changed_references

    def amendment_references(data: Any, subject: str) -> list[tuple[str, str]] | None:
        found = references(data, subject)
        return None if found is None else found + changed(data.changes)

    return amendment_references


DATA_START = len(b'{"data":')  # a canonical line's first key is data's
NEVER = re.compile(rb"(?!)")
AHEAD = timedelta(days=1)  # how far after now an event may be recorded before a warning
RECORDED_AT = len(b',"recorded_at":"')


@cache
def tail_of(segment: str) -> re.Pattern[bytes]:
    """The envelope after its hash, to recorded_by, in a canonical line of a segment: an
    id, and a `recorded_at` in the segment's month that names a moment. The hash itself is
    shown to be 64 hex digits by being equal to the digest of the line. Matches nothing if
    the segment is named for no month (its lines go to the full checks)."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", segment):
        return NEVER
    year, month = int(segment[:4]), int(segment[5:])
    if not (year >= 1 and 1 <= month <= 12):
        return NEVER
    days = "|".join(f"{day:02d}" for day in range(1, calendar.monthrange(year, month)[1] + 1))
    return re.compile(rb'","id":"[0-7][0-9A-HJKMNP-TV-Z]{25}","recorded_at":"'
                      + f"{segment}-(?:{days})T".encode()
                      + rb'(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z",')


class FastCheck:
    """`check(line, writer folder, segment name)`: the event if it is surely valid, else
    None (the full checks then say whether it is, and why not)."""

    def __init__(self) -> None:
        # Events recorded later than this (a writer's clock ahead) go to the full checks,
        # which warn of them.
        self.latest = envelope.format_timestamp(datetime.now(timezone.utc) + AHEAD)
        self.plain = _event_types(Types(plain=True))
        self.any = _event_types(Types(plain=False))
        self.encode = msgspec.json.Encoder().encode
        self.envelope = msgspec.json.Decoder(_envelope()).decode
        self.writers: dict[str, bool] = {}
        self.sha256 = sha256()  # copied for each line: faster than a new one (OpenSSL 3)

    def check(self, line: bytes, folder: str, segment: str) -> Checked | None:
        return self.check_block([line], folder, segment)[0]

    def check_block(self, lines: list[bytes], folder: str,
                    segment: str) -> list[Checked | None]:
        """`check` of each line of a block of one segment: whether texts need the
        patterns is asked of the block, once, and of its lines only if some do."""
        if not self._writer_ok(folder):
            return [None] * len(lines)
        types = self.plain if plain_line(b"".join(lines)) else None
        tail = tail_of(segment)
        checked = [self._check(line, folder, tail, types) for line in lines]
        if segment >= self.latest[:7]:  # (any earlier month's times are earlier)
            latest = self.latest.encode()
            for number, line in enumerate(lines):
                at = line.rfind(b',"recorded_at":"') + RECORDED_AT
                if line[at : at + len(latest)] > latest:
                    checked[number] = None
        return checked

    def _check(self, line: bytes, folder: str, tail: re.Pattern[bytes],
               types: dict[str, EventType] | None) -> Checked | None:
        try:
            event = self.envelope(line)
        except (msgspec.MsgspecError, RecursionError):
            return None
        if types is None:
            types = self.plain if plain_line(line) else self.any
        event_type = types.get(event.type)
        if event_type is None or event.writer != folder:
            return None
        raw = event.data
        try:
            event.data = event_type.decoder.decode(raw)
        except (msgspec.MsgspecError, RecursionError):
            return None
        if self.encode(event) != line:
            return None
        # The line is canonical: data comes first, then the envelope's hash.
        at = DATA_START + len(raw)
        if tail.match(line, at + HASH_END) is None:  # (the segment's month, too)
            return None
        digest = self.sha256.copy()
        digest.update(line[:at] + line[at + HASH_END + 1 :])
        if digest.hexdigest() != event.hash:
            return None
        data, subject = event.data, event.subject
        references = event_type.references(data, subject)
        if references is None:
            return None
        kind = event_type.recorded
        if kind and not (subject == event.id if kind != "format"
                         else model.is_valid(model.parse_slug, subject)):
            return None
        changes = None
        if event_type.amends:
            changes = data.changes
            if list(changes) != sorted(changes):  # not canonical
                return None
        return event.id, event.seq, kind, subject, references, changes

    def _writer_ok(self, folder: str) -> bool:
        ok = self.writers.get(folder)
        if ok is None:
            ok = self.writers[folder] = bool(envelope.WRITER_PATTERN.fullmatch(folder))
        return ok


def _check(spec: model.Field) -> Check:
    """The model's check of a field, run after decoding; its answers on values that
    repeat (dates, amounts, codes) are remembered, not those on record ids."""
    remembered = spec.parse not in (model.parse_id, model.parse_reference)
    return (spec.key, spec.many, spec.check_item, {} if remembered else None)


REMEMBERED = 65536  # answers kept per check


def _remember(known: dict[str, bool], one: Callable[[Any], bool], item: Any) -> bool:
    ok = one(item)
    if len(known) < REMEMBERED:
        known[item] = ok
    return ok


class _DataCheck:
    """The Python source of one function that checks the data of one type of event: no
    text starts or ends with a space (`texts`, in plain lines), the model's checks of
    the fields that need them, and its source's; then lists its references. Written out
    field by field, it runs several times faster than loops over the fields."""

    def __init__(self) -> None:
        self.lines = ["def references(data, subject):"]
        self.constants: dict[str, Any] = {"UNSET": UNSET, "remember": _remember}
        self.count = 0

    def local(self) -> str:
        """A new name for a local variable."""
        self.count += 1
        return f"v{self.count}"

    def constant(self, value: Any) -> str:
        """A new name, global to the function, for a value (a check, its answers)."""
        name = self.local()
        self.constants[name] = value
        return name

    def texts(self, holder: str, texts: Texts, indent: str) -> None:
        for key, shape in texts:
            if shape is SOURCE_TEXTS:
                continue  # checked with the rest of the source
            value = self.local()
            self.lines += [f"{indent}{value} = {holder}.{key}",
                           f"{indent}if {value} is not UNSET:"]
            if shape is ONE:
                self.lines.append(f"{indent}    if {value}[0] == ' ' or {value}[-1] == ' ': "
                                  "return None")
            elif shape is MANY:
                self.lines += [f"{indent}    for item in {value}:",
                               f"{indent}        if item[0] == ' ' or item[-1] == ' ': "
                               "return None"]
            else:  # a list of officials
                official = self.local()
                self.lines.append(f"{indent}    for {official} in {value}:")
                self.texts(official, shape, indent + "        ")

    def checks(self, holder: str, checks: list[Check], indent: str) -> None:
        for key, many, one, known in checks:
            value, check = self.local(), self.constant(one)
            self.lines += [f"{indent}{value} = {holder}.{key}",
                           f"{indent}if {value} is not UNSET:"]
            if many:
                self.lines.append(f"{indent}    for item in {value}:")
                item, inner = "item", indent + "        "
            else:
                item, inner = value, indent + "    "
            if known is None:
                self.lines.append(f"{inner}if not {check}({item}): return None")
            else:
                answers = self.constant(known)
                self.lines += [f"{inner}ok = {answers}.get({item})",
                               f"{inner}if ok is None: ok = remember({answers}, {check}, "
                               f"{item})",
                               f"{inner}if not ok: return None"]

    def references(self, referring: Referring) -> None:
        if isinstance(referring, str):
            self.lines.append(f"    return [({referring!r}, subject)]")
            return
        self.lines.append("    wanted = []")
        for key, refers, many in referring:
            value = self.local()
            self.lines += [f"    {value} = data.{key}", f"    if {value} is not UNSET:"]
            if many:
                self.lines += [f"        for item in {value}:",
                               f"            wanted.append(({refers!r}, item))"]
            else:
                self.lines.append(f"        wanted.append(({refers!r}, {value}))")
        self.lines.append("    return wanted")

    def compiled(self) -> Callable[[Any, str], list[tuple[str, str]] | None]:
        namespace = dict(self.constants)
        exec("\n".join(self.lines), namespace)
        return namespace["references"]


def data_check(texts: Texts, checks: list[Check], source_checks: list[Check],
               referring: Referring) -> Callable[[Any, str], list[tuple[str, str]] | None]:
    """`references(data, subject)`: None if the data of one type of event fails what
    `check` leaves to Python (see `_DataCheck`), else the (kind wanted, subject) it
    refers to. Every type has a source (required or optional), with either a url or a
    citation."""
    code = _DataCheck()
    code.texts("data", texts, "    ")
    code.checks("data", checks, "    ")
    code.lines += ["    source = data.source", "    if source is not UNSET:",
                   "        if (source.url is UNSET) == (source.citation is UNSET): "
                   "return None"]
    if SOURCE in texts:
        code.texts("source", SOURCE_TEXTS, "        ")
    code.checks("source", source_checks, "        ")
    code.references(referring)
    return code.compiled()
