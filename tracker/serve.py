"""Publish the projected database read-only with Datasette.

The single place that builds the Datasette instance. The database is served immutably
(no writes, no locking) with precomputed row counts; when the file is replaced by a
rebuild, `swap_database` puts the new file in place without restarting the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import threading
import time
from contextlib import closing
from functools import cache
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .orphans import remove_orphans

if TYPE_CHECKING:
    from .log import EventLog

DATABASE = "tracker"
SETTINGS = {
    "sql_time_limit_ms": 1000,
    "max_returned_rows": 1000,
    "default_cache_ttl": 5,
    "facet_time_limit_ms": 500,
    # Facet suggestions run a query per column on every table page: too slow at scale.
    "suggest_facets": False,
    "allow_download": True,
}
# At most this long to count the rows of one view when a database is swapped in.
VIEW_COUNT_SECONDS = 5.0
# Seconds an old database file's connections stay open after a swap: longer than any
# query can run (every query is cut at sql_time_limit_ms).
CLOSE_AFTER_SWAP = 30.0

_generations = count(1)


def load_metadata(path: Path | None) -> dict[str, Any]:
    if path is None or not Path(path).exists():
        return {"title": "tracker"}
    return json.loads(Path(path).read_text(encoding="utf-8"))


def file_identity(path: Path | str) -> tuple[int, int, int] | None:
    """What identifies one version of a file: inode, size, modification time."""
    try:
        stat = Path(path).stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _count(conn: sqlite3.Connection, name: str, seconds: float | None) -> int | None:
    """Rows of a table or view; None if it cannot be counted (in `seconds`)."""
    if seconds is not None:
        deadline = time.monotonic() + seconds
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 10000)
    try:
        return conn.execute(f"select count(*) from [{name}]").fetchone()[0]
    except sqlite3.DatabaseError:
        return None  # a virtual table that cannot be counted, or out of time
    finally:
        conn.set_progress_handler(None, 0)


def inspect_database(path: Path | str) -> dict[str, Any]:
    """Datasette's inspect data for one file: rows per table and view, size, a version hash.

    Served immutably, Datasette then counts no table or view on a page view. Views are
    marked, so that they are not listed as tables.
    """
    path = Path(path)
    identity = file_identity(path)
    tables = {}
    with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as conn:
        for name, kind in conn.execute(
            "select name, type from sqlite_master where type in ('table', 'view') order by name"
        ).fetchall():
            is_view = kind == "view"
            rows = _count(conn, name, VIEW_COUNT_SECONDS if is_view else None)
            if rows is not None:
                tables[name] = {"name": name, "count": rows, "view": is_view}
    version = hashlib.sha256(repr(identity).encode()).hexdigest()
    return {"hash": version, "size": path.stat().st_size, "file": str(path), "tables": tables}


@cache
def _database_class():
    from datasette.database import Database, connections

    class TrackerDatabase(Database):
        """An immutable database whose per-thread connections belong to one file version.

        Datasette keys its thread-local connections by database name, so a new file at
        the same path would be read through the old connections. Here each version has
        its own key; a thread drops the connections of older versions when it next runs.
        """

        def __init__(self, ds, path: str):
            super().__init__(ds, path=path, is_mutable=False)
            self.connection_key = f"{DATABASE}@{next(_generations)}"

        @property
        def cached_table_counts(self) -> dict[str, int] | None:
            """Rows per table (not per view: Datasette lists these names as tables)."""
            inspected = (self.ds.inspect_data or {}).get(self.name)
            if inspected is None:
                return None
            return {name: table["count"] for name, table in inspected["tables"].items()
                    if not table.get("view")}

        async def execute_fn(self, fn):
            if self.ds.executor is None:
                return await super().execute_fn(fn)
            key = self.connection_key

            def in_thread():
                local = vars(connections)
                for stale in [name for name in local if name.startswith(f"{DATABASE}@")
                              and name != key]:
                    local.pop(stale).close()
                conn = local.get(key)
                if conn is None:
                    conn = self.connect()
                    self.ds._prepare_connection(conn, self.name)
                    local[key] = conn
                return fn(conn)

            return await asyncio.get_running_loop().run_in_executor(self.ds.executor, in_thread)

    return TrackerDatabase


def swap_database(datasette, db_path: Path | str, inspect_data: dict[str, Any] | None = None):
    """Serve the file now at `db_path` as `tracker`, in place of the version served so far.

    Synchronous and without awaits, so no request sees a half-done swap. The old
    version's connections are closed later, when no query can still be using them.
    """
    inspect_data = inspect_data or inspect_database(db_path)
    old = datasette.databases.get(DATABASE)
    new = _database_class()(datasette, path=str(db_path))
    datasette.inspect_data = {**(datasette.inspect_data or {}), DATABASE: inspect_data}
    databases = {name: db for name, db in datasette.databases.items() if name != DATABASE}
    datasette.databases = databases
    datasette.add_database(new, name=DATABASE)
    if old is not None:
        timer = threading.Timer(CLOSE_AFTER_SWAP, old.close)
        timer.daemon = True
        timer.start()
    return new


def make_datasette(db_path: Path | str, metadata: dict[str, Any]):
    """A Datasette serving the database immutably under the name `tracker`."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    from . import site

    if not pm.is_registered(site):
        pm.register(site, name="tracker.site")
    datasette = Datasette(immutables=[], metadata=metadata, settings=SETTINGS,
                          static_mounts=[(site.MOUNT, str(site.STATIC))])
    datasette.remove_database("_memory")
    swap_database(datasette, db_path)
    return datasette


