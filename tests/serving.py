"""A real `tracker serve` on 127.0.0.1, started as a subprocess for tests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .conftest import BUNDLED_EVENTS, METADATA


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def copy_bundled_project(project: Path) -> Path:
    """A project folder as a clone has it: the bundled log and the metadata."""
    shutil.copytree(BUNDLED_EVENTS, project / "events",
                    ignore=shutil.ignore_patterns(".lock", ".writer"))
    shutil.copy(METADATA, project / "datasette-metadata.json")
    return project


def clean_environment() -> dict[str, str]:
    """This environment without the test's TRACKER_EVENTS/TRACKER_DB."""
    return {key: value for key, value in os.environ.items()
            if key not in ("TRACKER_EVENTS", "TRACKER_DB")}


def tracker(project: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the CLI as a user would, in the project folder."""
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=project,
                          env=clean_environment(), capture_output=True, text=True,
                          timeout=timeout)


def first_answer(url: str, process: subprocess.Popen, seconds: float = 60,
                 output: Callable[[], str] = lambda: "") -> bytes:
    """The first answer from `url` of the server `process` is starting. AssertionError if
    the process exits first (with its `output`), or after `seconds` without an answer."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {output()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer from {url}") from None
            time.sleep(0.1)


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def get(self, path: str, timeout: float = 10) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return response.read()

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))


@contextmanager
def tracker_serve(project: Path, *args: str, seconds: float = 60) -> Iterator[Server]:
    """`tracker serve` on a free port in `project`; waits until it answers."""
    port = free_port()
    stderr_path = project / "serve.stderr"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "serve", "--port", str(port), *args],
            cwd=project, env=clean_environment(), stdout=subprocess.DEVNULL, stderr=stderr)
    server = Server(f"http://127.0.0.1:{port}", process, stderr_path)
    try:
        first_answer(server.url + "/-/versions.json", process, seconds, server.stderr)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
