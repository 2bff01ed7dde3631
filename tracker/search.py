"""The full-text search of a table page (`?_search=`, `?_search_COLUMN=`), read before
Datasette runs it.

Datasette 0.65 gives FTS5 a search as it is (`?_searchmode=raw`, or `searchmode: raw` in
the metadata) or, by default (the site's tables set no mode), each of its words and
quoted phrases in double quotes (`escape_fts`): `OR`, `NOT` and `*` are then words like
any other. A search with nothing to search for (`"`, `""`, spaces) became an empty
expression, and a search FTS5 cannot read (`NEAR(` in raw mode, an unbalanced quote, a
NUL, which FTS5 takes as the end of the text) failed in the query: a 400 "Invalid SQL"
saying only `fts5: syntax error near ""`, on a page without the search box, and the
query printed in the server's log (a raw search holding a NUL searched for what comes
before it). Here the first is no search, as an empty one is, and the second is refused
before any query runs, with a message naming it (a NUL by name), and on its HTML page a
search box to mend it. The search page of every table (`/-/search`, datasette-search-all)
says so of either, and searches none.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any
from urllib.parse import urlencode

from datasette.utils import escape_fts, escape_sqlite
from datasette.utils.asgi import BadRequest, Request
from datasette_search_all.utils import get_searchable_tables
from markupsafe import Markup, escape

from .errors import shown

RAW_HINT = ("a raw search (?_searchmode=raw) is in FTS5's syntax: without it, its words are "
            "searched for as written")

# A NUL (%00) is refused, not taken as the end of the search or as a space: no one types
# it, and either would search for something other than what the link says.
NUL_REASON = "a NUL character (U+0000) cannot be searched for: leave it out"


class UnreadableSearch(BadRequest):
    """A search FTS5 cannot read: its parameter, its text and why."""

    def __init__(self, key: str, text: str, reason: str):
        super().__init__(f"invalid search {shown(text)}: {reason}")
        self.key, self.text = key, text

    def html(self, request: Request) -> Markup:
        """The message, and a search box holding the search, on the page that asked,
        with its other parameters (filters, sort, mode)."""
        kept = "".join(
            f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">'
            for key in request.args for value in request.args.getlist(key)
            if key != self.key)
        return Markup(
            f'<p>{escape(self.args[0])}</p><form class="core" action="{escape(request.path)}"'
            ' method="get"><div class="search-row"><label for="_search">Search:</label>'
            f'<input id="_search" type="search" name="{escape(self.key)}" '
            f'value="{escape(self.text)}"> <input type="submit" value="Search"></div>'
            f"{kept}</form>")


def is_search(key: str) -> bool:
    return key.startswith("_search") and key != "_searchmode"


def nothing_to_search(text: str) -> bool:
    """Whether a search holds no word: only quotes and spaces, or nothing."""
    return not text.replace('"', "").strip()


def fts5_refusal(expression: str, columns: list[str], column: str | None) -> str | None:
    """What FTS5 says of a MATCH expression on an index of these columns (or on one of
    them), or None when it reads it: asked of an empty index in memory, so it costs
    nothing of the database."""
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("create virtual table search using fts5("
                     + ", ".join(escape_sqlite(name) for name in columns) + ")")
        target = escape_sqlite(column) if column else "search"
        try:
            conn.execute(f"select rowid from search where {target} match ?", [expression])
        except sqlite3.Error as error:
            return str(error)
    return None


async def searched_request(request: Request, database: str, table: str,
                           datasette: Any) -> Request:
    """The request a table page's search is made of: without the searches that have
    nothing to search for. UnreadableSearch for a search FTS5 cannot read. Its index and
    its mode are found as Datasette finds them."""
    searches = [key for key in request.args if is_search(key)]
    for key in searches:
        if key != "_search" and not key.startswith("_search_"):  # Datasette: an IndexError
            raise BadRequest(f"unknown parameter {shown(key)}: a search is _search=TEXT, or "
                             "_search_COLUMN=TEXT for one column")
    empty = [key for key in searches if nothing_to_search(request.args[key])]
    used = [key for key in searches if key not in empty]
    if "_search" in used:
        used = ["_search"]  # Datasette then leaves the searches of one column out
    db = datasette.get_database(database)
    metadata = datasette.table_metadata(database, table)
    fts_table = used and (metadata.get("fts_table") or await db.fts_table(table))
    if used:  # (Datasette reads them for a search only)
        _refuse_another_index(request, table, fts_table or None,
                              metadata.get("fts_pk") or "rowid")
    if fts_table:
        mode = request.args.get("_searchmode")
        raw = (mode if mode in ("raw", "escaped") else metadata.get("searchmode")) == "raw"
        columns = [column.name for column in await db.table_column_details(fts_table)
                   if not column.hidden]
        for key in used:
            text, column = request.args[key], key.removeprefix("_search_")
            if key != "_search" and column not in columns:
                continue  # Datasette refuses it ("Cannot search by that column")
            if "\x00" in text:  # FTS5 reads up to it: "unterminated string" of a quoted
                # search, and a raw one cut short there
                raise UnreadableSearch(key, text, NUL_REASON)
            reason = fts5_refusal(text if raw else escape_fts(text), columns,
                                  None if key == "_search" else column)
            if reason is not None:
                raise UnreadableSearch(key, text, f"{reason} ({RAW_HINT})" if raw else reason)
    if not empty:
        return request
    kept = [(key, value) for key in request.args for value in request.args.getlist(key)
            if key not in empty]
    return Request({**request.scope, "query_string": urlencode(kept).encode()},
                   request.receive)


def _refuse_another_index(request: Request, table: str, fts_table: str | None,
                          fts_pk: str) -> None:
    """Refuse a `?_fts_table=` or `?_fts_pk=` that is not the table's own full-text index
    and its key: Datasette takes them as given (another table's index gave rows of this
    one by the other's row numbers; an index of no columns, a 400 "vtable constructor
    failed"; a key of none, "no such column")."""
    for key, own in (("_fts_table", fts_table), ("_fts_pk", fts_pk if fts_table else None)):
        given = request.args.get(key)
        if given is not None and given != own:
            raise BadRequest(f"{key} {shown(given)} is not that of the full-text index of "
                             f"{table}" + (f" ({shown(own)}): leave it out" if own else
                                           ": it has none"))


async def search_all_refusal(datasette: Any, request: Request, text: str) -> str | None:
    """Why the search page (`/-/search?q=`) cannot search its tables for a text, or None:
    nothing to search for in it, or a table that cannot read it (the page's script asks
    each table for `?_search=TEXT`)."""
    if nothing_to_search(text):
        return f"nothing to search for in {shown(text)}: give a word" if text else None
    asked = Request.fake("?" + urlencode({"_search": text}))
    for database, table in await get_searchable_tables(datasette, request):
        try:
            await searched_request(asked, database, table, datasette)
        except UnreadableSearch as refusal:
            return refusal.args[0]
    return None
