"""Publish the projected database read-only with Datasette.

The single place that builds the Datasette instance. Datasette treats the database as
immutable (precomputed row counts, downloads allowed), while its connections open the
file read-only with SQLite's locking, so that `tracker build` can update it in place:
each query sees the database before or after a build's transaction, never half of it.
When the file has changed, `swap_database` serves it with fresh counts, without a
restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from contextlib import closing
from copy import deepcopy
from functools import cache
from itertools import count
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO

from .errors import TrackerError
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
# Seconds a query waits while a build commits (milliseconds, as a rule).
READ_WAIT_SECONDS = 30.0

_generations = count(1)


def load_metadata(path: Path | None) -> dict[str, Any]:
    if path is None or not Path(path).exists():
        return {"title": "tracker"}
    try:
        metadata = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TrackerError(f"{path} is not valid JSON metadata: {error}") from None
    if not isinstance(metadata, dict):
        raise TrackerError(f"{path} is not valid JSON metadata: not an object")
    return metadata


def as_of_metadata(metadata: dict[str, Any], moment: str) -> dict[str, Any]:
    """The metadata of a site that shows the state as of a past moment: its title, the
    titles of its dashboards and canned queries (and so of their feeds), and the footer
    of every other page (`about`, which pages inherit) say so, so that a page of it is
    not taken for the present."""
    stamped = deepcopy(metadata)
    stamped["title"] = f"{metadata.get('title') or 'tracker'} (as of {moment})"
    about = metadata.get("about")
    stamped["about"] = f"the state as of {moment}" + (f"; {about}" if about else "")
    titled = [*stamped.get("plugins", {}).get("datasette-dashboards", {}).items(),
              *(item for database in stamped.get("databases", {}).values()
                for item in database.get("queries", {}).items())]  # their pages, feeds
    for name, page in titled:
        if isinstance(page, dict):
            page["title"] = f"{page.get('title') or name} (as of {moment})"
    return stamped


# What the footer of a page shows (Datasette's `_description_source_license.html`).
FOOTER_KEYS = ("license", "license_url", "source", "source_url", "about", "about_url")


def with_footers(metadata: dict[str, Any]) -> dict[str, Any]:
    """The metadata with the site's footer (licence, source, about) given to every table
    of the database as well: a row page of Datasette 0.65 shows its table's own metadata
    only, with no footer (and no "as of" with `--as-of`) until a page of the table had
    filled in what it inherits."""
    from .schema import TABLES

    filled = deepcopy(metadata)
    database = filled.setdefault("databases", {}).setdefault(DATABASE, {})
    tables = database.setdefault("tables", {})
    for name in dict.fromkeys([*tables, *(table.name for table in TABLES)]):
        table = tables.setdefault(name, {})
        for key in FOOTER_KEYS:
            inherited = database.get(key) or filled.get(key)
            if inherited and not table.get(key):
                table[key] = inherited
    return filled


def file_identity(path: Path | str) -> tuple[int, int, int] | None:
    """What identifies one version of a file: inode, size, modification time."""
    try:
        stat = Path(path).stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def read_only(path: Path | str, **options: Any) -> sqlite3.Connection:
    """A connection that cannot write and takes SQLite's locks: it reads the database
    before or after a build's transaction, waiting while one commits."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=READ_WAIT_SECONDS,
                           **options)


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

    Given these, Datasette counts no table or view on a page view. Views are marked, so
    that they are not listed as tables.
    """
    path = Path(path)
    identity = file_identity(path)
    tables = {}
    with closing(read_only(path, isolation_level=None)) as conn:
        conn.execute("begin")  # every count of one state, whatever a build does meanwhile
        for name, kind in conn.execute(
            "select name, type from sqlite_master where type in ('table', 'view') order by name"
        ).fetchall():
            is_view = kind == "view"
            rows = _count(conn, name, VIEW_COUNT_SECONDS if is_view else None)
            if rows is not None:
                tables[name] = {"name": name, "count": rows, "view": is_view}
        conn.execute("commit")
    version = hashlib.sha256(repr(identity).encode()).hexdigest()
    return {"hash": version, "size": path.stat().st_size, "file": str(path), "tables": tables}


@cache
def _database_class():
    from datasette.database import Database, connections

    from . import paging, site

    class TrackerDatabase(Database):
        """A database Datasette treats as immutable, read through read-only connections
        (not `immutable=1`, which would trust the file never to change), whose
        per-thread connections belong to one version of the file.

        Datasette keys its thread-local connections by database name, so a new file at
        the same path would be read through the old connections. Here each version has
        its own key; a thread drops the connections of older versions when it next runs.
        """

        def __init__(self, ds, path: str):
            super().__init__(ds, path=path, is_mutable=False)
            self.connection_key = f"{DATABASE}@{next(_generations)}"

        def connect(self, write: bool = False) -> sqlite3.Connection:
            assert not write, "the site never writes"
            conn = read_only(self.path, check_same_thread=False)
            self._all_file_connections.append(conn)
            return conn

        async def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
            """Datasette's, with the pages of a sorted table in one total order
            (`paging.total_order`)."""
            return await super().execute(await paging.total_order(self, sql), *args, **kwargs)

        async def get_all_foreign_keys(self) -> dict[str, dict[str, list[dict[str, str]]]]:
            return record_links(await super().get_all_foreign_keys())

        @property
        def cached_table_counts(self) -> dict[str, int] | None:
            """Rows per table (not per view: Datasette lists these names as tables)."""
            inspected = (self.ds.inspect_data or {}).get(self.name)
            if inspected is None:
                return None
            return {name: table["count"] for name, table in inspected["tables"].items()
                    if not table.get("view")}

        async def execute_fn(self, fn):
            fn = site.with_refusals(fn)  # a site function's refusal, with its message
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


@cache
def _datasette_class():
    from datasette.app import Datasette

    class TrackerDatasette(Datasette):
        """Datasette, with each plugin's configuration looked up once.

        The metadata is fixed while the site runs, and `plugin_config` merges all of it
        again on each call. datasette-render-markdown calls it for every cell a page
        shows (1,000 rows of 10 columns: 10,000 merges of the whole metadata). Each
        caller gets its own copy, which it may change (datasette-dashboards writes a
        page's filters into its charts).
        """

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.plugin_configs: dict[tuple, Any] = {}

        def plugin_config(self, plugin_name, database=None, table=None, fallback=True):
            key = (plugin_name, database, table, fallback)
            if key not in self.plugin_configs:
                self.plugin_configs[key] = super().plugin_config(
                    plugin_name, database, table, fallback)
            return deepcopy(self.plugin_configs[key])

    return TrackerDatasette


def record_links(keys: dict[str, dict[str, list[dict[str, str]]]]
                 ) -> dict[str, dict[str, list[dict[str, str]]]]:
    """Datasette's foreign keys, with the links a record's pages show: what refers to a
    record by `subject` (sources, history, status changes, events, announcements about
    it; keys to `records`) links from the row of its kind too, and a `records` row links
    to that row. These links are not in the schema: a subject refers to any kind."""
    from .projection import TABLE_OF

    if "records" not in keys:
        return keys
    linked = {table: {**links, "incoming": list(links["incoming"])}
              for table, links in keys.items()}
    for table, key in TABLE_OF.values():
        if table in linked:
            linked[table]["incoming"] += [{**link, "column": key}
                                          for link in keys["records"]["incoming"]]
            linked["records"]["incoming"].append(
                {"other_table": table, "column": "id", "other_column": key})
    return linked


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


FILTERS_PLUGIN = "datasette.filters"
SEARCH_HOOK = "search_filters"
FILTERS_TRIMMED = f"{FILTERS_PLUGIN} without {SEARCH_HOOK}"
UNAWAITED_FACETS = (r"coroutine '(\w+Facet\.facet_results|TableView\._data_traced\.<locals>\."
                    r"execute_suggested_facets)' was never awaited")


def make_datasette(db_path: Path | str, metadata: dict[str, Any]):
    """A Datasette serving the database immutably under the name `tracker`."""
    from datasette import facets, handle_exception
    from datasette.plugins import pm

    from . import paging, site

    if pm.is_registered(facets):
        pm.unregister(facets)  # the site's own facet classes take their place
    if pm.is_registered(handle_exception):
        pm.unregister(handle_exception)  # the site's own calls it (see `site.bad_parameter`)
    filters = pm.get_plugin(FILTERS_PLUGIN)
    if filters is not None:  # its search: the site's own calls it (see `site.search_filters`)
        pm.unregister(filters)
        pm.register(_hooks_but_one(pm, filters, SEARCH_HOOK), name=FILTERS_TRIMMED)
    # Datasette 0.65 awaits a page's facet counts one after the other: when one fails
    # (`_facet=nope`, answered 400), the others are left unawaited, each with a warning
    # and no harm done.
    warnings.filterwarnings("ignore", category=RuntimeWarning, message=UNAWAITED_FACETS)
    if pm.has_plugin("ics"):  # datasette-ics, if installed beside: the site writes .ics
        pm.unregister(name="ics")
    if not pm.is_registered(site):
        pm.register(site, name="tracker.site")
    site.missing_column_raises_index_error()
    site.a_failed_query_is_a_bad_request()
    paging.mend_table_pages()
    _markdown_cells(pm, _configures(metadata, MARKDOWN_CONFIG))
    datasette = _datasette_class()(immutables=[], metadata=with_footers(metadata),
                                   settings=SETTINGS, template_dir=str(site.TEMPLATES),
                                   static_mounts=[(site.MOUNT, str(site.STATIC))])
    datasette.remove_database("_memory")
    render, can_render = datasette.renderers["json"]
    datasette.renderers["json"] = (site.json_errors_are_bad_requests(render), can_render)
    if "atom" in datasette.renderers:  # datasette-atom
        render, can_render = datasette.renderers["atom"]
        datasette.renderers["atom"] = (site.xml_compatible(render), can_render)
    swap_database(datasette, db_path)
    return datasette


# datasette-render-markdown (installed with datasette-dashboards, whose Markdown charts
# use its template function) renders as Markdown the cells of the columns its
# configuration names, or that end in "_markdown": no column of this schema. Unless the
# metadata configures it, its cell hook is left out: Datasette calls it for every cell a
# page shows: 1.7 us a cell, 15 ms on a page of 1,000 rows of 9 columns.
MARKDOWN_PLUGIN = "render_markdown"
MARKDOWN_CONFIG = "datasette-render-markdown"
MARKDOWN_CELL_HOOK = "render_cell"
MARKDOWN_TRIMMED = f"{MARKDOWN_PLUGIN} without {MARKDOWN_CELL_HOOK}"


def _hooks_but_one(pm: Any, plugin: Any, left_out: str) -> ModuleType:
    """A module of the same name with a plugin's hooks but one, to register in its
    place; its `plugin` is the whole one."""
    trimmed = ModuleType(plugin.__name__)
    trimmed.plugin = plugin
    for hook in dir(plugin):
        if hook != left_out and pm.parse_hookimpl_opts(plugin, hook) is not None:
            setattr(trimmed, hook, getattr(plugin, hook))
    return trimmed


def _markdown_cells(pm: Any, wanted: bool) -> None:
    """Register datasette-render-markdown whole when its cells are `wanted`, else
    without its cell hook."""
    whole, trimmed = pm.get_plugin(MARKDOWN_PLUGIN), pm.get_plugin(MARKDOWN_TRIMMED)
    if wanted and trimmed is not None:
        pm.unregister(trimmed)
        pm.register(trimmed.plugin, name=MARKDOWN_PLUGIN)
    elif not wanted and whole is not None:
        pm.unregister(whole)
        pm.register(_hooks_but_one(pm, whole, MARKDOWN_CELL_HOOK), name=MARKDOWN_TRIMMED)


def _configures(metadata: Any, plugin: str) -> bool:
    """Whether the metadata configures a plugin anywhere (instance, database, table)."""
    if isinstance(metadata, dict):
        plugins = metadata.get("plugins")
        return (isinstance(plugins, dict) and plugin in plugins) or any(
            _configures(value, plugin) for value in metadata.values())
    return False


_downloads = count(1)


def open_snapshot(db_path: Path) -> BinaryIO:
    """The database as one state, for a download: copied with SQLite's backup (a build
    may be updating the file), into a file beside it that is unlinked once open, so that
    nothing is left behind, whatever becomes of the download."""
    path = db_path.with_name(f".{db_path.stem}.download-{next(_downloads)}-{os.getpid()}.db")
    try:
        with closing(read_only(db_path)) as source, closing(sqlite3.connect(path)) as copy:
            source.backup(copy)
        return open(path, "rb")
    finally:
        path.unlink(missing_ok=True)


class OpenFileDownload:
    """An open file as a download, closed at the end (Datasette's own download view
    streams the file at a path, which a build may be updating)."""

    CHUNK = 1 << 20

    def __init__(self, file: BinaryIO, filename: str):
        self.file, self.filename = file, filename

    async def asgi_send(self, send: Callable) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/octet-stream"),
                (b"content-length", str(os.fstat(self.file.fileno()).st_size).encode()),
                (b"content-disposition",
                 f'attachment; filename="{self.filename}"'.encode())]})
            while chunk := await asyncio.to_thread(self.file.read, self.CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            self.file.close()


def address(host: str, port: int) -> str:
    """host:port as messages and URLs write it ([::1]:8001 for an IPv6 address)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_on(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address of `host` at `port`, as uvicorn (asyncio) binds
    them, for the server to take over. Taken before any build, so that a port in use,
    or a host that is not this machine's, is one line naming them (not uvicorn's log
    and exit code 3 after a build)."""
    where = address(host, port)
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as error:
        reason = error.strerror if isinstance(error, socket.gaierror) else str(error)
        raise TrackerError(f"cannot serve at {where}: {reason.lower()}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, sockaddr in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
    except OSError as error:
        for sock in sockets:
            sock.close()
        reason = (error.strerror or str(error)).lower()
        raise TrackerError(f"cannot serve at {where}: {reason}") from None
    return sockets


def _exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def serve(db_path: Path | str, metadata: dict[str, Any], host: str, port: int,
          log: EventLog | None = None, sockets: list[socket.socket] | None = None,
          warned: Iterable[str] = ()) -> None:
    """Run the site on the database; given the log, follow it, not printing again the
    build warnings printed at start-up (`warned`). Given `sockets` (from
    `listen_on(host, port)`), it listens on them."""
    import uvicorn

    from .watch import follow

    # uvicorn shuts down on SIGTERM, then raises it again: exit through `finally` below.
    signal.signal(signal.SIGTERM, _exit)
    db_path = Path(db_path)
    remove_orphans(db_path.parent, f".{db_path.stem}.download-*.db")  # of killed servers
    try:
        datasette = make_datasette(db_path, metadata)
        server = uvicorn.Server(uvicorn.Config(datasette.app(), host=host, port=port,
                                               log_level="warning"))

        async def main() -> None:
            watcher = None
            if log is not None:
                watcher = asyncio.create_task(follow(
                    log, db_path, lambda data: swap_database(datasette, db_path, data),
                    warned))
            try:
                await server.serve(sockets=sockets)
            finally:
                if watcher is not None:
                    watcher.cancel()

        print(f"Serving {db_path} at http://{address(host, port)}/{DATABASE}", flush=True)
        asyncio.run(main())
    except KeyboardInterrupt:
        pass  # Ctrl-C: uvicorn has shut down, raising SIGINT again
