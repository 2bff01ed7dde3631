"""The `tracker` command line: Click commands only."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from .clickparse import OneValueEach
from .errors import Invalid, TrackerError, counted, one_line, shown
from .model import EVENT_KINDS, EVENT_TYPES, INSTRUMENTS, LEVELS, MODES, STATUSES
from .rowformat import RECORD_KINDS, ROW_KINDS

# A group run without a command shows its help, as an error since Click 8.2 (no such
# error before: the help was shown with exit code 0).
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class TrackerCommand(OneValueEach, click.Command):
    """A command of tracker (see `OneValueEach`)."""


class TrackerGroup(OneValueEach, click.Group):
    """A group whose errors are one line on stderr with exit code 1, never a traceback;
    its commands are `TrackerCommand`s, its groups `TrackerGroup`s."""

    command_class = TrackerCommand
    group_class = type

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:  # where `tracker --help` and `--version` write
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            _reader_gone()
        except OSError as error:  # `tracker --help > /dev/full`
            raise _failed(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _reader_gone()
        except TrackerError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            raise _failed(error) from None

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if sys.stdout is None:  # started with stdout closed (`tracker export >&-`): as if
            # the reader went away at once; open until the process ends, like stdout
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except NO_ARGS_IS_HELP as error:  # `tracker`, `tracker add`
            error.show()  # the help as it is laid out, on stderr
            sys.exit(1)
        except click.ClickException as error:
            message = one_line(error.format_message())
            click.echo(f"Error: {message}", err=True)
            sys.exit(1)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def _failed(error: OSError) -> click.ClickException:
    """An error of the system, in one line: what failed, and on which file if known."""
    where = f": {error.filename}" if error.filename else ""
    return click.ClickException(f"{error.strerror or error}{where}")


def _reader_gone() -> NoReturn:
    """The reader went away (`tracker log | head`): stop quietly."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


def _a_file_name(ctx: click.Context, param: click.Parameter,
                 value: str | None) -> Path | None:
    """A database path must name a file: "" (or a folder, such as "/") is refused."""
    if value is None:
        return None
    if not Path(value).name:
        raise click.BadParameter(f"{value!r} is not a file name")
    return Path(value)


