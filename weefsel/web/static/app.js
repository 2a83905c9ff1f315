// weefsel dashboard: hash routes #/kaart, #/tabel, #/vergelijk, #/gebied/CODE.
// Vanilla ES module; MapLibre GL JS is loaded (vendored) as a classic script.
const main = document.getElementById('inhoud');
// Start MapLibre's tile worker now, while the page asks for its data: the worker's start-up
// (parsing its code) then overlaps the fetches instead of delaying the first tiles.
if (window.maplibregl && window.maplibregl.prewarm) window.maplibregl.prewarm();
const state = { info: null, indicators: [], level: null, indicator: null, period: null,
                compare: [], map: null, mapData: null, selected: null, table: null };
const KIND_LABELS = { index: 'Samengestelde index', indicator: 'Indicatoren', flag: 'Kwetsbaarheid',
                      toegankelijkheid: 'Bereikbaarheid', variabele: 'Ruwe variabelen', crisis: 'Crisisparaatheid' };
const LEVEL_LABELS = { land: 'Nederland', provincie: 'Provincies', gemeente: 'Gemeenten',
                       wijk: 'Wijken', buurt: 'Buurten' };
const MISSING = '#bdbdbd';
const DIRECTION_NL = { 'hoger is beter': 'hoger is beter', 'hoger is slechter': 'hoger is slechter',
                       context: 'achtergrondkenmerk: hoger is niet beter of slechter' };

const esc = (s) => String(s ?? '').replace(/[&<>"']/g,
  (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
// Dutch numbers; `decimals` is the indicator's one precision (from the server), else a guess.
export function fmt(v, decimals) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (typeof v !== 'number') v = Number(v);
  let d = decimals;
  if (d === undefined || d === null) {
    const a = Math.abs(v);
    d = a >= 1000 || Number.isInteger(v) ? 0 : a >= 10 ? 1 : 2;
    return new Intl.NumberFormat('nl-NL', { maximumFractionDigits: d }).format(v);
  }
  return new Intl.NumberFormat('nl-NL', { minimumFractionDigits: d, maximumFractionDigits: d }).format(v);
}
// One precision per column: the fewest decimals (0-2) that show nearly every value as is.
export function decimalsFrom(values) {
  const vs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).map(Math.abs).sort((a, b) => a - b);
  if (!vs.length) return 0;
  const med = vs[Math.floor(vs.length / 2)];
  const cap = med >= 100 ? 0 : med >= 10 ? 1 : 2;
  for (let d = 0; d <= cap; d += 1) {
    const f = 10 ** d;
    if (vs.filter((v) => Math.abs(Math.round(v * f) / f - v) < 1e-9 * Math.max(1, v)).length >= 0.95 * vs.length) return d;
  }
  return cap;
}
const decimalsOf = (id) => (state.indicators.find((i) => i.id === id) || {}).decimals;

async function api(path) {
  const r = await fetch(path);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.detail || `Fout ${r.status}`);
  return body;
}

