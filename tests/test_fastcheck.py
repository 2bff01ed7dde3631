"""The fast path of `tracker verify` (msgspec types built from the model) must take the
valid events of real logs, agree with the full checks on what it takes, and never take
what the full checks refuse."""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker import envelope, model, verify
from tracker.fastcheck import TEXT_START, FastCheck, plain_line, text_pattern
from tracker.upcast import upcast

from .conftest import BUNDLED_EVENTS, PROJECT, SOURCE, ok

FIXTURE_EVENTS = PROJECT / "tests" / "fixtures" / "schema-1" / "events"
Line = tuple[bytes, str, str]  # (line, writer folder, segment name)


def lines_of(root: Path) -> list[Line]:
    return [(body, path.parent.name, path.stem)
            for path in sorted(root.glob("*/*.jsonl"))
            for body in path.read_bytes().split(b"\n")[:-1]]


def full_check(line: bytes, folder: str, segment: str) -> dict | None:
    """The event if the full checks of `tracker verify` take it, else None."""
    try:
        event = envelope.parse_line(line)
    except envelope.BadLine:
        return None
    if verify._check_event(event, Path(folder) / f"{segment}.jsonl"):
        return None
    return upcast(event)


def assert_agree(checked: tuple, event: dict) -> None:
    kind, _, action = event["type"].partition(".")
    assert checked[:4] == (event["id"], event["seq"], kind if action == "recorded" else "",
                           event["subject"])
    assert sorted(checked[4]) == sorted(verify._references(event))
    if event["type"] == model.AMENDED:
        assert checked[5] == event["data"]["changes"]
    else:
        assert checked[5] is None


@pytest.fixture(scope="module")
def fast() -> FastCheck:
    return FastCheck()


def unicode_log(events: Path) -> list[Line]:
    """Events whose texts need the patterns: quotes, backslashes, Cyrillic, Japanese,
    line breaks, a non-breaking space inside a title."""
    format_slug = "central-asia-japan"
    ok("add", "format", format_slug, "--name", "Центральная Азия + Япония", "--member",
       "JPN,KAZ", "--launched", "2004", *SOURCE)
    meeting = ok("add", "meeting", "--title", '"Central Asia + Japan" \\ dialogue',
                 "--date", "2024-08", "--format", format_slug, "--city", "Astana",
                 "--country", "KAZ", "--official", "JPN:岸田文雄:首相", "--topic", "水資源",
                 "--summary", "First line\nsecond\tline", *SOURCE)
    ok("add", "pledge", "--title", "Grant\u00a0for water", "--date", "2020-08-12",
       "--donor", "JPN", "--recipient", "KAZ,UZB", "--amount", "2,000,000,000",
       "--currency", "JPY", "--approximate", "--at", meeting, "--source", "Kyodo report",
       "--quote", "«two billion yen»")
    ok("amend", meeting, "--set", "title=Тур «диалог»", "--set", "topic=",
       "--reason", "name as published")
    ok("add", "format", "central-asia-korea", "--name", "Central Asia + Korea", "--member",
       "KOR,KAZ", "--launched", "2007", *SOURCE)
    ok("amend", meeting, "--set", "format=central-asia-korea", "--reason", "the other one")
    cited = ok("cite", meeting, "--source", "Другой «источник»", "--quote", "не тот")
    ok("uncite", cited, "--reason", "о другом «диалоге»", "--source", "https://example.org/")
    return lines_of(events)


def test_the_events_of_real_logs_take_the_fast_path_and_agree(
        fast: FastCheck, events: Path) -> None:
    lines = lines_of(BUNDLED_EVENTS) + lines_of(FIXTURE_EVENTS) + unicode_log(events)
    assert len(lines) > 40
    for line, folder, segment in lines:
        checked = fast.check(line, folder, segment)
        assert checked is not None, line
        event = full_check(line, folder, segment)
        assert event is not None
        assert_agree(checked, event)


SPACES = [chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()]
# Characters a text must not have, or not at its ends, or that need the patterns.
PADDING = SPACES + 4 * ["\x7f", "\x00", "\x85", "\u200b", "\u2028", "\t", "\n", '"', "\\",
                        "\ud800", "\ue000", "\ufffe", "\uffff", "\ufdd0", "x"]