def _a_folder(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    """The events folder: an empty name is refused (it would be the current folder)."""
    if not value:
        raise click.BadParameter("'' is not a folder name")
    return Path(value)


def _log(ctx: click.Context):
    from .log import EventLog

    return EventLog(ctx.obj["events"])


def source_options(required: bool = True):
    """--source, --publisher, --published, --quote (the provenance of a write), --id, --json."""
    source_help = ("URL or citation of the source." if required
                   else "URL or citation of a source, if one shows it.")
    options = (
        click.option("--source", required=required, help=source_help),
        click.option("--publisher", help="Who published the source."),
        click.option("--published", metavar="DATE", help="When the source was published."),
        click.option("--quote", help="The words of the source that support the record."),
        click.option("--id", "event_id", metavar="ULID",
                     help="Event id, to make a retry idempotent."),
        click.option("--json", "as_json", is_flag=True, help="Print the event as JSON."),
    )

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _append(ctx: click.Context, draft, event_id: str | None, as_json: bool) -> None:
    from .recorder import record

    log = _log(ctx)
    event, retry = record(log, draft, event_id)
    for warning in draft.warnings:  # once recorded: a refusal is the only line
        _warn(warning)
    _report_appending(log)
    if retry is not None:
        click.echo(f"Already recorded: {event['id']} ({retry})", err=True)
    if as_json:
        click.echo(_dumps(event))
    else:
        click.echo(event["subject"] if event["type"].endswith(".recorded") else event["id"])


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def _report_appending(log) -> None:
    """Say what the append moved to the quarantine (what interrupted writes left), and
    if it appended as another of this clone's writers."""
    for tail in log.quarantined:
        _warn(tail.notice(log.root))
    if log.switched:
        usual, instead = log.switched
        _warn(f"the log here lacks the latest event that writer {usual} appended in this "
              "clone (a branch, a stash or an older commit?): appended as writer "
              f"{instead}, so that no seq is used twice")


def _dumps(value: Any) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@click.group(cls=TrackerGroup)
@click.version_option(package_name="tracker")
@click.option("--events", type=click.Path(file_okay=False), callback=_a_folder, metavar="DIR",
              envvar="TRACKER_EVENTS", default="events", show_default=True,
              help="Folder of the event log (env TRACKER_EVENTS).")
@click.option("--db", type=click.Path(dir_okay=False), callback=_a_file_name,
              envvar="TRACKER_DB", default="tracker.db", show_default=True,
              help="Projected SQLite database (env TRACKER_DB).")
@click.pass_context
def cli(ctx: click.Context, events: Path, db: Path) -> None:
    """Record diplomatic developments and publish them with Datasette.

    \b
    Example:
        tracker add meeting --title "Central Asia + Japan foreign ministers" \\
          --date 2022-12 --city Tokyo --country JPN --source https://example.org/a
        tracker build && tracker serve
    """
    ctx.obj = {"events": events, "db": db}


@cli.group(cls=TrackerGroup)
def add() -> None:
    """Record a new format, meeting, announcement or pledge.

    \b
    Example:
        tracker add format central-asia-japan --name "Central Asia + Japan" \\
          --member JPN --member KAZ,KGZ,TJK,TKM,UZB --launched 2004 --source "..."
    """


@add.command(name="format")
@click.argument("slug")
@click.option("--name", required=True, help="Name of the format.")
@click.option("--member", multiple=True, metavar="ACTOR",
              help="Member state or organisation (repeat, or separate with commas).")
@click.option("--launched", metavar="DATE", help="When the format began (EDTF date).")
@click.option("--summary", help="What the format is.")
@source_options()
@click.pass_context
def add_format(ctx: click.Context, event_id: str | None, as_json: bool, **options: Any) -> None:
    """Record a format of dialogue, such as "Central Asia + Japan".

    \b
    Example:
        tracker add format central-asia-japan --name "Central Asia + Japan" \\
          --member JPN,KAZ,KGZ,TJK,TKM,UZB --launched 2004 \\
          --source "ORIENT news, 24.07.2024" \\
          --quote "The Central Asia Plus Japan Dialogue was launched in 2004"
    """
    from .model import draft_record

    _append(ctx, draft_record("format", options), event_id, as_json)


@add.command(name="meeting")
@click.option("--title", required=True, help="What the meeting was.")
@click.option("--date", required=True, metavar="DATE",
              help="YYYY, YYYY-MM, YYYY-MM-DD or an interval A/B.")
@click.option("--status", type=click.Choice(("scheduled", "held")),
              help="Default: held if the date is past, else scheduled.")
@click.option("--format", "format", metavar="SLUG", help="The format it belongs to.")
@click.option("--level", type=click.Choice(LEVELS), help="Who met.")
@click.option("--mode", type=click.Choice(MODES), help="How they met.")
@click.option("--city", metavar="NAME", help="Where (needs --country; coordinates from "
              "GeoNames), by a name or \"City, Region\" (\"Paris, Texas\", \"Springfield, MA\").")
@click.option("--country", metavar="ACTOR", help="Host country.")
@click.option("--geonameid", metavar="ID",
              help="The city by its GeoNames id, when several have its name (see tracker "
              "places); needs --country.")
@click.option("--participant", multiple=True, metavar="ACTOR",
              help="A participant (repeat, or separate with commas).")
@click.option("--chair", metavar="ACTOR", help="Who chaired.")
@click.option("--official", multiple=True, metavar="ACTOR:NAME[:TITLE]",
              help="A named official who took part (repeat).")
@click.option("--topic", multiple=True, help="A topic discussed (repeat).")
@click.option("--summary", help="What happened.")
@source_options()
@click.pass_context
def add_meeting(ctx: click.Context, event_id: str | None, as_json: bool, **options: Any) -> None:
    """Record a meeting, held or scheduled.

    \b
    Example:
        tracker add meeting --title "9th Central Asia + Japan foreign ministers' meeting" \\
          --date 2022-12 --status held --format central-asia-japan --level ministerial \\
          --city Tokyo --country JPN --participant JPN,KAZ,KGZ,TJK,TKM,UZB \\
          --source https://example.org/article --quote "the 9th meeting ... in Tokyo"

    A city name that several places of the country have gives the largest, with a
    warning naming it; choose another with --geonameid (or "City, Region"):

    \b
        tracker places Springfield --country USA
        tracker add meeting --title "..." --date 2025-01 --city Springfield \\
          --country USA --geonameid 4951788 --source "..."
    """
    from .model import draft_record

    _append(ctx, draft_record("meeting", options), event_id, as_json)


@add.command(name="announcement")
@click.option("--title", required=True, help="What was announced.")
@click.option("--date", required=True, metavar="DATE", help="When (EDTF date).")
@click.option("--by", required=True, metavar="ACTOR", help="Who announced it.")
@click.option("--about", multiple=True, metavar="ID",
              help="A record it is about: meeting, pledge, announcement or format (repeat).")
@click.option("--topic", multiple=True, help="A topic (repeat).")
@click.option("--summary", help="What it says.")
@source_options()
@click.pass_context
def add_announcement(ctx: click.Context, event_id: str | None, as_json: bool,
                     **options: Any) -> None:
    """Record an announcement or statement.

    \b
    Example:
        tracker add announcement --title "Japan: the summit will be a historic opportunity" \\
          --date 2024-07-23 --by JPN --about 01J3Z8Q6M0S7WQ4N6V7R2K9B1C \\
          --source "ORIENT news, 24.07.2024" --quote "a historic opportunity"
    """
    from .model import draft_record

    _append(ctx, draft_record("announcement", options), event_id, as_json)


@add.command(name="pledge")
@click.option("--title", required=True, help="What was pledged.")
@click.option("--date", required=True, metavar="DATE", help="When it was pledged (EDTF).")
@click.option("--donor", required=True, metavar="ACTOR", help="Who pledged.")
@click.option("--recipient", multiple=True, required=True, metavar="ACTOR",
              help="Who receives (repeat, or separate with commas).")
@click.option("--amount", required=True, metavar="NUMBER",
              help="Exact amount in the original currency, e.g. 2000000000 or "
              "2,000,000,000 (a point is a decimal point).")
@click.option("--currency", required=True, metavar="CODE", help="ISO 4217 code, e.g. JPY.")
@click.option("--approximate", is_flag=True, help="The source gives the amount as approximate.")
@click.option("--instrument", type=click.Choice(INSTRUMENTS), help="Kind of finance.")
@click.option("--purpose", help="What it is for.")
@click.option("--at", metavar="MEETING_ID", help="The meeting where it was pledged.")
@source_options()
@click.pass_context
def add_pledge(ctx: click.Context, event_id: str | None, as_json: bool, **options: Any) -> None:
    """Record a pledge of money or assistance.

    \b
    Example:
        tracker add pledge --title "Grant aid for medical equipment" --date 2020 \\
          --donor JPN --recipient KAZ,KGZ,TJK,TKM,UZB --amount 2000000000 --currency JPY \\
          --approximate --instrument grant --purpose "medical equipment" \\
          --source "..." --quote "nearly 2 billion yen of grant aid"
    """
    from .model import draft_record

    _append(ctx, draft_record("pledge", options), event_id, as_json)


@cli.command(name="places")
@click.argument("name")
@click.option("--country", required=True, metavar="ACTOR", help="The country (a state).")
def places_command(name: str, country: str) -> None:
    """List the places that --city NAME may mean in a country.

    First the one --city NAME gives, then the others, largest first; each with its
    GeoNames id (for --geonameid), region (admin1 code), population and coordinates.

    \b
    Example:
        tracker places Springfield --country USA
    """
    from .model import places_a_city_may_mean

    for place in places_a_city_may_mean(name, country):
        click.echo(place.listed())


@cli.command()
@click.argument("record_id", metavar="ID")
@click.option("--status", required=True,
              type=click.Choice(STATUSES["meeting"] + STATUSES["pledge"]),
              help="Meeting: scheduled, held, postponed, cancelled. "
              "Pledge: pledged, disbursed, fulfilled, withdrawn.")
@click.option("--date", metavar="DATE", help="When the change happened (EDTF).")
@click.option("--amount", metavar="NUMBER",
              help="With --status disbursed: the cumulative amount disbursed. With a "
              "pledge's --status pledged: its new amount (the pledge revised).")
@click.option("--note", help="A note on the change.")
@click.option("--to", metavar="DATE",
              help="A meeting rescheduled (scheduled or postponed): its new date; held "
              "on another day than set: that day (EDTF).")
@source_options()
@click.pass_context
def update(ctx: click.Context, record_id: str, event_id: str | None, as_json: bool,
           **options: Any) -> None:
    """Record a development in the world: a meeting held or postponed, a pledge disbursed
    or revised (raised or cut: --status pledged --amount NUMBER).

    \b
    Example:
        tracker update 01J3Z8Q6M0S7WQ4N6V7R2K9B1C --status postponed --date 2024-08-09 \\
          --source https://example.org/news --quote "the summit was postponed"
        tracker update 01J3Z8Q6M0S7WQ4N6V7R2K9B1C --status scheduled --to 2024-12 \\
          --source https://example.org/news --quote "now to be held in December"
        tracker update 01J3Z8Q6M0S7WQ4N6V7R2K9B1C --status held --date 2024-12-03 \\
          --source https://example.org/news --quote "the summit opened on Tuesday"
        tracker update 01M86D4Z01W1CVMRTPEQT1WG9Q --status pledged --amount 200000000 \\
          --date 2024-06 --source https://example.org/news --quote "raised its pledge"

    A meeting held on a more precise --date within its date (a day of its month) is
    dated that day; one held on another day than set takes that day in --to.
    """
    from .model import draft_update, parse_reference
    from .recorder import find_subject

    subject = parse_reference(record_id)
    found = find_subject(_log(ctx), subject, retry_of=event_id)
    _append(ctx, draft_update(found.kind, subject, options, found.date), event_id, as_json)


@cli.command()
@click.argument("record_id", metavar="ID")
@source_options()
@click.pass_context
def cite(ctx: click.Context, record_id: str, event_id: str | None, as_json: bool,
         **options: Any) -> None:
    """Add another source for a record.

    \b
    Example:
        tracker cite 01J3Z8Q6M0S7WQ4N6V7R2K9B1C --source https://example.org/report \\
          --publisher "Example News" --published 2024-07-24 --quote "..."
    """
    from .model import draft_citation, parse_reference
    from .recorder import find_subject

    subject = parse_reference(record_id)
    find_subject(_log(ctx), subject, retry_of=event_id)
    _append(ctx, draft_citation(subject, options), event_id, as_json)


@cli.command()
@click.argument("source_event", metavar="EVENT_ID")
@click.option("--reason", required=True, help="Why the source does not support the record.")
@source_options(required=False)
@click.pass_context
def uncite(ctx: click.Context, source_event: str, event_id: str | None, as_json: bool,
           **options: Any) -> None:
    """Withdraw a source cited wrongly; it stays in the events and the history.

    EVENT_ID is the citation (or amendment) that gave the source: the id `tracker cite`
    printed, its event_id in the sources table, or its id in `tracker show`.

    \b
    Example:
        tracker uncite 01J3Z9A1B2C3D4E5F6G7H8J9KM --reason "the article is about 2019"
    """
    from .model import draft_withdrawal, parse_id
    from .recorder import find_source

    withdrawn = parse_id(source_event)
    subject = find_source(_log(ctx), withdrawn, retry_of=event_id)
    _append(ctx, draft_withdrawal(subject, withdrawn, options), event_id, as_json)


@cli.command()
@click.argument("record_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_context
def show(ctx: click.Context, record_id: str, as_json: bool) -> None:
    """Show a record's current state and every event about it.

    \b
    Example:
        tracker show 01J3Z8Q6M0S7WQ4N6V7R2K9B1C
        tracker show central-asia-japan --json
    """
    from .model import parse_reference
    from .show import describe, render

    record, notes = describe(_log(ctx), parse_reference(record_id))
    click.echo(_dumps(record) if as_json else render(record))
    for note in notes:
        _warn(note)


@cli.command(name="log")
@click.option("--type", "event_type", metavar="TYPE",
              type=click.Choice((*EVENT_KINDS, *EVENT_TYPES)),
              help="Only events of this type (meeting.recorded) or kind (meeting).")
@click.option("--subject", metavar="ID", help="Only events about this record.")
@click.option("--since", metavar="DATE|TIME",
              help="Only events recorded from this date (UTC) or time on.")
@click.option("--json", "as_json", is_flag=True, help="Output a JSON array of events.")
@click.pass_context
def log_command(ctx: click.Context, event_type: str | None, subject: str | None,
                since: str | None, as_json: bool) -> None:
    """List events in replay order.

    \b
    Example:
        tracker log --type meeting --since 2026-01-01
        tracker log --since 2026-11-24T03:00:00Z --json
        tracker log --subject central-asia-japan --json
    """
    from .duplicates import copies_noted
    from .envelope import since_moment
    from .model import parse_reference
    from .replay import events_in_order
    from .show import log_line

    if subject:
        try:
            subject = parse_reference(subject)
        except Invalid as error:
            raise error.named("--subject") from None
    start = since_moment(since) if since is not None else None

    def wanted(event: dict) -> bool:
        return ((not event_type or event_type in (event["type"],
                                                  event["type"].partition(".")[0]))
                and (not subject or event["subject"] == subject)
                and (not start or event["recorded_at"] >= start))

    first = True
    events, repeats = events_in_order(_log(ctx), wanted)
    for event in events:
        if as_json:
            try:
                shown_event = _dumps(event)
            except TypeError:  # nested deeper than JSON is written
                raise click.ClickException(f"event {event['id']} is nested too deeply to "
                                           "write as JSON: run tracker verify") from None
            click.echo(("[\n" if first else ",\n") + shown_event, nl=False)
        else:
            click.echo(log_line(event))
        first = False
    if first and subject:  # nothing about it: a record, or a typo?
        from .catalog import Catalog

        with Catalog.scan(_log(ctx)) as catalog:
            if subject not in catalog.subjects:
                raise catalog.unknown(subject, given="--subject")
    if as_json:
        click.echo("\n]" if not first else "[]")
    for note in copies_noted(events, repeats):
        _warn(note)


@cli.command()
@click.argument("record_id", metavar="ID")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE", required=True,
              help="A field as named by its `add` option; lists comma-separated (repeat).")
@click.option("--reason", required=True, help="Why the record was wrong.")
@source_options(required=False)
@click.pass_context
def amend(ctx: click.Context, record_id: str, assignments: tuple[str, ...],
          event_id: str | None, as_json: bool, **options: Any) -> None:
    """Correct a record that was wrong; the old values stay in its history.

    \b
    Example:
        tracker amend 01J3Z8Q6M0S7WQ4N6V7R2K9B1C --set date=2019-05-20 \\
          --set participant=JPN,KAZ,KGZ --reason "the date was misread" \\
          --source https://example.org/communique --quote "on 20 May 2019"
    """
    from .model import draft_amendment, parse_reference
    from .recorder import find_subject

    subject = parse_reference(record_id)
    found = find_subject(_log(ctx), subject, with_data=True, with_status=True,
                         retry_of=event_id)
    draft = draft_amendment(found.kind, subject, found.data, assignments, options,
                            found.status, found.disbursed, found.updates)
    _append(ctx, draft, event_id, as_json)


@cli.command()
@click.argument("record_id", metavar="ID")
@click.option("--reason", required=True, help="Why the record should not stand.")
@source_options(required=False)
@click.pass_context
def retract(ctx: click.Context, record_id: str, event_id: str | None, as_json: bool,
            **options: Any) -> None:
    """Withdraw a record that should not exist; it stays in the events and the history.

    \b
    Example:
        tracker retract 01J3Z8Q6M0S7WQ4N6V7R2K9B1C --reason "recorded twice"
    """
    from .model import draft_retraction, parse_reference
    from .recorder import find_subject

    subject = parse_reference(record_id)
    find_subject(_log(ctx), subject, retry_of=event_id)
    _append(ctx, draft_retraction(subject, options), event_id, as_json)


@cli.command()
@click.option("--full", is_flag=True, help="Rebuild everything instead of applying new events.")
@click.option("--as-of", metavar="TIMESTAMP",
              help="Only events recorded up to then (YYYY-MM-DD: the end of that day, UTC).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), callback=_a_file_name,
              help="Write this database instead of the global --db.")
@click.pass_context
def build(ctx: click.Context, full: bool, as_of: str | None, db_path: Path | None) -> None:
    """Project the event log into the SQLite database.

    \b
    Example:
        tracker build
        tracker build --as-of 2024-07-01 --db /tmp/july.db
    """
    from .build import build as build_database
    from .envelope import as_of_moment
    from .progress import bytes_bar

    target = db_path or ctx.obj["db"]
    moment = as_of_moment(as_of) if as_of is not None else None
    result = build_database(_log(ctx), target, full=full, as_of=moment, progress=bytes_bar)
    click.echo(_built(target, result, moment))
    _warn_of_build(result)


def _built(target: Path, result: Any, moment: str | None = None) -> str:
    """What a build did to its database: updated it with new events, or built it."""
    if result.incremental:
        return f"Updated {target} with {counted(result.events, 'new event')}"
    suffix = f" recorded up to {moment}" if moment else ""
    return f"Built {target} from {counted(result.events, 'event')}{suffix}"


def _warn_of_build(result: Any) -> None:
    """Print what a build found wrong in the log (`BuildResult.warnings`), as `tracker
    build` does, for every command that builds."""
    for warning in result.warnings():
        _warn(warning)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--as-of", metavar="TIMESTAMP",
              help="Serve the state as of then, built into a temporary database.")
