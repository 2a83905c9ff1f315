"""Map classes and colours (weefsel/web/classing.py) and the Dutch labels the dashboard shows.

The collapse test and the label test fail when a class like "0 tot 0" or "0 tot en met 1"
over two values appears, or when a catalogue indicator has no Dutch title or unit."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weefsel.web.classing import (NEUTRAL, SEQUENTIAL, classify, collapsed, decimals_for,
                                  fmt_nl)


def test_flags_get_one_class_per_value():
    cl = classify([0] * 63 + [1] * 8, direction="hoger is slechter")
    assert [c.label for c in cl.classes] == ["0", "1"]
    assert [c.n for c in cl.classes] == [63, 8]
    assert cl.classes[-1].color == SEQUENTIAL[-1]          # 1 = flagged = darkest
    assert "tot" not in " ".join(c.label for c in cl.classes)


def test_zero_heavy_measure_gives_zero_its_own_class_not_0_tot_0():
    vals = [0.0] * 40 + [0.13, 0.4, 0.52, 0.8, 1.1, 1.3, 1.9, 2.2, 2.5, 2.9] * 3
    cl = classify(vals, direction="hoger is beter")
    assert cl.classes[0].point and cl.classes[0].label == "0,00"   # the values have 2 decimals
    assert cl.classes[0].n == 40
    assert collapsed(cl) == []
    assert cl.classes[1].label.startswith("meer dan 0")


def test_direction_puts_the_dark_end_on_worse():
    vals = [float(v) for v in range(10, 60)]
    worse = classify(vals, direction="hoger is slechter")
    better = classify(vals, direction="hoger is beter")
    assert worse.classes[-1].color == SEQUENTIAL[-1] and better.classes[0].color == SEQUENTIAL[-1]
    assert "Donkerder is ongunstiger" in worse.colour_note_nl
    assert "lager" in better.colour_note_nl


def test_context_variables_are_neutral():
    cl = classify([float(v) for v in range(5, 60)], direction="context")
    assert {c.color for c in cl.classes} <= set(NEUTRAL)
    assert "Geen goed of slecht" in cl.colour_note_nl


def test_ses_woa_is_diverging_around_zero():
    vals = [-0.6, -0.4, -0.2, -0.1, 0.05, 0.1, 0.2, 0.3, 0.45, 0.7]
    cl = classify(vals, direction="hoger is beter", unit="score (landelijk gemiddelde ongeveer 0)",
                  title="SES-WOA score")
    assert cl.scheme == "diverging" and cl.centre == 0
    assert any(c.upper == 0 for c in cl.classes)            # 0 is a class edge
    below = [c for c in cl.classes if c.upper <= 0]
    assert all(c.color.startswith("#b3") or c.color.startswith("#e0") or c.color.startswith("#fd")
               for c in below)                                # orange side below the centre


def test_lightest_class_differs_from_the_white_background():
    def luminance(hex_colour: str) -> float:
        r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
        f = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * f[0] + 0.7152 * f[1] + 0.0722 * f[2]
    for palette in (SEQUENTIAL, NEUTRAL):
        lightest = max(palette, key=luminance)
        assert (1.05) / (luminance(lightest) + 0.05) >= 1.15, lightest


def test_dutch_numbers_one_precision():
    assert fmt_nl(1234.5, 1) == "1.234,5"
    assert fmt_nl(-0.001, 1) == "0,0"
    assert fmt_nl(None) == "–"
    assert decimals_for([12.0, 13.0, 40.0]) == 0
    assert decimals_for([12.1, 13.4, 40.0]) == 1
    assert decimals_for([1234.56, 2000.1]) == 0


values = st.one_of(
    st.lists(st.integers(0, 12).map(float), min_size=1, max_size=300),
    st.lists(st.floats(-50, 5000, allow_nan=False, allow_infinity=False)
             .map(lambda v: round(v, 4)), min_size=1, max_size=300),   # published precision
    st.lists(st.floats(0, 100, allow_nan=False).map(lambda v: round(v, 1)), min_size=1,
             max_size=300),
    st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.5, 1.25, 3.0, 7.75]), min_size=1, max_size=200))


@settings(max_examples=150, deadline=None)
@given(vals=values, direction=st.sampled_from(["hoger is beter", "hoger is slechter", "context"]))
def test_classes_never_collapse_and_cover_every_value(vals, direction):
    cl = classify(vals, direction=direction)
    assert collapsed(cl) == []
    assert 1 <= len(cl.classes) <= 8
    assert sum(c.n for c in cl.classes) == len(vals)
    assert all(c.n > 0 for c in cl.classes)                  # no empty legend entries
    assert all(c.color for c in cl.classes)
    for v in vals:                                           # every value in exactly its class
        c = cl.classes[cl.index_of(v)]
        assert (c.point and v == c.lower) or (c.lower <= v <= c.upper)
    if all(float(v).is_integer() for v in vals) and len(set(vals)) <= 7:
        assert len(cl.classes) == len(set(vals))             # one class per value


# -- Dutch labels ------------------------------------------------------------------------------

JARGON = ("E2SFCA", "SVI", "kwintiel", "Shannon", "nats", "Warehouse")


def test_every_catalogue_indicator_has_a_dutch_label():
    from weefsel.web.data import load_catalogue
    cat = load_catalogue()
    assert cat
    missing = [c["id"] for c in cat if not str(c.get("title_nl") or "").strip()
               or not str(c.get("unit_nl") or "").strip() or c.get("title_nl") == c["id"]]
    assert missing == []
    raw = [c["id"] for c in cat if re.search(r"[a-z][A-Z]|_\w", str(c["title_nl"]))]
    assert raw == []


def test_context_display_for_origin_and_age_shares():
    from weefsel.web.data import load_catalogue
    cat = {c["id"]: c for c in load_catalogue()}
    for ind in ("herkomst_buiten_europa", "aandeel_65plus", "jongeren_15_25", "kinderen_0_15"):
        if ind in cat:
            assert cat[ind].get("display") == "context", ind


@pytest.fixture(scope="module")
def flevo(flevoland_warehouse):
    from fastapi.testclient import TestClient

    from weefsel.web.api import create_app
    with TestClient(create_app(flevoland_warehouse)) as c:
        yield c


def test_real_flevoland_labels_and_classes(flevo):
    inds = flevo.get("/api/indicators").json()["indicators"]
    titles = [i["title"] for i in inds]
    # no raw CBS keys in visible names (CamelCase words, '_' or a [key] suffix)
    raw = [t for t in titles if "[" in t or "_" in t or re.search(r"\b[A-Z][a-z]+[A-Z]\w+", t)]
    assert raw == []
    assert not [t for t in titles for j in JARGON if j in t]
    # the map offers each indicator only at levels where it has values, and every class holds
    for i in inds:
        if i["kind"] not in ("indicator", "flag", "index"):
            continue
        for level in i["levels"]:
            if level not in ("gemeente", "wijk"):
                continue
            meta = flevo.get(f"/api/map/{level}/values", params={"indicator": i["id"]}).json()["meta"]
            labels = [c["label"] for c in meta["classing"]["classes"]]
            assert labels, (i["id"], level)
            assert not [x for x in labels if re.fullmatch(r"(.+) tot (en met )?\1", x)], labels
            assert meta["counts"]["ok"] == sum(c["n"] for c in meta["classing"]["classes"])
            for m in meta["missing"]:
                assert m["reason_nl"] and m["n"] > 0


def test_csv_is_for_dutch_excel(flevo):
    r = flevo.get("/api/table", params={"level": "gemeente", "format": "csv"})
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    head, first = text.lstrip("\ufeff").splitlines()[:2]
    assert ";" in head and "," not in head.replace("|", "")
    assert "False" not in text and "True" not in text
    assert re.search(r";\d+,\d+", text)                      # decimal comma


def test_codes_with_a_slash(flevo):
    from urllib.parse import quote
    hits = flevo.get("/api/areas", params={"q": "basisteam"}).json()["areas"]
    slash = [a["code"] for a in hits if "/" in a["code"]]
    if not slash:
        pytest.skip("no basisteam codes in this build")
    code = quote(slash[0], safe="")
    assert flevo.get(f"/api/areas/{code}").json()["area"]["code"] == slash[0]
    assert flevo.get(f"/api/areas/{code}/profile").status_code == 200
    assert flevo.get(f"/profiel/{code}").status_code == 200


def test_method_page_is_dutch_html_in_the_house(flevo):
    r = flevo.get("/methode")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="nl">' in r.text and "Hoe de cijfers zijn gemaakt" in r.text
    assert 'aria-label="Hoofdmenu"' in r.text and "/api/begroting/" in r.text
    doc = flevo.get("/docs/method.md")
    assert doc.headers["content-type"].startswith("text/html") and "<h1>" in doc.text


def test_serve_says_starting_and_ready(flevoland_warehouse):
    """The start-up messages, through the real CLI as a subprocess."""
    import socket
    import subprocess
    import sys
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "weefsel", "serve", "--warehouse",
                             str(flevoland_warehouse), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not any("klaar" in ln for ln in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
    finally:
        proc.terminate()
        proc.wait(10)
    text = "".join(lines)
    assert "wordt geopend" in text and f"http://127.0.0.1:{port}/" in text
    assert "klaar" in text
    assert text.index("wordt geopend") < text.index("klaar")
