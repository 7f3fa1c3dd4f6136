"""False alarms of the population check's statistics when nothing changed, vs their target.

Real vectors: the 1,912 CPython documentation paragraphs embedded with
all-MiniLM-L6-v2 (int8). The corpus is split at random into the records that
existed at baseline (the reference sample is drawn from them) and the records
written later (the recent samples come from them): same domain, same model,
no change.

Runs are grouped in series of 100, as a deployment's runs share one baseline:
a reference is drawn once per series (and the classifier's null inflation
measured on it once, as the check does), then each run draws its recent
sample. Two designs, both counted:

- ``independent``: every run draws a fresh recent sample; given the series'
  reference, runs are independent.
- ``churn``: like production. Each run replaces 10% of the recent sample with
  newly written records (resampled from the pool). Consecutive runs share 90%
  of their data, so they are correlated; the interval treats them as
  independent and is too narrow.

For each significance level the false-alarm rate of each statistic (MMD at
alpha/2, classifier AUC at alpha/2, Bonferroni) and of the check (either one)
is reported with its Clopper-Pearson 95% interval. The target is ``rate <=
alpha``. At the default per-run alpha (1 h / 1 year = 1.1e-4) a few thousand
runs can only show "0 false alarms, upper bound 3/N"; the larger levels show
that the p-values themselves are valid in the tail.

    python -m benchmarks.calibration [--runs 2000] [--sample 200]
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

import numpy as np
from scipy.stats import beta

from benchmarks.common import write_results
from driftwatch.stats.calibration import calibrate
from driftwatch.stats.domain_classifier import classifier_test, null_inflation
from driftwatch.stats.mmd import mmd_test
from tests.support.corpus_vectors import corpus_vectors
from tests.support.models import MINILM

LEVELS = [0.05, 0.01, 0.001]
CHURN = 0.10
RUNS_PER_SERIES = 100


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - tail, k + 1, n - k))
    return low, high


def unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def run_pvalues(
    vectors: np.ndarray, runs: int, sample: int, churn: bool, rng: np.random.Generator
) -> np.ndarray:
    """(runs, 2) p-values (MMD, classifier) of no-change runs."""
    out = np.empty((runs, 2))
    ref = recent = pool_new = np.empty(0, dtype=int)
    inflation = 1.0
    for i in range(runs):
        if i % RUNS_PER_SERIES == 0:
            order = rng.permutation(len(vectors))
            old, pool_new = order[: len(vectors) // 2], order[len(vectors) // 2 :]
            ref = rng.choice(old, sample, replace=False)
            recent = rng.choice(pool_new, sample, replace=False)
            inflation = null_inflation(vectors[ref], sample, rng)
        elif churn:
            replaced = rng.choice(sample, int(sample * CHURN), replace=False)
            candidates = np.setdiff1d(pool_new, recent)
            recent = recent.copy()
            recent[replaced] = rng.choice(candidates, replaced.size, replace=False)
        else:
            recent = rng.choice(pool_new, sample, replace=False)
        a, b = vectors[ref], vectors[recent]
        out[i, 0] = mmd_test(a, b, rng).pvalue
        out[i, 1] = classifier_test(a, b, rng, inflation=inflation).pvalue
    return out


def rates(pvalues: np.ndarray, alphas: list[float]) -> list[dict[str, Any]]:
    rows = []
    n = len(pvalues)
    for alpha in alphas:
        half = alpha / 2
        row: dict[str, Any] = {"alpha": alpha, "runs": n}
        for name, hits in (
            ("mmd", pvalues[:, 0] < half),
            ("classifier", pvalues[:, 1] < half),
            ("check", (pvalues < half).any(axis=1)),
        ):
            k = int(hits.sum())
            low, high = clopper_pearson(k, n)
            row[name] = {"false_alarms": k, "rate": k / n, "ci95": [low, high]}
        row["within_target"] = row["check"]["ci95"][0] <= alpha
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs per design")
    parser.add_argument("--sample", type=int, default=200, help="reference and recent size")
    args = parser.parse_args()
    vectors = unit(corpus_vectors(MINILM).astype(np.float64))
    default = calibrate(timedelta(hours=1), statistics=2)
    alphas = [*LEVELS, default.alpha]
    results: dict[str, Any] = {
        "corpus": "examples/corpus/python-docs.jsonl",
        "model": MINILM,
        "sample": args.sample,
        "default_schedule": "1h",
        "default_alpha": default.alpha,
        "designs": {},
    }
    for design, churn in (("independent", False), ("churn", True)):
        rng = np.random.default_rng(20261201 + int(churn))
        cpu0 = time.process_time()
        pvalues = run_pvalues(vectors, args.runs, args.sample, churn, rng)
        results["designs"][design] = {
            "cpu_s_per_run": (time.process_time() - cpu0) / args.runs,
            "mean_pvalue": {"mmd": pvalues[:, 0].mean(), "classifier": pvalues[:, 1].mean()},
            "levels": rates(pvalues, alphas),
        }
    write_results("calibration", results)


if __name__ == "__main__":
    main()