@click.option("--metadata", type=click.Path(dir_okay=False, path_type=Path),
              help="Datasette metadata [default: datasette-metadata.json beside events/].")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Rebuild and show new records while serving.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, as_of: str | None,
          metadata: Path | None, watch: bool) -> None:
    """Build if the log changed, then publish the database read-only with Datasette.

    New records appear in the running site within seconds (see --no-watch).

    \b
    Example:
        tracker serve
        tracker serve --as-of 2024-07-01 --port 8002
        tracker serve --host 0.0.0.0 --port 8080 --no-watch
    """
    from .build import build as build_database
    from .build import built_as_of, is_stale
    from .envelope import as_of_moment
    from .serve import as_of_metadata, listen_on, load_metadata
    from .serve import serve as run_server

    log, db = _log(ctx), ctx.obj["db"]
    moment = as_of_moment(as_of) if as_of is not None else None
    if metadata is not None and not metadata.exists():
        raise click.ClickException(f"no metadata file {shown(str(metadata))}")
    metadata = metadata or Path(ctx.obj["events"]).parent / "datasette-metadata.json"
    if not metadata.exists():
        click.echo(f"Warning: no {metadata}: serving without descriptions, facets and "
                   "canned queries (use --metadata FILE)", err=True)
    site_metadata = load_metadata(metadata)  # not JSON: stops here, before a build
    sockets = listen_on(host, port)  # a port in use: stops here, before a build
    try:
        if moment:
            site_metadata = as_of_metadata(site_metadata, moment)
            with built_as_of(log, moment) as (snapshot, result):
                click.echo(f"Built the state as of {moment} from {counted(result.events, 'event')}",
                           err=True)
                _warn_of_build(result)
                run_server(snapshot, site_metadata, host, port, sockets=sockets)
            return
        warned: list[str] = []
        if is_stale(log, db):
            result = build_database(log, db)
            click.echo(_built(db, result), err=True)
            _warn_of_build(result)
            warned = result.warnings()
        run_server(db, site_metadata, host, port, log=log if watch else None, sockets=sockets,
                   warned=warned)
    finally:
        for sock in sockets:
            sock.close()