NASTY_STRINGS = ["", " ", "x ", " x", "\u00a0x", "x\u3000", "\u200b", "\u200bx", "a\tb",
                 "a\nb", "a\rb", "a\x00b", "\x7f", "a\x85", "\u2028", "\ue000", "x" * 301,
                 "2019-02-30", "2019-13", "0", "1,000", "01.50", "jpy", "JPN", "jpn", "ZZZ",
                 "01J3Z8Q6M0S7WQ4N6V7R2K9B1C", "01j3z8q6m0s7wq4n6v7r2k9b1c",
                 "01234567890123456789012345", "central-asia-japan", "Central", "90.1",
                 "-180", "1e1", " 45", "NaN", "held", "Held", "https://x.org/ a",
                 "a\ufffe", "\uffff", "\ufffe a", "\ufdd0"]
values = st.recursive(
    st.one_of(st.sampled_from(NASTY_STRINGS), st.text(max_size=12), st.none(),
              st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.integers(min_value=2**63 - 2, max_value=2**65)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(
                                   ["actor", "name", "title", "url", "x"]), children,
                                   max_size=3)),
    max_leaves=4)


def paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every place in an event (dict keys, list items) that a mutation can change."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*path, index))
    return found


def changed(event: Any, path: tuple, how: str, new: Any) -> Any:
    """The event with one place replaced, padded with a space, removed, or given an
    extra key."""
    if not path:
        return new if how == "replace" else event
    head, rest = path[0], path[1:]
    copy = dict(event) if isinstance(event, dict) else list(event)
    if rest:
        copy[head] = changed(copy[head], rest, how, new)
    elif how == "replace":
        copy[head] = new
    elif how == "pad before" and isinstance(copy[head], str):
        copy[head] = new + copy[head]
    elif how == "pad after" and isinstance(copy[head], str):
        copy[head] = copy[head] + new
    elif how == "remove":
        del copy[head]
    elif how == "add" and isinstance(copy[head], dict):
        copy[head] = {**copy[head], "extra": new}
    return copy


SEALINGS = ["seal", "seal", "seal", "keep hash", "unsorted", "spaced", "data unsorted",
            "inner unsorted", "escaped"]


def reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def resealed(fields: dict, data: Any, alter: Any = lambda line: line) -> bytes:
    """A line with `data`, its hash taken over the bytes it has, even if not canonical
    (the hash is cut out of a line to check it)."""
    rest = {key: fields[key] for key in sorted(fields) if key != "data"}
    content = alter(orjson.dumps({"data": data, **rest}))
    at = content.rfind(b',"id":"')
    digest = hashlib.sha256(content).hexdigest().encode()
    return content[:at] + b',"hash":"' + digest + b'"' + content[at:]


def sealed(event: Any, how: str) -> bytes:
    """The line of an event, sealed with a fresh hash or not, canonical or not."""
    try:
        if not isinstance(event, dict):
            return orjson.dumps(event)
        fields = {key: value for key, value in event.items() if key != "hash"}
        if how == "keep hash":
            return envelope.canonical(event)
        if how == "unsorted":
            return orjson.dumps({**fields, "hash": envelope.content_hash(fields)})
        if how == "spaced":
            return orjson.dumps(dict(sorted({**fields, "hash": envelope.content_hash(
                fields)}.items())), option=orjson.OPT_INDENT_2).replace(b"\n", b"")
        data = fields.get("data")
        if how == "data unsorted" and isinstance(data, dict) and "data" in fields:
            return resealed(fields, reversed_keys(data))
        if how == "inner unsorted" and isinstance(data, dict) and "data" in fields:
            return resealed(fields, {key: reversed_keys(value) for key, value in data.items()})
        if how == "escaped" and "data" in fields:
            return resealed(fields, data, lambda line: line.replace(b"/", b"\\/").replace(
                b"a", b"\\u0061", 1))
        return envelope.seal(fields)[:-1]
    except TypeError:  # orjson refuses integers beyond 64 bits
        return orjson.dumps(str(event))


