"""The tracker's own Datasette plugin: a read-only site, and its assets in `tracker/static/`."""

from __future__ import annotations

from pathlib import Path

from datasette import hookimpl

STATIC = Path(__file__).parent / "static"
MOUNT = "tracker-static"
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
READ_ONLY = b"Method not allowed: this site is read-only. Records are made with the tracker CLI.\n"


@hookimpl
def extra_js_urls(datasette) -> list[str]:
    return [datasette.urls.path(f"/{MOUNT}/maps.js")]


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
