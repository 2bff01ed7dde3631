"""The README's quick start, run verbatim on a fresh copy of the project."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import closing
from pathlib import Path

from .conftest import PROJECT

SERVE = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/tracker serve"
TEST = ("python3 -m venv .venv && .venv/bin/pip install -e '.[test]' "
        "&& .venv/bin/python -m pytest")


def quick_start_commands() -> list[str]:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_readme_quick_start_is_two_commands() -> None:
    assert quick_start_commands() == [SERVE, TEST]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = (PROJECT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in script if line and not line.startswith("#")]
    assert commands[-1] == TEST


def project_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=PROJECT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [name for name in listed if name and (PROJECT / name).is_file()]


def port_is_free(port: int) -> bool:
    with closing(socket.socket()) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_quick_start_serves_the_bundled_log(tmp_path: Path) -> None:
    """Copy the project as a clone would have it, run the serve command, query it."""
    copy = tmp_path / "tracker"
    for name in project_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((PROJECT / name).read_bytes())
        target.chmod((PROJECT / name).stat().st_mode)
    assert port_is_free(8001), "port 8001 is busy: stop the other server to run this test"
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("TRACKER_", "VIRTUAL_ENV", "PYTHON"))}
    with open(tmp_path / "serve.log", "wb") as output:
        process = subprocess.Popen(["bash", "-c", SERVE], cwd=copy, env=environment,
                                   stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                database = fetch("http://127.0.0.1:8001/tracker.json")
                break
            except OSError:
                assert time.monotonic() < deadline, "the quick start did not serve in time"
                time.sleep(0.5)
        assert "meetings" in {table["name"] for table in database["tables"]}
        meetings = fetch("http://127.0.0.1:8001/tracker/meetings.json?_shape=array")
        assert "1st Central Asia + Japan summit" in {meeting["title"] for meeting in meetings}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    assert (copy / ".venv" / "bin" / "tracker").exists()
    assert (copy / "tracker.db").exists()
