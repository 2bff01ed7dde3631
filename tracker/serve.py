"""Publish the projected database read-only with Datasette."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATABASE = "tracker"
SETTINGS = {
    "sql_time_limit_ms": 1000,
    "max_returned_rows": 1000,
    "default_cache_ttl": 60,
    "facet_time_limit_ms": 500,
}


def load_metadata(path: Path | None) -> dict[str, Any]:
    if path is None or not Path(path).exists():
        return {"title": "tracker"}
    return json.loads(Path(path).read_text(encoding="utf-8"))


def make_datasette(db_path: Path | str, metadata: dict[str, Any]):
    """A Datasette serving the database immutably under the name `tracker`."""
    from datasette.app import Datasette
    from datasette.database import Database

    datasette = Datasette(immutables=[], metadata=metadata, settings=SETTINGS)
    datasette.remove_database("_memory")
    datasette.add_database(
        Database(datasette, path=str(db_path), is_mutable=False), name=DATABASE
    )
    return datasette


def read_only(app: Any) -> Any:
    """Wrap an ASGI app so that every HTTP method but GET and HEAD gets 405: a published
    tracker only answers, it never accepts (Datasette 0.65 answers some POSTs with a 500)."""

    async def guarded(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            body = b"Method not allowed: this site is read-only\n"
            await send({"type": "http.response.start", "status": 405, "headers": [
                (b"allow", b"GET, HEAD"), (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return guarded


def serve(db_path: Path | str, metadata_path: Path | None, host: str, port: int) -> None:
    import uvicorn

    datasette = make_datasette(db_path, load_metadata(metadata_path))
    print(f"Serving {db_path} at http://{host}:{port}/{DATABASE}", flush=True)
    uvicorn.run(read_only(datasette.app()), host=host, port=port, log_level="warning")
