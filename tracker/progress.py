"""Progress bars for long commands: on a terminal only, and only for big jobs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

Advance = Callable[[int], None]  # told how much more work is done
Progress = Callable[[str, int], AbstractContextManager[Advance]]  # (label, total) -> advance

PROGRESS_MIN_ITEMS = 2000
PROGRESS_MIN_BYTES = 8 << 20  # about 15,000 events


def no_progress(label: str, total: int) -> AbstractContextManager[Advance]:
    return nullcontext(lambda count: None)


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A bar on stderr when it is a terminal and `total` is large; yields `advance(count)`."""
    if total < PROGRESS_MIN_ITEMS or not sys.stderr.isatty():
        yield lambda count: None
        return
    import click

    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update


@contextmanager
def bytes_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """Like progress_bar, for work measured in bytes of the log (a percentage, no counts)."""
    if total < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        yield lambda count: None
        return
    import click

    with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True,
                           show_percent=True) as bar:
        yield bar.update
