"""Workloads for the reliability tests: valid events of a chosen size, and writer processes.

The writers run as real processes: `python -m tests.workload MODE ...` from the project
root. Each prints one line per event so that the test knows what was acknowledged.

Sizes: the smallest valid event is a meeting with a one-letter title (its line is about
300 bytes, most of it the envelope: id, hash, timestamps). The largest is a meeting with
every text field at its limit in 4-byte characters: the model's field limits (title 300,
summary 20000, quote 5000, citation 2000, publisher 200, 500 topics of 100 and 500
officials of 200 + 200 characters) allow no larger event: about 1.1 MB.
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
from typing import Any

from tracker import envelope
from tracker.log import EventLog
from tracker.model import MAX_ITEMS, RECORDED, Draft
from tracker.recorder import record

# Characters of 1, 2, 3 and 4 bytes in UTF-8; none is blank, a control character or ':'.
ALPHABETS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 <>&'\"\\;-=",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяқңғүұһ",
    "日本中央アジア対話外務大臣会合首脳会議東京",
    "\U0001f600\U0001f30f\U0001f4dc\U00020000\U00020001\U0002a6d6",
)
LIMITS = {"title": 300, "summary": 20000, "quote": 5000, "topic": 100, "official": 200,
          "citation": 2000, "publisher": 200}
SMALL = 100  # bytes of data of the small events


def _text(rng: random.Random, alphabet: str, length: int) -> str:
    if length <= 0:
        return ""
    middle = "".join(rng.choices(alphabet, k=length))
    if length <= 2:
        return alphabet[0] * length if alphabet[0].strip() else "x" * length
    return "x" + middle[1:-1] + "x"  # never blank at either end (text is stripped)


def meeting_data(rng: random.Random, size: int) -> dict[str, Any]:
    """Valid data of a held meeting whose JSON is about `size` bytes (at most the maximum)."""
    alphabet = ALPHABETS[3] if size > 100_000 else rng.choice(ALPHABETS)
    width = len(alphabet[0].encode())
    budget = max(1, size // width)

    def take(limit: int) -> int:
        nonlocal budget
        length = min(limit, budget)
        budget -= length
        return length

    data: dict[str, Any] = {"title": _text(rng, alphabet, max(1, take(LIMITS["title"]))) or "T",
                            "date": "2020", "status": "held"}
    if summary := take(LIMITS["summary"]):
        data["summary"] = _text(rng, alphabet, summary)
    source: dict[str, str] = {"citation": "s"}
    if quote := take(LIMITS["quote"]):
        source["quote"] = _text(rng, alphabet, quote)
    topics = []
    while budget > 0 and len(topics) < MAX_ITEMS:
        number = str(len(topics))  # keeps topics distinct
        topics.append(number + _text(rng, alphabet, take(LIMITS["topic"] - len(number))))
    officials = []
    while budget > 0 and len(officials) < MAX_ITEMS:
        number = str(len(officials))
        name = number + _text(rng, alphabet, take(LIMITS["official"] - len(number)))
        official = {"actor": "JPN", "name": name}
        if title := take(LIMITS["official"]):
            official["title"] = _text(rng, alphabet, title)
        officials.append(official)
    if citation := take(LIMITS["citation"]):
        source["citation"] = _text(rng, alphabet, citation)
    if publisher := take(LIMITS["publisher"]):
        source["publisher"] = _text(rng, alphabet, publisher)
    if officials:
        data["participants"] = ["JPN"]
        data["officials"] = officials
    if topics:
        data["topics"] = topics
    data["source"] = source
    return data


def cli_arguments(data: dict[str, Any]) -> list[str]:
    """The `tracker add meeting` arguments that record exactly this data."""
    arguments = ["add", "meeting", "--title", data["title"], "--date", data["date"]]
    if "summary" in data:
        arguments += ["--summary", data["summary"]]
    for topic in data.get("topics", []):
        arguments += ["--topic", topic]
    for official in data.get("officials", []):
        parts = [official["actor"], official["name"], official.get("title", "")]
        arguments += ["--official", ":".join(parts).rstrip(":")]
    for key in ("citation", "quote", "publisher"):
        if key in data["source"]:
            arguments += ["--source" if key == "citation" else f"--{key}", data["source"][key]]
    return arguments


def draw_size(rng: random.Random, index: int, large: int = 10,
              small_max: int = 16_000) -> int:
    """The data size of the index-th event of a writer: the smallest first, the largest
    second, `large` more between 64 KB and the maximum, the rest log-uniform between
    100 bytes and `small_max`."""
    if index == 0:
        return 0  # the smallest valid event
    if index == 1:
        return 10**7  # as large as the model allows
    if index < 2 + large:
        return rng.randrange(64_000, 1_100_000)
    return int(math.exp(rng.uniform(math.log(SMALL), math.log(small_max))))


def fields(rng: random.Random, size: int) -> dict[str, Any]:
    event_id = envelope.new_id()
    return {"id": event_id, "type": RECORDED["meeting"], "schema": envelope.SCHEMA,
            "subject": event_id, "recorded_at": envelope.now(), "recorded_by": "workload",
            "data": meeting_data(rng, size)}


def digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(envelope.canonical(data)).hexdigest()


def append(events: str, writer: str, count: int, seed: int) -> None:
    """`count` appends through the library, alternating recorder.record and
    EventLog.session/Appender.write, one lock per append; prints `id digest` for each."""
    log = EventLog(events, writer=writer)
    rng = random.Random(seed)
    for index in range(count):
        size = draw_size(rng, index)
        if index % 2:
            event, _ = record(log, Draft(RECORDED["meeting"], meeting_data(rng, size)))
        else:
            with log.session() as appender:
                event = appender.write(fields(rng, size))
        print(event["id"], digest(event["data"]), flush=True)


class AnnouncingLog(EventLog):
    """An EventLog that prints a line just before each append writes (after the quarantine)."""

    announcement = ""

    def _append(self, path: Any, line: bytes) -> None:
        print(self.announcement, flush=True)
        super()._append(path, line)


def kill_target(events: str, writer: str, seed: int, big_every: int) -> None:
    """Append until killed. Just before each write prints `begin ID SEQ RECORDED_AT INDEX`,
    after the append `ok ID`; event INDEX's data is `meeting_data(*data_seed(...))`."""
    log = AnnouncingLog(events, writer=writer)
    print("ready", flush=True)
    index = 0
    while True:
        with log.session() as appender:
            event = fields(*data_seed(seed, index, big_every))
            log.announcement = (f"begin {event['id']} {appender.seq + 1} "
                                f"{event['recorded_at']} {index}")
            appender.write(event)
        print("ok", event["id"], flush=True)
        index += 1


