"""The code is `ruff check` clean."""

from __future__ import annotations

import subprocess
import sys

from .conftest import PROJECT


def test_ruff_check_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "tracker", "tests"],
                            cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
