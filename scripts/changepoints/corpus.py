#!/usr/bin/env python3
"""Seeded corpus of annotated series for scoring change-point detectors.

Every series is a list of run medians around a level of 100 with noise of scale 1 (σ):
no change at all, steps of 1-6σ up and down, slow and fast trends, seasonality, AR(1)
noise, heavy tails (Student t, 3 degrees of freedom), lone outliers and outlier bursts,
steps 2-5 points before the end, and trends with a step. Each carries its true change
points (the index of the first point of each new level: what `perfwarden analyze`
reports) and flags for the no-change and trend-only families, whose every reported change
point is false.

Usage: corpus.py [--seed N] OUT.json
"""

import argparse
import json
import math
import random

LEVEL = 100.0
SIGMA = 1.0
LENGTHS = [12, 20, 30, 50, 100, 200, 500, 1000]


def noise(rng, kind="normal", rho=0.0, n=0):
    """n noise values of unit scale: normal, t(3) scaled to unit sd, or AR(1) with rho."""
    out = []
    previous = 0.0
    for _ in range(n):
        if kind == "t3":
            chi2 = sum(rng.gauss(0, 1) ** 2 for _ in range(3))
            e = rng.gauss(0, 1) / math.sqrt(chi2 / 3) / math.sqrt(3)
        else:
            e = rng.gauss(0, 1)
        if rho:
            # Stationary AR(1) with unit marginal variance.
            previous = rho * previous + math.sqrt(1 - rho * rho) * e
            out.append(previous)
        else:
            out.append(e)
    return out


def step_positions(rng, n, count, min_gap):
    """`count` change points in (min_gap, n - min_gap], at least min_gap apart."""
    for _ in range(1000):
        points = sorted(rng.sample(range(min_gap, n - min_gap + 1), count))
        gaps = [b - a for a, b in zip([0] + points, points + [n])]
        if all(g >= min_gap for g in gaps):
            return points
    return []


def levels(n, points, magnitudes):
    """The piecewise-constant mean: LEVEL, shifted by magnitudes[k]·σ at points[k]."""
    mean = []
    current = LEVEL
    k = 0
    for i in range(n):
        while k < len(points) and points[k] == i:
            current += magnitudes[k] * SIGMA
            k += 1
        mean.append(current)
    return mean


def magnitude(rng, low=1, high=6):
    return rng.choice([-1, 1]) * rng.uniform(low, high)


def series(name, family, values, points, **extra):
    return {
        "name": name,
        "family": family,
        "values": [round(v, 6) for v in values],
        "change_points": points,
        "no_change": family == "no_change",
        "trend_only": family == "trend_only",
        **extra,
    }


