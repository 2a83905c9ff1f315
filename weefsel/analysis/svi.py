"""Stacked vulnerability (stapeling) in the manner of the CDC/ATSDR Social Vulnerability Index.

Percentile rank as the SVI documentation defines it: Excel PERCENTRANK.INC,
    PR = (rank - 1) / (N - 1),  rank = 'min' rank (ties share the lowest rank),
which equals (number of values strictly below x) / (N - 1). Missing values are left out
of N and get no rank. Variables are ranked the *worse* way (higher PR = more vulnerable),
so for 'higher_is_better' indicators the values are negated first. Theme score = sum of the
variable PRs of the theme (missing if any of them is missing, as in the SVI), re-ranked; the
overall score = sum of theme sums, re-ranked. Flags: PR >= 0.90 per variable; flag counts per
theme and in total (flag_count); a theme is flagged when its PR >= 0.90 and the overall row
counts the flagged themes (themes_flagged).
Unlike Excel we do not truncate PR to 4 significant digits (the SVI uses 4); the values
agree to 1e-4.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

FLAG_AT = 0.90
SVI_COLUMNS = ["area_code", "period", "level", "reference", "reference_group", "component_type",
               "component", "theme", "score", "percentile_rank", "flag", "flag_count", "themes_flagged"]


def percent_rank(values: np.ndarray | pd.Series) -> np.ndarray:
    """PERCENTRANK.INC of every value in its own array: (min-rank - 1) / (N - 1), NaN kept NaN.

    N counts the non-missing values; with N == 1 the single value gets 0.
    """
    x = np.asarray(values, dtype=float)
    out = np.full(x.shape, np.nan)
    ok = ~np.isnan(x)
    n = int(ok.sum())
    if n == 0:
        return out
    v = x[ok]
    below = np.searchsorted(np.sort(v), v, side="left")   # count strictly below = min-rank - 1
    out[ok] = below / (n - 1) if n > 1 else 0.0
    return out


def _grouped_pr(x: pd.Series, groups: pd.Series | None) -> pd.Series:
    if groups is None:
        return pd.Series(percent_rank(x.to_numpy()), index=x.index)
    out = pd.Series(np.nan, index=x.index)
    for _, idx in x.groupby(groups, dropna=True).groups.items():
        out.loc[idx] = percent_rank(x.loc[idx].to_numpy())
    return out


def svi(values: pd.DataFrame, themes: Mapping[str, str], directions: Mapping[str, str], *,
        groups: pd.Series | None = None, period: str = "", level: str = "",
        reference: str = "nl", flag_at: float = FLAG_AT) -> pd.DataFrame:
    """Stacked-vulnerability table (long form, SVI_COLUMNS) for a wide ``values`` frame
    (index = area_code, columns = indicators). ``groups`` maps area_code -> reference group
    (e.g. provincie code); None = one reference of all rows. Indicators with no value in
    the whole reference are dropped (listed in the result's attrs['dropped'])."""
    cols = [c for c in values.columns if c in themes]
    dropped = [c for c in cols if values[c].notna().sum() == 0]
    cols = [c for c in cols if c not in dropped]
    if groups is not None:
        groups = groups.reindex(values.index)
    prs: dict[str, pd.Series] = {}
    for c in cols:
        worse = values[c] if directions[c] == "higher_is_worse" else -values[c]
        prs[c] = _grouped_pr(worse.astype(float), groups)
    pr = pd.DataFrame(prs, index=values.index)
    flags = (pr >= flag_at).astype(float).where(pr.notna())
    theme_names = list(dict.fromkeys(themes[c] for c in cols))
    theme_sum = pd.DataFrame({t: pr[[c for c in cols if themes[c] == t]].sum(axis=1, min_count=1)
                              .where(pr[[c for c in cols if themes[c] == t]].notna().all(axis=1))
                              for t in theme_names}, index=values.index)
    theme_pr = pd.DataFrame({t: _grouped_pr(theme_sum[t], groups) for t in theme_names},
                            index=values.index)
    theme_flags = pd.DataFrame({t: flags[[c for c in cols if themes[c] == t]].sum(axis=1, min_count=1)
                                for t in theme_names}, index=values.index)
    overall = theme_sum.sum(axis=1, min_count=1).where(theme_sum.notna().all(axis=1))
    overall_pr = _grouped_pr(overall, groups)
    grp = groups if groups is not None else pd.Series("all", index=values.index)

    def block(kind: str, comp: str, theme: str, score, prank, flag, count,
              nthemes=np.nan) -> pd.DataFrame:
        return pd.DataFrame({"themes_flagged": np.asarray(nthemes, dtype=float),"area_code": values.index, "component_type": kind, "component": comp,
                             "theme": theme, "score": np.asarray(score, dtype=float),
                             "percentile_rank": np.asarray(prank, dtype=float),
                             "flag": np.asarray(flag, dtype=float),
                             "flag_count": np.asarray(count, dtype=float)})

    parts = [block("indicator", c, themes[c], values[c], pr[c], flags[c], flags[c]) for c in cols]
    parts += [block("theme", t, t, theme_sum[t], theme_pr[t],
                    (theme_pr[t] >= flag_at).astype(float).where(theme_pr[t].notna()), theme_flags[t])
              for t in theme_names]
    flagged_themes = (theme_pr >= flag_at).sum(axis=1).where(theme_pr.notna().any(axis=1))
    total_flags = flags.sum(axis=1, min_count=1)
    parts.append(block("overall", "overall", "", overall, overall_pr,
                       (overall_pr >= flag_at).astype(float).where(overall_pr.notna()),
                       total_flags, flagged_themes))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SVI_COLUMNS)
    out["period"] = str(period)
    out["level"] = level
    out["reference"] = reference
    out["reference_group"] = out["area_code"].map(grp).astype(object)
    out = out[SVI_COLUMNS]
    out.attrs["dropped"] = dropped
    return out


def svi_wide(result: pd.DataFrame) -> pd.DataFrame:
    """One row per area: overall PR, flagged-theme count, total flags, theme PRs (for display)."""
    ov = result[result.component_type == "overall"].set_index("area_code")
    th = result[result.component_type == "theme"].pivot(index="area_code", columns="component",
                                                         values="percentile_rank")
    th.columns = [f"pr_{c}" for c in th.columns]
    return pd.concat([ov[["percentile_rank", "themes_flagged", "flag_count"]]
                      .rename(columns={"percentile_rank": "svi_overall",
                                       "flag_count": "flags_total"}), th], axis=1)


def flag_columns(themes: Sequence[str]) -> list[str]:
    return [f"pr_{t}" for t in themes]
