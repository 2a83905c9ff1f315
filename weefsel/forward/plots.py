"""PNG and SVG plots of a run: age make-up over time and gap bands with intervals."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from weefsel.forward import rates


def _mpl():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_timeline(proj: pd.DataFrame, area: str, variant: str, path: Path) -> None:
    """Stacked median residents per KWB age band, with the total's 80% and 95% bands."""
    plt = _mpl()
    p = proj[(proj["area_code"] == area) & (proj["variant"] == variant)]
    wide = p[p["age_group"].isin(rates.BAND_NAMES)].pivot(index="year", columns="age_group", values="p50")
    wide = wide[rates.BAND_NAMES]
    tot = p[p["age_group"] == "totaal"].set_index("year").sort_index()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.stackplot(wide.index, wide.T.to_numpy(), labels=[f"{b} jaar" for b in rates.BAND_NAMES], alpha=0.8)
    ax.fill_between(tot.index, tot["p025"], tot["p975"], color="k", alpha=0.10, label="totaal 95%")
    ax.fill_between(tot.index, tot["p10"], tot["p90"], color="k", alpha=0.20, label="totaal 80%")
    ax.set_title(f"Inwoners naar leeftijd, {area} ({variant})")
    ax.set_xlabel("jaar")
    ax.set_ylabel("inwoners (mediaan)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(path.with_suffix(f".{ext}"))
    plt.close(fig)


def plot_gap(gap: pd.DataFrame, area: str, variant: str, path: Path) -> None:
    """Gap per norm over the years: median line and the 80% band; below 0 is a shortfall."""
    plt = _mpl()
    g = gap[(gap["area_code"] == area) & (gap["variant"] == variant) & gap["gap_p50"].notna()]
    if g.empty:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for norm, part in g.groupby("norm"):
        part = part.sort_values("year")
        ax.plot(part["year"], part["gap_p50"], label=part["label_nl"].iloc[0])
        ax.fill_between(part["year"], part["gap_p10"], part["gap_p90"], alpha=0.2)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_title(f"Aanbod min vraag, {area} ({variant}); onder 0 = tekort")
    ax.set_xlabel("jaar")
    ax.legend(fontsize=7)
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(path.with_suffix(f".{ext}"))
    plt.close(fig)


def plot_all(result, folder: Path, areas: list[str] | None = None) -> None:
    proj = result.projection
    if not areas:
        gem = proj.loc[proj["level"].isin(["totaal", "gemeente"]), "area_code"].unique().tolist()
        top = result.gaplist["area_code"].head(3).tolist() if len(result.gaplist) else []
        areas = gem[:7] + [a for a in top if a not in gem]
    for v in result.runs["variant"]:
        for a in areas:
            safe = a.replace(":", "_")
            plot_timeline(proj, a, v, folder / f"leeftijd_{safe}_{v}")
            plot_gap(result.gap, a, v, folder / f"tekort_{safe}_{v}")
