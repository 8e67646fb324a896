"""The PrestaShop module's PHP: lint for every file, nothing newer than PHP 7.2, the PHPUnit suite, the zip."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

from tests.php.phptools import MODULE, PHP_TESTS, PRESTASHOP, ROOT, require_php, require_phpunit

PHP_FILES = sorted(PRESTASHOP.rglob("*.php"))
MODULE_FILES = sorted(MODULE.rglob("*.php"))


def test_every_php_file_passes_php_lint():
    php = require_php()
    assert PHP_FILES
    failures = []
    for path in PHP_FILES:
        done = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            failures.append(f"{path.relative_to(ROOT)}: {done.stdout.strip()} {done.stderr.strip()}")
    assert failures == []


def test_the_module_uses_nothing_newer_than_php_7_2():
    php = require_php("tokenizer")
    done = subprocess.run([php, str(PHP_TESTS / "bin" / "check_php72.php"), *map(str, MODULE_FILES)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_module_file_refuses_direct_access_and_every_folder_has_an_index():
    for path in MODULE_FILES:
        text = path.read_text()
        if path.name == "index.php":
            assert "header('Location: ../')" in text, path
        else:
            assert "if (!defined('_PS_VERSION_')) {\n    exit;\n}" in text, path
    for folder in [MODULE, *(p for p in MODULE.rglob("*") if p.is_dir())]:
        assert (folder / "index.php").is_file(), f"{folder} has no index.php"


def test_the_phpunit_suite_passes():
    phpunit = require_phpunit()
    done = subprocess.run([phpunit, "-c", str(PHP_TESTS / "phpunit.xml")], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK (" in done.stdout, done.stdout


def test_make_prestashop_module_builds_an_installable_zip(tmp_path: Path):
    subprocess.run(["make", "-s", "prestashop-module", f"DIST={tmp_path}"], cwd=ROOT, check=True,
                   capture_output=True)
    with zipfile.ZipFile(tmp_path / "psinfor.zip") as archive:
        names = archive.namelist()
    # PrestaShop installs a zip whose single top folder is the module's name.
    assert {n.split("/", 1)[0] for n in names} == {"psinfor"}
    files = {n for n in names if not n.endswith("/")}
    expected = {f"psinfor/{p.relative_to(MODULE)}" for p in MODULE.rglob("*") if p.is_file()}
    assert files == expected
    assert {"psinfor/psinfor.php", "psinfor/logo.png", "psinfor/index.php",
            "psinfor/controllers/front/cron.php"} <= files
