"""A build writing in place, for the tests of what readers and the next build see: a
process with half its transaction in the database file, until told to end it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WRITER = """\
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("pragma cache_size = 1")  # its changed pages go to the file before commit
conn.execute("begin immediate")
conn.execute("update records set data = 'changed'")
conn.execute("update meetings set title = 'changed'")
print("written", flush=True)
conn.execute(sys.stdin.readline())  # commit or rollback
"""


@contextmanager
def writing_in_place(db: Path) -> Iterator[subprocess.Popen]:
    """The writer, with half its changes in the file: `writer.communicate("commit\\n")`
    (or "rollback") ends its transaction; otherwise it is killed in the middle."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "written\n"
        assert b"changed" in db.read_bytes()  # half a transaction in the file
        yield writer
    finally:
        writer.kill()
        writer.wait()


def interrupt_a_write(db: Path) -> None:
    """Leave the database as a build killed while writing in place leaves it: changed
    pages in the file, the pages they replace in its journal."""
    with writing_in_place(db):
        pass
    assert db.with_name(f"{db.name}-journal").exists()