def plain(value: Any) -> Any:
    """Event data with its texts in printable ASCII only, without quotes or backslashes."""
    if isinstance(value, str):
        return value.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def withdrawals_log(events: Path) -> Path:
    """A log with sources withdrawn, with and without a source of their own, and a
    meeting rescheduled (the fixture log is older than `tracker uncite` and `--to`)."""
    meeting = ok("--events", events, "add", "meeting", "--title", "Met", "--date", "2020",
                 *SOURCE)
    ok("--events", events, "update", meeting, "--status", "postponed", "--to", "2020-11",
       "--note", "later", *SOURCE)
    cited = ok("--events", events, "cite", meeting, "--source", "Report")
    amended = ok("--events", events, "amend", meeting, "--set", "date=2021", "--reason",
                 "misread", "--source", "Another report")
    ok("--events", events, "uncite", amended, "--reason", "wrong report")
    ok("--events", events, "uncite", cited, "--reason", "wrong", *SOURCE)
    return events


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Line]:
    """Lines of every event type, with and without texts that need the patterns."""
    lines = (lines_of(BUNDLED_EVENTS) + lines_of(FIXTURE_EVENTS)
             + lines_of(withdrawals_log(tmp_path_factory.mktemp("withdrawals") / "events")))
    assert {orjson.loads(line)["type"] for line, _, _ in lines} == set(model.EVENT_TYPES)
    plain_lines = []
    for line, folder, segment in lines:
        event = plain(orjson.loads(line))
        fields = {key: value for key, value in event.items() if key != "hash"}
        resealed_line = envelope.seal(fields)[:-1]
        if full_check(resealed_line, folder, segment) is not None:
            plain_lines.append((resealed_line, folder, segment))
        if event["type"] == model.AMENDED:  # and with several changes
            fields["data"]["changes"] = {"date": "2020", "summary": "Two", "title": "Three"}
            plain_lines.append((envelope.seal(fields)[:-1], folder, segment))
    assert len(plain_lines) > len(lines) / 2
    assert all(plain_line(line) for line, _, _ in plain_lines)
    return lines + plain_lines