def data_seed(seed: int, index: int, big_every: int) -> tuple[random.Random, int]:
    """The generator and size of event `index` of a kill target (one in `big_every` is the
    largest possible; 0: the usual mix)."""
    rng = random.Random(f"{seed}-{index}")
    if big_every and index % big_every == big_every - 1:
        return rng, 10**7
    return rng, draw_size(rng, index + 2 + 10, small_max=16_000)


def expected_line(seed: int, index: int, big_every: int, event_id: str, seq: int,
                  recorded_at: str, writer: str) -> bytes:
    """The exact line a kill target was writing (for checking a torn tail's bytes)."""
    rng, size = data_seed(seed, index, big_every)
    data = meeting_data(rng, size)
    return envelope.seal({"id": event_id, "type": RECORDED["meeting"],
                          "schema": envelope.SCHEMA, "subject": event_id,
                          "recorded_at": recorded_at, "recorded_by": "workload",
                          "writer": writer, "seq": seq, "data": data})


if __name__ == "__main__":
    mode, *arguments = sys.argv[1:]
    if mode == "append":
        append(arguments[0], arguments[1], int(arguments[2]), int(arguments[3]))
    elif mode == "kill-target":
        kill_target(arguments[0], arguments[1], int(arguments[2]), int(arguments[3]))
    else:
        raise SystemExit(f"unknown mode {mode}")
