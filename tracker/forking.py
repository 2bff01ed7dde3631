"""A second process for the large jobs (a full build, `tracker verify`): whether one
pays and is safe to fork, and the pipe it sends through."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import suppress

FORK_BYTES = 4 << 20  # below this, one process does the whole job: a fork costs more
PIPE_BYTES = 1 << 20  # asked of a pipe (Linux's default most a process may ask)


def worth_forking(total_bytes: int) -> bool:
    """Whether a job over this many bytes of log is faster with a second process, and
    safe to fork for (a process running other threads is not: one of them may hold a
    lock the child would wait for forever)."""
    return (total_bytes >= FORK_BYTES and (os.cpu_count() or 1) > 1
            and threading.active_count() == 1)


def pipe() -> tuple[int, int]:
    """A pipe (read end, write end) of PIPE_BYTES if the system allows: a smaller one
    only means more, smaller reads and writes."""
    read_end, write_end = os.pipe()
    with suppress(OSError):
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    return read_end, write_end
