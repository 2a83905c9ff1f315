"""Dutch HTML pages of the burgerberaad (form, result, error): pure rendering, no HTTP logic.

Same style as the burgerbegroting pages (weefsel.participation.web): lang="nl", every field
labelled, tables with caption and ``scope`` headers, works without JavaScript.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote

import numpy as np
from fastapi.responses import HTMLResponse

from weefsel.config import default_data_dir
from weefsel.participation.sortition.select import ALGORITHMS

e = html.escape

#: Pools up to this size get one table row per person; larger pools a summary + CSV link.
FULL_TABLE = 250


def examples_dir() -> Path | None:
    """The replication data folder (citizensassemblies-replication/data), if present."""
    base = default_data_dir()
    d = base / "participation" / "sortition" / "citizensassemblies-replication" / "data" if base else None
    return d if d and d.is_dir() else None


def examples() -> dict[str, tuple[Path, int]]:
    """Example instances with both CSV files: name → (folder, published k from the name's suffix)."""
    d = examples_dir()
    out: dict[str, tuple[Path, int]] = {}
    for sub in sorted(d.iterdir()) if d else []:
        m = re.search(r"_(\d+)$", sub.name)
        if m and (sub / "categories.csv").is_file() and (sub / "respondents.csv").is_file():
            out[sub.name] = (sub, int(m.group(1)))
    return out


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A page in the dashboard's house (weefsel.web.shell): same header, menu and style."""
    from weefsel.web.shell import page_shell
    doc = page_shell(title, body, active="beraad",
                     section=[("Burgerberaad: loting", "/api/beraad/")])
    return HTMLResponse(doc, status_code=status)


def error_page(message: str, status: int = 422) -> HTMLResponse:
    """A Dutch error page naming what is wrong (the message comes from the validator)."""
    body = (f'<p role="alert">De invoer klopt niet: {e(message)}</p>'
            '<p><a href="/api/beraad/">Terug naar het formulier</a></p>')
    return page("Dat ging niet", body, status=status)


def form_page() -> HTMLResponse:
    """The upload form plus the list of example instances from the data folder."""
    algs = "".join(f'<option value="{a}"{" selected" if a == "leximin" else ""}>{a}</option>'
                   for a in ALGORITHMS)
    ex = examples()
    items = "".join(f'<li><a href="/api/beraad/voorbeeld/{quote(n)}">{e(n)}</a> — panel van {k}</li>'
                    for n, (_, k) in ex.items())
    body = f"""<p>Loting van een burgerberaad: uit een pool van aanmelders wordt een panel geloot dat aan de
quota voldoet, waarbij ieder lid van de pool een zo groot mogelijke kans krijgt (leximin of maximin) of
volgens de oude methode (legacy). Het zaadgetal (seed) maakt de loting herhaalbaar.</p>
<h2>Eigen bestanden</h2>
<form method="post" action="/api/beraad/uitslag" enctype="multipart/form-data">
<label for="categories">Quota (categories.csv: category, feature, min, max)</label>
<input id="categories" name="categories" type="file" accept=".csv,text/csv" required>
<label for="respondents">Aanmelders (respondents.csv: één rij per persoon)</label>
<input id="respondents" name="respondents" type="file" accept=".csv,text/csv" required>
<label for="k">Panelgrootte k</label><input id="k" name="k" type="number" min="1" required>
<label for="algorithm">Algoritme</label><select id="algorithm" name="algorithm">{algs}</select>
<label for="seed">Zaadgetal (seed)</label><input id="seed" name="seed" type="number" min="0" value="42">
<label for="household_column">Huishouden-kolom (optioneel; hoogstens één persoon per huishouden)</label>
<input id="household_column" name="household_column">
<p><button type="submit">Loten</button></p></form>
<h2>Voorbeelden uit de replicatiedata</h2>
<ul>{items or '<li>Geen voorbeelden gevonden in de datamap.</li>'}</ul>"""
    return page("Burgerberaad", body)


def _pct(x: float) -> str:
    return f"{x:.1%}".replace(".", ",")


def _probability_section(ids: list[str], probs: np.ndarray) -> str:
    csv = "id,kans\n" + "".join(f"{i},{float(p):.6f}\n" for i, p in zip(ids, probs))
    link = (f'<p><a download="kansen.csv" href="data:text/csv;charset=utf-8,{quote(csv)}">'
            "Download alle kansen als CSV</a></p>")
    if len(ids) <= FULL_TABLE:
        rows = "".join(f"<tr><th scope=\"row\">{e(i)}</th><td>{_pct(float(p))}</td><td>{float(p):.4f}</td></tr>"
                       for i, p in zip(ids, probs))
        return (f"<table><caption>Kans per persoon ({len(ids)} mensen)</caption><thead><tr>"
                '<th scope="col">persoon</th><th scope="col">kans</th><th scope="col">kans (decimaal)</th>'
                f"</tr></thead><tbody>{rows}</tbody></table>{link}")
    values, counts = np.unique(np.round(probs, 4), return_counts=True)
    rows = "".join(f"<tr><td>{_pct(float(v))}</td><td>{int(c)}</td></tr>" for v, c in zip(values, counts))
    if len(values) > 30:
        qs = np.quantile(probs, [0, .1, .25, .5, .75, .9, 1])
        rows = "".join(f"<tr><td>{lab}: {_pct(float(q))}</td><td>—</td></tr>"
                       for lab, q in zip(["min", "p10", "p25", "mediaan", "p75", "p90", "max"], qs))
    return (f"<p>De pool is groot ({len(ids)} mensen): hieronder een samenvatting, alle kansen staan in de CSV.</p>"
            f"<table><caption>Verdeling van de kansen</caption><thead><tr><th scope=\"col\">kans</th>"
            f"<th scope=\"col\">aantal mensen</th></tr></thead><tbody>{rows}</tbody></table>{link}")


def result_page(audit: dict, ids: list[str], probs: np.ndarray, title: str) -> HTMLResponse:
    """Minimum probability, Gini, quota table, per-person probabilities, panel, seed + command."""
    quota_rows = "".join(
        f"<tr><th scope=\"row\">{e(q['category'])}</th><td>{e(q['feature'])}</td><td>{q['pool']}</td>"
        f"<td>{q['panel']}</td><td>{q['expected_panel']:.1f}</td><td>{q['min']}</td><td>{q['max']}</td>"
        f"<td class=\"{'ja' if q['within_quota'] else 'nee'}\">{'ja' if q['within_quota'] else 'NEE'}</td></tr>"
        for q in audit["quotas"])
    exact = ("exact berekend" if audit["exact_probabilities"]
             else f"geschat uit {audit.get('samples')} lotingen")
    met = "Alle quota zijn gehaald." if audit["all_quotas_met"] else "Let op: niet alle quota zijn gehaald."
    panel = ", ".join(e(p) for p in audit["panel"])
    body = f"""<p>Pool van {audit['pool_size']} mensen, panel van {audit['panel_size']},
algoritme <strong>{e(audit['algorithm'])}</strong>; kansen {exact}.</p>
<table><caption>Eerlijkheid van de kansen</caption><tbody>
<tr><th scope="row">kleinste kans</th><td id="min-kans">{_pct(audit['min_probability'])} ({audit['min_probability']:.4f})</td></tr>
<tr><th scope="row">grootste kans</th><td>{_pct(audit['max_probability'])}</td></tr>
<tr><th scope="row">gemiddelde kans k/n</th><td>{_pct(audit['mean_probability'])}</td></tr>
<tr><th scope="row">Gini-coëfficiënt (0 = iedereen gelijk)</th><td id="gini">{audit['gini']:.4f}</td></tr>
</tbody></table>
<h2>Samenstelling: pool, panel en quota</h2><p>{met}</p>
<table><caption>Quota per categorie</caption><thead><tr><th scope="col">categorie</th><th scope="col">waarde</th>
<th scope="col">pool</th><th scope="col">panel</th><th scope="col">verwacht</th><th scope="col">min</th>
<th scope="col">max</th><th scope="col">binnen quota</th></tr></thead><tbody>{quota_rows}</tbody></table>
<h2>Kans per persoon</h2>{_probability_section(ids, probs)}
<h2>Geloot panel</h2><p id="panel">{panel}</p>
<h2>Controleer de loting</h2><p>Zaadgetal (seed): <strong>{audit['seed']}</strong>. Herhaal de loting met
dezelfde bestanden, dezelfde versie van weefsel en dit zaadgetal; het resultaat is hetzelfde panel:</p>
<p><code>{e(audit['command'])}</code></p>
<p><a href="/api/beraad/">Nieuwe loting</a></p>"""
    return page(title, body)
