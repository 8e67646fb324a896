"""AI assistance that runs offline: mapping suggestions (``suggest``) and anomaly detection (``anomaly``).

Plain statistics and string similarity over packaged data; no network, no model download. ``make eval``
measures both (bench/eval.py, docs/ai.md). Importing this package imports nothing heavy: the mapping loader
reads ``integration.ai.thresholds`` at start-up.
"""
