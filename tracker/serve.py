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


def serve(db_path: Path | str, metadata_path: Path | None, host: str, port: int) -> None:
    import uvicorn

    datasette = make_datasette(db_path, load_metadata(metadata_path))
    print(f"Serving {db_path} at http://{host}:{port}/{DATABASE}", flush=True)
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning")