@settings(max_examples=4000, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_fast_path_never_takes_what_the_full_checks_refuse(
        fast: FastCheck, samples: list[Line], data: st.DataObject) -> None:
    line, folder, segment = data.draw(st.sampled_from(samples))
    event = orjson.loads(line)
    path = data.draw(st.sampled_from(paths(event)))
    how = data.draw(st.sampled_from(["replace", "replace", "pad before", "pad after",
                                     "remove", "add"]))
    new = data.draw(st.sampled_from(PADDING) if how.startswith("pad") else values)
    mutated = sealed(changed(event, path, how, new), data.draw(st.sampled_from(SEALINGS)))
    agree_or_refuse(fast, mutated, folder, segment)


def agree_or_refuse(fast: FastCheck, line: bytes, folder: str, segment: str) -> bool:
    """Check that the fast path takes a line only if the full checks do; whether it took."""
    checked = fast.check(line, folder, segment)
    if checked is not None:
        event = full_check(line, folder, segment)
        assert event is not None, line
        assert_agree(checked, event)
    return checked is not None


def test_a_block_is_checked_as_its_lines_are(fast: FastCheck, samples: list[Line]) -> None:
    """Lines that need the patterns, or that fail them, among plain ones: a block gives
    what its lines give one by one."""
    by_segment: dict[tuple[str, str], list[bytes]] = {}
    for line, folder, segment in samples:
        by_segment.setdefault((folder, segment), []).append(line)
        event = orjson.loads(line)
        if "title" in event["data"]:  # and with an edge that only the patterns refuse
            event["data"]["title"] = "\u3000" + event["data"]["title"]
            by_segment[folder, segment].append(sealed(event, "seal"))
    mixed = 0
    for (folder, segment), lines in by_segment.items():
        one_by_one = [fast.check(line, folder, segment) for line in lines]
        assert fast.check_block(lines, folder, segment) == one_by_one
        mixed += None in one_by_one and any(plain_line(line) for line in lines)
    assert mixed > 0


EDGES = [" ", "\u00a0", "\u3000", "\x7f", "\x85", "\u200b", "\u2028", "\t", "\n", "\\", '"',
         "\ue000", "\U0001f600", "x"]


def test_every_string_of_every_sample_with_a_bad_edge_or_sealing(
        fast: FastCheck, samples: list[Line]) -> None:
    """Every string of every sample, with each edge character before, after or alone, and
    every sample sealed in each way: the fast path takes only what the full checks take
    (and takes the valid plain samples, sealed canonically)."""
    taken = 0
    for line, folder, segment in samples:
        event = orjson.loads(line)
        for how in SEALINGS:
            taken += agree_or_refuse(fast, sealed(event, how), folder, segment)
        for path in paths(event):
            for edge in EDGES:
                for how in ("pad before", "pad after", "replace"):
                    mutated = sealed(changed(event, path, how, edge), "seal")
                    agree_or_refuse(fast, mutated, folder, segment)
    assert taken >= 2 * len(samples)  # "seal" three times, "keep hash" once


def names_a_moment(year: int, month: int, day: int, clock: str) -> bool:
    try:
        datetime(year, month, day, *map(int, clock.split(":")))
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("segment", ["2024-02", "2025-02", "2025-04", "2025-12", "2025-13",
                                     "0000-01"])
def test_a_recorded_at_is_taken_only_if_it_names_a_moment_in_its_segment(
        fast: FastCheck, samples: list[Line], segment: str) -> None:
    """By the fast path and the full checks alike: 2025-02-29, 2025-04-31, 24:00:00 or
    23:59:60 name no moment."""
    line, folder, _ = samples[0]
    event = orjson.loads(line)
    year, month = int(segment[:4]), int(segment[5:])
    taken = 0
    for day in range(33):
        for clock in ("00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "99:99:99"):
            recorded_at = f"{segment}-{day:02d}T{clock}.000000Z"
            mutated = sealed({**event, "recorded_at": recorded_at}, "seal")
            valid = names_a_moment(year, month, day, clock)
            assert (full_check(mutated, folder, segment) is not None) == valid, recorded_at
            assert agree_or_refuse(fast, mutated, folder, segment) == valid, recorded_at
            taken += valid
    assert taken == 2 * {"2024-02": 29, "2025-02": 28, "2025-04": 30, "2025-12": 31}.get(
        segment, 0)
    # Another month's time, or digits other than ASCII ones, are taken by neither.
    for recorded_at, in_segment in (("2026-05-01T00:00:00.000000Z", segment),
                                    ("\uff12\uff10\uff12\uff16-11-30T23:59:59.000000Z",
                                     "\uff12\uff10\uff12\uff16-11")):
        mutated = sealed({**event, "recorded_at": recorded_at}, "seal")
        assert full_check(mutated, folder, in_segment) is None, recorded_at
        assert fast.check(mutated, folder, in_segment) is None, recorded_at


def test_a_text_start_is_never_a_space_control_or_format_character() -> None:
    start = re.compile(TEXT_START)
    for code in range(sys.maxunicode + 1):
        if start.fullmatch(chr(code)):
            assert unicodedata.category(chr(code))[0] not in "CZ", hex(code)
            assert not chr(code).isspace()


TEXTS = [model.text("title", 30), model.text("summary", 30, multiline=True)]
texts = st.one_of(st.text(max_size=40), st.builds(
    lambda text, before, after: before + text + after, st.text(max_size=10),
    st.sampled_from(["", *SPACES, "\u200b", "\t", "\n"]),
    st.sampled_from(["", *SPACES, "\u200b", "\t", "\n"])))


@pytest.mark.parametrize("text", TEXTS, ids=lambda text: text.option)
@settings(max_examples=3000, deadline=None)
@given(value=texts)
def test_a_text_pattern_takes_only_valid_texts(text: model.Text, value: str) -> None:
    if re.search(text_pattern(text), value) and len(value) <= text.limit:
        assert text.valid(value)
