"""One Dutch house for every page (issue 12 item 4): header, navigation, footer and style.

The dashboard (``/``), the method page, the printed profile's links and the burgerberaad and
burgerbegroting pages all use the same navigation and ``/static/style.css`` (NL Design
System conventions: skip link, visible focus, one primary colour, plain headings), so a
person can always find the way back. ``page_shell(title, body)`` returns a whole HTML
document; pages that are part of a section pass ``section`` links shown under the title.
"""

from __future__ import annotations

import html

#: (label, href, key) of the main navigation, in this order on every page
NAV = [
    ("Kaart", "/#/kaart", "kaart"),
    ("Tabel", "/#/tabel", "tabel"),
    ("Vergelijken", "/#/vergelijk", "vergelijk"),
    ("Methode", "/methode", "methode"),
    ("Burgerberaad", "/api/beraad/", "beraad"),
    ("Burgerbegroting", "/api/begroting/", "begroting"),
    ("Vooruit", "/vooruit", "vooruit"),
]

FOOTER = ("Bronnen: CBS (Kerncijfers wijken en buurten, CC BY 4.0), RIVM/GGD Gezondheidsmonitor "
          "via CBS (CC BY 4.0), gebiedsgrenzen CBS/PDOK (CC BY 4.0). Gemaakt met weefsel "
          "(Apache-2.0). <a href=\"/openapi.json\">API-beschrijving (OpenAPI)</a>.")


def nav_html(active: str | None = None) -> str:
    items = []
    for label, href, key in NAV:
        cur = ' aria-current="page"' if key == active else ""
        items.append(f'<li><a href="{href}" data-view="{key}"{cur}>{label}</a></li>')
    return ('<nav aria-label="Hoofdmenu"><ul class="menu">' + "".join(items) + "</ul></nav>")


def header_html(active: str | None = None) -> str:
    return ('<a class="skiplink" href="#inhoud">Direct naar de inhoud</a>'
            '<header class="kop"><div class="kop-binnen">'
            '<p class="logo"><a href="/#/kaart"><span class="logo-naam">weefsel</span>'
            '<span class="logo-sub">het sociaal weefsel van buurten in beeld</span></a></p>'
            f'{nav_html(active)}</div></header>')


def page_shell(title: str, body: str, *, active: str | None = None,
               section: list[tuple[str, str]] | None = None, heading: bool = True,
               head: str = "") -> str:
    """A whole Dutch page in the dashboard's house: ``body`` goes inside ``<main>`` under an
    ``<h1>`` with ``title`` (pass heading=False when ``body`` brings its own h1);
    ``section`` = [(label, href)] links of the page's own part (e.g. the burgerbegroting);
    ``head`` = extra trusted tags after the house style (a page's own script and style)."""
    esc = html.escape
    sub = ""
    if section:
        sub = ('<nav aria-label="In dit onderdeel" class="subnav"><ul>' +
               "".join(f'<li><a href="{esc(h)}">{esc(lbl)}</a></li>' for lbl, h in section) +
               "</ul></nav>")
    h1 = f"<h1>{esc(title)}</h1>" if heading else ""
    return ('<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)} — weefsel</title><link rel="icon" href="data:,">'
            f'<link rel="stylesheet" href="/static/style.css">{head}</head><body>'
            f'{header_html(active)}<main id="inhoud" tabindex="-1">{sub}{h1}{body}</main>'
            f'<footer class="voet"><p>{FOOTER}</p></footer></body></html>')


def render_markdown(text: str) -> str:
    """Markdown (the method notes) as HTML: markdown-it-py (a dependency of rich), tables on;
    raw HTML in the source is escaped."""
    from markdown_it import MarkdownIt
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    out = md.render(text)
    # wide tables scroll inside their box instead of widening the page
    return out.replace("<table>", '<div class="tabel-wrap" tabindex="0" role="region" '
                       'aria-label="Tabel">\n<table>').replace("</table>", "</table></div>") \
        .replace("<pre>", '<pre tabindex="0">')   # code blocks scroll: reachable by keyboard
