"""Voting codes on paper and in a spreadsheet: a CSV and printable letters (HTML or PDF).

Codes are shown only here, once: the registry keeps their hashes. Each letter (one per A4
page) names the process, the address of the voting page and the code, and says in plain
Dutch that the code is used once and is not linked to the vote. The code is never put in
the URL, so it cannot end up in a server's access log or browser history.
"""

from __future__ import annotations

import csv
import html
import io
import re

from weefsel.errors import InputError

e = html.escape

#: Letters per PDF made by the web app (about 20 s for 500 here; larger runs are for the CLI).
MAX_PDF_LETTERS_WEB = 500


def vote_url(base: str, pid: int) -> str:
    """The page where residents vote: ``{base}/api/begroting/p/{pid}``."""
    base = (base or "").strip().rstrip("/")
    if not re.match(r"^https?://[^\s<>\"']{1,200}$", base):
        raise InputError(f"adres van de site {base[:60]!r} is geen http(s)-adres, bijv. https://weefsel.example.nl")
    if "/api/begroting/p/" in base:
        return base
    return f"{base}/api/begroting/p/{pid}"


def codes_csv(codes: list[str], url: str) -> str:
    """``nummer,code,adres`` per code (the number helps a printer, it is not stored anywhere)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["nummer", "stemcode", "adres"])
    for i, code in enumerate(codes, 1):
        w.writerow([i, code, url])
    return out.getvalue()


_LETTER_CSS = """@page { size: A4; margin: 25mm 22mm; }
body { font-family: 'DejaVu Sans', system-ui, sans-serif; font-size: 11pt; line-height: 1.5; color: #111; }
.brief { page-break-after: always; break-after: page; min-height: 240mm; }
.brief:last-child { page-break-after: auto; break-after: auto; }
.code { font-family: 'DejaVu Sans Mono', monospace; font-size: 22pt; letter-spacing: .12em;
        border: 2px solid #111; padding: 4mm 6mm; display: inline-block; margin: 4mm 0; }
.adres { font-family: 'DejaVu Sans Mono', monospace; font-size: 12pt; word-break: break-all; }
.klein { font-size: 9pt; color: #444; }
@media screen { .brief { border-bottom: 1px dashed #999; margin-bottom: 2rem; padding-bottom: 2rem; min-height: 0; } }"""


def letters_html(name: str, codes: list[str], url: str, *, budget: str = "") -> str:
    """One letter per A4 page (print from the browser, or :func:`letters_pdf`)."""
    letters = []
    for i, code in enumerate(codes, 1):
        letters.append(f"""<section class="brief" aria-label="brief {i}">
<h1>Stem mee over de burgerbegroting: {e(name)}</h1>
<p>Beste bewoner,</p>
<p>U mag meebeslissen hoe {e(budget) + ' ' if budget else ''}aan uw buurt wordt besteed. Ga naar</p>
<p class="adres">{e(url)}</p>
<p>kies de projecten die u steunt en vul deze stemcode in:</p>
<p class="code">{e(code)}</p>
<p>De code werkt één keer. Uw stem is geheim: de code wordt niet aan uw keuzes gekoppeld.
Na het stemmen krijgt u een ontvangstbewijs waarmee u kunt nagaan dat uw stem is meegeteld.</p>
<p class="klein">Brief {i} van {len(codes)}. Bewaar deze brief tot de uitslag bekend is.</p>
</section>""")
    return (f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Stemcodes · {e(name)}</title>'
            f"<style>{_LETTER_CSS}</style></head><body>{''.join(letters)}</body></html>")


def letters_pdf(name: str, codes: list[str], url: str, *, budget: str = "") -> bytes:
    """The letters as a PDF (WeasyPrint), one A4 page each."""
    from weasyprint import HTML
    return HTML(string=letters_html(name, codes, url, budget=budget)).write_pdf()
