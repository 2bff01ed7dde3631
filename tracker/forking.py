"""A second process for the large jobs (a full build, `tracker verify`): whether one
pays and is safe to fork, forking it with a pipe to send through, and waiting for it."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from collections.abc import Callable
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


def fork(work: Callable[[int], object]) -> tuple[int, int]:
    """Run `work(write end of a pipe)` in a forked process, which then ends at once: exit
    status 0, or 1 if `work` raised (it sends its own failures through the pipe). Here:
    (its pid, the read end)."""
    read_end, write_end = pipe()
    pid = os.fork()
    if pid == 0:  # the forked process: it never returns
        os.close(read_end)
        code = 1
        try:
            work(write_end)
            code = 0
        finally:
            os._exit(code)  # no cleanup of what it shares with this process
    os.close(write_end)
    return pid, read_end


def reap(pid: int, kill: bool = False) -> int:
    """Wait for a forked process to end, killed first if `kill` (this process stopped
    before the end); its exit status."""
    if kill:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
