"""Running the module's PHP from the Python tests: where it is, which PHP runs it, and a clear skip without one.

PHP comes from Debian's packages (``make php-deps``; ``.ci/run`` installs them when missing). Without php-cli the
PHP-side tests are skipped with that instruction, never silently.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRESTASHOP = ROOT / "prestashop"
MODULE = PRESTASHOP / "psinfor"
PHP_TESTS = PRESTASHOP / "tests"
INSTALL_HINT = ("run `make php-deps` (Debian: apt-get install php-cli phpunit php-curl php-xml php-mbstring "
                "php-sqlite3)")


@cache
def php_modules() -> frozenset[str]:
    php = shutil.which("php")
    if not php:
        return frozenset()
    listed = subprocess.run([php, "-m"], capture_output=True, text=True, check=False).stdout
    return frozenset(line.strip().lower() for line in listed.splitlines() if line.strip())


def require_php(*extensions: str) -> str:
    """The php binary, or skip the test saying what to install."""
    php = shutil.which("php")
    if not php:
        pytest.skip(f"php-cli is not installed: the PrestaShop module's PHP tests need it; {INSTALL_HINT}")
    missing = [e for e in extensions if e.lower() not in php_modules()]
    if missing:
        pytest.skip(f"PHP extension(s) {', '.join(missing)} missing; {INSTALL_HINT}")
    return php


def require_phpunit() -> str:
    require_php("curl", "pdo_sqlite", "dom", "mbstring")
    phpunit = shutil.which("phpunit")
    if not phpunit:
        pytest.skip(f"phpunit is not installed; {INSTALL_HINT}")
    return phpunit


def run_php(script: Path, payload: Any = None, *args: str, timeout: float = 60) -> Any:
    """Run one of the harness scripts in prestashop/tests/bin with JSON in, JSON out."""
    php = require_php("curl", "pdo_sqlite")
    done = subprocess.run([php, str(script), *args], input=json.dumps(payload) if payload is not None else "",
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{script.name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert not done.stderr.strip(), done.stderr  # notices and warnings are failures too
    return json.loads(done.stdout)