function setTitle(text) { document.title = `${text} — weefsel`; }
function focusHeading() {
  // Move focus to the new page's heading after navigation (not on first load, so the
  // skip link stays the first Tab stop).
  if (!state.navigated) return;
  const h = main.querySelector('h1');
  if (h) { h.setAttribute('tabindex', '-1'); h.focus({ preventScroll: false }); }
}
function showError(err) {
  main.insertAdjacentHTML('beforeend',
    `<p class="melding fout" role="alert">${esc(err.message || err)}</p>`);
}
function markNav(view) {
  document.querySelectorAll('.menu a').forEach((a) => {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
}

function indicatorOptions(selected, levelFilter = null) {
  const groups = {};
  const named = new Set(state.indicators.filter((i) => i.kind !== 'variabele').map((i) => i.title.toLowerCase()));
  for (const ind of state.indicators) {
    if (levelFilter && ind.levels && ind.levels.length && !ind.levels.includes(levelFilter) && ind.id !== selected) continue;
    if (ind.kind === 'variabele' && named.has(ind.title.toLowerCase()) && ind.id !== selected) continue;
    (groups[ind.kind] ||= []).push(ind);
  }
  return Object.entries(groups).map(([kind, list]) =>
    `<optgroup label="${esc(KIND_LABELS[kind] || kind)}">` +
    list.map((i) => `<option value="${esc(i.id)}"${i.id === selected ? ' selected' : ''}>` +
      `${esc(i.title)}${i.unit ? ` (${esc(i.unit)})` : ''}</option>`).join('') +
    '</optgroup>').join('');
}
function levelOptions(selected, withGeomOnly = false) {
  // on the map, a level without boundaries is listed but cannot be chosen (and says why)
  return state.info.levels.filter((l) => l.id !== 'land')
    .map((l) => (withGeomOnly && !(l.n_geometry > 0))
      ? `<option value="${l.id}" disabled>${esc(l.label)} (${l.n}; geen grenzen, zie de tabel)</option>`
      : `<option value="${l.id}"${l.id === selected ? ' selected' : ''}>${esc(l.label)} (${l.n})</option>`).join('');
}

// ---------------------------------------------------------------- map
// The boundaries come as vector tiles (/api/tiles/{level}/{z}/{x}/{y}.pbf: geometry and
// code only, simplified by the server for each zoom), so a national buurt map loads just
// the few tiles in view. The chosen indicator's numbers come once per choice
// (/api/map/{level}/values) and become one `match` on the code in the fill colour: the
// worker colours each area while it cuts the tile, and switching the indicator restyles
// the tiles without fetching them again.
const SRC = 'gebieden';

async function viewMap(query) {
  markNav('kaart');
  setTitle('Kaart');
  const levels = state.info.levels.filter((l) => l.id !== 'land' && l.n_geometry > 0);
  const q = new URLSearchParams(query || '');
  if (q.get('niveau')) state.level = q.get('niveau');
  if (q.get('indicator')) { state.indicator = q.get('indicator'); state.period = null; }
  if (q.get('jaar')) state.period = q.get('jaar');
  state.pendingSelect = q.get('gebied') || null;
  let levelNote = '';
  if (!state.level || !levels.find((l) => l.id === state.level)) {
    const asked = state.info.levels.find((l) => l.id === state.level);
    const fallback = state.info.default_level || (levels[0] && levels[0].id);
    if (asked && fallback) {
      // never show another level silently
      levelNote = `<p class="melding niveau" role="status">${esc(asked.label)} hebben in deze database geen grenzen, ` +
        `dus de kaart toont ${esc((LEVEL_LABELS[fallback] || fallback).toLowerCase())}. ` +
        `De ${esc(asked.label.toLowerCase())} staan wel in de <a href="#/tabel">tabel</a> en hebben elk een profiel.</p>`;
    }
    state.level = fallback;
  }
  main.innerHTML = `
    <h1>Kaart van het sociaal weefsel</h1>
    <p>Kies een niveau en een indicator. Klik op een gebied voor de cijfers en het wijkprofiel.
       <span class="alleen-breed">Met het toetsenbord: ga naar de kaart met Tab, schuif met de pijltjestoetsen,
       zoom met + en −, en kies met Enter het gebied onder het kruisje.</span> De <a href="#/tabel">tabel</a> geeft
       dezelfde gegevens als tekst.</p>
    <form class="bediening" id="kaartbediening">
      <div><label for="niveau">Niveau</label>
        <select id="niveau">${levelOptions(state.level, true)}</select></div>
      <div><label for="indicator">Indicator</label>
        <select id="indicator">${indicatorOptions(state.indicator, state.level)}</select></div>
      <div><label for="periode">Jaar</label><select id="periode"></select></div>
    </form>
    ${levelNote}
    <div class="kaart-rij">
      <div>
        <div id="kaart" role="region" aria-label="Kaart; de tabel is het tekstalternatief"
             data-map-rendered="false"><div class="kruisje" aria-hidden="true"></div></div>
        <p id="kaartstatus" class="bronregel" aria-live="polite"></p>
      </div>
      <div>
        <section class="paneel" aria-labelledby="legenda-kop" id="legenda"></section>
        <section class="paneel" aria-labelledby="verdeling-kop" id="verdeling" style="margin-top:1rem"></section>
        <section class="paneel" aria-labelledby="selectie-kop" id="selectie" style="margin-top:1rem">
          <h2 id="selectie-kop">Geselecteerd gebied</h2>
          <p>Klik op de kaart op een gebied, of zoek het op naam of code.</p>
        </section>
      </div>
    </div>`;
  focusHeading();
  document.getElementById('niveau').addEventListener('change', (e) => {
    state.level = e.target.value; state.period = null;
    const ind = state.indicators.find((i) => i.id === state.indicator);
    if (ind && ind.levels && ind.levels.length && !ind.levels.includes(state.level)) {
      const first = state.indicators.find((i) => i.kind !== 'variabele' && (i.levels || []).includes(state.level));
      if (first) state.indicator = first.id;
    }
    document.getElementById('indicator').innerHTML = indicatorOptions(state.indicator, state.level);
    loadMapData();
  });
  document.getElementById('indicator').addEventListener('change', (e) => {
    state.indicator = e.target.value; state.period = null; loadMapData();
  });
  document.getElementById('periode').addEventListener('change', (e) => {
    state.period = e.target.value; loadMapData();
  });
  if (!levels.length) {
    document.getElementById('kaart').textContent = 'Dit warehouse bevat geen gebiedsgrenzen.';
    return;
  }
  await initMap();
}

function hatchImage(bg, fg) {
  const size = 8;
  const c = document.createElement('canvas'); c.width = size; c.height = size;
  const ctx = c.getContext('2d');
  ctx.fillStyle = bg; ctx.fillRect(0, 0, size, size);
  ctx.strokeStyle = fg; ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(0, size); ctx.lineTo(size, 0);
  ctx.moveTo(-2, 2); ctx.lineTo(2, -2); ctx.moveTo(size - 2, size + 2); ctx.lineTo(size + 2, size - 2);
  ctx.stroke();
  return ctx.getImageData(0, 0, size, size);
}

function tileSource(level) {
  const v = encodeURIComponent(state.info.tiles_version || '');
  return { type: 'vector', maxzoom: 14,
           tiles: [`${location.origin}/api/tiles/${encodeURIComponent(level)}/{z}/{x}/{y}.pbf?v=${v}`] };
}

// The values of the current choice; the page's boot script (index.html) may already have
// asked for them while the scripts loaded.
function fetchValues() {
  const path = window.weefselValuesPath(state.level, state.indicator, state.period);
  const boot = window.weefselBoot;
  if (boot && boot.values && boot.values.path === path) {
    const p = boot.values.promise.then((r) => (r.ok ? r.json() : api(path)));
    boot.values = null;  // once: a later choice of the same layer asks again
    return p;
  }
  return api(path);
}

// Areas grouped by colour class (the server's classing: one class per value for counts and
// flags, fixed breaks where quantiles collapse, colours by direction): one `match` on the
// code (a hash lookup in MapLibre); suppressed areas white (hatched by their own layer), the
// rest grey.
export function classIndex(classes, v) {
  const last = classes.length - 1;
  for (let i = 0; i <= last; i += 1) {
    const k = classes[i];
    if (k.point) { if (v === k.lower) return i; continue; }
    if (k.lower <= v && (v < k.upper || (i === last && v <= k.upper))) return i;
  }
  return v > classes[last].upper ? last : 0;
}
function colourStyle(body) {
  const { meta, values, suppressed } = body;
  const classes = (meta.classing && meta.classing.classes) || [];
  const colors = classes.map((k) => k.color);
  const groups = colors.map(() => []);
  if (classes.length) {
    for (const [code, v] of Object.entries(values)) groups[classIndex(classes, v)].push(code);
  }
  const expr = ['match', ['get', 'code']];
  groups.forEach((codes, k) => { if (codes.length) expr.push(codes, colors[k]); });
  if (suppressed.length) expr.push(suppressed, '#ffffff');
  expr.push(MISSING);
  return { colors, fill: expr.length > 3 ? expr : MISSING,
           hatch: suppressed.length ? ['match', ['get', 'code'], suppressed, true, false] : null };
}

function fillLayer(fill) {
  return { id: 'vlakken', type: 'fill', source: SRC, 'source-layer': SRC,
           paint: { 'fill-color': fill, 'fill-outline-color': '#555555' } };
}
function hatchLayer(filter) {
  return { id: 'onderdrukt', type: 'fill', source: SRC, 'source-layer': SRC, filter,
           paint: { 'fill-pattern': 'onderdrukt' } };
}

async function initMap() {
  const container = document.getElementById('kaart');
  if (state.map) { state.map.remove(); state.map = null; }
  const status = document.getElementById('kaartstatus');
  status.textContent = 'Kaart wordt geladen…';
  let body;
  try { body = await fetchValues(); } catch (err) { status.textContent = err.message; return; }
  if (!document.body.contains(container)) return;  // the user went elsewhere meanwhile
  const tFetched = performance.now();
  const look = colourStyle(body);
  // Everything the first picture needs is in the style from the start: the worker cuts
  // and colours each tile once.
  const style = { version: 8, sources: { [SRC]: tileSource(state.level) }, layers: [
    { id: 'achtergrond', type: 'background', paint: { 'background-color': '#ffffff' } }] };
  if (state.info.basemap_url) {
    style.sources.basis = { type: 'raster', tiles: [state.info.basemap_url], tileSize: 256 };
    style.layers.push({ id: 'basis', type: 'raster', source: 'basis' });
  }
  style.layers.push(fillLayer(look.fill));
  if (look.hatch) style.layers.push(hatchLayer(look.hatch));
  const b = body.meta.bbox || state.info.bounds || [3.3, 50.7, 7.3, 53.6];
  const map = new maplibregl.Map({
    container, style, bounds: [[b[0], b[1]], [b[2], b[3]]], fitBoundsOptions: { padding: 20 },
    attributionControl: false, dragRotate: false, pitchWithRotate: false, fadeDuration: 0,
    locale: { 'NavigationControl.ZoomIn': 'Inzoomen', 'NavigationControl.ZoomOut': 'Uitzoomen',
              'NavigationControl.ResetBearing': 'Noord boven', 'Map.Title': 'Kaart' },
  });
  state.map = map;
  state.tCreated = performance.now();
  map.once('load', () => { state.tLoaded = performance.now(); });
  state.tileLevel = state.level;
  window.weefselMap = map;  // for tests and the bench
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.on('styleimagemissing', (e) => {
    if (e.id === 'onderdrukt') map.addImage('onderdrukt', hatchImage('#ffffff', '#7a7a7a'));
  });
  map.getCanvas().setAttribute('aria-label',
    'Kaart. Pijltjestoetsen schuiven, plus en min zoomen, Enter kiest het gebied onder het kruisje.');
  map.getCanvas().addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' && e.key !== ' ') return;
    e.preventDefault();
    const c = map.getCanvas();
    const hit = map.queryRenderedFeatures([c.clientWidth / 2, c.clientHeight / 2], { layers: ['vlakken'] });
    if (hit.length) { selectFeature(hit[0].properties.code, true); }
    else status.textContent = 'Onder het kruisje ligt geen gebied.';
  });
  map.on('click', 'vlakken', (e) => selectFeature(e.features[0].properties.code));
  map.on('mouseenter', 'vlakken', () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', 'vlakken', () => { map.getCanvas().style.cursor = ''; hideTip(); });
  map.on('mousemove', 'vlakken', (e) => {
    const f = e.features && e.features[0];
    if (f) showTip(f.properties.code, e.point);
  });
  map.on('moveend', () => {
    drawLabels();
    const c = map.getCanvas();
    if (document.activeElement === c) {   // keyboard: name and value of the area under the crosshair
      const pt = [c.clientWidth / 2, c.clientHeight / 2];
      const hit = map.queryRenderedFeatures(pt, { layers: ['vlakken'] });
      if (hit.length) showTip(hit[0].properties.code, { x: pt[0], y: pt[1] });
    }
  });
  map.on('movestart', hideTip);
  showMapData(body, look, tFetched, state.mapTicket = (state.mapTicket || 0) + 1);
  if (state.pendingSelect) {
    const code = state.pendingSelect;
    state.pendingSelect = null;
    map.once('idle', () => selectFeature(code));
  }
}

async function loadMapData() {
  const map = state.map;
  if (!map) return initMap();
  const container = document.getElementById('kaart');
  container.dataset.mapRendered = 'false';
  document.body.dataset.mapRendered = 'false';
  const status = document.getElementById('kaartstatus');
  status.textContent = 'Kaart wordt geladen…';
  const ticket = (state.mapTicket = (state.mapTicket || 0) + 1);
  let body;
  try { body = await fetchValues(); } catch (err) { status.textContent = err.message; return; }
  if (ticket !== state.mapTicket || map !== state.map) return;  // a newer choice won
  const tFetched = performance.now();
  const look = colourStyle(body);
  if (!map.isStyleLoaded()) await new Promise((r) => map.once('load', r));
  if (state.tileLevel !== state.level) {
    // Another level is another source: replace it with its layers (MapLibre's setTiles()
    // keeps the old level's parsed tiles).
    for (const id of ['keuze', 'onderdrukt', 'vlakken']) if (map.getLayer(id)) map.removeLayer(id);
    map.removeSource(SRC);
    map.addSource(SRC, tileSource(state.level));
    map.addLayer(fillLayer(look.fill));
    state.tileLevel = state.level;
    state.selected = null;
    const bb = body.meta.bbox;
    if (bb) map.fitBounds([[bb[0], bb[1]], [bb[2], bb[3]]], { padding: 20, animate: false });
  } else {
    map.setPaintProperty('vlakken', 'fill-color', look.fill);
  }
  if (map.getLayer('onderdrukt')) map.removeLayer('onderdrukt');
  if (look.hatch) map.addLayer(hatchLayer(look.hatch));
  showMapData(body, look, tFetched, ticket);
}

// Legend, status line, address bar and the rendered marker for one set of values.
function showMapData(body, look, tFetched, ticket) {
  const map = state.map;
  const { meta } = body;
  const container = document.getElementById('kaart');
  state.mapData = body;
  state.indicator = meta.indicator ? meta.indicator.id : null;
  state.period = meta.period;
  fillPeriods();
  rememberInHash();
  renderLegend(meta);
  renderDistribution();
  // names on the map after the first picture: they must not compete with the tiles
  map.once('idle', () => loadLabels().then(() => { drawLabels(); }));
  if (state.selected) showSelection(state.selected);
  const tSet = performance.now();
  map.once('idle', () => {
    if (ticket !== state.mapTicket) return;
    window.weefselTimings = { fetched: tFetched, created: state.tCreated, load: state.tLoaded,
                              setData: tSet, idle: performance.now() };
    container.dataset.mapRendered = 'true';
    document.body.dataset.mapRendered = 'true';
    window.dispatchEvent(new Event('map-rendered'));
  });
  map.triggerRepaint();
  const c = meta.counts;
  const nFeatures = c.ok + c.onderdrukt + c.ontbreekt;
  document.getElementById('kaartstatus').textContent =
    `${nFeatures} ${(LEVEL_LABELS[meta.level] || 'gebieden').toLowerCase()} op de kaart: ${c.ok} met een waarde, ` +
    `${c.onderdrukt} onderdrukt, ${c.ontbreekt} zonder waarde` +
    (meta.n_without_geometry ? `; ${meta.n_without_geometry} zonder grenzen (wel in de tabel).` : '.');
}

// The map's choice in the address bar, so a view can be bookmarked and shared
// (#/kaart?niveau=buurt&indicator=…&jaar=…), without a new history entry.
function rememberInHash() {
  const p = new URLSearchParams({ niveau: state.level });
  if (state.indicator) p.set('indicator', state.indicator);
  if (state.period) p.set('jaar', state.period);
  const hash = `#/kaart?${p}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

async function fillPeriods() {
  const sel = document.getElementById('periode');
  if (!sel || !state.indicator) return;
  const ind = await api(`/api/indicators/${encodeURIComponent(state.indicator)}`);
  sel.innerHTML = ind.periods.map((p) => `<option${p === state.period ? ' selected' : ''}>${esc(p)}</option>`).join('');
  const isel = document.getElementById('indicator');
  if (isel && isel.value !== state.indicator) isel.value = state.indicator;
}

// The publisher's year(s) behind the values when they differ from the reference period
// (health figures from 2020 in a 2024 map): ' (cijfers uit 2020)' or ' (cijfers uit 2016–2020)'.
function dataYears(meta) {
  const ys = (meta.data_periods || []).filter(Boolean);
  if (!ys.length || (ys.length === 1 && ys[0] === String(meta.period))) return '';
  const span = ys.length === 1 ? ys[0] : `${ys[0]}–${ys[ys.length - 1]}`;
  return ` (cijfers uit ${esc(span)})`;
}

// The same rank as table, compare and profile (API: values.ranks + meta.rank), when present.
function rankText(code) {
  const body = state.mapData;
  const r = body && body.ranks ? body.ranks[code] : undefined;
  const m = body && body.meta ? body.meta.rank : null;
  if (r === undefined || r === null || !m) return '';
  const scope = m.scope_nl ? ` <span class="bronregel">(${esc(m.scope_nl)})</span>` : '';
  return `<p id="selectie-rang">Rang ${esc(r)} van ${esc(m.of)}${scope}</p>`;
}

function reasonFor(code) {
  const body = state.mapData;
  if (!body) return '';
  const miss = body.meta.missing || [];
  const st = body.suppressed.includes(code) ? 'onderdrukt' : 'ontbreekt';
  const m = miss.find((x) => x.status === st);
  return m ? m.reason_nl : (st === 'onderdrukt' ? 'onderdrukt door de bron' : 'geen waarde');
}

function valueText(code) {
  const body = state.mapData;
  if (!body) return '';
  const ind = body.meta.indicator || {};
  const v = body.values[code];
  const d = body.meta.classing ? body.meta.classing.decimals : undefined;
  if (v !== undefined) return `${fmt(Number(v), d)}${ind.unit ? ` ${ind.unit}` : ''}`;
  return `geen waarde: ${reasonFor(code)}`;
}

function renderLegend(meta) {
  const ind = meta.indicator || {};
  const cl = meta.classing || { classes: [] };
  const rows = cl.classes.map((k) => `<li><span class="vlakje" style="background:${k.color}"></span>` +
    `<span>${esc(k.label)} <span class="aantal">(${k.n})</span></span></li>`).join('');
  const miss = (meta.missing || []).map((m) => `<li><span class="vlakje ${m.status}"></span>` +
    `<span>${m.status === 'onderdrukt' ? 'onderdrukt' : 'geen waarde'} <span class="aantal">(${m.n})</span>: ` +
    `${esc(m.reason_nl)}</span></li>`).join('');
  const dir = DIRECTION_NL[ind.direction] || ind.direction || '';
  // a compact copy inside the map for phones, where the full legend is below the map
  const mini = document.getElementById('minilegenda') || Object.assign(document.createElement('div'),
    { id: 'minilegenda', className: 'minilegenda' });
  mini.setAttribute('aria-hidden', 'true');
  mini.innerHTML = cl.classes.map((k) => `<span><i style="background:${k.color}"></i>${esc(k.label)}</span>`).join('') +
    ((meta.missing || []).length ? `<span><i style="background:${MISSING}"></i>geen waarde</span>` : '');
  const kaart = document.getElementById('kaart');
  if (kaart && !mini.parentNode) kaart.appendChild(mini);
  document.getElementById('legenda').innerHTML = `
    <h2 id="legenda-kop">Legenda</h2>
    <p><strong${ind.technical ? ` title="${esc(ind.technical)}"` : ''}>${esc(ind.title || 'geen indicator')}</strong>${ind.unit ? `, in ${esc(ind.unit)}` : ''}</p>
    <ul class="legenda-lijst">${rows}${miss}</ul>
    ${cl.colour_note_nl ? `<p class="bronregel">${esc(cl.colour_note_nl)}</p>` : ''}
    <p class="bronregel">Jaar: ${esc(meta.period || '–')}${dataYears(meta)} · Bron: <span title="${esc(ind.source || '')}">${esc(sourceName(ind.source))}</span>` +
    `${dir ? ` · ${esc(dir)}` : ''} · <span title="${esc(cl.method_nl || '')}">Indeling: ${esc(plainMethod(cl))}</span></p>`;
}
function plainMethod(cl) {
  if (!cl || !cl.scheme) return '–';
  if (cl.scheme === 'per_value') return 'één kleur per waarde';
  if (cl.scheme === 'diverging') return 'rond het landelijk gemiddelde (0)';
  return (cl.method_nl || '').startsWith('vaste') ? 'vaste stappen' : 'ongeveer evenveel gebieden per kleur';
}
const SOURCE_NAMES = { '50090NED': 'RIVM/GGD Gezondheidsmonitor', '85984NED': 'CBS Kerncijfers wijken en buurten 2024',
  '85146NED': 'CBS Veiligheidsmonitor', '85900NED': 'CBS sociaaleconomische status (SES-WOA)',
  '85231NED': 'CBS Nabijheid voorzieningen', 'weefsel index': 'weefsel (eigen berekening)',
  'weefsel index (SVI)': 'weefsel (eigen berekening)', 'weefsel access': 'weefsel (eigen berekening)' };
export function sourceName(src) {
  if (!src) return '–';
  return String(src).split(',').map((s) => s.trim()).map((s) => SOURCE_NAMES[s] ? `${SOURCE_NAMES[s]}` : s)
    .filter((v, i, a) => a.indexOf(v) === i).join(', ');
}

// ---- names on the map (HTML markers from a point inside each area: no glyphs needed offline)
async function loadLabels() {
  state.labels = state.labels || {};
  const want = ['gemeente'];
  if (state.level === 'wijk' || state.level === 'buurt') want.push('wijk');
  if (state.level === 'buurt') want.push('buurt');
  await Promise.all(want.filter((lv) => !state.labels[lv] && state.info.levels.find((l) => l.id === lv))
    .map(async (lv) => { state.labels[lv] = await api(`/api/map/${lv}/labels`).catch(() => []); }));
  state.names = state.names || {};
  for (const lv of Object.keys(state.labels)) for (const a of state.labels[lv]) state.names[a.code] = a.name;
}
function drawLabels() {
  const map = state.map;
  if (!map || !state.labels) return;
  for (const m of state.markers || []) m.remove();
  state.markers = [];
  const z = map.getZoom();
  const b = map.getBounds();
  const lv = z >= 13.5 && state.level === 'buurt' ? 'buurt' : z >= 10.5 && state.level !== 'gemeente' ? 'wijk' : 'gemeente';
  const list = (state.labels[lv] || []).filter((a) => b.contains([a.lon, a.lat])).slice(0, 60);
  for (const a of list) {
    const el = document.createElement('div');
    el.className = `kaartlabel label-${lv}`;
    el.textContent = a.name;
    el.setAttribute('aria-hidden', 'true');
    state.markers.push(new maplibregl.Marker({ element: el }).setLngLat([a.lon, a.lat]).addTo(map));
  }
}

// ---- hover tooltip
function showTip(code, point) {
  const box = document.getElementById('kaart');
  let tip = document.getElementById('kaarttip');
  if (!tip) {
    tip = document.createElement('div');
    tip.id = 'kaarttip'; tip.className = 'kaarttip'; tip.setAttribute('role', 'tooltip');
    box.appendChild(tip);
  }
  const name = (state.names && state.names[code]) || code;
  tip.innerHTML = `<strong>${esc(name)}</strong><br>${esc(valueText(code))}`;
  tip.style.left = `${Math.min(point.x + 12, box.clientWidth - 220)}px`;
  tip.style.top = `${point.y + 12}px`;
  tip.hidden = false;
}
function hideTip() { const t = document.getElementById('kaarttip'); if (t) t.hidden = true; }

// ---- distribution of all areas beside the map (strip plot), the selected one marked
function renderDistribution() {
  const box = document.getElementById('verdeling');
  const body = state.mapData;
  if (!box || !body) return;
  const meta = body.meta;
  const ind = meta.indicator || {};
  const cl = meta.classing || { classes: [] };
  const entries = Object.entries(body.values).map(([c, v]) => [c, Number(v)]).sort((a, b) => a[1] - b[1]);
  if (entries.length < 2) { box.innerHTML = '<h2 id="verdeling-kop">Verdeling</h2><p>Te weinig waarden voor een verdeling.</p>'; return; }
  const W = 300, H = 120, L = 10, R = 10, top = 16;
  const lo = entries[0][1], hi = entries[entries.length - 1][1];
  const span = hi - lo || 1;
  const x = (v) => L + (W - L - R) * (v - lo) / span;
  // simple beeswarm: stack dots that would overlap
  const lanes = [];
  const dots = entries.map(([code, v]) => {
    const px = x(v);
    let lane = 0;
    while (lanes[lane] !== undefined && px - lanes[lane] < 5) lane += 1;
    lanes[lane] = px;
    const k = cl.classes.length ? classIndex(cl.classes, v) : 0;
    const col = cl.classes.length ? cl.classes[k].color : '#888';
    const dy = (lane % 2 ? 1 : -1) * Math.ceil(lane / 2) * 5;
    return { code, v, px, py: top + 40 + dy, col };
  });
  const sel = state.selected && body.values[state.selected.code] !== undefined ? state.selected.code : null;
  const d = cl.decimals;
  const median = entries[Math.floor(entries.length / 2)][1];
  const selDot = dots.find((p) => p.code === sel);
  const rank = sel ? entries.findIndex(([c]) => c === sel) + 1 : null;
  const svg = `<svg class="verdeling" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-labelledby="verdeling-tekst">
    <line x1="${L}" y1="${top + 40}" x2="${W - R}" y2="${top + 40}" stroke="#767676"/>
    ${dots.map((p) => `<circle cx="${p.px.toFixed(1)}" cy="${Math.max(4, Math.min(H - 30, p.py)).toFixed(1)}" r="2.6" fill="${p.col}" stroke="#555" stroke-width="0.4"${p.code === sel ? ' class="gekozen-stip"' : ''}/>`).join('')}
    ${selDot ? `<circle cx="${selDot.px.toFixed(1)}" cy="${top + 40}" r="6" fill="none" stroke="#000" stroke-width="2.5" data-code="${esc(sel)}" class="gekozen"/>
      <text x="${selDot.px.toFixed(1)}" y="${top - 4}" text-anchor="${selDot.px < W / 3 ? 'start' : selDot.px > 2 * W / 3 ? 'end' : 'middle'}" font-size="11" font-weight="bold">${esc(state.selected.name)}</text>` : ''}
    <text x="${L}" y="${H - 8}" font-size="11">${esc(fmt(lo, d))}</text>
    <text x="${W - R}" y="${H - 8}" font-size="11" text-anchor="end">${esc(fmt(hi, d))}</text>
  </svg>`;
  const lvl = (LEVEL_LABELS[meta.level] || 'gebieden').toLowerCase();
  const text = `${entries.length} ${lvl} met een waarde, van ${fmt(lo, d)} tot ${fmt(hi, d)}; de middelste waarde is ${fmt(median, d)}.` +
    (sel ? ` ${state.selected.name}: ${fmt(body.values[sel], d)}, plaats ${rank} van ${entries.length} van laag naar hoog.` :
      state.selected ? ` ${state.selected.name}: ${reasonFor(state.selected.code)}.` : ' Kies een gebied om het te markeren.');
  box.innerHTML = `<h2 id="verdeling-kop">Verdeling over alle ${esc(lvl)}</h2>${svg}<p id="verdeling-tekst" class="bronregel">${esc(text)}</p>`;
}

async function selectFeature(code, byKeyboard = false) {
  const map = state.map;
  if (map && !map.getLayer('keuze')) {
    map.addLayer({ id: 'keuze', type: 'line', source: SRC, 'source-layer': SRC,
                   filter: ['==', ['get', 'code'], ''], paint: { 'line-color': '#000000', 'line-width': 3 } });
  }
  if (map) map.setFilter('keuze', ['==', ['get', 'code'], code]);
  let area;
  try { area = (await api(`/api/areas/${encodeURIComponent(code)}`)).area; }
  catch (err) { area = { code, name: code }; }
  state.selected = area;
  // focus moves to the profile link only for keyboard users: a tap must not scroll the page
  showSelection(area, byKeyboard);
}

function showSelection(area, focus = false) {
  const box = document.getElementById('selectie');
  if (!box) return;
  const body = state.mapData || { values: {}, suppressed: [] };
  const ind = body.meta?.indicator || {};
  const val = esc(valueText(area.code));
  box.innerHTML = `<h2 id="selectie-kop">${esc(area.name)}</h2>
    <p class="bronregel">${esc(area.code)}</p>
    <p>${esc(ind.title || '')}: <strong id="selectie-waarde">${val}</strong></p>
    ${rankText(area.code)}
    <p><a class="knop" href="#/gebied/${encodeURIComponent(area.code)}">Bekijk het profiel van ${esc(area.name)}</a></p>`;
  renderDistribution();
  if (focus) box.querySelector('a').focus({ preventScroll: true });
}

// ---------------------------------------------------------------- area page
async function viewArea(code) {
  markNav('');
  main.innerHTML = '<p>Profiel wordt geladen…</p>';
  let html;
  try {
    const r = await fetch(`/api/areas/${encodeURIComponent(code)}/profile?format=html`);
    if (!r.ok) throw new Error((await r.json()).detail);
    html = await r.text();
  } catch (err) {
    main.innerHTML = '<h1>Gebied niet gevonden</h1>'; showError(err); focusHeading(); return;
  }
  const inCompare = state.compare.includes(code);
  main.innerHTML = html + `
    <div class="acties">
      <a class="knop knop-secundair" href="#/kaart">Terug naar de kaart</a>
      <a class="knop" href="/profiel/${encodeURIComponent(code)}" target="_blank" rel="noopener">Afdrukbaar profiel (A4)</a>
      <a class="knop knop-secundair" href="/api/areas/${encodeURIComponent(code)}/profile?format=csv" download>Download CSV</a>
      <button type="button" id="naar-vergelijk" class="knop-secundair"${inCompare ? ' disabled' : ''}>
        ${inCompare ? 'Staat in de vergelijking' : 'Voeg toe aan vergelijking'}</button>
    </div>`;
  const name = main.querySelector('h1')?.firstChild?.textContent?.trim() || code;
  setTitle(`Profiel ${name}`);
  document.getElementById('naar-vergelijk').addEventListener('click', () => {
    if (!state.compare.includes(code) && state.compare.length < 5) state.compare.push(code);
    location.hash = `#/vergelijk`;
  });
  focusHeading();
}

