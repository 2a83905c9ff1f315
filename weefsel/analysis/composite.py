"""Composite index of social infrastructure and resilience with Monte-Carlo rank intervals.

Follows the JRC/OECD Handbook on Constructing Composite Indicators (2008): imputation,
normalisation, weighting, aggregation, then uncertainty analysis (Monte-Carlo over the
choices) and sensitivity analysis (which choice moves the ranks).

Vectorised: the (imputation x normalisation) variants are few, so each is normalised once
(N x K); every draw is then one column of a weight matrix and the composites of all draws
of a variant are ONE matrix product (N x K) @ (K x draws). Ranks of all draws are one
argsort over a (draws x N) array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from weefsel.analysis.normalise import (IMPUTATIONS, NORMALISATIONS, impute, normalise,
                                        shift_for_geometric)
from weefsel.errors import CatalogueError

AGGREGATIONS = ("arithmetic", "geometric")
WEIGHTINGS = ("equal", "theme")
RESULT_COLUMNS = ["area_code", "period", "level", "reference", "reference_group", "composite",
                  "rank", "rank_median", "rank_p05", "rank_p95", "n_draws", "n_ranked",
                  "coverage", "n_indicators", "n_own", "rests_on", "unranked_reason",
                  "unranked_reason_nl"]
#: an area is ranked only when its own data carry at least this share of the weight
MIN_COMPOSITE_COVERAGE = 2 / 3
SENSITIVITY_COLUMNS = ["period", "level", "reference", "reference_group", "factor", "choice",
                       "first_order_share", "mean_abs_rank_shift", "p90_abs_rank_shift", "n_areas"]


@dataclass
class CompositeSpec:
    """The central choices and the Monte-Carlo design.

    weights: 'equal' | 'theme' | {indicator: weight} (must sum to 1).
    min_coverage: share of the total weight an area must carry with its *own* values to get
    a composite and a rank (checked on the observed data, before any imputation; areas below
    it are listed with the reason, never ranked on imputed values).
    imputation: the central choice is 'none' (weights renormalised over the area's own
    indicators); the Monte-Carlo draws still vary it, so its rank-variance share is reported.
    """

    imputation: str = "none"
    normalisation: str = "minmax"
    weights: str | Mapping[str, float] = "equal"
    aggregation: str = "arithmetic"
    draws: int = 1000
    seed: int = 42
    mc_imputations: Sequence[str] = IMPUTATIONS
    mc_normalisations: Sequence[str] = NORMALISATIONS
    mc_aggregations: Sequence[str] = AGGREGATIONS
    dirichlet_concentration: float = 50.0
    min_coverage: float = MIN_COMPOSITE_COVERAGE
    oat_weight_draws: int = 100

    def check(self) -> None:
        if self.imputation not in IMPUTATIONS:
            raise CatalogueError(f"imputation '{self.imputation}' not one of {', '.join(IMPUTATIONS)}")
        if self.normalisation not in NORMALISATIONS:
            raise CatalogueError(f"normalisation '{self.normalisation}' not one of {', '.join(NORMALISATIONS)}")
        if self.aggregation not in AGGREGATIONS:
            raise CatalogueError(f"aggregation '{self.aggregation}' not one of {', '.join(AGGREGATIONS)}")
        if isinstance(self.weights, str) and self.weights not in WEIGHTINGS:
            raise CatalogueError(f"weights '{self.weights}' not one of equal, theme or a mapping")
        for name, opts, allowed in (("imputation", self.mc_imputations, IMPUTATIONS),
                                    ("normalisation", self.mc_normalisations, NORMALISATIONS),
                                    ("aggregation", self.mc_aggregations, AGGREGATIONS)):
            bad = [o for o in opts if o not in allowed]
            if bad or not opts:
                raise CatalogueError(f"Monte-Carlo {name} choices {list(opts)} must be non-empty "
                                     f"and within {', '.join(allowed)}")
        if self.draws < 0:
            raise CatalogueError("draws must be >= 0")
        if self.dirichlet_concentration <= 0:
            raise CatalogueError("dirichlet_concentration must be > 0")
        if not 0 < self.min_coverage <= 1:
            raise CatalogueError("min_coverage must be in (0, 1]")


def resolve_weights(weights: str | Mapping[str, float], ids: Sequence[str],
                    themes: Mapping[str, str]) -> np.ndarray:
    """Weight vector over ``ids`` that sums to 1.

    'equal': 1/K each. 'theme': each theme 1/T, split equally among its indicators.
    A mapping is the analyst's own weights: non-negative, naming only indicators in the
    index, and summing to 1 (within 1e-6) -- otherwise CatalogueError, before computing.
    """
    k = len(ids)
    if k == 0:
        raise CatalogueError("no indicators to combine into a composite")
    if isinstance(weights, str):
        if weights == "equal":
            return np.full(k, 1.0 / k)
        if weights == "theme":
            th = [themes[i] for i in ids]
            counts = pd.Series(th).value_counts()
            return np.array([1.0 / len(counts) / counts[t] for t in th])
        raise CatalogueError(f"weights '{weights}' not one of equal, theme or a mapping")
    unknown = [key for key in weights if key not in ids]
    if unknown:
        raise CatalogueError(f"weights name indicator(s) not in the index: {', '.join(map(str, unknown))}")
    w = np.array([float(weights.get(i, 0.0)) for i in ids])
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise CatalogueError("weights must be finite and non-negative")
    total = float(w.sum())
    if abs(total - 1.0) > 1e-6:
        raise CatalogueError(f"weights sum to {total:.6g}, not 1 (give weights that sum to one)")
    return w


def prepare(x: np.ndarray, sign: np.ndarray, imputation: str, normalisation: str,
            aggregation: str) -> tuple[np.ndarray, np.ndarray]:
    """Normalised, oriented matrix ready for a weighted sum: returns (Z with NaN->0, mask).

    For geometric aggregation Z holds log(shifted normalised values), so the weighted
    sum of Z is the log of the weighted geometric mean.
    """
    y = normalise(impute(x, imputation), normalisation, sign)
    if aggregation == "geometric":
        y = np.log(shift_for_geometric(y, normalisation))
    mask = ~np.isnan(y)
    return np.where(mask, y, 0.0), mask.astype(float)


def aggregate_scores(z: np.ndarray, mask: np.ndarray, w: np.ndarray, aggregation: str,
                     min_coverage: float) -> np.ndarray:
    """Composites for weight matrix ``w`` (K x D): returns N x D.

    Weights are renormalised over each area's available indicators (effective weights sum
    to 1); areas with less than ``min_coverage`` of the weight observed get NaN.
    """
    num = z @ w
    cover = mask @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        s = num / cover
    s = np.where(cover >= min_coverage - 1e-12, s, np.nan)
    return np.exp(s) if aggregation == "geometric" else s


def min_rank_desc(c: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = highest composite, ties share the best (lowest) rank,
    NaN -> NaN. Works on a (D x N) array in one sort."""
    c = np.atleast_2d(c)
    nan = np.isnan(c)
    # equal inputs can differ in the last bits after a BLAS product (identical rows at other
    # positions): composites within 1e-10 are ties, so ranks never depend on row order
    v = np.where(nan, np.inf, -np.round(c, 10))
    order = np.argsort(v, axis=1)          # ties are resolved below, stability not needed
    s = np.take_along_axis(v, order, axis=1)
    n = c.shape[1]
    start = np.ones(s.shape, dtype=bool)
    start[:, 1:] = s[:, 1:] != s[:, :-1]
    pos = np.where(start, np.arange(n)[None, :], 0)
    pos = np.maximum.accumulate(pos, axis=1)
    ranks = np.empty(c.shape, dtype=float)
    np.put_along_axis(ranks, order, (pos + 1).astype(float), axis=1)
    ranks[nan] = np.nan
    return ranks