def served_copy(db_path: Path) -> Path:
    """Where this server keeps its own copy of the database (beside it, same disk)."""
    return db_path.with_name(f".{db_path.stem}.served-{os.getpid()}.db")


def copy_database(db_path: Path | str, target: Path) -> None:
    """A consistent copy of the database, written aside and renamed onto `target`.

    `tracker build` may update the database in place (incrementally), while a file served
    immutably must never change: so the site serves its own copy, replaced whole, never
    rewritten. The copy is of the file's bytes, by the kernel (about five times faster
    than SQLite's backup: 1 s for 2.8 GB), under a read transaction: no build can write
    to the file until it is done. A database in WAL mode, whose file alone is not the
    whole database, is copied by SQLite's backup.
    """
    temporary = target.with_name(f"{target.stem}.copying.db")
    temporary.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=60,
                                     isolation_level=None)) as source:
            source.execute("begin")
            source.execute("select count(*) from sqlite_master").fetchone()  # read lock
            if source.execute("pragma journal_mode").fetchone()[0] == "wal":
                with closing(sqlite3.connect(temporary)) as copy:
                    source.backup(copy)
            else:
                shutil.copyfile(db_path, temporary)
            source.execute("commit")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def serve(db_path: Path | str, metadata_path: Path | None, host: str, port: int,
          log: EventLog | None = None) -> None:
    """Run the site on its own copy of the database; given the log, follow it."""
    import warnings

    import uvicorn

    from .watch import follow

    # datasette-ics calls str() on its calendar, which ics 0.7 warns about on every feed.
    warnings.filterwarnings("ignore", r"Behaviour of str\(Component\)", FutureWarning)

    # uvicorn shuts down on SIGTERM, then raises it again: exit through `finally` below.
    signal.signal(signal.SIGTERM, _exit)
    db_path = Path(db_path)
    remove_orphans(db_path.parent, f".{db_path.stem}.served-*.db")
    copy = served_copy(db_path)
    copy_database(db_path, copy)
    try:
        datasette = make_datasette(copy, load_metadata(metadata_path))
        server = uvicorn.Server(uvicorn.Config(datasette.app(), host=host, port=port,
                                               log_level="warning"))

        async def main() -> None:
            watcher = None
            if log is not None:
                watcher = asyncio.create_task(follow(
                    log, db_path, copy, lambda data: swap_database(datasette, copy, data)))
            try:
                await server.serve()
            finally:
                if watcher is not None:
                    watcher.cancel()

        print(f"Serving {db_path} at http://{host}:{port}/{DATABASE}", flush=True)
        asyncio.run(main())
    except KeyboardInterrupt:
        pass  # Ctrl-C: uvicorn has shut down, raising SIGINT again
    finally:
        copy.unlink(missing_ok=True)
