"""Progress bars for long commands: on a terminal only, and only for big jobs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PROGRESS_MIN_ITEMS = 2000


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A bar on stderr when it is a terminal and `total` is large; yields `advance(count)`."""
    if total < PROGRESS_MIN_ITEMS or not sys.stderr.isatty():
        yield lambda count: None
        return
    import click

    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update
