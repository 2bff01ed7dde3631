"""A page-cache model for the power-loss test: a tracing shim and a model disk.

The shim runs inside a writer process (`python -m tests.powerloss ...`). It wraps the `os`
calls that change files (open, write, fsync, ftruncate, close, mkdir, link, unlink, rename)
and records, in order, each call on a path under the model's base folder, together with
an `ack` entry each time a command returned its id. Buffered writes (`open(path, "w")`)
under the base are refused, so that nothing changes the files without being recorded. It
can also stop the process at a chosen call (a process crash: what was written stays in
the page cache and on the real disk, but nothing more is synced).

`Disk` replays such a trace. Every file has the bytes the process wrote (the page cache)
and the bytes as of its last fsync; every directory has its entries and its entries as of
its last fsync. `Disk.after_power_loss` builds what a disk would hold if the power failed
at that point: only entries a directory fsync made durable exist, each file has its
synced bytes, and of the bytes written since, the kernel may have written back none,
all, a prefix, or any set of 4 KiB pages, with zeros where the size grew but the data did
not reach the disk.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import pickle
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE = 4096
CRASHED = 77  # exit status of a process stopped by the shim
REAL = {name: getattr(os, name) for name in (
    "open", "write", "fsync", "ftruncate", "close", "mkdir", "link", "unlink", "rename",
    "replace", "truncate", "_exit")}
REAL_OPEN = io.open


class Tracer:
    """Records the changes a process makes under `base`; stops it before call `crash_at`."""

    def __init__(self, base: Path, crash_at: int | None, drop: str):
        self.base = os.path.abspath(base)
        self.crash_at = crash_at
        self.drop = drop  # "": none; "file" or "dir": skip fsyncs of those (a broken writer)
        self.entries: list[tuple] = []
        self.calls = 0
        self.fds: dict[int, tuple[str, bool]] = {}  # fd -> (path, is a directory)

    def under(self, path: Any) -> str | None:
        """The path if the model follows it: under the base, but not in the catalog's
        index (`.cache/catalog/`: a local cache rebuilt from the log, with no durability)."""
        if isinstance(path, int):
            return None
        full = os.path.abspath(os.fspath(path))
        if f"{os.sep}.cache{os.sep}catalog" in full[len(self.base):]:
            return None
        return full if full == self.base or full.startswith(self.base + os.sep) else None

    def call(self) -> None:
        """A point where the process may be stopped (before the call takes effect)."""
        if self.calls == self.crash_at:
            self.save()
            REAL["_exit"](CRASHED)
        self.calls += 1

    def save(self) -> None:
        with REAL_OPEN(os.environ["POWERLOSS_TRACE"], "wb") as file:
            pickle.dump(self.entries, file)

    def install(self) -> None:
        tracer = self

        def open_(path, flags, mode=0o777, *, dir_fd=None):
            full = tracer.under(path)
            if full is None:
                return REAL["open"](path, flags, mode, dir_fd=dir_fd)
            tracer.call()
            fd = REAL["open"](path, flags, mode, dir_fd=dir_fd)
            tracer.fds[fd] = (full, os.path.isdir(full))
            tracer.entries.append(("open", full, flags, fd))
            return fd

        def write(fd, data):
            if fd not in tracer.fds:
                return REAL["write"](fd, data)
            tracer.call()
            written = REAL["write"](fd, data)
            tracer.entries.append(("write", fd, bytes(data[:written])))
            return written

        def fsync(fd):
            if fd not in tracer.fds:
                return REAL["fsync"](fd)
            if tracer.drop == ("dir" if tracer.fds[fd][1] else "file"):
                return None
            tracer.call()
            REAL["fsync"](fd)
            tracer.entries.append(("fsync", fd))
            return None

        def ftruncate(fd, length):
            if fd not in tracer.fds:
                return REAL["ftruncate"](fd, length)
            tracer.call()
            REAL["ftruncate"](fd, length)
            tracer.entries.append(("ftruncate", fd, length))
            return None

        def close(fd):
            if fd in tracer.fds:
                del tracer.fds[fd]
                tracer.entries.append(("close", fd))
            return REAL["close"](fd)

        def on_paths(name: str):
            def wrapped(*paths, **kwargs):
                fulls = [tracer.under(path) for path in paths[:2] if not isinstance(path, int)]
                if not any(fulls):
                    return REAL[name](*paths, **kwargs)
                if name == "truncate":
                    raise AssertionError("os.truncate under the model's base is not traced")
                tracer.call()
                result = REAL[name](*paths, **kwargs)
                kind = "rename" if name == "replace" else name
                tracer.entries.append((kind, *[os.path.abspath(p) for p in paths[:2]
                                               if not isinstance(p, int)]))
                return result
            return wrapped

        def guarded_open(file, mode="r", *args, **kwargs):
            if tracer.under(file) and any(flag in mode for flag in "wax+"):
                raise AssertionError(f"buffered write to {file} is not traced")
            return REAL_OPEN(file, mode, *args, **kwargs)

        os.open, os.write, os.fsync, os.ftruncate, os.close = open_, write, fsync, ftruncate, close
        for name in ("mkdir", "link", "unlink", "rename", "replace", "truncate"):
            setattr(os, name, on_paths(name))
        io.open = builtins.open = guarded_open


def writer_main(base: str, crash_at: str, drop: str, commands: str) -> None:
    """Run CLI commands in this process under the tracer; after each success, record an
    `ack` for each event it printed (an id or slug; with `import --json`, every event id)."""
    import json

    import click

    from tracker.cli import cli

    tracer = Tracer(Path(base), None if crash_at == "-" else int(crash_at), drop)
    tracer.install()
    for arguments in json.loads(commands):
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output):
                cli.main(arguments, standalone_mode=False, prog_name="tracker")
        except click.ClickException as error:
            tracer.entries.append(("refused", error.format_message()))
            continue
        printed = output.getvalue().strip()
        if printed.startswith("{"):  # tracker import --json: every event it appended
            for row in json.loads(printed)["records"]:
                tracer.entries.append(("ack", row["event_id"]))
        else:
            tracer.entries.append(("ack", printed))
    tracer.save()


# -- the model disk -----------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    is_dir: bool
    data: bytearray = field(default_factory=bytearray)  # file: as written (page cache)
    synced: bytes = b""  # file: as of the last fsync
    entries: dict[str, Node] = field(default_factory=dict)  # directory: as created
    synced_entries: dict[str, Node] = field(default_factory=dict)  # as of the last fsync


def _snapshot(path: Path) -> Node:
    """A real folder as a model node, all of it durable (but the catalog's index, which
    the model does not follow: see Tracer.under)."""
    if path.is_dir():
        node = Node(True)
        for child in sorted(path.iterdir()):
            if not (child.name == "catalog" and path.name == ".cache"):
                node.entries[child.name] = _snapshot(child)
        node.synced_entries = dict(node.entries)
        return node
    data = path.read_bytes()
    return Node(False, bytearray(data), data)


class Disk:
    """The model of everything under `base`; starts as a durable copy of the real folder."""

    def __init__(self, base: Path):
        self.base = Path(os.path.abspath(base))
        self.root = _snapshot(self.base)
        self.fds: dict[int, list] = {}  # fd -> [node, append, position]

    def _split(self, path: str) -> tuple[Node, str]:
        parts = Path(path).relative_to(self.base).parts
        node = self.root
        for part in parts[:-1]:
            node = node.entries[part]
        return node, parts[-1]

    def _lookup(self, path: str) -> Node:
        if Path(path) == self.base:
            return self.root
        parent, name = self._split(path)
        return parent.entries[name]

    def apply(self, entry: tuple) -> None:
        kind = entry[0]
        if kind == "open":
            _, path, flags, fd = entry
            if Path(path) == self.base:
                node = self.root
            else:
                parent, name = self._split(path)
                if name not in parent.entries:
                    parent.entries[name] = Node(False)
                node = parent.entries[name]
            if flags & os.O_TRUNC:
                node.data = bytearray()
            self.fds[fd] = [node, bool(flags & os.O_APPEND), 0]
        elif kind == "write":
            _, fd, data = entry
            handle = self.fds[fd]
            node = handle[0]
            at = len(node.data) if handle[1] else handle[2]
            node.data[at:at + len(data)] = data
            handle[2] = at + len(data)
        elif kind == "fsync":
            node = self.fds[entry[1]][0]
            if node.is_dir:
                node.synced_entries = dict(node.entries)
            else:
                node.synced = bytes(node.data)
        elif kind == "ftruncate":
            node = self.fds[entry[1]][0]
            del node.data[entry[2]:]
        elif kind == "close":
            del self.fds[entry[1]]
        elif kind == "mkdir":
            parent, name = self._split(entry[1])
            parent.entries[name] = Node(True)
        elif kind == "link":
            parent, name = self._split(entry[2])
            parent.entries[name] = self._lookup(entry[1])
        elif kind == "unlink":
            parent, name = self._split(entry[1])
            del parent.entries[name]
        elif kind == "rename":
            node = self._lookup(entry[1])
            parent, name = self._split(entry[1])
            del parent.entries[name]
            parent, name = self._split(entry[2])
            parent.entries[name] = node
        elif kind not in ("ack", "refused"):
            raise ValueError(f"unknown trace entry {kind}")

    def end_of_process(self) -> None:
        """A process ended: the kernel closes its descriptors."""
        self.fds.clear()

    def cached_tree(self) -> dict[str, bytes | None]:
        """Every path under the base (relative) and its bytes as written (None: a folder)."""
        return _tree(self.root, lambda node: bytes(node.data), lambda node: node.entries)

    def after_power_loss(self, target: Path, rng: random.Random, variant: str) -> None:
        """Write into `target` what the disk would hold after a power failure now."""
        for relative, data in _tree(self.root, lambda node: _survivor(node, rng, variant),
                                    lambda node: node.synced_entries).items():
            path = target / relative
            if data is None:
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)


def _tree(root: Node, content, entries) -> dict[str, bytes | None]:
    found: dict[str, bytes | None] = {}

    def walk(node: Node, prefix: str) -> None:
        for name, child in sorted(entries(node).items()):
            path = f"{prefix}{name}"
            if child.is_dir:
                found[path] = None
                walk(child, path + "/")
            else:
                found[path] = content(child)

    walk(root, "")
    return found


def _survivor(node: Node, rng: random.Random, variant: str) -> bytes:
    """A file's bytes after a power failure: synced bytes, plus what writeback may have done."""
    synced, written = node.synced, bytes(node.data)
    if written == synced or variant == "lost":
        return synced
    if variant == "written":
        return written
    if not written.startswith(synced):  # truncated or rewritten since the fsync
        return rng.choice((synced, written))
    extra = written[len(synced):]
    size = rng.randint(0, len(extra))
    if rng.random() < 0.5:
        return synced + extra[:size]  # written back in order, up to some point
    pages = bytearray(extra[:size])  # size updated, pages written back in any order
    first = len(synced) // PAGE * PAGE
    for start in range(first, len(synced) + size, PAGE):
        if rng.random() < 0.5:
            low, high = max(start - len(synced), 0), start + PAGE - len(synced)
            pages[low:high] = bytes(len(pages[low:high]))
    return synced + bytes(pages)


if __name__ == "__main__":
    writer_main(*sys.argv[1:5])