@cli.command()
@click.option("--against", metavar="GIT_REV",
              help="Also prove the log only grew since this git revision.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the outcome, with every problem and warning, as JSON.")
@click.pass_context
def verify(ctx: click.Context, against: str | None, as_json: bool) -> None:
    """Check every event: hashes, ids, seq gaps, schema and references.

    \b
    Example:
        tracker verify
        tracker verify --against origin/main --json
    """
    from .progress import bytes_bar
    from .verify import verify as verify_log
    from .verify import verify_against

    log = _log(ctx)
    if not log.root.is_dir():  # a typo in --events: not an empty log
        raise click.ClickException(f"no event log at {log.root}")
    report = verify_log(log, progress=bytes_bar)
    if against:
        report.merge(verify_against(log, against))
    for warning in report.warnings:
        _warn(warning)
    for problem in report.problems:
        click.echo(f"Problem: {problem}", err=True)
    if as_json:
        click.echo(_dumps({"ok": report.ok, "events": report.events, "files": report.files,
                           "against": against, "problems": report.problems,
                           "warnings": report.warnings}))
    if not report.ok:
        raise TrackerError(
            f"verify failed: {counted(len(report.problems), 'problem')} in "
            f"{counted(report.events, 'event')}; "
            f"first: {report.problems[0]}"
        )
    if not as_json:
        since = f"; nothing changed or removed since {against}" if against else ""
        click.echo(f"OK: {counted(report.events, 'event')} in "
                   f"{counted(report.files, 'file')}{since}")