// ---------------------------------------------------------------- table
async function viewTable() {
  markNav('tabel');
  setTitle('Tabel');
  const levels = state.info.levels.filter((l) => l.id !== 'land');
  if (!state.level) state.level = (levels.find((l) => l.id === 'wijk') || levels[0]).id;
  main.innerHTML = `
    <h1>Tabel</h1>
    <p>De tabel toont dezelfde gegevens als de kaart. Sorteer met de kolomkoppen.</p>
    <form class="bediening" id="tabelbediening">
      <div><label for="t-niveau">Niveau</label><select id="t-niveau">${levelOptions(state.level)}</select></div>
      <div><label for="t-indicator">Indicator</label>
        <select id="t-indicator"><option value="">Standaardselectie</option>${indicatorOptions(state.tableIndicator)}</select></div>
      <div><label for="t-filter">Filter op naam, code of gemeente</label><input id="t-filter" type="search"></div>
      <div><a class="knop" id="t-csv" href="#" download>Download CSV</a></div>
    </form>
    <div id="tabel"></div>`;
  focusHeading();
  const reload = () => loadTable();
  document.getElementById('t-niveau').addEventListener('change', (e) => { state.level = e.target.value; reload(); });
  document.getElementById('t-indicator').addEventListener('change', (e) => {
    state.tableIndicator = e.target.value; if (e.target.value) state.indicator = e.target.value; reload();
  });
  document.getElementById('t-filter').addEventListener('input', () => renderTable());
  await loadTable();
}

