"""The tracker's own Datasette plugin: a read-only site, and its assets in `tracker/static/`."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dateutil.parser
from datasette import Forbidden, hookimpl
from datasette import filters as datasette_filters
from datasette.database import QueryInterrupted
from datasette.handle_exception import handle_exception as datasette_error_page
from datasette.utils import CustomRow, call_with_supported_arguments
from datasette.utils.asgi import BadRequest, Request
from datasette.views.base import DatasetteError
from datasette.views.database import QueryView
from datasette_search_all import search_all

from . import icsfeed, recordpage, search
from .actors import parse_actor
from .dates import parse_date
from .envelope import since_moment
from .errors import TrackerError, shown
from .facets import facet_classes
from .paging import mend
from .serve import DATABASE, OpenFileDownload, open_snapshot

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"  # the site's own, each extending Datasette's
MOUNT = "tracker-static"
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
READ_ONLY = b"Method not allowed: this site is read-only. Records are made with the tracker CLI.\n"


@hookimpl
def register_routes(datasette) -> list:
    """The database download, as one consistent state (before Datasette's own route),
    the page of a record found by its id alone, and the search page (before
    datasette-search-all's)."""
    return [(rf"^/{DATABASE}\.db$", download), (recordpage.ROUTE, recordpage.record_page),
            (r"^/-/search$", search_page)]


async def download(datasette, request) -> OpenFileDownload:
    await datasette.ensure_permissions(request.actor, [
        ("view-database-download", DATABASE), ("view-database", DATABASE), "view-instance"])
    if not datasette.setting("allow_download"):
        raise Forbidden("Database download is forbidden")
    path = Path(datasette.get_database(DATABASE).path)
    return OpenFileDownload(await asyncio.to_thread(open_snapshot, path), path.name)


async def search_page(datasette, request):
    """datasette-search-all's page of a search of every table, or, for a search that
    has nothing to search for or that a table cannot read, the page without a search,
    saying why (its script showed nothing but a TypeError per table, on the 400 each
    answered, or every row of each, for a search that is none)."""
    refusal = await search.search_all_refusal(datasette, request, request.args.get("q") or "")
    if refusal is not None:
        request = Request({**request.scope, "query_string": b""}, request.receive)
        datasette.add_message(request, refusal, datasette.WARNING)
    return await search_all(datasette, request)


@hookimpl
def register_facet_classes() -> list:
    """In place of Datasette's own (unregistered by `serve.make_datasette`)."""
    return facet_classes()


@hookimpl
def register_output_renderer() -> dict:
    """`.ics`: the iCalendar feed of any page with event columns (`tracker/icsfeed.py`)."""
    return {"extension": "ics", "render": icsfeed.render, "can_render": icsfeed.can_render}


# What XML 1.0 cannot carry: C0 controls but tab, newline and carriage return, surrogates,
# and the noncharacters U+FFFE and U+FFFF. lxml refuses a string holding one ("All
# strings must be XML compatible"), which made the whole Atom feed a 500.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


ATOM_REQUIRED = {"atom_id", "atom_title", "atom_updated"}  # as datasette-atom requires
ATOM_BODY = ("atom_content", "atom_content_html", "atom_link")  # an entry has one at least


def atom_refusal(rows: list[dict[str, Any]]) -> str | None:
    """Why these rows cannot make an Atom feed (which feedgen refuses with a ValueError,
    a 500), or None: no row, an `atom_updated` that is not a date and time with its time
    zone, or an entry with neither content nor link."""
    if not rows:
        return "The query gave no rows: an Atom feed has one entry at least"
    for row in rows:
        updated = row["atom_updated"]
        if type(updated) is not str:
            return f"atom_updated must be a date and time, as text: {updated!r}"
        try:
            moment = dateutil.parser.parse(updated)
        except ValueError as error:
            return f"atom_updated must be a date and time: {error}"
        except OverflowError:
            return f"atom_updated must be a date and time: {shown(updated)}"
        if moment.tzinfo is None:
            return (f"atom_updated must give its time zone, as 2026-01-01T10:00:00Z: "
                    f"{shown(updated)}")
        if not any(row.get(column) for column in ATOM_BODY):
            return (f"Entry {shown(str(row['atom_id']))} has no atom_content, atom_content_html "
                    "or atom_link: an Atom entry needs one")
    return None


def xml_text(value: Any) -> Any:
    """A text with U+FFFD (the replacement character) for each character XML cannot
    carry; any other value as it is."""
    return NOT_XML.sub("\ufffd", value) if isinstance(value, str) else value


def xml_compatible(render: Callable) -> Callable:
    """datasette-atom's renderer, given its rows (and the query, and the page's
    description, which it may use as the feed's title) with `xml_text`: a value of the
    log that XML cannot carry (U+FFFE or U+FFFF, which versions before 2026-11-24 took in
    a text, or a control in a `recorded_by` written by hand) is shown as U+FFFD, and the
    feed is still served to every subscriber. An `atom_link` that is a path on this site
    is given as its full URL, as feed readers that do not resolve relative links need."""

    def render_atom(datasette, request, sql, columns, rows, database, table, query_name,
                    view_name, data):
        rows = [{column: xml_text(row[column]) for column in columns} for row in rows]
        if ATOM_REQUIRED.issubset(columns) and (refusal := atom_refusal(rows)):
            raise DatasetteError(refusal, status=400)
        for row in rows:  # a path on this site: its full URL, which every reader follows
            link = row.get("atom_link")
            if isinstance(link, str) and link.startswith("/") and not link.startswith("//"):
                row["atom_link"] = datasette.absolute_url(request, link)
        data = {**data, "human_description_en": xml_text(data.get("human_description_en"))}
        return call_with_supported_arguments(
            render, datasette=datasette, request=request, sql=xml_text(sql), columns=columns,
            rows=rows, database=database, table=table, query_name=query_name,
            view_name=view_name, data=data, args=request.args)

    return render_atom


@hookimpl
def extra_css_urls(datasette) -> list[str]:
    return [datasette.urls.path(f"/{MOUNT}/site.css")]


@hookimpl
def extra_js_urls(datasette) -> list[str]:
    return [datasette.urls.path(f"/{MOUNT}/{script}")
            for script in ("maps.js", "records.js", "charts.js", "names.js")]


@hookimpl
def asgi_wrapper(datasette):
    """Answer 405 to any method that could write (POST, PUT, PATCH, DELETE), on any page."""

    def wrap(app):
        async def read_only(scope, receive, send):
            if scope["type"] == "http" and scope["method"] not in READ_METHODS:
                await send({"type": "http.response.start", "status": 405, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"allow", b"GET, HEAD, OPTIONS")]})
                await send({"type": "http.response.body", "body": READ_ONLY})
                return
            await app(scope, receive, send)

        return read_only

    return wrap


