"""Run a command with its stderr on a pseudo-terminal, as a user's shell would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
from pathlib import Path


def stderr_on_terminal(command: list[str], cwd: Path) -> str:
    """Everything the command wrote on its terminal stderr (it must succeed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, cwd=cwd)
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    return output.decode()
