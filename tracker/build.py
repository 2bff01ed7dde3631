"""Build the database file from the log: in full (into a temporary file, renamed into
place) or incrementally (only the events that sort after the last one applied, in one
transaction); both give the same contents. `as_of` builds the past.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from .collector import collection_paused
from .duplicates import Conflict, Repeat, conflicts
from .errors import TrackerError, counted, listed
from .feed import fed_events
from .forking import worth_forking
from .log import EventLog, SegmentState
from .loops import Looping, looping_references
from .orphans import remove_orphans
from .progress import Advance, Progress, no_progress
from .projection import (
    PROJECTION_VERSION,
    Dangling,
    Projector,
    dangling_references,
    project,
    refresh_derived,
)
from .replay import FirstOfEach, OutOfOrder, ordered_events, recorded_until, sort_key
from .states import Broken, broken_rules


@dataclass
class BuildInfo:
    """What a database was built from, kept in its build_info table."""

    segments: dict[str, SegmentState]
    last_key: list | None
    as_of: str | None = None
    version: str = PROJECTION_VERSION

    def save(self, conn: sqlite3.Connection) -> None:
        values = {
            "projection_version": self.version,
            "segments": orjson.dumps({name: asdict(state) for name, state
                                      in sorted(self.segments.items())}).decode(),
            "last_key": orjson.dumps(self.last_key).decode(),
            "as_of": self.as_of or "",
        }
        conn.executemany("insert or replace into build_info (key, value) values (?, ?)",
                         sorted(values.items()))

    @classmethod
    def load(cls, db_path: Path) -> BuildInfo | None:
        if not db_path.exists():
            return None
        try:
            with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
                values = dict(conn.execute("select key, value from build_info"))
            segments = {name: SegmentState(**state)
                        for name, state in orjson.loads(values["segments"]).items()}
            return cls(segments, orjson.loads(values["last_key"]), values["as_of"] or None,
                       values["projection_version"])
        except (sqlite3.DatabaseError, KeyError, TypeError, orjson.JSONDecodeError):
            return None


@dataclass
class BuildResult:
    events: int  # events applied by this build (each id once: the events table's rows)
    incremental: bool
    # References to retracted records (a merge can leave them): all of them after a full
    # build, those from or to the records an incremental one changed
    dangling: list[Dangling] = field(default_factory=list)
    # Announcements about each other in a loop (a merge can leave them), likewise
    looping: list[Looping] = field(default_factory=list)
    # Ids used by events with other content (an --id given twice, in two clones): all of
    # them after a full build, those among the events an incremental one applied
    conflicts: list[Conflict] = field(default_factory=list)
    # Records in a state `tracker add` refuses (a merge can leave them), likewise
    broken: list[Broken] = field(default_factory=list)
    # Events the database had that the log no longer has (id, type, subject), when a
    # segment was shortened, rewritten or removed since it was built
    vanished: list[tuple[str, str, str]] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """What the build found wrong in the log, one message each (as `tracker build`,
        and every command that builds, warns of it)."""
        def named(retracted: bool) -> list[str]:
            return [f"{kind} {record} --{option} {referenced}" for kind, record, option,
                    referenced, was in self.dangling if bool(was) is retracted]

        warnings = []
        if retracted := named(True):
            warnings.append(_merged(retracted, "to retracted records", "a merge can leave them",
                                    "amend them" if len(retracted) > 1 else "amend it"))
        if missing := named(False):
            warnings.append(_merged(missing, "to records not in the log",
                                    "a line lost or deleted", "run tracker verify"))
        if self.looping:
            warnings.append(_merged([f"announcement {announcement} --about {about}"
                                     for announcement, about in self.looping],
                                    "of announcements about each other in a loop",
                                    "a merge can leave them", "amend one in each loop"))
        if self.broken:
            count = len(self.broken)
            records = len({record for _kind, record, _what in self.broken})
            warnings.append(
                f"{count} breach{'es' if count > 1 else ''} of the rules of tracker add (a "
                "merge can leave them): " + listed(
                    [f"{kind} {record} {what}" for kind, record, what in self.broken])
                + f"; amend {'them' if records > 1 else 'it'}")
        if self.vanished:
            them = "them" if len(self.vanished) > 1 else "it"
            warnings.append(
                f"{counted(len(self.vanished), 'event')} of the last build no longer in the "
                "log (a git revert or reset, another branch, lines deleted): " + listed(
                    [f"{event_type} {event_id}" + (f" of {subject}" if subject != event_id
                                                   else "")
                     for event_id, event_type, subject in self.vanished])
                + f"; rebuilt without {them} (after a pull, tracker verify --against "
                f"ORIG_HEAD says whether the pull removed {them})")
        if self.conflicts:
            count = len(self.conflicts)
            warnings.append(
                f"{count} id{'s' if count > 1 else ''} used by events with other content "
                "(an --id given twice, in two clones): " + listed(
                    [f"{conflict.id} (kept {conflict.kept}, the first in replay order; "
                     f"left out {', '.join(conflict.left_out)})"
                     for conflict in self.conflicts]) + "; run tracker verify")
        return warnings


def _merged(references: list[str], what: str, cause: str, advice: str) -> str:
    """A warning of references that should not be (the first three, then how many)."""
    count = len(references)
    return (f"{count} reference{'s' if count > 1 else ''} {what} ({cause}): "
            f"{listed(references)}; {advice}")


@contextmanager
def built_as_of(log: EventLog, moment: str) -> Iterator[tuple[Path, BuildResult]]:
    """The state as of `moment`, built into a temporary database (removed after): its
    path, and what the build did."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        snapshot = Path(folder) / "tracker.db"
        yield snapshot, build(log, snapshot, as_of=moment)