# The longest text or blob a query may make: far more than any value of the database (an
# event's data is at most about 1.3 MB, with every field at its limit), so that a query
# such as `select randomblob(1e9)` is refused at once instead of making a response of
# gigabytes (its encoding would hold the server for a minute).
MAX_VALUE_BYTES = 8_000_000


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.create_function("tracker_actor", 1, refusing(actor_code), deterministic=True)
    conn.create_function("tracker_date", 1, refusing(first_day), deterministic=True)
    conn.create_function("tracker_since", 1, refusing(first_moment), deterministic=True)
    conn.create_function("tracker_no_format", 1, refusing(no_format), deterministic=True)


def no_format(value: object) -> str | None:
    """SQL `tracker_no_format(text)`, for a format that a canned query found neither by
    its slug nor by its name: an error of the query naming it ('' for an empty text: no
    format asked, no rows)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return ""
    raise TrackerError(f"unknown format {shown(text)}: give a format's slug or name, as "
                       "the formats table has them (central-asia-japan, or Central Asia + "
                       "Japan)")


def actor_code(value: object) -> str | None:
    """SQL `tracker_actor(text)`: the code of an actor given as the CLI takes it (a code,
    a name, an alpha-2 code, a usual short name, in any case), for the canned queries
    that take an actor; '' for an empty text, or one of spaces (no actor). An actor it
    does not know is an error of the query, which names it, as the CLI's."""
    if value is None:
        return None
    text = str(value).strip()
    return parse_actor(text) if text else ""


