"""The tracker's own Datasette plugin: assets shipped in `tracker/static/`."""

from __future__ import annotations

from pathlib import Path

from datasette import hookimpl

STATIC = Path(__file__).parent / "static"
MOUNT = "tracker-static"


@hookimpl
def extra_js_urls(datasette) -> list[str]:
    return [datasette.urls.path(f"/{MOUNT}/maps.js")]
