"""`/-/record/ID`: the page of a record or event, found by its id alone.

Views and query results name records by id, but only a table's keys link to rows. The
site's script (`static/records.js`) links such ids here, and this route sends the
browser on to the record's row in the table of its kind: its `records` row once
retracted, the `events` row of an event's id.
"""

from __future__ import annotations

from typing import Any

from datasette.utils import tilde_decode, tilde_encode
from datasette.utils.asgi import NotFound, Response

from .errors import shown
from .projection import TABLE_OF
from .serve import DATABASE

ROUTE = r"^/-/record/(?P<id>[^/]+)$"


async def record_page(datasette: Any, request: Any) -> Response:
    """Redirect to the row of the record (or event) of an id."""
    await datasette.ensure_permissions(request.actor, [
        ("view-database", DATABASE), "view-instance"])
    wanted = tilde_decode(request.url_vars["id"])  # as Datasette encodes "/", "%", ...
    db = datasette.get_database(DATABASE)
    found = (await db.execute("select kind, retracted from records where id = ?",
                              [wanted])).first()
    if found is not None:
        live = not found["retracted"] and found["kind"] in TABLE_OF
        table = TABLE_OF[found["kind"]][0] if live else "records"
    elif (await db.execute("select 1 from events where id = ?", [wanted])).first():
        table = "events"
    else:
        raise NotFound(f"No record or event has the id {shown(wanted)}")
    return Response.redirect(datasette.urls.row(DATABASE, table, tilde_encode(wanted)))