def first_day(value: object) -> str | None:
    """SQL `tracker_date(text)`: the first day of a date as the CLI's `--date` reads it
    (YYYY, YYYY-MM, YYYY-MM-DD, or an interval A/B), as YYYY-MM-DD, for the canned queries
    that take a date; '' for an empty text (no bound: every date is on or after it). A bad
    date is an error of the query, which names it."""
    if value is None:
        return None
    text = str(value).strip()
    return parse_date(text).start if text else ""


def first_moment(value: object) -> str | None:
    """SQL `tracker_since(text)`: the first moment `tracker log --since TEXT` includes (the
    start of a date, UTC, or a time), written as `recorded_at` is (so that a time in
    whole seconds includes the events later in that second), for the canned queries that
    take a date; '' for an empty text (no bound). A bad one is an error of the query."""
    if value is None:
        return None
    text = str(value).strip()
    return since_moment(text, "date") if text else ""


_refused = threading.local()  # the first refusal of a site function, in its thread


def refusing(function: Callable[[object], Any]) -> Callable[[object], Any]:
    """An SQL function that, on a TrackerError, gives NULL and keeps the message for
    `with_refusals` to raise: SQLite's error for a Python function that raises says only
    that it raised (and Datasette has such tracebacks printed in the server's log)."""

    def sql_function(value: object) -> Any:
        try:
            return function(value)
        except TrackerError as error:
            if getattr(_refused, "message", None) is None:
                _refused.message = str(error)
            return None

    return sql_function


def with_refusals(fn: Callable[[sqlite3.Connection], Any]
                  ) -> Callable[[sqlite3.Connection], Any]:
    """Datasette's work on a connection (in its thread), failing with the message of the
    first value a site function refused, as an SQL error (`invalid date 'garbage': use
    YYYY, YYYY-MM, YYYY-MM-DD or A/B`), which Datasette answers with a 400."""

    def run(conn: sqlite3.Connection) -> Any:
        _refused.message = None
        try:
            result = fn(conn)
        finally:
            message, _refused.message = _refused.message, None
        if message is not None:
            raise sqlite3.OperationalError(message)
        return result

    return run


@hookimpl(specname="filters_from_request")
def search_filters(request, database, table, datasette):
    """Datasette's search of a table page (in place of its own, left out by
    `serve.make_datasette`), of `search.searched_request`: a search with nothing to
    search for is none, one FTS5 cannot read is a 400 naming it."""

    async def inner():
        searched = await search.searched_request(request, database, table, datasette)
        return await datasette_filters.search_filters(searched, database, table, datasette)()

    return inner


@hookimpl
def handle_exception(datasette, request, exception):
    """Datasette's error page (in place of its own hook, unregistered by
    `serve.make_datasette`), answering 400 where Datasette 0.65 answers 500 to a bad
    parameter of a table or view page: `_sort` by a column it does not have, `_sort` with
    `_sort_desc`, a `_timelimit` that is not a number, a view's `_next` that is not one,
    a `_through` that is not one of its foreign keys as JSON, a value SQLite cannot bind
    (see `BY_A_VALUE`), a `_where` SQLite refuses; and to a CSV whose query was
    interrupted, a database page as CSV or array without a query, an Atom feed whose
    rows feedgen refuses (`atom_refusal`) or whose `_feed_title` XML cannot carry. Those print no
    traceback in the server's log. A search FTS5 cannot read is shown with a search box
    holding it."""
    if isinstance(exception, search.UnreadableSearch) and not request.path.endswith(".json"):
        exception = DatasetteError(exception.html(request), title="Invalid search", status=400,
                                   message_is_html=True)
    return datasette_error_page(datasette, request, bad_parameter(datasette, request, exception)
                                or exception)


