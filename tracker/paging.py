"""Every page of a sorted table in one total order, so that following `next_url` (or
streaming the whole CSV with `_stream=on`, or datasette-cluster-map's loading of every
row) gives each row exactly once.

Datasette 0.65 (`datasette/views/table.py`) orders the first page of a table sorted by a
column (`_sort`, `_sort_desc`, or `sort`/`sort_desc` in the metadata) by that column
alone, and adds the primary key (or rowid) as a tie-breaker only on the pages after it,
whose `_next` token (the sort value and the key of the first page's last row) assumes
the rows of equal value in key order. SQLite returns rows of equal value in whatever
order its plan gives (the order of an index, for example), so the pages lost some of the
rows that share a value (a date, a time) and repeated others.

While a table page runs (`mend_table_pages`), `TrackerDatabase.execute` (in `serve.py`)
passes its main query through `total_order`, which adds to the first page's ORDER BY the
tie-breaker Datasette's later pages use. Nothing else changes: the same rows, the same
`_next` tokens. A view's pages follow one another by offset, each the same query (the
same order, ties included), so they are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from datasette.utils import detect_primary_keys, escape_sqlite, tilde_decode
from datasette.views.table import TableView


@dataclass(frozen=True)
class SortedPage:
    """A table or view page being made: its database, table and ORDER BY as Datasette
    writes it (`[date_start] desc`)."""

    database: str
    table: str
    order: str


PAGE: ContextVar[SortedPage | None] = ContextVar("tracker_sorted_page", default=None)


def sorted_page(datasette: Any, request: Any) -> SortedPage | None:
    """The sort of a table or view page as Datasette 0.65 reads it: `_sort` or
    `_sort_desc`, else the table's `sort` or `sort_desc` in the metadata; None when the
    page has none (a table is then in key order), or a sort Datasette refuses."""
    try:
        table = tilde_decode(request.url_vars["table"])
        database = datasette.get_database(route=tilde_decode(request.url_vars["database"]))
    except KeyError:
        return None
    sort, sort_desc = request.args.get("_sort"), request.args.get("_sort_desc")
    if not sort and not sort_desc:
        metadata = datasette.table_metadata(database.name, table)
        sort, sort_desc = metadata.get("sort"), metadata.get("sort_desc")
    if bool(sort) == bool(sort_desc):
        return None
    order = escape_sqlite(sort) if sort else f"{escape_sqlite(sort_desc)} desc"
    return SortedPage(database.name, table, order)


def tie_breaker(conn: Any, table: str) -> str:
    """What orders a table's rows of equal sort value on the pages after the first: the
    primary key (in key order, ascending), or rowid; nothing for a view."""
    kind = conn.execute("select type from sqlite_master where name = ?", [table]).fetchone()
    if kind is None or kind[0] != "table":
        return ""
    pks = detect_primary_keys(conn, table)
    return ", ".join(escape_sqlite(pk) for pk in pks) if pks else "rowid"


async def total_order(db: Any, sql: str) -> str:
    """The query, with the tie-breaker added to its ORDER BY when it is the main query of
    the first page of the sorted table being made (`select ... from [table] ... order by
    <sort> limit n`: a later page's is ordered by `<sort>, <key>`)."""
    page = PAGE.get()
    if page is None or page.database != db.name:
        return sql
    match = re.fullmatch(rf"(select .* from {re.escape(escape_sqlite(page.table))} .*"
                         rf"order by {re.escape(page.order)})( limit \d+)",
                         sql, re.DOTALL)
    if match is None:
        return sql
    tie = await db.execute_fn(lambda conn: tie_breaker(conn, page.table))
    return f"{match[1]}, {tie}{match[2]}" if tie else sql


def mend(owner: Any, name: str, wrap: Callable[[Any], Any]) -> None:
    """Replace a method of Datasette's by `wrap(method)`, once however often asked."""
    method = getattr(owner, name)
    if getattr(method, "mended", False):
        return
    mended = wrap(method)
    mended.mended = True
    setattr(owner, name, mended)


def mend_table_pages() -> None:
    """Make Datasette's table pages note their sort while they run (once)."""

    def wrap(data: Any) -> Any:
        async def sorted_data(view: TableView, request: Any, *args: Any, **kwargs: Any) -> Any:
            token = PAGE.set(sorted_page(view.ds, request))
            try:
                return await data(view, request, *args, **kwargs)
            finally:
                PAGE.reset(token)

        return sorted_data

    mend(TableView, "data", wrap)
