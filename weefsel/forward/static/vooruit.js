// Vooruitblik page: timeline of age make-up, gap bands, first-year map, gap list, comparison.
const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";
const BANDS = ["0-14", "15-24", "25-44", "45-64", "65+"];
const COLOURS = ["#1b9e77", "#66a61e", "#7570b3", "#d95f02", "#a6761d"];
const YEAR_COLOURS = ["#b30000", "#e34a33", "#fc8d59", "#fdbb84", "#fdd49e"];
const nf = new Intl.NumberFormat("nl-NL", { maximumFractionDigits: 0 });
const state = { runs: [], areas: [] };

async function get(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.detail || r.statusText);
  return body;
}
function el(tag, attrs = {}, parent) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
function option(sel, value, text) { const o = document.createElement("option"); o.value = value; o.textContent = text; sel.appendChild(o); }
function status(text) { $("status").textContent = text; }

function scales(svg, xs, ylo, yhi, pad = { l: 60, r: 24, t: 10, b: 30 }) {
  const [w, h] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const sx = (x) => pad.l + (x - x0) / Math.max(1, x1 - x0) * (w - pad.l - pad.r);
  const sy = (y) => h - pad.b - (y - ylo) / Math.max(1e-9, yhi - ylo) * (h - pad.t - pad.b);
  return { sx, sy, w, h, pad, x0, x1 };
}
function axes(svg, s, ylo, yhi, xs) {
  el("line", { x1: s.pad.l, x2: s.w - s.pad.r, y1: s.sy(ylo), y2: s.sy(ylo), stroke: "#555" }, svg);
  for (const x of xs.filter((x) => x % 5 === 0)) {
    const t = el("text", { x: s.sx(x), y: s.h - 8, "text-anchor": "middle", "font-size": 11 }, svg); t.textContent = x;
  }
  for (const f of [0, 0.5, 1]) {
    const y = ylo + f * (yhi - ylo);
    const t = el("text", { x: s.pad.l - 6, y: s.sy(y) + 4, "text-anchor": "end", "font-size": 11 }, svg); t.textContent = nf.format(y);
  }
}
const path = (pts) => "M" + pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L");
function band(svg, s, xs, lo, hi, attrs) {
  const pts = xs.map((x, i) => [s.sx(x), s.sy(hi[i])]).concat(xs.map((x, i) => [s.sx(x), s.sy(lo[i])]).reverse());
  return el("path", { d: path(pts) + "Z", ...attrs }, svg);
}

async function drawTimeline(scn, variant, area) {
  const svg = $("tijdlijn"); clear(svg);
  const d = await get(`/api/vooruit/${encodeURIComponent(scn)}/projection?area=${encodeURIComponent(area)}&variant=${encodeURIComponent(variant)}`);
  const years = [...new Set(d.rows.map((r) => r.year))].sort((a, b) => a - b);
  const by = (g, k) => years.map((y) => d.rows.find((r) => r.year === y && r.age_group === g)[k]);
  const tot = { p025: by("totaal", "p025"), p10: by("totaal", "p10"), p90: by("totaal", "p90"), p975: by("totaal", "p975") };
  const s = scales(svg, years, 0, Math.max(...tot.p975) * 1.05 || 1);
  let base = years.map(() => 0);
  BANDS.forEach((b, i) => {
    const top = by(b, "p50").map((v, j) => v + base[j]);
    band(svg, s, years, base, top, { fill: COLOURS[i], "fill-opacity": 0.75 }).appendChild(Object.assign(document.createElementNS(NS, "title"), { textContent: `${b} jaar` }));
    base = top;
  });
  band(svg, s, years, tot.p025, tot.p975, { fill: "#000", "fill-opacity": 0.10 });
  band(svg, s, years, tot.p10, tot.p90, { fill: "#000", "fill-opacity": 0.18 });
  axes(svg, s, 0, Math.max(...tot.p975) * 1.05 || 1, years);
  const leg = $("tijdlijn-legenda"); leg.textContent = "";
  BANDS.forEach((b, i) => { const sp = document.createElement("span"); sp.style.setProperty("--c", COLOURS[i]); sp.textContent = `${b} jaar`; leg.appendChild(sp); });
  const first = by("totaal", "p50")[0], last = by("totaal", "p50").at(-1);
  svg.setAttribute("aria-description", `Inwoners van ${nf.format(first)} in ${years[0]} naar ${nf.format(last)} in ${years.at(-1)} (mediaan).`);
}

