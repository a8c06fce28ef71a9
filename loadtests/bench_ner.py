#!/usr/bin/env python3
"""Quality and speed of the PII NER tier (pii.ner) against presidio's default analyzer.

    .venv/bin/python loadtests/bench_ner.py                      # dev sample: score + speed
    .venv/bin/python loadtests/bench_ner.py --rounds 5           # more timing rounds
    .venv/bin/python loadtests/bench_ner.py --corpus other.jsonl --no-presidio

Quality: the NER tier's predictions and those of presidio's default AnalyzerEngine (every default
recognizer, threshold 0, the same spaCy model), both run here, plus the stored baseline
predictions (../shared/pii/baseline_presidio_ner.preds.jsonl, dev sample only), are scored by the
peer scorer (../shared/pii/score.py, read-only); the table keeps PERSON, ORGANIZATION, LOCATION.

Speed: one core, one call per prompt, KiB/s of UTF-8 text, best of --rounds, the two analyzers
interleaved so that a neighbour's load hits both alike. "ner tier" is the detection in-process (what
a pool worker does); "ner tier via NerEngine" adds the process-pool round trip. Model load times:
in-process (imports + spaCy load) and `NerEngine.start()` (a fresh forkserver worker).

Targets: at least as accurate as presidio's default analyzer for the three types, >= 1.5x its
throughput. Results go to loadtests/results/ (git-ignored). No network: tldextract is held to its
bundled snapshot before presidio is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pii import ner  # noqa: E402

SHARED = ROOT.parent / "shared" / "pii"
RESULTS = ROOT / "loadtests" / "results"
TYPES = ("PERSON", "ORGANIZATION", "LOCATION")
TARGET_SPEEDUP = 1.5


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_preds(path: Path, rows: list[dict[str, Any]], spans: list[list[tuple[int, int, str]]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row, sp in zip(rows, spans, strict=True):
            fh.write(
                json.dumps({"id": row["id"], "spans": [{"start": s, "end": e, "type": t} for s, e, t in sp]}) + "\n"
            )


def score(pred: Path, corpus: Path) -> dict[str, dict[str, float]]:
    """Per-type typed P/R/F1 (%) from the peer scorer's JSON report."""
    report = RESULTS / (pred.stem + ".report.json")
    subprocess.run(
        [sys.executable, str(SHARED / "score.py"), "--pred", str(pred), "--corpus", str(corpus), "--json", str(report)],
        check=True,
        capture_output=True,
    )
    per = json.loads(report.read_text())["per_type"]
    out = {}
    for t in TYPES:
        r = per.get(t, {})
        out[t] = {k: 100 * float(r.get(k) or 0.0) for k in ("typed_p", "typed_r", "typed_f1")}
        out[t] |= {k: float(r.get(k) or 0) for k in ("gold", "pred")}
    return out


