"""``make eval``: how good the AI assistance is, measured on held-out data. Not a test: figures, not asserts.

1. Mapping suggestions (``integration/ai/suggest.py``) against the labelled pairs of
   ``bench/eval/mapping_labels.yaml``: top-1 and top-3 accuracy per transaction, leave-one-transaction-out
   (the held-out transaction's labels are out of the weight fit, and its mapping — and, in the training
   problems, the held-out one's too — out of the "existing mappings" signal), with and without the sample
   bundle, and with each signal ablated.
2. Anomaly detection (``integration/ai/anomaly.py``) on seeded synthetic order histories with injected,
   labelled anomalies (``bench/eval_orders.py``): precision, recall and F1 per detector and overall, and the
   false-hold rate on clean orders.

Figures go to ``bench/results/eval-<timestamp>.json`` and ``bench/results/eval-latest.json``.
``python -m bench.eval --refit-weights`` refits the shipped suggestion weights on every labelled pair.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from integration.ai import suggest as sg
from integration.connectors.prestashop.bundles import read_order_bundle
from integration.mapping.loader import load_mappings

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "bench" / "eval"
RESULTS = ROOT / "bench" / "results"
WEIGHTS = ROOT / "integration" / "ai" / "suggest_weights.json"
TARGETS = {"top1": 0.6, "top3": 0.85}


def load_labels(name: str = "mapping_labels.yaml") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EVAL / name).read_text("utf-8"))
    return data


def _split(label: str) -> tuple[str, str]:
    program, transaction = label.split("/")
    return program, transaction


def _samples() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    bundle = read_order_bundle(EVAL / "sample" / "ps" / "orders" / "5.xml")
    records = {}
    for path in sorted((EVAL / "sample" / "m3").glob("*.json")):
        records[path.stem.replace("_", "/")] = {k: v for k, v in json.loads(path.read_text("utf-8")).items()
                                                 if not k.startswith("_")}
    return bundle, records


def _gold(labels: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for direction in ("prestashop_to_infor", "infor_to_prestashop"):
        for tx, fields in (labels.get(direction) or {}).items():
            out[tx] = {f: list(s) for f, s in fields.items()}
    return out


Vectors = dict[str, list[tuple[str, list[float], int]]]  # field -> [(source, features, is_gold)]


def _vectors(problem: sg.Problem, gold: Mapping[str, Sequence[str]], off: frozenset[int]) -> Vectors:
    out: Vectors = {}
    targets = {t.name: t for t in problem.targets}
    names = {c.name for c in problem.candidates}
    for field, accepted in gold.items():
        if field not in targets:
            raise SystemExit(f"{problem.label}: the labelled field {field} is not a field of the transaction")
        missing = [s for s in accepted if s not in names]
        if missing:
            raise SystemExit(f"{problem.label}.{field}: labelled sources {missing} are not candidates")
        rows = []
        for candidate in problem.candidates:
            vector = sg.features(problem, targets[field], candidate)
            for i in off:
                vector[i] = 0.0
            rows.append((candidate.name, vector, int(candidate.name in accepted)))
        out[field] = rows
    return out


def _accuracy(vectors: Vectors, weights: Sequence[float]) -> dict[str, Any]:
    top1 = top3 = 0
    misses = []
    for field, rows in vectors.items():
        ranked = sorted(rows, key=lambda r: (-sg.score(weights, r[1]), r[0]))
        hits = [r[2] for r in ranked[:3]]
        top1 += hits[0]
        top3 += int(any(hits))
        if not hits[0]:
            misses.append({"field": field, "top3": [r[0] for r in ranked[:3]]})
    n = len(vectors)
    return {"n": n, "top1": round(top1 / n, 3), "top3": round(top3 / n, 3), "misses": misses,
            "_hits": (top1, top3)}


def mapping_eval(config: Any, bundle: Mapping[str, Any] | None, records: Mapping[str, Any],
                 off: frozenset[int] = frozenset(), *, details: bool = False) -> dict[str, Any]:
    """Leave-one-transaction-out top-1/top-3, micro-averaged over fields and macro over transactions."""
    gold = _gold(load_labels())
    txs = list(gold)
    per_tx: dict[str, Any] = {}
    total1 = total3 = total_n = 0
    for held_out in txs:
        hp, ht = _split(held_out)
        train: list[tuple[list[float], int]] = []
        for other in txs:
            if other == held_out:
                continue
            op, ot = _split(other)
            problem = sg.build_problem(op, ot, config=config, bundle=bundle, m3_record=records.get(other),
                                       also_exclude=[(hp, ht)])
            for rows in _vectors(problem, gold[other], off).values():
                train.extend((v, y) for _, v, y in rows)
        weights = sg.fit_weights(train)
        problem = sg.build_problem(hp, ht, config=config, bundle=bundle, m3_record=records.get(held_out))
        result = _accuracy(_vectors(problem, gold[held_out], off), weights)
        t1, t3 = result.pop("_hits")
        total1, total3, total_n = total1 + t1, total3 + t3, total_n + result["n"]
        if not details:
            result.pop("misses")
        per_tx[held_out] = result
    macro1 = sum(r["top1"] for r in per_tx.values()) / len(per_tx)
    macro3 = sum(r["top3"] for r in per_tx.values()) / len(per_tx)
    return {"fields": total_n, "top1": round(total1 / total_n, 3), "top3": round(total3 / total_n, 3),
            "macro_top1": round(macro1, 3), "macro_top3": round(macro3, 3), "per_transaction": per_tx}


def all_examples(config: Any, bundle: Mapping[str, Any] | None, records: Mapping[str, Any]
                 ) -> list[tuple[list[float], int]]:
    gold = _gold(load_labels())
    examples: list[tuple[list[float], int]] = []
    for tx, fields in gold.items():
        program, transaction = _split(tx)
        problem = sg.build_problem(program, transaction, config=config, bundle=bundle, m3_record=records.get(tx))
        for rows in _vectors(problem, fields, frozenset()).values():
            examples.extend((v, y) for _, v, y in rows)
    return examples


def fresh_eval(config: Any, bundle: Mapping[str, Any] | None, records: Mapping[str, Any]) -> dict[str, Any]:
    """The untouched set: weights fitted on the whole development set, each fresh transaction scored once."""
    weights = sg.fit_weights(all_examples(config, bundle, records))
    gold = _gold(load_labels("mapping_labels_fresh.yaml"))
    per_tx: dict[str, Any] = {}
    total1 = total3 = total_n = 0
    for tx, fields in gold.items():
        program, transaction = _split(tx)
        problem = sg.build_problem(program, transaction, config=config, bundle=bundle, m3_record=records.get(tx))
        result = _accuracy(_vectors(problem, fields, frozenset()), weights)
        t1, t3 = result.pop("_hits")
        total1, total3, total_n = total1 + t1, total3 + t3, total_n + result["n"]
        per_tx[tx] = result
    return {"fields": total_n, "top1": round(total1 / total_n, 3), "top3": round(total3 / total_n, 3),
            "per_transaction": per_tx}


def suggestions_report() -> dict[str, Any]:
    config = load_mappings(ROOT / "mappings")
    bundle, records = _samples()
    report: dict[str, Any] = {"labels_version": load_labels()["version"], "targets": TARGETS}
    report["loto_with_sample"] = mapping_eval(config, bundle, records, details=True)
    report["loto_without_sample"] = mapping_eval(config, None, {})
    report["loto_without_existing_mappings"] = mapping_eval(None, bundle, records)
    report["fresh_set"] = fresh_eval(config, bundle, records)
    report["fresh_set_without_existing_mappings"] = fresh_eval(None, bundle, records)
    ablations = {}
    for i, name in enumerate(sg.FEATURES[:-1]):
        r = mapping_eval(config, bundle, records, frozenset({i}))
        ablations[f"without_{name}"] = {"top1": r["top1"], "top3": r["top3"]}
    report["ablations"] = ablations
    shipped = sg.default_weights()
    refit = sg.fit_weights(all_examples(config, bundle, records))
    report["shipped_weights"] = dict(zip(sg.FEATURES, shipped, strict=True))
    report["shipped_weights_current"] = all(abs(a - b) < 1e-3 for a, b in zip(shipped, refit, strict=True))
    return report


def refit_weights() -> None:
    config = load_mappings(ROOT / "mappings")
    bundle, records = _samples()
    weights = sg.fit_weights(all_examples(config, bundle, records))
    WEIGHTS.write_text(json.dumps({
        "features": list(sg.FEATURES), "weights": list(weights),
        "_source": "logistic regression on every pair of bench/eval/mapping_labels.yaml (version "
                   f"{load_labels()['version']}) with the sample bundle; python -m bench.eval --refit-weights",
    }, indent=1) + "\n", "utf-8")
    print(f"wrote {WEIGHTS}: {dict(zip(sg.FEATURES, weights, strict=True))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--refit-weights", action="store_true", help="refit integration/ai/suggest_weights.json")
    parser.add_argument("--only", choices=["suggestions", "anomalies"], help="run one half only")
    args = parser.parse_args()
    if args.refit_weights:
        refit_weights()
        return
    started = time.monotonic()
    report: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if args.only != "anomalies":
        report["suggestions"] = suggestions_report()
    if args.only != "suggestions":
        from bench.eval_orders import anomalies_report

        report["anomalies"] = anomalies_report()
    report["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    (RESULTS / f"eval-{stamp}.json").write_text(text, "utf-8")
    (RESULTS / "eval-latest.json").write_text(text, "utf-8")
    print(summary(report))


def summary(report: dict[str, Any]) -> str:
    lines = []
    s = report.get("suggestions")
    if s:
        main_ = s["loto_with_sample"]
        lines.append(f"suggestions (leave-one-transaction-out, {main_['fields']} labelled fields; targets top-1 "
                     f">= {TARGETS['top1']}, top-3 >= {TARGETS['top3']}):")
        for tx, r in main_["per_transaction"].items():
            lines.append(f"  {tx:28} n={r['n']:3}  top-1 {r['top1']:.3f}  top-3 {r['top3']:.3f}")
        for key in ("loto_with_sample", "loto_without_sample", "loto_without_existing_mappings"):
            r = s[key]
            lines.append(f"  {key:34} top-1 {r['top1']:.3f}  top-3 {r['top3']:.3f}  (macro {r['macro_top1']:.3f}"
                         f" / {r['macro_top3']:.3f})")
        for key in ("fresh_set", "fresh_set_without_existing_mappings"):
            r = s[key]
            lines.append(f"  {key:34} top-1 {r['top1']:.3f}  top-3 {r['top3']:.3f}  ({r['fields']} fields: "
                         + ", ".join(f"{t} {v['top1']:.2f}/{v['top3']:.2f}" for t, v in r["per_transaction"].items())
                         + ")")
        for key, r in s["ablations"].items():
            lines.append(f"  {key:34} top-1 {r['top1']:.3f}  top-3 {r['top3']:.3f}")
    a = report.get("anomalies")
    if a:
        lines.append(a["summary_text"])
    lines.append(f"({report['seconds']} s; bench/results/eval-latest.json)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
