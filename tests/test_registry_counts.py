"""Property tests of the registry counts: roll-up adds up, suppression never leaks a small count."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.registry.export import counts

BUURTEN = [f"BU0034{w:02d}{b:02d}" for w in (1, 2) for b in (1, 2, 3)]


def _fake(inits, sigs, threshold):
    return SimpleNamespace(
        suppress_below=threshold,
        initiatives=lambda: [{"area_codes": b, "gemeente_code": "GM0034"} for b in inits],
        places=list,
        signals=lambda status=None: [{"area_code": b, "theme": t} for b, t in sigs])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(BUURTEN), max_size=40),
       st.lists(st.tuples(st.sampled_from(BUURTEN), st.sampled_from(["eenzaamheid", "wonen"])), max_size=40),
       st.integers(min_value=1, max_value=10))
def test_rollup_and_suppression(inits, sigs, threshold):
    c = counts(_fake(inits, sigs, threshold))
    if inits:
        assert c[("GM0034", "registry_initiatives")] == len(inits)
        for w in ("WK003401", "WK003402"):
            n = sum(1 for b in inits if b.startswith("BU" + w[2:]))
            assert c.get((w, "registry_initiatives"), 0) == n
    for (code, var), v in c.items():
        if var.startswith("registry_signals_"):
            true_n = sum(1 for b, t in sigs if var.endswith(t) and b.startswith("BU" + code[2:]))
            assert v == (true_n if true_n >= threshold else None)  # shown exactly, or not at all
