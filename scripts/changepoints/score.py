#!/usr/bin/env python3
"""Scores change-point detectors on one corpus (scripts/changepoints/corpus.py), in one run.

Detectors: `perfwarden analyze` (the binary given), Apache Otava's `compute_change_points`
with its defaults (window 50, p < 0.001), and ruptures' PELT and Binseg on the l2 cost
with the penalty 2·σ̂²·ln n (the BIC of a Gaussian mean shift), σ̂ the MAD of the first
differences × 1.4826 / √2, the usual robust noise scale.

Metrics, per detector:
- F1 with a margin of 5 points, as TCPDBench (van den Burg & Williams 2020) defines it: the
  start of the series counts as a change point in both the truth and the prediction, each
  true point matches at most one predicted point within the margin; the mean over series;
- false change points per 100 points on the no-change and on the trend-only series;
- recall of steps of at least 3σ with at least 5 points after them (within the margin);
- lone outliers reported as a change point (a point at the outlier or right after it);
- wall time over the whole corpus (perfwarden: one process per series, start included),
  and on one series of 10,000 points.

Usage: score.py CORPUS.json --perfwarden BIN [--markdown OUT.md]
"""

import argparse
import json
import math
import os
import subprocess
import tempfile
import time

MARGIN = 5


def true_positives(truth, predicted, margin=MARGIN):
    """Truth points matched one-to-one to the closest unused prediction within the margin."""
    left = set(predicted)
    matched = set()
    for tau in sorted(truth):
        close = sorted((abs(tau - x), x) for x in left if abs(tau - x) <= margin)
        if close:
            matched.add(tau)
            left.remove(close[0][1])
    return matched


def f1(truth, predicted, margin=MARGIN):
    truth = set(truth) | {0}
    predicted = set(predicted) | {0}
    matched = len(true_positives(truth, predicted, margin))
    precision = matched / len(predicted)
    recall = matched / len(truth)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def robust_sigma(values):
    """MAD of the first differences × 1.4826 / √2: the noise scale, blind to a few steps."""
    import statistics
    diffs = [b - a for a, b in zip(values, values[1:])]
    if len(diffs) < 2:
        return 1.0
    centre = statistics.median(diffs)
    mad = statistics.median(abs(d - centre) for d in diffs)
    return max(mad * 1.4826 / math.sqrt(2), 1e-9)