def best_time(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def presidio_default() -> Any:
    """presidio's default analyzer (all default recognizers), with the same spaCy model."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": ner.MODEL}]}
    return AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine())


def presidio_spans(analyzer: Any, text: str) -> list[tuple[int, int, str]]:
    names = {"PERSON": "PERSON", "ORGANIZATION": "ORGANIZATION", "ORG": "ORGANIZATION", "LOCATION": "LOCATION"}
    return sorted(
        (r.start, r.end, names[r.entity_type]) for r in analyzer.analyze(text, language="en") if r.entity_type in names
    )


def engine_start_time() -> tuple[float, float]:
    async def run() -> tuple[float, float]:
        eng = ner.NerEngine(processes=1)
        try:
            t0 = time.perf_counter()
            await eng.start()
            t1 = time.perf_counter()
            await eng.detect(["Warm-up call from Alice Smith in Lyon."], ner.NER_TYPES)
            return t1 - t0, time.perf_counter() - t1
        finally:
            eng.close()

    return asyncio.run(run())


def engine_kibps(texts: list[str], rounds: int) -> float:
    async def run() -> float:
        eng = ner.NerEngine(processes=1, timeout_s=60)
        try:
            await eng.start()

            async def once() -> None:
                for t in texts:
                    await eng.detect([t], ner.NER_TYPES)

            best = float("inf")
            for _ in range(rounds):
                t0 = time.perf_counter()
                await once()
                best = min(best, time.perf_counter() - t0)
            return sum(len(t.encode()) for t in texts) / 1024 / best
        finally:
            eng.close()

    return asyncio.run(run())


def fmt(row: dict[str, float]) -> str:
    return f"{row['typed_p']:5.1f} / {row['typed_r']:5.1f} / {row['typed_f1']:5.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=SHARED / "dev_sample.jsonl")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-presidio", action="store_true", help="skip presidio's default analyzer")
    ap.add_argument("--no-engine", action="store_true", help="skip the process-pool measurements")
    args = ap.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = load(args.corpus)
    texts = [r["text"] for r in rows]
    kib = sum(len(t.encode()) for t in texts) / 1024
    tag = args.corpus.stem
    report: dict[str, Any] = {"corpus": str(args.corpus), "docs": len(rows), "kib": round(kib, 1)}

    t0 = time.perf_counter()
    ner._init_worker()  # imports spaCy + presidio, loads the model; keeps tldextract offline
    report["load_s_in_process"] = round(time.perf_counter() - t0, 3)
    if ner._Worker.error:
        print(f"NER unavailable: {ner._Worker.error}", file=sys.stderr)
        return 2

    ours = [ner.analyze_texts([t], ner.NER_TYPES)[0] for t in texts]
    ours_path = RESULTS / f"bench_ner.{tag}.ner_tier.preds.jsonl"
    write_preds(ours_path, rows, ours)
    scores = {"ner tier": score(ours_path, args.corpus)}

    def run_ours() -> None:
        for t in texts:
            ner.analyze_texts([t], ner.NER_TYPES)

    speed: dict[str, float] = {}
    if args.no_presidio:
        speed["ner tier"] = kib / best_time(run_ours, args.rounds)
    else:
        t0 = time.perf_counter()
        analyzer = presidio_default()
        report["load_s_presidio_default"] = round(time.perf_counter() - t0, 3)
        theirs = [presidio_spans(analyzer, t) for t in texts]
        theirs_path = RESULTS / f"bench_ner.{tag}.presidio_default.preds.jsonl"
        write_preds(theirs_path, rows, theirs)
        scores["presidio default (this run)"] = score(theirs_path, args.corpus)

        def run_theirs() -> None:
            for t in texts:
                analyzer.analyze(t, language="en")

        best_ours = best_theirs = float("inf")
        for _ in range(args.rounds):  # interleaved: a neighbour's load hits both alike
            best_ours = min(best_ours, best_time(run_ours, 1))
            best_theirs = min(best_theirs, best_time(run_theirs, 1))
        speed["ner tier"] = kib / best_ours
        speed["presidio default"] = kib / best_theirs
    baseline = SHARED / "baseline_presidio_ner.preds.jsonl"
    if args.corpus.name == "dev_sample.jsonl" and baseline.exists():
        scores["presidio baseline (stored preds)"] = score(baseline, args.corpus)

    if not args.no_engine:
        start_s, first_s = engine_start_time()
        report["engine_start_s"] = round(start_s, 3)
        report["engine_first_call_s"] = round(first_s, 3)
        speed["ner tier via NerEngine"] = engine_kibps(texts, args.rounds)

    report["scores"] = scores
    report["kib_per_s"] = {k: round(v, 1) for k, v in speed.items()}
    if "presidio default" in speed:
        report["speedup"] = round(speed["ner tier"] / speed["presidio default"], 2)

    print(f"corpus {args.corpus.name}: {len(rows)} docs, {kib:.1f} KiB\n")
    print("| analyzer | PERSON P / R / F1 | ORGANIZATION P / R / F1 | LOCATION P / R / F1 |")
    print("|---|---|---|---|")
    for name, sc in scores.items():
        print(f"| {name} | {fmt(sc['PERSON'])} | {fmt(sc['ORGANIZATION'])} | {fmt(sc['LOCATION'])} |")
    print("\n| speed (one core, one call per prompt) | KiB/s |\n|---|---:|")
    for name, v in speed.items():
        print(f"| {name} | {v:.1f} |")
    if "speedup" in report:
        verdict = "ok" if report["speedup"] >= TARGET_SPEEDUP else "MISSED"
        print(f"\nspeedup vs presidio default: {report['speedup']:.2f}x (target >= {TARGET_SPEEDUP}x: {verdict})")
        better = all(
            scores["ner tier"][t]["typed_f1"] >= scores["presidio default (this run)"][t]["typed_f1"] for t in TYPES
        )
        print(f"F1 >= presidio default for every NER type: {'ok' if better else 'MISSED'}")
    loads = {k: v for k, v in report.items() if k.startswith(("load_", "engine_"))}
    print("load times (s):", json.dumps(loads))
    out = RESULTS / f"bench_ner.{tag}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"report: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