def dirichlet_weights(w0: np.ndarray, n: int, concentration: float,
                      rng: np.random.Generator) -> np.ndarray:
    """n weight vectors (K x n) drawn from Dirichlet(concentration * w0) on the support of w0
    (zero weights stay zero); every column sums to 1."""
    out = np.zeros((len(w0), n))
    pos = w0 > 0
    if n == 0:
        return out
    if pos.sum() == 1:
        out[pos, :] = 1.0
        return out
    out[pos, :] = rng.dirichlet(concentration * w0[pos], size=n).T
    return out


@dataclass
class CompositeRun:
    composite: np.ndarray          # N, central choice
    rank: np.ndarray               # N, central rank (1 = best)
    ranks: np.ndarray              # D x N Monte-Carlo ranks
    factors: dict[str, np.ndarray] = field(default_factory=dict)   # factor -> level index per draw
    levels: dict[str, Sequence[str]] = field(default_factory=dict)
    oat: list[dict] = field(default_factory=list)


def run_composite(x: np.ndarray, sign: np.ndarray, w0: np.ndarray, spec: CompositeSpec,
                  rng: np.random.Generator | None = None) -> CompositeRun:
    """Central composite + Monte-Carlo ranks + one-at-a-time rank shifts for one reference."""
    spec.check()
    rng = rng if rng is not None else np.random.default_rng(spec.seed)
    cache: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}

    def prep(imp: str, norm: str, agg: str):
        key = (imp, norm, agg)
        if key not in cache:
            cache[key] = prepare(x, sign, imp, norm, agg)
        return cache[key]

    # eligibility on the area's OWN data under the central weights: imputed values never
    # make an area rankable, whatever the draw imputes
    observed = (~np.isnan(x)).astype(float)
    eligible = (observed @ w0) >= spec.min_coverage - 1e-12

    def scores(imp, norm, agg, w):
        z, m = prep(imp, norm, agg)
        out = aggregate_scores(z, m, w, agg, spec.min_coverage)
        out[~eligible, :] = np.nan
        return out

    central = scores(spec.imputation, spec.normalisation, spec.aggregation, w0[:, None])[:, 0]
    central_rank = min_rank_desc(central[None, :])[0]

    d = spec.draws
    n = x.shape[0]
    levels = {"imputation": list(spec.mc_imputations), "normalisation": list(spec.mc_normalisations),
              "aggregation": list(spec.mc_aggregations)}
    factors = {f: rng.integers(0, len(levels[f]), size=d) for f in levels}
    wdraws = dirichlet_weights(w0, d, spec.dirichlet_concentration, rng)
    comp = np.full((d, n), np.nan)
    combos = np.stack([factors["imputation"], factors["normalisation"], factors["aggregation"]], axis=1) \
        if d else np.zeros((0, 3), dtype=int)
    for combo in np.unique(combos, axis=0) if d else []:
        sel = np.all(combos == combo, axis=1)
        imp, norm, agg = (levels["imputation"][combo[0]], levels["normalisation"][combo[1]],
                          levels["aggregation"][combo[2]])
        comp[sel, :] = scores(imp, norm, agg, wdraws[:, sel]).T
    ranks = min_rank_desc(comp) if d else np.zeros((0, n))

    # one-at-a-time: change one choice, keep the others central
    oat = []
    central_cfg = {"imputation": spec.imputation, "normalisation": spec.normalisation,
                   "aggregation": spec.aggregation}
    for f, opts in levels.items():
        for opt in opts:
            if opt == central_cfg[f]:
                continue
            cfg = dict(central_cfg, **{f: opt})
            r = min_rank_desc(scores(cfg["imputation"], cfg["normalisation"], cfg["aggregation"],
                                     w0[:, None]).T)[0]
            oat.append({"factor": f, "choice": opt, **_shift(r, central_rank)})
    if spec.oat_weight_draws > 0 and (w0 > 0).sum() > 1:
        wd = dirichlet_weights(w0, spec.oat_weight_draws, spec.dirichlet_concentration, rng)
        r = min_rank_desc(scores(spec.imputation, spec.normalisation, spec.aggregation, wd).T)
        shifts = np.abs(r - central_rank[None, :])
        oat.append({"factor": "weights", "choice": f"dirichlet(c={spec.dirichlet_concentration:g})",
                    "mean_abs_rank_shift": float(np.nanmean(shifts)) if np.isfinite(shifts).any() else np.nan,
                    "p90_abs_rank_shift": float(np.nanpercentile(shifts, 90)) if np.isfinite(shifts).any() else np.nan})
    return CompositeRun(central, central_rank, ranks, factors, levels, oat)