async function loadTable() {
  const params = new URLSearchParams({ level: state.level });
  if (state.tableIndicator) params.set('indicator', state.tableIndicator);
  document.getElementById('t-csv').href = `/api/table?${params}&format=csv`;
  try {
    state.table = await api(`/api/table?${params}`);
    state.tableSort = { key: 'name', dir: 1 };
    renderTable();
  } catch (err) { showError(err); }
}

function renderTable() {
  const t = state.table;
  if (!t) return;
  const f = (document.getElementById('t-filter')?.value || '').toLowerCase();
  const { key, dir } = state.tableSort;
  let rows = t.rows.filter((r) => !f || r.code.toLowerCase().includes(f) || String(r.name).toLowerCase().includes(f) ||
    String(r.gemeente || '').toLowerCase().includes(f));
  rows = rows.slice().sort((a, b) => {
    const x = a[key], y = b[key];
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (typeof x === 'number' ? x - y : String(x).localeCompare(String(y), 'nl')) * dir;
  });
  const cols = [{ key: 'name', label: 'Gebied' }, { key: 'code', label: 'Code' },
                { key: 'gemeente', label: 'Gemeente' },
                ...t.columns.map((c) => ({ key: c.id, label: c.title + (c.unit ? ` (${c.unit})` : ''), num: true,
                                           decimals: decimalsFrom(t.rows.map((r) => r[c.id])) }))];
  const th = cols.map((c) => {
    const sort = key === c.key ? (dir > 0 ? 'ascending' : 'descending') : 'none';
    return `<th scope="col" aria-sort="${sort}"${c.num ? ' class="num"' : ''}>` +
      `<button type="button" class="sorteer" data-key="${esc(c.key)}">${esc(c.label)}</button></th>`;
  }).join('');
  const body = rows.slice(0, 2000).map((r) => '<tr>' + cols.map((c) => {
    if (c.key === 'name') return `<th scope="row"><a href="#/gebied/${encodeURIComponent(r.code)}">${esc(r.name)}</a></th>`;
    if (!c.num) return `<td>${esc(r[c.key])}</td>`;
    if (r[`${c.key}|onderdrukt`]) return '<td class="num"><span class="onderdrukt">geheim</span></td>';
    const rank = r[`${c.key}|rang`];
    return `<td class="num"${rank !== undefined && rank !== null ? ` title="rang ${esc(rank)}"` : ''}>${fmt(r[c.key], c.decimals)}</td>`;
  }).join('') + '</tr>').join('');
  document.getElementById('tabel').innerHTML = `<p class="hulp-scroll" id="tabel-hulp">Breed: schuif de tabel opzij om alle kolommen te zien.</p>
    <div class="tabel-wrap" tabindex="0" role="region" aria-labelledby="tabel-hulp"><table id="datatabel">
    <caption>${esc(LEVEL_LABELS[t.level] || t.level)}: ${rows.length} van ${t.rows.length} gebieden` +
    `${rows.length > 2000 ? ' (eerste 2000 getoond; gebruik het filter of de CSV)' : ''}</caption>
    <thead><tr>${th}</tr></thead><tbody>${body}</tbody></table></div>`;
  document.querySelectorAll('button.sorteer').forEach((b) => b.addEventListener('click', () => {
    const k = b.dataset.key;
    state.tableSort = { key: k, dir: state.tableSort.key === k ? -state.tableSort.dir : 1 };
    renderTable();
    document.querySelector(`button.sorteer[data-key="${CSS.escape(k)}"]`)?.focus();
  }));
}