class MissingColumn(KeyError, IndexError):
    """A column a row does not have: what Datasette 0.65's rows with labels raise for a
    sort column left out by `_col` or `_nocol`, where it catches only the `IndexError` of
    a plain row to look the value up (simonw/datasette#1773, PR #2600): a 500 otherwise,
    from "Hide this column" on the sort column of a table of more than one page."""


def missing_column_raises_index_error() -> None:
    """Make Datasette's rows with labels (`CustomRow`) raise `MissingColumn`."""

    def wrap(get: Any) -> Any:
        def getitem(row: CustomRow, key):
            try:
                return get(row, key)
            except KeyError as error:
                raise MissingColumn(*error.args) from None

        return getitem

    mend(CustomRow, "__getitem__", wrap)


def a_failed_query_is_a_bad_request() -> None:
    """Make the CSV of a query that fails an error (a 400 naming it, as its page and JSON
    give): Datasette 0.65 writes it as an empty CSV, with a status of 200, so that a
    download of `recorded_since.csv?date=garbage` or of `?sql=select nope` looked like no
    rows. And its JSON with a bad `_shape` a 400, as a table's is."""

    def wrap(data: Any) -> Any:
        async def data_or_error(view: QueryView, request: Any, *args: Any,
                                **kwargs: Any) -> Any:
            result = await data(view, request, *args, **kwargs)
            format_ = request.url_vars.get("format")
            if format_ == "csv" and isinstance(result, tuple) \
                    and isinstance(result[0], dict) and result[0].get("error"):
                raise DatasetteError(result[0]["error"], title="Invalid SQL", status=400)
            if format_ == "json" and isinstance(result, tuple) and len(result) == 4 \
                    and result[3] == 200:
                # The JSON renderer's status stands: its 400 for a bad `_shape` was
                # replaced by the query's 200.
                return (*result[:3], None)
            return result

        return data_or_error

    mend(QueryView, "data", wrap)


def json_errors_are_bad_requests(render: Any) -> Any:
    """Datasette's JSON renderer, answering 400 where it writes an error with a status of
    200: `_shape=object` of a query, or of a table or view with no key."""
    def rendered(args: Any, data: Any, view_name: str) -> Any:
        response = render(args, data, view_name)
        if response.status == 200 and args.get("_shape") == "object" \
                and isinstance(response.body, str) and response.body.startswith('{"ok": false'):
            response.status = 400
        return response

    return rendered


# What Datasette 0.65 says, with a status of 500, of a bad parameter of a table page.
BAD_PARAMETER_MESSAGES = ("Cannot sort table by ", "Cannot use _sort and _sort_desc",
                          "Invalid _through")
THROUGH_KEYS = {"table", "column", "value"}