def build(log: EventLog, db_path: Path | str, full: bool = False,
          as_of: str | None = None, progress: Progress = no_progress) -> BuildResult:
    """Bring the database up to date with the log: incrementally when every new event
    sorts after the last one applied, else by a full rebuild. `as_of` (a recorded_at
    timestamp) builds the state from the events recorded up to that moment, in full.
    `progress(label, total bytes)` gives the `advance` function reading reports to."""
    db_path = Path(db_path)
    # Refused before the lock too, so that a refused --db leaves no lock file beside it
    # (a database with a journal to roll back cannot be read until the lock is held).
    _refuse_a_file_not_sqlite(db_path)
    if not journal_of(db_path).exists():
        _refuse_a_database_not_built_here(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with _one_build_at_a_time(db_path):
        _refuse_a_file_not_sqlite(db_path)
        roll_back_interrupted_write(db_path)
        _refuse_a_database_not_built_here(db_path)
        snapshot = log.snapshot()
        if not full and as_of is None:
            result = _build_incrementally(log, db_path, snapshot)
            if result is not None:
                return result
        return _build_fully(log, db_path, snapshot, as_of, progress,
                            compare=as_of is None and _lost_lines(log, db_path, snapshot))


@contextmanager
def _one_build_at_a_time(db_path: Path) -> Iterator[None]:
    """An exclusive flock on `.<db name>.lock` beside the database, for one build: a
    second build (by hand, while `tracker serve` rebuilds) waits, then finds the first
    one's work done, instead of applying the same events again."""
    fd = os.open(db_path.with_name(f".{db_path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


SQLITE_HEADER = b"SQLite format 3\x00"
NOT_REPLACED = "not replaced (remove it, or give another --db)"


def _refuse_a_file_not_sqlite(db_path: Path) -> None:
    """A full build renames its new file over the database: refuse, before touching
    anything, when the path holds another kind of file (a log segment, a document)."""
    try:
        with open(db_path, "rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as error:
        raise TrackerError(f"cannot use {db_path} as the database: {error.strerror}") from None
    if header and header != SQLITE_HEADER:
        raise TrackerError(f"{db_path} is not a SQLite database: {NOT_REPLACED}")


def _refuse_a_database_not_built_here(db_path: Path) -> None:
    """Refuse to replace a SQLite database that tracker did not build (it has no
    build_info table), or that cannot be read."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        return
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
            built_here = conn.execute("select 1 from sqlite_master where type = 'table' "
                                      "and name = 'build_info'").fetchone()
    except sqlite3.DatabaseError as error:
        raise TrackerError(f"{db_path} cannot be read ({error}): {NOT_REPLACED}") from None
    if not built_here:
        raise TrackerError(f"{db_path} is a database tracker did not build: {NOT_REPLACED}")


def journal_of(db_path: Path) -> Path:
    """Where SQLite keeps the pages a transaction on the database replaces."""
    return db_path.with_name(f"{db_path.name}-journal")


def roll_back_interrupted_write(db_path: Path) -> None:
    """Undo what a build killed while writing in place left: its journal, which SQLite
    plays back the next time the database is opened for writing. Until then the file
    cannot be read read-only; and a file renamed into place would be paired with that
    journal, and damaged by it. (A file that is not SQLite was refused before.)"""
    journal = journal_of(db_path)
    if not journal.exists():
        return
    try:
        with closing(sqlite3.connect(str(db_path), timeout=60)) as conn:
            conn.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise TrackerError(f"cannot roll back what a build left in {db_path}: "
                           f"{error}") from None


def _lost_lines(log: EventLog, db_path: Path, snapshot: dict[str, SegmentState]) -> bool:
    """Whether the database was built (in full, of this projection) from a state of the
    log that is not a prefix of this one: lines were removed or rewritten since."""
    info = BuildInfo.load(db_path)
    return (info is not None and info.version == PROJECTION_VERSION and info.as_of is None
            and log.appended_since(info.segments, snapshot) is None)


VANISHED = ("select id, type, subject from previous.events where not exists (select 1 from "
            "main.events where main.events.id = previous.events.id) order by id")


def _build_fully(log: EventLog, db_path: Path, snapshot: dict[str, SegmentState],
                 as_of: str | None, progress: Progress = no_progress,
                 compare: bool = False) -> BuildResult:
    """Build the database anew; `compare`: name the events the one it replaces had that
    the log has no longer."""
    remove_orphans(db_path.parent, f".{db_path.name}.building-*")  # of killed builds
    temporary = db_path.with_name(f".{db_path.name}.building-{os.getpid()}")
    ranges = {name: (0, state.size) for name, state in snapshot.items()}
    total = sum(state.size for state in snapshot.values())
    try:
        try:
            with progress("Building", total) as advance, collection_paused():
                count, repeats = _project_file(log, temporary, ranges, as_of, snapshot,
                                               False, advance)
        except OutOfOrder:
            with progress("Building", total) as advance, collection_paused():
                count, repeats = _project_file(log, temporary, ranges, as_of, snapshot,
                                               True, advance)
        vanished = _vanished(temporary, db_path) if compare else []
        os.replace(temporary, db_path)
    finally:
        temporary.unlink(missing_ok=True)
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        dangling, looping = dangling_references(conn), looping_references(conn)
        conflicting, broken = conflicts(conn, repeats), broken_rules(conn)
    return BuildResult(count, incremental=False, dangling=dangling, looping=looping,
                       conflicts=conflicting, broken=broken, vanished=vanished)


def _vanished(new: Path, old: Path) -> list[tuple[str, str, str]]:
    """The events of the `old` database that the `new` one does not have."""
    with closing(sqlite3.connect(f"file:{new}?mode=ro", uri=True)) as conn:
        conn.execute("attach database ? as previous", (f"file:{old}?mode=ro",))
        return conn.execute(VANISHED).fetchall()


def _project_file(log: EventLog, path: Path, ranges: dict[str, tuple[int, int]],
                  as_of: str | None, snapshot: dict[str, SegmentState],
                  sort_in_memory: bool, advance: Advance) -> tuple[int, list[Repeat]]:
    """Project the events into a new database file; return the count of events applied
    (each id once), and the copies of events left out (an id seen again).
    A large log is read by a second process (see `feed`) while this one writes."""
    path.unlink(missing_ok=True)
    with closing(sqlite3.connect(str(path))) as conn:
        if worth_forking(sum(stop - start for start, stop in ranges.values())):
            with fed_events(log, ranges, sort_in_memory, as_of, advance) as feed:
                project(feed, conn, deduplicated=True)
            count, last_key, repeats = feed.count, feed.last_key, feed.repeats
        else:
            events = FirstOfEach(recorded_until(
                ordered_events(log, sort_in_memory, ranges, advance), as_of))
            project(events, conn, deduplicated=True)
            count, last_key, repeats = events.count, events.last_key, events.repeats
        conn.execute("begin")
        BuildInfo(snapshot, _key(last_key), as_of).save(conn)
        conn.execute("commit")
    return count, repeats


def _key(key: tuple | None) -> list | None:
    return list(key) if key is not None else None


def _build_incrementally(log: EventLog, db_path: Path,
                         snapshot: dict[str, SegmentState]) -> BuildResult | None:
    """Apply only the new events in place, or return None when a full build is needed."""
    info = BuildInfo.load(db_path)
    if info is None or info.version != PROJECTION_VERSION or info.as_of is not None:
        return None
    if info.segments == snapshot:
        return BuildResult(0, incremental=True)  # up to date: the file stays untouched
    ranges = log.appended_since(info.segments, snapshot)
    if ranges is None:
        return None
    events = list(ordered_events(log, sort_in_memory=True, ranges=ranges))
    if events and info.last_key is not None and sort_key(events[0]) <= tuple(info.last_key):
        return None  # older events arrived (a merge): replay everything
    # A served database has readers: the commit waits for their queries (cut at 1 s).
    with closing(sqlite3.connect(str(db_path), isolation_level=None, timeout=60)) as conn:
        conn.execute("begin immediate")
        try:
            projector = Projector(conn, incremental=True)
            projector.last_key = tuple(info.last_key) if info.last_key else None
            for event in events:
                projector.apply(event)
            projector.finish()
            refresh_derived(conn, projector.touched)
            BuildInfo(snapshot, _key(projector.last_key)).save(conn)
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        dangling = dangling_references(conn, touched=True) if events else []
        looping = looping_references(conn, touched=True) if events else []
        broken = broken_rules(conn, touched=True) if events else []
        conflicting = conflicts(conn, projector.repeats)
    return BuildResult(len(events) - len(projector.repeats), incremental=True,
                       dangling=dangling, looping=looping, conflicts=conflicting,
                       broken=broken)


def is_stale(log: EventLog, db_path: Path | str, as_of: str | None = None,
             snapshot: dict[str, SegmentState] | None = None) -> bool:
    """Whether the database is missing, or was built from another state of the log
    (`snapshot`, if the caller has just taken it)."""
    info = BuildInfo.load(Path(db_path))
    return (info is None or info.version != PROJECTION_VERSION or info.as_of != as_of
            or info.segments != (log.snapshot() if snapshot is None else snapshot))