@cli.command(name="import")
@click.argument("file", metavar="FILE")
@click.option("--kind", type=click.Choice(ROW_KINDS),
              help="Kind of every row, for a CSV file without a kind column.")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome and every row's id.")
@click.pass_context
def import_command(ctx: click.Context, file: str, kind: str | None, dry_run: bool,
                   as_json: bool) -> None:
    """Import records, updates and citations from CSV or JSON Lines, all or nothing.

    \b
    Example:
        tracker import meetings.csv --dry-run
        tracker import meetings.csv
        tracker export > all.jsonl && tracker --events copy/ import all.jsonl
    """
    from .importer import ImportRefused, import_file, report
    from .progress import progress_bar

    log = _log(ctx)
    try:
        outcome = import_file(log, file, kind, dry_run, progress_bar)
    except (TrackerError, OSError) as refused:  # the file, or its rows (ImportRefused)
        problems = refused.problems if isinstance(refused, ImportRefused) else []
        error = one_line(_failed(refused).message if isinstance(refused, OSError)
                         else str(refused))
        click.echo(f"Error: {error}", err=True)
        for problem in problems:
            click.echo(str(problem), err=True)
        if as_json:
            click.echo(_dumps({"file": file, "ok": False, "error": error,
                               "problems": [problem.as_json() for problem in problems]}))
        ctx.exit(1)
    _report_appending(log)
    summary, warnings = report(outcome)
    for warning in warnings:
        _warn(warning)
    click.echo(_dumps({"ok": True, **outcome.as_json()}) if as_json else summary)