def bad_parameter(datasette, request, exception: Exception) -> BadRequest | None:
    """The 400 for an exception that a bad query parameter caused, or None."""
    if isinstance(exception, DatasetteError):
        if exception.status == 500 and str(exception.message).startswith(
                BAD_PARAMETER_MESSAGES):
            return BadRequest(exception.message)
        return None
    if isinstance(exception, QueryInterrupted):  # a CSV's query (other formats say so)
        return BadRequest(f"SQL query took too long: the time limit is "
                          f"{_time_limit(datasette, request)} ms")
    if isinstance(exception, KeyError) and exception.args in (("columns",), ("rows",)) \
            and "table" not in request.url_vars and not request.args.get("sql"):
        return BadRequest("A database page has no rows to give as CSV or as an array: "
                          "give a query with ?sql=")
    if request.path.endswith(".atom") and isinstance(exception, ValueError):
        title = request.args.get("_feed_title")  # the one text of a feed left as given
        if title is not None and (bad := NOT_XML.search(title)):  # lxml's refusal
            return BadRequest(f"_feed_title must be text XML can carry, without "
                              f"U+{ord(bad.group()):04X}: {shown(title)}")
    timelimit = request.args.get("_timelimit")
    if timelimit is not None and _int_refused(exception, timelimit):
        return BadRequest(f"_timelimit must be a whole number of milliseconds: {timelimit}")
    after = request.args.get("_next")  # on a view, the number of rows before the page
    if after is not None and _int_refused(exception, after):
        return BadRequest(f"_next must be a whole number of rows on this page: {after}")
    if not isinstance(exception, BY_A_VALUE):
        return None
    for through in request.args.getlist("_through"):
        if not _through_shaped(through):
            return BadRequest('_through must be JSON of the form {"table": "...", '
                              f'"column": "...", "value": ...}} with a text or number '
                              f'value: {through}')
    for name, value in _arguments(request):
        if _beyond_sqlite(value):
            return BadRequest(f"{name}={value}: a number beyond those SQLite takes "
                              f"({SQLITE_INTEGERS.start} to {SQLITE_INTEGERS.stop - 1})")
        if name.endswith(("__in", "__notin")) and value.lstrip().startswith("[") \
                and not _json_list(value):
            return BadRequest(f"{name} must be values separated by commas, or a JSON list "
                              f'of them, as ["a", "b"]: {value}')
    if "_where" in request.args and isinstance(exception, (sqlite3.Error, sqlite3.Warning)):
        return BadRequest(str(exception))  # as Datasette answers `_where=nope`
    return None


# What a bad value of a parameter raises on a table or view page, where Datasette 0.65
# catches only SQLite's OperationalError: a value SQLite cannot bind (a number beyond 64
# bits, a JSON object), a malformed JSON list, a `_where` of two statements.
BY_A_VALUE = (ValueError, LookupError, TypeError, AttributeError, OverflowError,
              sqlite3.Error, sqlite3.Warning)
SQLITE_INTEGERS = range(-2 ** 63, 2 ** 63)
WHOLE_NUMBER = re.compile(r"[-+]?[0-9]+")


def _arguments(request) -> list[tuple[str, str]]:
    """Every (name, value) of the request's query string."""
    return [(name, value) for name in request.args for value in request.args.getlist(name)]


def _beyond_sqlite(text: str) -> bool:
    """Whether the text is a whole number SQLite cannot take as an integer."""
    digits = text.strip()
    return bool(WHOLE_NUMBER.fullmatch(digits)) and (
        len(digits.lstrip("+-").lstrip("0")) > 20 or int(digits) not in SQLITE_INTEGERS)


def _bindable(value: Any) -> bool:
    """Whether SQLite can take the JSON value as a parameter: text or a number."""
    return type(value) in (str, float, bool) or (type(value) is int
                                                  and value in SQLITE_INTEGERS)


def _json_list(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, list) and all(_bindable(item) for item in value)


def _time_limit(datasette, request) -> int:
    """The time limit of the request's query, in ms: `_timelimit` if lower."""
    limit = datasette.setting("sql_time_limit_ms")
    try:
        return max(0, min(limit, int(request.args.get("_timelimit") or limit)))
    except ValueError:
        return limit


def _int_refused(exception: Exception, text: str) -> bool:
    """Whether the exception is `int()` refusing this text."""
    return (isinstance(exception, ValueError)
            and str(exception) == f"invalid literal for int() with base 10: {text!r}")


def _through_shaped(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return (isinstance(value, dict) and value.keys() >= THROUGH_KEYS
            and isinstance(value["table"], str) and isinstance(value["column"], str)
            and _bindable(value["value"]))