async function drawGap(scn, variant, area, norm) {
  const svg = $("tekort"); clear(svg); $("tekort-zin").textContent = "";
  let d;
  try { d = await get(`/api/vooruit/${encodeURIComponent(scn)}/gap?area=${encodeURIComponent(area)}&variant=${encodeURIComponent(variant)}`); }
  catch (e) { $("tekort-zin").textContent = e.message; return; }
  const rows = d.rows.filter((r) => r.norm === norm && r.gap_p50 !== null);
  if (!rows.length) { $("tekort-zin").textContent = "Geen aanbodgegevens voor deze voorziening: alleen de vraag is berekend."; return; }
  const years = rows.map((r) => r.year);
  const lo = Math.min(0, ...rows.map((r) => r.gap_p10)), hi = Math.max(0, ...rows.map((r) => r.gap_p90));
  const s = scales(svg, years, lo, hi || 1);
  band(svg, s, years, rows.map((r) => r.gap_p10), rows.map((r) => r.gap_p90), { fill: "#0b5cad", "fill-opacity": 0.2 });
  el("path", { d: path(rows.map((r) => [s.sx(r.year), s.sy(r.gap_p50)])), fill: "none", stroke: "#0b5cad", "stroke-width": 2 }, svg);
  el("line", { x1: s.pad.l, x2: s.w - s.pad.r, y1: s.sy(0), y2: s.sy(0), stroke: "#b30000", "stroke-dasharray": "4 3" }, svg);
  axes(svg, s, lo, hi || 1, years);
  const first = rows.find((r) => r.p_shortfall >= 0.5);
  $("tekort-zin").textContent = first
    ? `Tekort aan ${rows[0].label_nl} vanaf ${first.year}, kans ongeveer ${Math.round(first.p_shortfall * 20) * 5}%.`
    : `Geen waarschijnlijk tekort aan ${rows[0].label_nl} tot ${years.at(-1)}.`;
}

