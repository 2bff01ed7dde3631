"""The tracker's own Datasette plugin: a read-only site, and its assets in `tracker/static/`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from datasette import Forbidden, hookimpl

from . import icsfeed, recordpage
from .facets import facet_classes
from .serve import DATABASE, OpenFileDownload, open_snapshot

STATIC = Path(__file__).parent / "static"
MOUNT = "tracker-static"
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
READ_ONLY = b"Method not allowed: this site is read-only. Records are made with the tracker CLI.\n"


@hookimpl
def register_routes(datasette) -> list:
    """The database download, as one consistent state (before Datasette's own route),
    and the page of a record found by its id alone."""
    return [(rf"^/{DATABASE}\.db$", download), (recordpage.ROUTE, recordpage.record_page)]


async def download(datasette, request) -> OpenFileDownload:
    await datasette.ensure_permissions(request.actor, [
        ("view-database-download", DATABASE), ("view-database", DATABASE), "view-instance"])
    if not datasette.setting("allow_download"):
        raise Forbidden("Database download is forbidden")
    path = Path(datasette.get_database(DATABASE).path)
    return OpenFileDownload(await asyncio.to_thread(open_snapshot, path), path.name)


@hookimpl
def register_facet_classes() -> list:
    """In place of Datasette's own (unregistered by `serve.make_datasette`)."""
    return facet_classes()


@hookimpl
def register_output_renderer() -> dict:
    """`.ics`: the iCalendar feed of any page with event columns (`tracker/icsfeed.py`)."""
    return {"extension": "ics", "render": icsfeed.render, "can_render": icsfeed.can_render}


@hookimpl
def extra_js_urls(datasette) -> list[str]:
    return [datasette.urls.path(f"/{MOUNT}/{script}") for script in ("maps.js", "records.js")]


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
