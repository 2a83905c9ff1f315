"""Fairness figures of a selection-probability vector (as reported by Flanigan et al. 2021)."""

from __future__ import annotations

import numpy as np


def gini(p: np.ndarray) -> float:
    """Gini coefficient: Σ_i Σ_j |p_i − p_j| / (2 n² · mean); 0 = everyone equal, unitless."""
    p = np.sort(np.asarray(p, dtype=float))
    n = len(p)
    if n == 0 or p.sum() == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return max(0.0, float((2 * ranks - n - 1) @ p / (n * p.sum())))


def geometric_mean(p: np.ndarray) -> float:
    """exp(mean(log p)); 0 when anyone has probability 0 (higher = fairer to the worst-off)."""
    p = np.asarray(p, dtype=float)
    if (p <= 0).any():
        return 0.0
    return float(np.exp(np.log(p).mean()))


def summary(p: np.ndarray, k: int) -> dict[str, float]:
    """Minimum, maximum, Gini and geometric mean, next to the mean k/n they are judged against."""
    p = np.asarray(p, dtype=float)
    return {"min_probability": float(p.min()), "max_probability": float(p.max()),
            "mean_probability": k / len(p), "gini": gini(p), "geometric_mean": geometric_mean(p)}