// ---------------------------------------------------------------- compare
async function viewCompare(query) {
  markNav('vergelijk');
  setTitle('Vergelijken');
  const fromUrl = new URLSearchParams(query || '').get('codes');
  if (fromUrl) state.compare = fromUrl.split(',').filter(Boolean).slice(0, 5);
  main.innerHTML = `
    <h1>Gebieden vergelijken</h1>
    <p>Kies twee tot vijf gebieden. Voeg gebieden toe met het veld hieronder of via “Voeg toe aan vergelijking” op een profiel.</p>
    <form class="bediening" id="vergelijkformulier">
      <div><label for="v-code">Gebiedscode of naam</label><input id="v-code" list="v-lijst" autocomplete="off">
        <datalist id="v-lijst"></datalist></div>
      <div><button type="submit">Toevoegen</button></div>
    </form>
    <ul class="keuzelijst" id="v-keuze" aria-label="Gekozen gebieden"></ul>
    <div id="v-uitkomst" aria-live="polite"></div>`;
  focusHeading();
  const input = document.getElementById('v-code');
  input.addEventListener('input', async () => {
    if (input.value.length < 2) return;
    const r = await api(`/api/areas?q=${encodeURIComponent(input.value)}&limit=15`).catch(() => ({ areas: [] }));
    document.getElementById('v-lijst').innerHTML = r.areas.map((a) =>
      `<option value="${esc(a.code)}">${esc(a.name)} (${esc(a.level)})</option>`).join('');
  });
  document.getElementById('vergelijkformulier').addEventListener('submit', async (e) => {
    e.preventDefault();
    let code = input.value.trim();
    if (!code) return;
    const r = await api(`/api/areas?q=${encodeURIComponent(code)}&limit=1`).catch(() => ({ areas: [] }));
    if (r.areas.length) code = r.areas[0].code;
    if (!state.compare.includes(code) && state.compare.length < 5) state.compare.push(code);
    input.value = '';
    renderCompare();
  });
  renderCompare();
}

