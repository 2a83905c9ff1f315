"""The printed area profile read back as PDF pages (issue 12): the charts are there as vector
drawing with their words and numbers as real text, the numbers also in the table, and
nothing runs past the right margin of A4. Plus the label fitting that keeps chart labels
from being cut off at the chart's edge."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.web.charts import AREA, REF, fit, text_width
from weefsel.web.classing import fmt_nl

pypdf = pytest.importorskip("pypdf")

#: A4 width minus the right page margin of PRINT_CSS (14 mm), in pt
RIGHT_EDGE = 595.28 - 14 / 25.4 * 72


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from weefsel.web.data import WebData
    from weefsel.web.demo import DEMO_CATALOGUE, make_demo_warehouse
    path = make_demo_warehouse(tmp_path_factory.mktemp("pdf") / "demo.duckdb")
    data = WebData(path, catalogue=DEMO_CATALOGUE)
    yield data
    data.close()


def _streams(obj, seen: set) -> list[bytes]:
    """Content of a page and of every form XObject it draws (where SVG charts end up)."""
    out = []
    res = obj.get("/Resources")
    res = res.get_object() if res is not None else {}
    for x in (res.get("/XObject") or {}).values():
        x = x.get_object()
        if id(x) in seen or x.get("/Subtype") != "/Form":
            continue
        seen.add(id(x))
        out.append(x.get_data())
        out += _streams(x, seen)
    return out


def read_pdf(path):
    """(whole text, [(text, x_end_pt)] of every line, all content streams)."""
    reader = pypdf.PdfReader(str(path))
    lines: list[tuple[str, float]] = []
    texts, streams = [], []

    def visit(text, cm, tm, font, size):
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        scale = (tm[0] ** 2 + tm[1] ** 2) ** 0.5 * (cm[0] ** 2 + cm[1] ** 2) ** 0.5
        bold = "Bold" in str((font or {}).get("/BaseFont", ""))
        lines.append((text.strip(), x + text_width(text.strip(), size * scale, bold)))

    for page in reader.pages:
        texts.append(page.extract_text(visitor_text=visit))
        streams.append(page.get_contents().get_data())
        streams += _streams(page, set())
    return "\n".join(texts), lines, streams, len(reader.pages)


def filled_rects(colour: str, streams: list[bytes]) -> int:
    """How many rectangles are filled in ``colour`` (#rrggbb): the bars of the SVG charts as
    WeasyPrint draws them (``r g b rg``, line-style operators, ``x y w h re``, ``f``)."""
    comps = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    num = rb"\s+".join(re.escape(f"{c:.6f}"[:5].encode()) + rb"\d*" for c in comps)
    pat = num + rb"\s+rg\s+(?:\[\] 0 d\s+\d J\s+\d j\s+[\d.]+ M\s+)?(?:[-\d.]+\s+){4}re\s+f\n"
    return sum(len(re.findall(pat, s)) for s in streams)


@pytest.mark.parametrize("code", ["WK003401", "BU00340101"])
def test_pdf_profile_holds_the_charts(demo, tmp_path, code):
    from weefsel.web.profile import build_profile, write_profile
    out = tmp_path / f"{code}.pdf"
    write_profile(demo, code, str(out))
    prof = build_profile(demo, code)
    text, lines, streams, pages = read_pdf(out)
    flat = re.sub(r"\s+", " ", text)
    assert pages >= 1
    # the chart section and the table, with their titles as text
    for heading in ("In beeld", "Indicatoren in een tabel"):
        assert heading in flat
    shown = [i for i in prof["indicators"] if i.get("value") is not None and not i.get("suppressed")]
    assert shown, "the demo area has values"
    for i in shown:
        number = fmt_nl(i["value"], i.get("decimals") if i.get("decimals") is not None else 1)
        # once as the bar's label in the chart, once in the table
        assert flat.count(number) >= 2, (i["id"], number)
    if prof.get("age_bands"):
        assert "Leeftijdsopbouw" in flat
        for label, _ in prof["age_bands"]:
            assert label in flat
    # the bars are vector drawing: one filled rectangle in the area's colour per value
    painted = filled_rects(AREA, streams)
    assert painted >= len(shown), (painted, len(shown))
    assert filled_rects(REF, streams) >= len(shown)  # gemeente/provincie bars beside them
    # nothing runs past the right margin (the table once did, by a column)
    over = [(t, round(x)) for t, x in lines if x > RIGHT_EDGE + 2]
    assert not over, over[:5]


def test_pdf_chart_label_is_fitted_not_clipped(demo):
    """A long area name is shortened with "…" to fit the label column of the bar chart."""
    from weefsel.web.charts import reference_bars
    ind = {"id": "x", "title": "X", "value": 3.0, "decimals": 1}
    svg = reference_bars(ind, "Centrum Haven Noord en Omstreken", [])
    label = re.search(r'font-weight="bold">([^<]*)</text>', svg).group(1)
    assert label.endswith("…") and text_width(label, 12, bold=True) <= 104
    assert "Centrum Haven Noord en Omstreken" in svg  # the whole name in the text alternative


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=60), st.floats(min_value=20, max_value=400),
       st.sampled_from([9, 11, 12]), st.booleans())
def test_fit_never_wider_than_its_column(text, px, size, bold):
    got = fit(text, px, size, bold)
    if text_width(text, size, bold) <= px:
        assert got == text
    else:
        assert got.endswith("…") and text_width(got, size, bold) <= px
        assert text.startswith(got[:-1].rstrip())