def detect_perfwarden(binary, values):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("\n".join(repr(v) for v in values) + "\n")
        path = f.name
    try:
        out = subprocess.run([binary, "analyze", "--input", path, "--format", "json"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    return [cp["index"] for cp in json.loads(out)["change_points"]]


def detect_otava(values):
    from otava.analysis import compute_change_points
    change_points, _ = compute_change_points(values)
    return [cp.index for cp in change_points]


def detect_ruptures(method, values):
    import numpy as np
    import ruptures as rpt
    signal = np.asarray(values, dtype=float).reshape(-1, 1)
    n = len(values)
    penalty = 2 * robust_sigma(values) ** 2 * math.log(n)
    algo = (rpt.Pelt if method == "pelt" else rpt.Binseg)(model="l2", min_size=2, jump=1)
    breaks = algo.fit(signal).predict(pen=penalty)
    return [b for b in breaks if b < n]


def score(corpus, name, detect):
    started = time.perf_counter()
    predictions = [detect(s["values"]) for s in corpus]
    wall = time.perf_counter() - started
    f1s = [f1(s["change_points"], p) for s, p in zip(corpus, predictions)]
    by_family = {}
    for s, value in zip(corpus, f1s):
        by_family.setdefault(s["family"], []).append(value)

    def false_rate(flag):
        points = sum(len(s["values"]) for s in corpus if s[flag])
        false = sum(len(p) for s, p in zip(corpus, predictions) if s[flag])
        return 100.0 * false / max(points, 1)

    big, found = 0, 0
    lone, lone_reported = 0, 0
    for s, p in zip(corpus, predictions):
        n = len(s["values"])
        bounds = s["change_points"] + [n]
        for k, cp in enumerate(s["change_points"]):
            if abs(s["magnitudes"][k]) >= 3 and bounds[k + 1] - cp >= 5:
                big += 1
                if any(abs(cp - x) <= MARGIN for x in p):
                    found += 1
        outliers = s.get("outliers", [])
        for o in outliers:
            if o - 1 in outliers or o + 1 in outliers:
                continue
            lone += 1
            if any(x in (o, o + 1) for x in p):
                lone_reported += 1
    return {
        "detector": name,
        "f1": sum(f1s) / len(f1s),
        "f1_by_family": {k: sum(v) / len(v) for k, v in sorted(by_family.items())},
        "false_per_100_no_change": false_rate("no_change"),
        "false_per_100_trend_only": false_rate("trend_only"),
        "recall_3sigma_5_after": found / max(big, 1),
        "lone_outliers_reported": lone_reported / max(lone, 1),
        "wall_seconds": wall,
    }


def speed(binary, n=10_000, seed=7):
    """Wall time of one series of n points (steps every ~1,000 points, unit noise):
    `perfwarden analyze` as a process (start included) and Otava in this process."""
    import random
    rng = random.Random(seed)
    level, values = 100.0, []
    for i in range(n):
        if i and i % 1000 == 0:
            level += rng.choice([-1, 1]) * rng.uniform(1, 4)
        values.append(level + rng.gauss(0, 1))
    out = {"points": n}
    for name, detect in [("perfwarden", lambda v: detect_perfwarden(binary, v)),
                         ("Otava (defaults)", detect_otava)]:
        started = time.perf_counter()
        found = detect(values)
        out[name] = {"seconds": time.perf_counter() - started, "change_points": len(found)}
    return out


def markdown(results, corpus_meta):
    families = list(results[0]["f1_by_family"])
    lines = [
        f"Corpus: {corpus_meta['count']} series, {corpus_meta['points']} points "
        f"(seed {corpus_meta['seed']}); F1 with a margin of {MARGIN} points.",
        "",
        "| detector | F1 | " + " | ".join(f"F1 {f}" for f in families)
        + " | false /100 points, no change | false /100 points, trend only"
        " | recall ≥3σ steps | lone outliers reported | wall time (s) |",
        "|---" * (len(families) + 7) + "|",
    ]
    for r in results:
        lines.append(
            f"| {r['detector']} | {r['f1']:.3f} | "
            + " | ".join(f"{r['f1_by_family'][f]:.3f}" for f in families)
            + f" | {r['false_per_100_no_change']:.2f} | {r['false_per_100_trend_only']:.2f}"
            f" | {r['recall_3sigma_5_after']:.3f} | {r['lone_outliers_reported']:.3f}"
            f" | {r['wall_seconds']:.2f} |"
        )
    timing = corpus_meta.get("speed")
    if timing:
        p, o = timing["perfwarden"], timing["Otava (defaults)"]
        lines += [
            "",
            f"One series of {timing['points']:,} points (a step every 1,000): perfwarden "
            f"{p['seconds']:.2f} s as a process ({p['change_points']} change points), Otava "
            f"{o['seconds']:.2f} s in process ({o['change_points']}): perfwarden / Otava = "
            f"{p['seconds'] / o['seconds']:.2f}.",
        ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--perfwarden", required=True)
    parser.add_argument("--markdown")
    args = parser.parse_args()
    with open(args.corpus) as f:
        data = json.load(f)
    corpus = data["series"]
    detectors = [
        ("perfwarden", lambda v: detect_perfwarden(args.perfwarden, v)),
        ("Otava (defaults)", detect_otava),
        ("ruptures PELT (l2, BIC)", lambda v: detect_ruptures("pelt", v)),
        ("ruptures Binseg (l2, BIC)", lambda v: detect_ruptures("binseg", v)),
    ]
    results = [score(corpus, name, detect) for name, detect in detectors]
    meta = {"count": len(corpus), "points": sum(len(s["values"]) for s in corpus),
            "seed": data["seed"], "speed": speed(args.perfwarden)}
    table = markdown(results, meta)
    print(table)
    print(json.dumps(results, indent=1))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