async function renderCompare() {
  const list = document.getElementById('v-keuze');
  const nm = (c) => (state.names && state.names[c]) || c;
  list.innerHTML = state.compare.map((c) => `<li>${esc(nm(c))}<button type="button" class="knop-secundair" ` +
    `data-code="${esc(c)}" aria-label="Verwijder ${esc(nm(c))} uit de vergelijking">×</button></li>`).join('');
  list.querySelectorAll('button').forEach((b) => b.addEventListener('click', () => {
    state.compare = state.compare.filter((c) => c !== b.dataset.code); renderCompare();
  }));
  const out = document.getElementById('v-uitkomst');
  if (state.compare.length < 2) { out.innerHTML = '<p class="melding">Kies nog minstens één gebied.</p>'; return; }
  const codes = state.compare.join(',');
  try {
    const r = await api(`/api/compare?codes=${encodeURIComponent(codes)}`);
    state.names = state.names || {};
    let renamed = false;
    for (const a of r.areas) { if (state.names[a.code] !== a.name) renamed = true; state.names[a.code] = a.name; }
    if (renamed) list.querySelectorAll('li').forEach((li, i) => {
      const c = state.compare[i]; if (c && li.firstChild) li.firstChild.textContent = state.names[c] || c;
      const b = li.querySelector('button'); if (b) b.setAttribute('aria-label', `Verwijder ${state.names[c] || c} uit de vergelijking`);
    });
    const head = r.areas.map((a) => `<th scope="col" class="num"><a href="#/gebied/${encodeURIComponent(a.code)}">` +
      `${esc(a.name)}</a><br><span class="richting">${esc(a.code)}</span></th>`).join('');
    const rows = r.rows.map((row) => `<tr><th scope="row">${esc(row.titel)}` +
      `${row.eenheid ? ` <span class="eenheid">(${esc(row.eenheid)})</span>` : ''}` +
      `${row.richting ? `<br><span class="richting">${esc(DIRECTION_NL[row.richting] || row.richting)}</span>` : ''}</th>` +
      `<td data-label="Jaar">${esc(row.periode)}</td>` +
      r.areas.map((a) => `<td class="num" data-label="${esc(a.name)}">${fmt(row[a.code], decimalsFrom(r.areas.map((x) => row[x.code])))}</td>`).join('') + '</tr>').join('');
    out.innerHTML = `<div class="acties"><a class="knop" href="/api/compare?codes=${encodeURIComponent(codes)}&format=csv" download>Download CSV</a></div>
      <div class="tabel-wrap" tabindex="0" role="region" aria-label="Vergelijking"><table class="vergelijking"><caption>Vergelijking van ${r.areas.length} gebieden</caption>
      <thead><tr><th scope="col">Indicator</th><th scope="col">Jaar</th>${head}</tr></thead><tbody>${rows}</tbody></table></div>`;
  } catch (err) { out.innerHTML = `<p class="melding fout" role="alert">${esc(err.message)}</p>`; }
}

