"""The product wheel works on its own: installed into a fresh venv outside the repository, without the dev kit,
its commands run from any directory (celeryconfig ships as a module, migrations as package data)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    [wheel] = (work / "dist").glob("psinfor-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "celeryconfig.py" in names
    assert not [n for n in names if n.startswith("psinfor_devkit/")]  # the product holds only the product
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    subprocess.run([str(work / "venv" / "bin" / "pip"), "install", "-q", str(wheel)], check=True,
                   capture_output=True)
    return work


def _psinfor(installed: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["DATABASE_URL"] = f"sqlite:///{installed / 'psinfor.db'}"
    return subprocess.run([str(installed / "venv" / "bin" / "psinfor"), *args], cwd=installed, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_wheel_runs_outside_the_repository(installed):
    helped = _psinfor(installed, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "dlq" in helped.stdout and "sandbox" not in helped.stdout  # no dev kit in the product
    upgraded = _psinfor(installed, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    listed = _psinfor(installed, "dlq", "list")
    assert listed.returncode == 0 and "empty" in listed.stdout, listed.stderr
    replayed = _psinfor(installed, "dlq", "replay", "--all")
    assert replayed.returncode == 0 and "nothing to replay" in replayed.stdout, replayed.stderr
    # The Celery app loads its configuration from the top-level celeryconfig module, which must ship too.
    app = subprocess.run([str(installed / "venv" / "bin" / "python"), "-c",
                          "from tasks.app import app; print(sorted(q.name for q in app.conf.task_queues))"],
                         cwd=installed, capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
    assert app.returncode == 0 and "orders" in app.stdout, app.stderr