def generate(seed):
    rng = random.Random(seed)
    corpus = []

    for n in LENGTHS:
        for k in range(5):
            corpus.append(series(f"no_change_{n}_{k}", "no_change",
                                 [LEVEL + e for e in noise(rng, n=n)], []))

    for n in [30, 50, 100, 200, 500, 1000]:
        for k in range(10):
            count = 1 + k % 3
            points = step_positions(rng, n, count, max(5, n // 10))
            mags = [magnitude(rng) for _ in points]
            mean = levels(n, points, mags)
            corpus.append(series(f"steps_{n}_{k}", "steps",
                                 [m + e for m, e in zip(mean, noise(rng, n=n))], points,
                                 magnitudes=[round(m, 3) for m in mags]))

    for n in [20, 30, 50, 100, 200, 500, 1000]:
        for k in range(4):
            # Slow: 2-6σ over the whole series; fast: 0.1-0.5σ per point.
            total = rng.uniform(2, 6) if k < 2 else rng.uniform(0.1, 0.5) * n
            sign = rng.choice([-1, 1])
            # Fast trends on long series would leave the positive range: cap at 60 σ.
            total = min(total, 60.0)
            values = [LEVEL + sign * total * i / (n - 1) + e
                      for i, e in enumerate(noise(rng, n=n))]
            corpus.append(series(f"trend_only_{n}_{k}", "trend_only", values, [],
                                 trend_total_sigma=round(sign * total, 3)))

    for n in [50, 100, 200, 500]:
        for k in range(5):
            period = rng.choice([7, 12, 24])
            amplitude = rng.uniform(0.5, 1.5)
            count = k % 3
            points = step_positions(rng, n, count, max(5, n // 8)) if count else []
            mags = [magnitude(rng, 3, 6) for _ in points]
            mean = levels(n, points, mags)
            values = [m + amplitude * math.sin(2 * math.pi * i / period) + e
                      for i, (m, e) in enumerate(zip(mean, noise(rng, n=n)))]
            corpus.append(series(f"seasonal_{n}_{k}", "seasonal", values, points,
                                 magnitudes=[round(m, 3) for m in mags]))

    for n in [50, 100, 200, 500]:
        for k in range(8):
            rho = [0.3, 0.5, 0.7][k % 3]
            count = k % 3
            points = step_positions(rng, n, count, max(5, n // 8)) if count else []
            mags = [magnitude(rng, 3, 6) for _ in points]
            mean = levels(n, points, mags)
            values = [m + e for m, e in zip(mean, noise(rng, rho=rho, n=n))]
            corpus.append(series(f"ar1_{n}_{k}", "ar1", values, points, rho=rho,
                                 magnitudes=[round(m, 3) for m in mags]))

    for n in [30, 50, 100, 200, 500]:
        for k in range(4):
            count = k % 3
            points = step_positions(rng, n, count, max(5, n // 8)) if count else []
            mags = [magnitude(rng, 3, 6) for _ in points]
            mean = levels(n, points, mags)
            values = [m + e for m, e in zip(mean, noise(rng, kind="t3", n=n))]
            corpus.append(series(f"heavy_tails_{n}_{k}", "heavy_tails", values, points,
                                 magnitudes=[round(m, 3) for m in mags]))

    for n in [30, 50, 100, 200]:
        for k in range(8):
            count = k % 3
            points = step_positions(rng, n, count, max(6, n // 8)) if count else []
            mags = [magnitude(rng, 3, 6) for _ in points]
            mean = levels(n, points, mags)
            values = [m + e for m, e in zip(mean, noise(rng, n=n))]
            outliers = []
            # A lone outlier right before the first step (the masking case) or anywhere.
            for _ in range(1 + k % 2):
                if points and not outliers:
                    at = points[0] - 2
                else:
                    at = rng.randrange(2, n - 2)
                if all(abs(at - p) >= 2 for p in points):
                    values[at] += rng.choice([-1, 1]) * rng.uniform(6, 12) * SIGMA
                    outliers.append(at)
            if k >= 4:
                # A burst of two outliers.
                at = rng.randrange(3, n - 4)
                if all(abs(at - p) >= 3 and abs(at + 1 - p) >= 3 for p in points):
                    shift = rng.choice([-1, 1]) * rng.uniform(6, 12) * SIGMA
                    values[at] += shift
                    values[at + 1] += shift
                    outliers += [at, at + 1]
            corpus.append(series(f"outliers_{n}_{k}", "outliers", values, points,
                                 outliers=sorted(outliers),
                                 magnitudes=[round(m, 3) for m in mags]))

    for n in [20, 30, 50, 100, 200, 500]:
        for k in range(5):
            after = 2 + k % 4
            points = [n - after]
            if n >= 50 and k % 2:
                points = step_positions(rng, n - after - 10, 1, 10) + points
            mags = [magnitude(rng, 3, 6) for _ in points]
            mean = levels(n, points, mags)
            values = [m + e for m, e in zip(mean, noise(rng, n=n))]
            corpus.append(series(f"late_step_{n}_{k}", "late_step", values, points,
                                 points_after_last=after,
                                 magnitudes=[round(m, 3) for m in mags]))

    for n in [50, 100, 200, 500]:
        for k in range(5):
            total = rng.uniform(3, 8) * rng.choice([-1, 1])
            points = step_positions(rng, n, 1, max(8, n // 5))
            mags = [magnitude(rng, 3, 6) for _ in points]
            mean = levels(n, points, mags)
            values = [m + total * i / (n - 1) + e
                      for i, (m, e) in enumerate(zip(mean, noise(rng, n=n)))]
            corpus.append(series(f"trend_step_{n}_{k}", "trend_step", values, points,
                                 trend_total_sigma=round(total, 3),
                                 magnitudes=[round(m, 3) for m in mags]))
    return corpus


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("out")
    args = parser.parse_args()
    corpus = generate(args.seed)
    with open(args.out, "w") as f:
        json.dump({"seed": args.seed, "sigma": SIGMA, "series": corpus}, f)
    print(f"{len(corpus)} series, {sum(len(s['values']) for s in corpus)} points -> {args.out}")


if __name__ == "__main__":
    main()