// ---------------------------------------------------------------- search
function initSearch() {
  const form = document.getElementById('zoekformulier');
  const input = document.getElementById('zoekveld');
  const results = document.getElementById('zoekresultaten');
  let timer = null;
  const run = async () => {
    const q = input.value.trim();
    if (q.length < 2) { results.innerHTML = ''; return; }
    const r = await api(`/api/areas?q=${encodeURIComponent(q)}&limit=12`).catch(() => ({ areas: [] }));
    results.innerHTML = r.areas.length ? r.areas.map((a) => `<li><a href="#/gebied/${encodeURIComponent(a.code)}">` +
      `${esc(a.name)} <span class="niveau">${esc(a.level)} ${esc(a.code)}</span></a></li>`).join('')
      : '<li><span class="niveau">Geen gebied gevonden.</span></li>';
  };
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, 150); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await run();
    const first = results.querySelector('a');
    if (first) first.focus();
  });
  results.addEventListener('click', () => { setTimeout(() => { results.innerHTML = ''; input.value = ''; }, 0); });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') results.innerHTML = ''; });
}

// ---------------------------------------------------------------- router
async function route() {
  if (location.hash && !location.hash.startsWith('#/')) return;  // in-page anchors
  const hash = location.hash || '#/kaart';
  const [path, query] = hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean);
  try {
    if (parts[0] === 'gebied' && parts[1]) await viewArea(decodeURIComponent(parts[1]));
    else if (parts[0] === 'tabel') await viewTable();
    else if (parts[0] === 'vergelijk') await viewCompare(query);
    else await viewMap(parts[0] === 'kaart' ? query : '');
  } catch (err) { showError(err); }
}

async function start() {
  try {
    // index.html carries /api/info and has already asked for the indicator list
    const boot = window.weefselBoot || {};
    const [info, inds] = await Promise.all([boot.info || api('/api/info'),
      (boot.indicators || fetch('/api/indicators')).then((r) => r.json())]);
    state.info = info;
    state.indicators = inds.indicators;
    state.indicator = state.info.default_indicator;
  } catch (err) { main.innerHTML = '<h1>weefsel</h1>'; showError(err); return; }
  initSearch();
  document.querySelector('.skiplink').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', () => { state.navigated = true; route(); });
  if (!window.maplibregl) await new Promise((r) => window.addEventListener('load', r, { once: true }));
  route();
}
start();
