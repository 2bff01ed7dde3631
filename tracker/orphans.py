"""Files that killed processes left beside the database: a build's temporary file, a
server's snapshot for a download. Each is named with its process id, and removed once
that process is gone (a process that is killed cannot clean up after itself)."""

from __future__ import annotations

import os
import re
from pathlib import Path

PROCESS_ID = re.compile(r"-([0-9]+)(?:\.[a-z]+)*\Z")  # name-<pid>, name-<pid>.db, ...


def remove_orphans(folder: Path, pattern: str) -> None:
    """Remove the files in `folder` matching the glob `pattern` whose process is gone."""
    for path in folder.glob(pattern):
        found = PROCESS_ID.search(path.name)
        if found and not is_running(int(found[1])):
            path.unlink(missing_ok=True)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's
    return True