async function drawMap(scn, variant, norm) {
  const svg = $("tekortkaart"); clear(svg);
  const fc = await get(`/api/vooruit/${encodeURIComponent(scn)}/map?norm=${encodeURIComponent(norm)}&variant=${encodeURIComponent(variant)}`);
  const pts = fc.features; if (!pts.length) return;
  const xs = pts.map((f) => f.geometry.coordinates[0]), ys = pts.map((f) => f.geometry.coordinates[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
  const span = Math.max((x1 - x0) * k, y1 - y0) || 1;
  const years = [...new Set(pts.map((f) => f.properties.first_year).filter((y) => y !== null))].sort((a, b) => a - b);
  const breaks = [...new Set(years.length ? [0, 1, 2, 3, 4].map((i) => years[Math.floor(i * years.length / 5)]) : [])];
  const colour = (y) => y === null ? "#c8c8c8" : YEAR_COLOURS[Math.max(0, breaks.filter((b) => y >= b).length - 1)];
  for (const f of pts) {
    const [x, y] = f.geometry.coordinates, p = f.properties;
    const c = el("circle", { cx: 20 + (x - x0) * k / span * 460, cy: 480 - (y - y0) / span * 460, r: 5, fill: colour(p.first_year), stroke: "#333", "stroke-width": 0.5 }, svg);
    el("title", {}, c).textContent = `${p.name || p.code}: ${p.first_year ? "tekort vanaf " + p.first_year : "geen tekort verwacht"}`;
  }
  const leg = $("tekortkaart-legenda"); leg.textContent = "";
  const add = (c, t) => { const sp = document.createElement("span"); sp.style.setProperty("--c", c); sp.textContent = t; leg.appendChild(sp); };
  breaks.forEach((b) => add(colour(b), `vanaf ${b}`));
  add("#c8c8c8", "geen tekort verwacht");
}

async function drawList(scn, variant, norm) {
  const d = await get(`/api/vooruit/${encodeURIComponent(scn)}/gaplist?variant=${encodeURIComponent(variant)}&norm=${encodeURIComponent(norm)}&limit=200`);
  const tb = $("lijst").querySelector("tbody"); tb.textContent = "";
  for (const r of d.rows) {
    const tr = tb.insertRow();
    for (const v of [`${r.name || ""} (${r.area_code})`, r.label_nl, r.first_year, `${Math.round(r.probability * 100)}%`, r.text_nl]) tr.insertCell().textContent = v;
  }
  if (!d.rows.length) tb.insertRow().insertCell().textContent = "Geen gebieden met een waarschijnlijk tekort.";
}

async function drawCompare() {
  const names = [...new Set(state.runs.map((r) => r.scenario))];
  const d = await get(`/api/vooruit/compare?names=${encodeURIComponent(names.join(","))}`);
  const years = [...new Set(d.totals.map((r) => r.year))].filter((y) => y % 10 === 0 || y === Math.max(...d.totals.map((t) => t.year)));
  const t = $("vergelijk"); const head = t.querySelector("thead"); head.textContent = "";
  const hr = head.insertRow();
  for (const h of ["Scenario", "Variant", ...years.map((y) => `Inwoners ${y}`), ...years.map((y) => `Gebieden met tekort ${y}`)]) { const th = document.createElement("th"); th.scope = "col"; th.textContent = h; hr.appendChild(th); }
  const tb = t.querySelector("tbody"); tb.textContent = "";
  const keys = [...new Set(d.totals.map((r) => `${r.scenario}|${r.variant}`))];
  for (const key of keys) {
    const [scn, v] = key.split("|"); const tr = tb.insertRow();
    tr.insertCell().textContent = scn; tr.insertCell().textContent = v;
    for (const y of years) tr.insertCell().textContent = nf.format((d.totals.find((r) => r.scenario === scn && r.variant === v && r.year === y) || {}).p50 ?? NaN);
    for (const y of years) tr.insertCell().textContent = d.shortfall.filter((r) => r.scenario === scn && r.variant === v && r.year === y).reduce((a, r) => a + (r.areas_short || 0), 0);
  }
}

async function refresh() {
  const scn = $("scenario").value, variant = $("variant").value, area = $("gebied").value, norm = $("norm").value;
  status("Bezig met laden…");
  // a later choice wins: an earlier refresh that finishes last must not overwrite its status
  const ticket = (state.ticket = (state.ticket || 0) + 1);
  try {
    await Promise.all([drawTimeline(scn, variant, area), drawGap(scn, variant, area, norm), drawMap(scn, variant, norm), drawList(scn, variant, norm)]);
    if (ticket === state.ticket) status(`Geladen: ${scn}, variant ${variant}.`);
  } catch (e) { if (ticket === state.ticket) status(`Fout: ${e.message}`); }
}

async function chooseScenario() {
  const scn = $("scenario").value;
  const runs = state.runs.filter((r) => r.scenario === scn);
  const vsel = $("variant"); vsel.textContent = ""; runs.forEach((r) => option(vsel, r.variant, r.variant));
  const ex = runs.find((r) => r.voorbeeld);
  $("voorbeeld").hidden = !ex; $("voorbeeld").textContent = ex ? `Let op: dit is een voorbeeldscenario, geen beleid. ${ex.title_nl || ""}` : "";
  const a = await get(`/api/vooruit/${encodeURIComponent(scn)}/areas`);
  state.areas = a.areas;
  const gsel = $("gebied"); gsel.textContent = "";
  for (const r of a.areas) option(gsel, r.code, `${r.name || r.code} (${r.code})`);
  const gl = await get(`/api/vooruit/${encodeURIComponent(scn)}/gaplist?variant=basis&limit=1`).catch(() => ({ rows: [] }));
  const firstBuurt = a.areas.find((r) => !r.code.startsWith("GM"));
  const gap = await get(`/api/vooruit/${encodeURIComponent(scn)}/gap?area=${encodeURIComponent((gl.rows[0] || firstBuurt).area_code || firstBuurt.code)}`).catch(() => ({ rows: [] }));
  const nsel = $("norm"); nsel.textContent = "";
  const seen = new Map(gap.rows.map((r) => [r.norm, r.label_nl]));
  for (const [k, lab] of seen) option(nsel, k, lab);
  if (gl.rows[0]) { nsel.value = gl.rows[0].norm; gsel.value = gl.rows[0].area_code; }
  await refresh();
}

async function init() {
  try {
    const s = await get("/api/vooruit/scenarios");
    state.runs = s.scenarios;
    if (!state.runs.length) { status("Nog geen vooruitblik in dit warehouse. Draai eerst: weefsel vooruit SCENARIO."); return; }
    const sel = $("scenario");
    for (const n of [...new Set(state.runs.map((r) => r.scenario))]) option(sel, n, n);
    sel.addEventListener("change", chooseScenario);
    for (const id of ["variant", "gebied", "norm"]) $(id).addEventListener("change", refresh);
    await chooseScenario();
    await drawCompare();
  } catch (e) { status(`Fout: ${e.message}`); }
}
init();
