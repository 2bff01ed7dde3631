"""Follow the event log while the site runs: rebuild when it grows, swap the new data in.

A new record is an append to a segment file, which changes the log's snapshot (its
segments, their sizes and last lines). The watcher then runs `tracker build` in a
separate process (so serving keeps its CPU and memory), which updates `tracker.db`
incrementally or rebuilds it. Whenever `tracker.db` has changed (by this build, or by a
`tracker build` run by hand), the site counts its rows and serves it with those counts.
A build killed while writing leaves a journal, which makes the file unreadable
read-only: the watcher then runs a build, which plays it back.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .build import is_stale, journal_of
from .log import EventLog
from .serve import file_identity, inspect_database

POLL_SECONDS = 0.5


def warn(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr, flush=True)


def rebuild_command(events: Path, db_path: Path) -> list[str]:
    return [sys.executable, "-m", "tracker", "--events", str(events), "--db", str(db_path),
            "build"]


async def rebuild(events: Path, db_path: Path, warned: set[str]) -> str | None:
    """Run `tracker build`; return its error line, or None when it succeeded, passing on
    its warnings (what it found wrong in the new events, as `tracker build` prints it)
    that are not in `warned` (those printed before), and adding them there. A full
    rebuild (older events merged) finds again what was printed before: not repeated."""
    process = await asyncio.create_subprocess_exec(
        *rebuild_command(events, db_path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, errors = await process.communicate()
    lines = errors.decode(errors="replace").strip().splitlines()
    if process.returncode == 0:
        for message in [line.removeprefix("Warning: ") for line in lines
                        if line.startswith("Warning: ")]:
            if message not in warned:
                warned.add(message)
                warn(message)
        return None
    return lines[-1] if lines else f"tracker build exited with {process.returncode}"


async def follow(log: EventLog, db_path: Path, swap: Callable[[dict[str, Any]], Any],
                 warned: Iterable[str] = (), interval: float = POLL_SECONDS) -> None:
    """Poll the log and the database forever; never stop serving on a failed build.
    `swap(counts)` serves the database as it now is. `warned`: the build warnings printed
    already (at start-up), which the rebuilds do not print again."""
    printed = set(warned)
    served = file_identity(db_path)
    seen = None
    while True:
        await asyncio.sleep(interval)
        try:
            state = await asyncio.to_thread(log.snapshot)
            if state != seen or journal_of(db_path).exists():
                seen = state
                if await asyncio.to_thread(is_stale, log, db_path, None, state):
                    error = await rebuild(log.root, db_path, printed)
                    if error:
                        warn(f"the log changed but {db_path} could not be rebuilt ({error}); "
                             "still serving the previous build")
            identity = file_identity(db_path)
            if identity is not None and identity != served:
                swap(await asyncio.to_thread(inspect_database, db_path))
                served = identity
                print(f"Reloaded {db_path}", file=sys.stderr, flush=True)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # keep serving whatever happens to one round
            warn(f"could not reload {db_path}: {error}")