@cli.command()
@click.option("--format", "output_format", type=click.Choice(("jsonl", "csv")),
              default="jsonl", show_default=True, help="Output format.")
@click.option("--type", "kind", type=click.Choice(RECORD_KINDS),
              help="Only records of this kind (with their updates and citations).")
@click.option("--as-of", metavar="TIMESTAMP",
              help="The records as they stood then, built into a temporary database.")
@click.pass_context
def export(ctx: click.Context, output_format: str, kind: str | None,
           as_of: str | None) -> None:
    """Write the current records with their sources to stdout, ready for tracker import.

    \b
    Example:
        tracker export > tracker.jsonl
        tracker export --format csv --type meeting > meetings.csv
        tracker export --as-of 2025-12-31 > end-of-2025.jsonl
    """
    from .build import build as build_database
    from .build import built_as_of, is_stale
    from .envelope import as_of_moment

    log, db = _log(ctx), ctx.obj["db"]
    if as_of is not None:
        with built_as_of(log, as_of_moment(as_of)) as (snapshot, result):
            _warn_of_build(result)
            _export(snapshot, output_format, kind)
        return
    if is_stale(log, db):
        _warn_of_build(build_database(log, db))
    _export(db, output_format, kind)


def _export(db: Path, output_format: str, kind: str | None) -> None:
    from .exporter import export_rows, write_csv, write_jsonl

    kinds = (kind,) if kind else RECORD_KINDS
    rows = export_rows(db, kinds, _warn)
    if output_format == "csv":
        write_csv(rows, sys.stdout, kinds)
    else:
        write_jsonl(rows, sys.stdout)
