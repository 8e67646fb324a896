"""Mappings for the sandboxes' synthetic traffic: the deployment's own, with the velocity detector relaxed.

A sandbox shop has eight customers who each place many orders within seconds (the demo, the benchmark, the
tests): real shops do not, and the velocity detector (``validation.yaml`` → ``detectors.velocity``) would hold
them. Everything else is the repository's mappings, unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from integration.config import PROJECT_ROOT

RELAXED_VELOCITY = {"max_customer_orders": 1_000_000, "max_address_customers": 1_000_000}


def relaxed_copy(dest: Path, source: Path | None = None) -> Path:
    """Copy the mapping directory to ``dest`` with the velocity limits lifted; returns ``dest``."""
    source = source or PROJECT_ROOT / "mappings"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)
    validation = dest / "validation.yaml"
    data = yaml.safe_load(validation.read_text("utf-8")) or {}
    detectors = data.setdefault("detectors", {}) or {}
    detectors["velocity"] = {**(detectors.get("velocity") or {}), **RELAXED_VELOCITY}
    validation.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    return dest