def _shift(r: np.ndarray, r0: np.ndarray) -> dict:
    s = np.abs(r - r0)
    if not np.isfinite(s).any():
        return {"mean_abs_rank_shift": np.nan, "p90_abs_rank_shift": np.nan}
    return {"mean_abs_rank_shift": float(np.nanmean(s)), "p90_abs_rank_shift": float(np.nanpercentile(s, 90))}


def first_order_shares(ranks: np.ndarray, factors: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Variance share of the ranks explained by each discrete factor alone,
    S_f = sum_j Var(E[R_j | f]) / sum_j Var(R_j) (over areas j; the remainder is the weights
    and the interactions)."""
    ok = np.isfinite(ranks).all(axis=0)
    r = ranks[:, ok]
    if r.shape[0] < 2 or r.shape[1] == 0:
        return {f: np.nan for f in factors}
    total = r.var(axis=0).sum()
    out = {}
    for f, lv in factors.items():
        if total == 0:
            out[f] = 0.0
            continue
        onehot = np.eye(lv.max() + 1)[lv]            # D x L
        cnt = onehot.sum(axis=0)
        use = cnt > 0
        means = (onehot[:, use].T @ r) / cnt[use, None]   # L x N
        p = cnt[use] / cnt.sum()
        between = (p[:, None] * (means - r.mean(axis=0)[None, :]) ** 2).sum()
        out[f] = float(between / total)
    return out


def nan_quantiles(r: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Column quantiles (linear interpolation, as np.percentile) ignoring NaN, vectorised:
    one sort instead of np.nanpercentile's per-column loop. Returns len(qs) x N."""
    s = np.sort(r, axis=0)                         # NaN sort last
    cnt = np.isfinite(r).sum(axis=0)
    cols = np.arange(r.shape[1])
    out = np.full((len(qs), r.shape[1]), np.nan)
    has = cnt > 0
    for i, q in enumerate(qs):
        pos = q * (np.maximum(cnt, 1) - 1)
        lo = np.floor(pos).astype(int)
        hi = np.ceil(pos).astype(int)
        frac = pos - lo
        v = s[lo, cols] + (s[hi, cols] - s[lo, cols]) * frac
        out[i] = np.where(has, v, np.nan)
    return out


def summarise(run: CompositeRun, codes: Sequence[str]) -> pd.DataFrame:
    """Per-area central composite, rank, Monte-Carlo median rank and 90% interval."""
    r = run.ranks
    n_draws = r.shape[0]
    if n_draws:
        q = nan_quantiles(r, [0.50, 0.05, 0.95])
    else:
        q = np.full((3, r.shape[1]), np.nan)
    return pd.DataFrame({"area_code": list(codes), "composite": run.composite, "rank": run.rank,
                         "rank_median": q[0], "rank_p05": q[1], "rank_p95": q[2],
                         "n_draws": n_draws,
                         "n_ranked": int(np.isfinite(run.rank).sum())})


def basis_frame(values: pd.DataFrame, w0: np.ndarray, min_coverage: float) -> pd.DataFrame:
    """What each area's composite rests on: the share of the weight carried by its own
    values (``coverage``), the indicators with own data (``rests_on``, comma-separated ids),
    and for an area below ``min_coverage`` the reason it is not ranked (code and Dutch)."""
    obs = values.notna().to_numpy()
    cover = obs.astype(float) @ w0
    ids = np.array(values.columns)
    k = len(ids)
    n_own = obs.sum(axis=1)
    rests = [",".join(ids[row]) for row in obs]
    reason = np.where(cover >= min_coverage - 1e-12, None, "too_little_input").astype(object)
    nl = []
    for c, n, r in zip(cover, n_own, reason):
        if r is None:
            nl.append(None)
        elif n == 0:
            nl.append(f"niet gerangschikt: geen eigen cijfers voor de {k} indicatoren van de index")
        else:
            nl.append(f"niet gerangschikt: eigen cijfers voor {n} van {k} indicatoren "
                      f"({c:.0%} van het gewicht; minimaal {min_coverage:.0%})")
    return pd.DataFrame({"coverage": cover, "n_indicators": k, "n_own": n_own,
                         "rests_on": rests, "unranked_reason": reason,
                         "unranked_reason_nl": nl})


def sensitivity_table(run: CompositeRun) -> pd.DataFrame:
    shares = first_order_shares(run.ranks, run.factors) if run.ranks.shape[0] else {}
    rows = [{"factor": f, "choice": "*", "first_order_share": s} for f, s in shares.items()]
    if shares:
        rows.append({"factor": "weights+interactions", "choice": "*",
                     "first_order_share": float(max(0.0, 1.0 - np.nansum(list(shares.values()))))})
    rows += [dict(o, first_order_share=np.nan) for o in run.oat]
    out = pd.DataFrame(rows)
    for c in ("mean_abs_rank_shift", "p90_abs_rank_shift"):
        if c not in out:
            out[c] = np.nan
    out["n_areas"] = int(np.isfinite(run.rank).sum())
    return out


def composite_frame(values: pd.DataFrame, signs: Mapping[str, int], themes: Mapping[str, str],
                    spec: CompositeSpec, *, groups: pd.Series | None = None, period: str = "",
                    level: str = "", reference: str = "nl") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Composite for a wide frame (index area_code, columns = indicators in the index).

    ``groups`` (area_code -> group) makes each group its own reference: normalisation
    statistics and ranks are computed within the group. Returns (index_results, index_sensitivity).
    """
    spec.check()
    ids = list(values.columns)
    w0 = resolve_weights(spec.weights, ids, themes)
    sign = np.array([signs[i] for i in ids], dtype=float)
    if groups is None:
        groups = pd.Series("NL", index=values.index)
    groups = groups.reindex(values.index)
    rng = np.random.default_rng(spec.seed)
    res, sens = [], []
    for g, idx in sorted(values.groupby(groups, dropna=True).groups.items(), key=lambda kv: str(kv[0])):
        sub = values.loc[idx]
        run = run_composite(sub.to_numpy(dtype=float), sign, w0, spec, rng)
        r = summarise(run, sub.index)
        r = pd.concat([r, basis_frame(sub, w0, spec.min_coverage)], axis=1)
        r["reference_group"] = g
        res.append(r)
        s = sensitivity_table(run)
        s["reference_group"] = g
        sens.append(s)
    results = pd.concat(res, ignore_index=True) if res else pd.DataFrame(columns=RESULT_COLUMNS)
    sensitivity = pd.concat(sens, ignore_index=True) if sens else pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    for frame in (results, sensitivity):
        frame["period"] = str(period)
        frame["level"] = level
        frame["reference"] = reference
    return results[RESULT_COLUMNS], sensitivity[SENSITIVITY_COLUMNS]
