"""Distance-decay functions for the enhanced two-step floating catchment (E2SFCA).

A decay is a vectorised weight function w(cost) plus the catchment ``max_cost`` beyond
which pairs are ignored. The definitions copy PySAL ``access.weights`` exactly
(Gaussian without normalisation, step thresholds inclusive) so the ratios agree with
``access`` to machine precision; see docs/accessibility.md.

Spec strings (CLI ``--decay``):
  ``gaussian:SIGMA[:MAX]``        w = exp(-c²/(2σ²)), catchment MAX (default 3σ)
  ``step:C1=W1,C2=W2,...``        w = W_k for the first threshold C_k ≥ c, catchment = max C_k
  ``uniform:MAX``                 w = 1 within MAX (classic 2SFCA)
  ``linear:MAX``                  w = 1 - c/MAX within MAX
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from weefsel.errors import InputError


@dataclass(frozen=True)
class Decay:
    """A distance-decay function with its catchment size (cost units, metres)."""

    kind: str
    max_cost: float
    params: tuple = field(default_factory=tuple)

    def __call__(self, cost: np.ndarray) -> np.ndarray:
        c = np.asarray(cost, dtype=float)
        if self.kind == "gaussian":
            (sigma,) = self.params
            return np.exp(-c * c / (2 * sigma ** 2))
        if self.kind == "step":
            thresholds, weights = self.params
            idx = np.searchsorted(np.asarray(thresholds), c, side="left")
            w = np.append(np.asarray(weights, dtype=float), 0.0)
            return w[idx]
        if self.kind == "uniform":
            return np.where(c <= self.max_cost, 1.0, 0.0)
        if self.kind == "linear":
            return np.clip(1.0 - c / self.max_cost, 0.0, 1.0)
        raise AssertionError(self.kind)

    def scalar(self) -> Callable[[float], float]:
        """Per-value function (what PySAL ``access`` expects as ``weight_fn``)."""
        return lambda x: float(self(np.asarray([x]))[0])

    @property
    def spec(self) -> str:
        if self.kind == "gaussian":
            return f"gaussian:{self.params[0]:g}:{self.max_cost:g}"
        if self.kind == "step":
            return "step:" + ",".join(f"{c:g}={w:g}" for c, w in zip(*self.params))
        return f"{self.kind}:{self.max_cost:g}"


def parse_decay(spec: str) -> Decay:
    """Parse a ``--decay`` spec (see module docstring); raises InputError on nonsense."""
    kind, _, rest = spec.strip().partition(":")
    kind = kind.lower()
    try:
        if kind == "gaussian":
            parts = [float(p) for p in rest.split(":") if p]
            sigma = parts[0]
            max_cost = parts[1] if len(parts) > 1 else 3 * sigma
            if sigma <= 0 or max_cost <= 0:
                raise ValueError
            return Decay("gaussian", max_cost, (sigma,))
        if kind == "step":
            pairs = sorted((float(c), float(w)) for c, w in
                           (item.split("=") for item in rest.split(",") if item))
            if not pairs or any(w < 0 for _, w in pairs) or pairs[0][0] <= 0:
                raise ValueError
            thresholds = tuple(c for c, _ in pairs)
            weights = tuple(w for _, w in pairs)
            return Decay("step", thresholds[-1], (thresholds, weights))
        if kind in ("uniform", "linear"):
            max_cost = float(rest)
            if max_cost <= 0:
                raise ValueError
            return Decay(kind, max_cost)
    except (ValueError, IndexError):
        pass
    raise InputError(f"cannot read distance decay {spec!r}", where="--decay",
                     expected="gaussian:SIGMA[:MAX], step:C1=W1,C2=W2,..., uniform:MAX or linear:MAX "
                              "(metres, weights ≥ 0)")
