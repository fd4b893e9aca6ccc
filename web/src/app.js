// brandpunt web map: filter panel, choropleth + analysis layers, area side panel, custom areas,
// compare view, patrol view and BI links. Plain ES module on top of the global `maplibregl`.
// The API contract is web/API.md; everything the user sees is Dutch.

import { api, absUrl, qs, ApiError } from './api.js';
import { trendChart, hourOfWeekChart, barChart, esc, fmtNum, SERIES_COLOURS } from './charts.js';
import { PolygonDrawer } from './draw.js';
import {
  buildStyle, tileUrl, FILTERED_SOURCES, TOGGLES, choroplethExpression, quantileBreaks,
  classColours, NO_DATA, SUPPRESSED, GI_BINS, EMERGING,
} from './layers.js';

const $ = (id) => document.getElementById(id);

/**
 * A count as the user sees it: the number, or, when the server withheld it (small-count protection: `null`
 * with a label such as "< 5", ">= 5" or "afgeschermd"), that label; '–' when there is neither.
 */
function countText(value, label, digits = 0) {
  if ((value === null || value === undefined) && label) return label;
  return fmtNum(value, digits);
}
/** The k of the "< k" labels the caller gets, or null when counts are exact (analysts, admins). */
function protectedK() {
  if (state.suppressedK) return state.suppressedK;
  return state.meta && state.meta.protected && state.meta.min_count ? state.meta.min_count : null;
}

const state = {
  meta: null,
  me: null, // GET /api/me: who is calling and what they may
  months: [],
  groups: new Set(),
  codes: new Set(),
  sources: new Set(),
  mode: 'count',
  breaks: { count: [], rate: [] },
  selected: null, // {code, name, level}
  areas: { buurt: [], wijk: [], gemeente: [], custom: [] },
  compare: [],
  patrolMarkers: [],
  map: null,
  drawer: null,
  drawnGeometry: null,
  filterVersion: 0,
};
window.brandpunt = { state };

// ---------- status messages ----------
let statusTimer = null;
function status(msg, kind = 'info', sticky = false) {
  const el = $('status');
  el.textContent = msg;
  el.className = kind;
  clearTimeout(statusTimer);
  if (!sticky && msg) statusTimer = setTimeout(() => { el.textContent = ''; el.className = ''; }, 6000);
}
function errorMessage(e) {
  return e instanceof ApiError ? e.message : `Onverwachte fout: ${e && e.message ? e.message : e}`;
}

// ---------- filter ----------
/** The filter as query parameters of the API (category, from, to, source). */
function filterParams() {
  const cats = [...state.groups, ...state.codes];
  const allSources = state.meta ? state.meta.sources || [] : [];
  const src = state.sources.size && state.sources.size < allSources.length ? [...state.sources] : [];
  return {
    category: cats.join(','),
    from: $('from').value,
    to: $('to').value,
    source: src.join(','),
  };
}
window.brandpunt.filterParams = filterParams;

function monthList(first, last) {
  const out = [];
  let [y, m] = first.split('-').map(Number);
  const [ly, lm] = last.split('-').map(Number);
  while (y < ly || (y === ly && m <= lm)) {
    out.push(`${y}-${String(m).padStart(2, '0')}`);
    m += 1;
    if (m > 12) { m = 1; y += 1; }
  }
  return out;
}
function lastDayOfMonth(ym) {
  const [y, m] = ym.split('-').map(Number);
  const d = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return `${ym}-${String(d).padStart(2, '0')}`;
}
const MONTH_NAMES = ['jan', 'feb', 'mrt', 'apr', 'mei', 'jun', 'jul', 'aug', 'sep', 'okt', 'nov', 'dec'];
function monthLabel(ym) {
  const [y, m] = ym.split('-').map(Number);
  return `${MONTH_NAMES[m - 1]} ${y}`;
}
function fmtDate(d) {
  if (!d) return '–';
  const [y, m, dd] = d.split('-').map(Number);
  return `${dd} ${MONTH_NAMES[m - 1]} ${y}`;
}

/** Sets from/to from the time slider and the window length. */
function applySlider() {
  const p = state.meta && state.meta.period;
  if (!p || !state.months.length) return;
  const idx = Number($('slider').value);
  const win = $('window').value;
  const endMonth = state.months[idx];
  let from;
  if (win === 'all') from = p.first;
  else {
    const startIdx = Math.max(0, idx - Number(win) + 1);
    from = `${state.months[startIdx]}-01`;
  }
  let to = lastDayOfMonth(endMonth);
  if (from < p.first) from = p.first;
  if (to > p.last) to = p.last;
  $('from').value = from;
  $('to').value = to;
  $('slider-label').textContent = win === 'all'
    ? `Hele periode tot en met ${monthLabel(endMonth)}`
    : `${Number(win) === 1 ? monthLabel(endMonth) : `${monthLabel(state.months[Math.max(0, idx - Number(win) + 1)])} – ${monthLabel(endMonth)}`}`;
}

let filterTimer = null;
function filterChanged() {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(applyFilter, 200);
}

function applyFilter() {
  const f = filterParams();
  if (f.from && f.to && f.from > f.to) {
    status('De begindatum ligt na de einddatum.', 'error');
    return;
  }
  state.filterVersion += 1;
  const map = state.map;
  for (const s of FILTERED_SOURCES) {
    const src = map.getSource(s);
    if (src) src.setTiles([tileUrl(s, f)]);
  }
  state.breaksDirty = true;
  renderLinks();
  if (state.selected) showArea(state.selected);
  if (document.body.dataset.view === 'surveillance' && state.patrolShown) runPatrol();
}

function buildFilterPanel(meta) {
  const groups = meta.groups || [];
  $('groups').innerHTML = groups.map((g) => `<label><input type="checkbox" name="group" value="${esc(g.name)}"> ${esc(groupLabel(g.name))} <span class="n">(${(g.codes || []).length} codes)</span></label>`).join('') || '<p class="hint">Geen categoriegroepen.</p>';
  $('codes').innerHTML = (meta.categories || []).map((c) => `<label><input type="checkbox" name="code" value="${esc(c.code)}"> <code>${esc(c.code)}</code> ${esc(c.label)} <span class="n">(${fmtNum(c.count)})</span></label>`).join('');
  $('sources').innerHTML = (meta.sources || []).map((s) => `<label><input type="checkbox" name="source" value="${esc(s)}" checked> ${esc(s)}</label>`).join('') || '<p class="hint">Geen bronnen.</p>';
  state.sources = new Set(meta.sources || []);
  $('groups').addEventListener('change', (e) => { toggleSet(state.groups, e.target); filterChanged(); });
  $('codes').addEventListener('change', (e) => { toggleSet(state.codes, e.target); filterChanged(); });
  $('sources').addEventListener('change', (e) => {
    toggleSet(state.sources, e.target);
    if (state.sources.size === 0) {
      status('Kies minstens één bron.', 'error');
      e.target.checked = true;
      state.sources.add(e.target.value);
      return;
    }
    filterChanged();
  });
  const p = meta.period;
  if (p && p.first && p.last) {
    state.months = monthList(p.first.slice(0, 7), p.last.slice(0, 7));
    $('slider').max = String(state.months.length - 1);
    $('slider').value = String(state.months.length - 1);
    for (const id of ['from', 'to']) { $(id).min = p.first; $(id).max = p.last; }
    applySlider();
  } else {
    $('slider').disabled = true;
    $('slider-label').textContent = 'Nog geen incidenten ingelezen.';
  }
  $('slider').addEventListener('input', () => { applySlider(); filterChanged(); });
  $('window').addEventListener('change', () => { applySlider(); filterChanged(); });
  for (const id of ['from', 'to']) $(id).addEventListener('change', () => { $('slider-label').textContent = 'Eigen periode'; filterChanged(); });
  let playTimer = null;
  $('play').addEventListener('click', () => {
    if (playTimer) { clearInterval(playTimer); playTimer = null; $('play').textContent = '▶'; return; }
    if ($('window').value === 'all') $('window').value = '1';
    $('slider').value = '0';
    applySlider(); applyFilter();
    $('play').textContent = '⏸';
    playTimer = setInterval(() => {
      const v = Number($('slider').value);
      if (v >= Number($('slider').max)) { clearInterval(playTimer); playTimer = null; $('play').textContent = '▶'; return; }
      $('slider').value = String(v + 1);
      applySlider(); applyFilter();
    }, 1500);
  });
}
function groupLabel(name) {
  return { inbraak: 'Inbraak', geweld: 'Geweld', overlast: 'Overlast' }[name] || name;
}
function toggleSet(set, input) {
  if (!input || !input.value) return;
  if (input.checked) set.add(input.value); else set.delete(input.value);
}

// ---------- legend ----------
function legendRange(breaks, i, integer) {
  const f = (v) => fmtNum(v, integer ? 0 : 1);
  if (!breaks.length) return 'alle waarden';
  if (i === breaks.length) return `${f(breaks[i - 1])} of meer`;
  if (!integer) return i === 0 ? `minder dan ${f(breaks[0])}` : `${f(breaks[i - 1])} tot ${f(breaks[i])}`;
  const lo = i === 0 ? 0 : breaks[i - 1];
  const hi = breaks[i] - 1;
  return lo === hi ? f(lo) : `${f(lo)} – ${f(hi)}`;
}
function renderLegend() {
  const map = state.map;
  const vis = (id) => map && map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none';
  let html = '';
  if (vis('buurten-fill')) {
    const breaks = state.breaks[state.mode];
    const integer = state.mode === 'count';
    html += `<h4>${state.mode === 'count' ? 'Aantal incidenten per buurt' : 'Incidenten per 1.000 inwoners'}</h4><ul class="legend" id="legend-choropleth">`;
    const colours = classColours(breaks.length);
    for (let i = 0; i <= breaks.length; i++) html += `<li><i style="background:${colours[i]}"></i>${legendRange(breaks, i, integer)}</li>`;
    const k = protectedK();
    if (k) html += `<li id="legend-suppressed"><i class="suppressed" style="background-color:${SUPPRESSED}"></i>te weinig om te tonen (&lt; ${esc(k)})</li>`;
    if (state.mode === 'rate') html += `<li><i style="background:${NO_DATA}"></i>onbekend (geen inwoners)</li>`;
    html += '</ul>';
  }
  if (vis('kde-fill')) html += '<h4>Dichtheid (KDE)</h4><div class="ramp kde"></div><div class="ramp-labels"><span>laag</span><span>hoog (per km²)</span></div>';
  if (vis('hotspots-fill')) {
    html += '<h4>Hotspots (Getis-Ord Gi*)</h4><ul class="legend">' + GI_BINS.filter((b) => b.bin !== 0).map((b) => `<li><i style="background:${b.colour}"></i>${esc(b.label)}</li>`).join('') + '</ul>';
  }
  if (vis('emerging-fill')) {
    html += '<h4>Opkomende hotspots</h4><ul class="legend">' + EMERGING.map((e) => `<li><i style="background:${e.colour}"></i>${esc(e.label)}</li>`).join('') + '</ul>';
  }
  if (vis('incidents-points')) html += '<ul class="legend"><li><i class="dot"></i>incident (vanaf zoom 15)</li></ul>';
  if (vis('cells-fill')) html += '<h4>Incidentcellen</h4><div class="ramp cells"></div><div class="ramp-labels"><span>0</span><span>20+</span></div>';
  html += '<ul class="legend"><li><i class="custom"></i>eigen gebied</li></ul>';
  $('legend').innerHTML = html;
}

/** Recomputes the class breaks from the loaded buurt features of the current filter. */
function updateBreaks() {
  const map = state.map;
  if (!map.getSource('buurten') || !map.isSourceLoaded('buurten')) return;
  const feats = map.querySourceFeatures('buurten', { sourceLayer: 'buurten' });
  if (!feats.length) return; // tiles not there yet (or an empty filter result: keep the old classes)
  const byCode = new Map();
  for (const f of feats) byCode.set(f.properties.code, f.properties);
  const vals = (prop) => [...byCode.values()].map((p) => (p[prop] === undefined || p[prop] === null ? NaN : Number(p[prop])));
  state.breaks = { count: quantileBreaks(vals('count')), rate: quantileBreaks(vals('rate')) };
  // The k of this filter's protection, from a "< k" label in the tiles (k can differ per category group).
  const lt = [...byCode.values()].map((p) => /^<\s*(\d+)$/.exec(String(p.count_label || ''))).find(Boolean);
  state.suppressedK = lt ? Number(lt[1]) : null;
  state.breaksDirty = false;
  state.breaksVersion = state.filterVersion;
  map.setPaintProperty('buurten-fill', 'fill-color', choroplethExpression(state.mode, state.breaks[state.mode]));
  renderLegend();
}

// ---------- map ----------
function initMap(meta) {
  const style = buildStyle(filterParams(), state.mode, []);
  // Callers without address-level rights get no incident points (nor their tiles).
  if (!(state.me && state.me.address_level)) {
    for (const l of style.layers) if (l.source === 'incidents') l.layout = { ...(l.layout || {}), visibility: 'none' };
  }
  const map = new maplibregl.Map({
    container: 'map',
    style,
    bounds: meta.bbox,
    fitBoundsOptions: { padding: 20 },
    attributionControl: { compact: true },
    preserveDrawingBuffer: true,
  });
  state.map = map;
  window.brandpunt.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  state.breaksDirty = true;
  const failed = new Set();
  map.on('load', renderLegend);
  map.on('error', (e) => {
    console.warn('kaartfout', e.sourceId || '', e.error && e.error.message);
    const src = e.sourceId || (e.source && e.source.id) || '';
    if (src === 'basemap') {
      if (!failed.has(src)) status('De achtergrondkaart van PDOK is niet bereikbaar; de kaart werkt zonder.', 'warn');
    } else if (!failed.has(src)) {
      status(`Kaartlaag ${src || ''} kon niet worden geladen${e.error && e.error.status ? ` (fout ${e.error.status})` : ''}.`, 'warn');
    }
    failed.add(src);
  });
  map.on('idle', () => {
    if (state.breaksDirty) updateBreaks();
    document.body.dataset.mapReady = '1';
  });

  let hovered = null;
  const setHover = (code) => {
    if (hovered === code) return;
    if (hovered) map.setFeatureState({ source: 'buurten', sourceLayer: 'buurten', id: hovered }, { hover: false });
    hovered = code;
    if (code) map.setFeatureState({ source: 'buurten', sourceLayer: 'buurten', id: code }, { hover: true });
  };
  const popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, className: 'hover-popup' });
  map.on('mousemove', 'buurten-fill', (e) => {
    if (state.drawer && state.drawer.active) return;
    const f = e.features && e.features[0];
    if (!f) return;
    setHover(f.properties.code);
    map.getCanvas().style.cursor = 'pointer';
    const p = f.properties;
    const n = p.suppressed ? `${esc(p.count_label || 'afgeschermd')} incidenten (te weinig om te tonen)` : `${fmtNum(p.count)} incidenten`;
    popup.setLngLat(e.lngLat).setHTML(`<strong>${esc(p.name)}</strong><br>${n}${p.rate !== undefined ? `, ${fmtNum(p.rate, 1)} per 1.000 inw.` : ''}`).addTo(map);
  });
  map.on('mousemove', 'incidents-points', (e) => {
    const f = e.features && e.features[0];
    if (!f || (state.drawer && state.drawer.active)) return;
    const p = f.properties;
    const cat = (state.meta.categories || []).find((c) => c.code === p.category);
    const when = p.begin ? new Date(p.begin).toLocaleString('nl-NL', { dateStyle: 'medium', timeStyle: 'short' }) : 'onbekend tijdstip';
    popup.setLngLat(e.lngLat).setHTML(`<strong>${esc(cat ? cat.label : p.category || 'Incident')}</strong><br>${esc(when)}`).addTo(map);
  });
  map.on('mouseleave', 'buurten-fill', () => {
    setHover(null);
    popup.remove();
    if (!(state.drawer && state.drawer.active)) map.getCanvas().style.cursor = '';
  });
  map.on('click', (e) => {
    if (state.drawer && (state.drawer.active || state.drawer.finished)) return;
    const layers = ['areas-fill', 'buurten-fill'].filter((l) => map.getLayer(l) && map.getLayoutProperty(l, 'visibility') !== 'none');
    const hits = map.queryRenderedFeatures(e.point, { layers });
    if (!hits.length) return;
    const f = hits[0];
    const level = f.layer.id === 'areas-fill' ? 'custom' : 'buurt';
    selectArea({ code: f.properties.code, name: f.properties.name, level });
  });

  // Layers this server does not offer (meta.layers) cannot be switched on.
  const offered = Array.isArray(meta.layers) ? new Set(meta.layers) : null;
  for (const input of document.querySelectorAll('input[data-layer]')) {
    const needs = { kde: 'kde', hotspots: 'hotspots', emerging: 'emerging' }[input.dataset.layer];
    if (offered && needs && !offered.has(needs)) {
      input.disabled = true;
      input.checked = false;
      input.parentElement.classList.add('disabled');
      input.parentElement.title = 'Deze laag levert de server (nog) niet.';
    }
  }
  for (const input of document.querySelectorAll('input[data-layer]')) {
    input.addEventListener('change', () => {
      for (const l of TOGGLES[input.dataset.layer] || []) map.setLayoutProperty(l, 'visibility', input.checked ? 'visible' : 'none');
      renderLegend();
    });
  }
  $('choropleth-mode').addEventListener('change', (e) => {
    state.mode = e.target.value;
    map.setPaintProperty('buurten-fill', 'fill-color', choroplethExpression(state.mode, state.breaks[state.mode]));
    renderLegend();
  });

  state.drawer = new PolygonDrawer(map, {
    onChange: (n) => {
      if (state.drawer && state.drawer.active) $('draw-help').textContent = n < 3 ? `Klik op de kaart om hoekpunten te plaatsen (${n} geplaatst, minstens 3).` : `${n} hoekpunten. Dubbelklik of kies Afronden.`;
    },
    onFinish: (geom) => {
      state.drawnGeometry = geom;
      $('draw-save').hidden = false;
      $('draw-finish').hidden = true;
      $('draw-help').textContent = 'Geef het gebied een naam en sla het op.';
      $('draw-name').focus();
    },
  });
  renderLegend();
  return map;
}

function setSelectedState(area, on) {
  const map = state.map;
  if (!area || !map) return;
  const target = area.level === 'custom' ? { source: 'areas', sourceLayer: 'areas', id: area.code } : area.level === 'buurt' ? { source: 'buurten', sourceLayer: 'buurten', id: area.code } : null;
  if (target) map.setFeatureState(target, { selected: on });
}

function selectArea(area) {
  setSelectedState(state.selected, false);
  state.selected = area;
  setSelectedState(area, true);
  if ($('area-pick').value !== area.code) $('area-pick').value = area.code;
  setView('kaart');
  showArea(area);
}

// ---------- area side panel ----------
async function showArea(area) {
  const el = $('side-kaart');
  const f = filterParams();
  const token = Symbol('area');
  state.areaToken = token;
  el.innerHTML = `<h2>${esc(area.name || area.code)}</h2><p class="hint">Laden…</p>`;
  const step = f.from && f.to && (Date.parse(f.to) - Date.parse(f.from)) / 86400000 <= 120 ? 'week' : 'month';
  const code = encodeURIComponent(area.code);
  const results = await Promise.allSettled([
    api.get(`/api/areas/${code}/stats`, f),
    api.get(`/api/areas/${code}/timeseries`, { ...f, step }),
    api.get(`/api/areas/${code}/hour-of-week`, f),
  ]);
  if (state.areaToken !== token) return;
  const [stats, ts, how] = results;
  if (stats.status === 'rejected') {
    el.innerHTML = `<h2>${esc(area.name || area.code)}</h2><p class="error">Cijfers konden niet worden geladen: ${esc(errorMessage(stats.reason))}</p>`;
    return;
  }
  const s = stats.value;
  const levelName = { buurt: 'Buurt', wijk: 'Wijk', gemeente: 'Gemeente', custom: 'Eigen gebied' }[s.level] || s.level;
  const prev = s.previous || {};
  const known = (v) => v !== null && v !== undefined;
  const changePct = known(s.count) && known(prev.count) && prev.count > 0 ? (s.count / prev.count - 1) * 100 : null;
  const ch = s.change;
  let changeText = 'geen vorige periode om mee te vergelijken';
  if (s.previous && (s.suppressed || prev.suppressed)) {
    // Withheld counts (small-count protection): no percentage, the labels instead.
    changeText = `niet te berekenen, te weinig incidenten om te tonen: ${esc(countText(s.count, s.count_label))} t.o.v. ${esc(countText(prev.count, prev.count_label))} (${fmtDate(prev.from)} – ${fmtDate(prev.to)})`;
  } else if (changePct !== null) {
    changeText = `${changePct >= 0 ? '+' : ''}${fmtNum(changePct, 0)} % t.o.v. ${fmtNum(prev.count)} (${fmtDate(prev.from)} – ${fmtDate(prev.to)})`;
  } else if (prev.count === 0) {
    changeText = `vorige periode (${fmtDate(prev.from)} – ${fmtDate(prev.to)}): 0 incidenten`;
  }
  let sig = '';
  if (ch && ch.rate_ratio !== null && ch.rate_ratio !== undefined) {
    const significant = ch.p !== null && ch.p < 0.05;
    const ci = ch.ci_low !== null && ch.ci_low !== undefined && ch.ci_high !== null && ch.ci_high !== undefined ? ` (95 %-BI ${fmtNum(ch.ci_low, 2)} – ${fmtNum(ch.ci_high, 2)})` : '';
    sig = `<p class="hint">Verhouding per dag ${fmtNum(ch.rate_ratio, 2)}${ci}${ch.p !== null && ch.p !== undefined ? `, p = ${fmtNum(ch.p, 3)}` : ''}: ${significant ? '<strong>significante verandering</strong>' : 'geen significante verandering'}.</p>`;
  }
  const cats = (s.categories || []).slice().sort((a, b) => (b.count ?? -1) - (a.count ?? -1)).slice(0, 8);
  const hiddenCats = cats.filter((c) => c.suppressed);
  let html = `<h2>${esc(s.name || area.name)}</h2>
    <p class="hint">${esc(levelName)} <code>${esc(s.code)}</code> · ${fmtDate(f.from)} – ${fmtDate(f.to)}</p>
    <dl class="figures">
      <div><dt>Incidenten</dt><dd id="panel-count" data-value="${esc(s.count)}" data-label="${esc(s.count_label)}" data-suppressed="${s.suppressed ? '1' : '0'}">${esc(countText(s.count, s.count_label))}</dd></div>
      <div><dt>Inwoners</dt><dd id="panel-inhabitants">${fmtNum(s.inhabitants)}</dd></div>
      <div><dt>Per 1.000 inwoners</dt><dd id="panel-rate">${s.rate === null || s.rate === undefined ? '–' : fmtNum(s.rate, 1)}</dd></div>
    </dl>
    <p id="panel-change" class="change">Verandering: ${changeText}</p>${sig}`;
  html += `<h3>Categorieën</h3>${barChart(cats.filter((c) => !c.suppressed).map((c) => ({ label: c.label || c.code, value: c.count })), { width: 330 })}`;
  if (hiddenCats.length) html += `<p class="hint" id="panel-hidden-categories">Te weinig om te tonen: ${hiddenCats.map((c) => `${esc(c.label || c.code)} (${esc(c.count_label || 'afgeschermd')})`).join(', ')}.</p>`;
  html += '<h3>Verloop</h3>';
  html += ts.status === 'fulfilled' && ts.value ? trendChart([{ name: s.name, points: ts.value.series || [] }], { width: 330, title: ts.value.step === 'week' ? 'Incidenten per week' : 'Incidenten per maand' }) : `<p class="hint">Verloop niet beschikbaar${ts.status === 'rejected' ? `: ${esc(errorMessage(ts.reason))}` : ''}.</p>`;
  html += '<h3>Uur van de week</h3>';
  // An area whose count is withheld (small-count protection) gets no time profile: the server withholds it whole.
  if (how.status === 'fulfilled' && how.value && how.value.suppressed) html += `<p class="hint" id="panel-how-suppressed">Te weinig incidenten om een tijdprofiel te tonen${s.count_label ? ` (${esc(s.count_label)})` : ''}.</p>`;
  else html += how.status === 'fulfilled' && how.value ? hourOfWeekChart(how.value.slots, { title: 'Gewogen incidenten per uur (aoristisch)' }) : `<p class="hint">Tijdprofiel niet beschikbaar${how.status === 'rejected' ? `: ${esc(errorMessage(how.reason))}` : ''}.</p>`;
  html += `<div class="buttons">
      <button type="button" id="panel-zoom">Inzoomen</button>
      <button type="button" id="panel-compare">Toevoegen aan vergelijking</button>
      ${s.level === 'custom' ? '<button type="button" id="panel-delete" class="danger">Verwijderen</button>' : ''}
    </div>`;
  el.innerHTML = html;
  $('panel-zoom').addEventListener('click', () => zoomToArea(area.code));
  $('panel-compare').addEventListener('click', () => { addToCompare(area.code); setView('vergelijken'); });
  if ($('panel-delete')) $('panel-delete').addEventListener('click', () => deleteCustom(area.code, s.name));
}

async function zoomToArea(code) {
  const all = [...state.areas.buurt, ...state.areas.wijk, ...state.areas.gemeente, ...state.areas.custom];
  const a = all.find((x) => x.code === code);
  if (a && a.bbox) state.map.fitBounds(a.bbox, { padding: 60, maxZoom: 16 });
}

// ---------- areas lists and custom areas ----------
async function loadAreas(levels = ['gemeente', 'wijk', 'buurt', 'custom']) {
  await Promise.all(levels.map(async (level) => {
    try {
      state.areas[level] = (await api.get('/api/areas', { level })) || [];
    } catch (e) {
      state.areas[level] = [];
      status(`Lijst met gebieden (${level}) niet beschikbaar: ${errorMessage(e)}`, 'warn');
    }
  }));
  renderCustomList();
  renderComparePicker();
}

function renderCustomList() {
  const list = state.areas.custom;
  $('custom-list').innerHTML = list.length
    ? list.map((a) => `<li data-code="${esc(a.code)}"><button type="button" class="link" data-act="open">${esc(a.name)}</button><button type="button" class="small" data-act="compare" title="Toevoegen aan vergelijking">+ vergelijk</button><button type="button" class="small danger custom-delete" data-act="delete" title="Verwijderen">×</button></li>`).join('')
    : '<li class="hint">Nog geen eigen gebieden.</li>';
}

function refreshAreasTiles() {
  const src = state.map.getSource('areas');
  if (src) src.setTiles([tileUrl('areas', { v: Date.now() })]);
}

async function saveDrawn(name) {
  const feature = { type: 'Feature', properties: { name }, geometry: state.drawnGeometry };
  try {
    const res = await api.post('/api/areas', feature);
    status(`Gebied "${res.name}" opgeslagen.`, 'ok');
    state.drawer.cancel();
    state.drawnGeometry = null;
    $('draw-panel').hidden = true;
    $('draw-start').hidden = false;
    $('draw-name').value = '';
    refreshAreasTiles();
    await loadAreas(['custom']);
    selectArea({ code: res.code, name: res.name, level: 'custom' });
  } catch (e) {
    status(`Opslaan mislukt: ${errorMessage(e)}`, 'error', true);
  }
}

async function deleteCustom(code, name) {
  if (!confirm(`Gebied "${name}" verwijderen?`)) return;
  try {
    await api.del(`/api/areas/${encodeURIComponent(code)}`);
    status(`Gebied "${name}" verwijderd.`, 'ok');
    state.compare = state.compare.filter((c) => c !== code);
    if (state.selected && state.selected.code === code) {
      state.selected = null;
      $('side-kaart').innerHTML = '<p class="hint">Klik op een buurt of een eigen gebied voor de cijfers.</p>';
    }
    refreshAreasTiles();
    await loadAreas(['custom']);
    renderCompareChips();
  } catch (e) {
    status(`Verwijderen mislukt: ${errorMessage(e)}`, 'error', true);
  }
}

function initDrawing() {
  // Callers who may not edit areas have no drawing controls (see applyMe).
  if (!$('draw-start')) return;
  $('draw-start').addEventListener('click', () => {
    setView('kaart');
    $('draw-panel').hidden = false;
    $('draw-save').hidden = true;
    $('draw-finish').hidden = false;
    $('draw-start').hidden = true;
    state.drawer.start();
    $('draw-help').textContent = 'Klik op de kaart om hoekpunten te plaatsen; dubbelklik of kies Afronden.';
  });
  $('draw-finish').addEventListener('click', () => {
    if (!state.drawer.finish()) status('Een gebied heeft minstens 3 hoekpunten nodig.', 'error');
  });
  $('draw-cancel').addEventListener('click', () => {
    state.drawer.cancel();
    state.drawnGeometry = null;
    $('draw-panel').hidden = true;
    $('draw-start').hidden = false;
  });
  $('draw-save').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('draw-name').value.trim();
    if (!name) { status('Geef het gebied een naam.', 'error'); return; }
    saveDrawn(name);
  });
  $('custom-list').addEventListener('click', (e) => {
    const btn = e.target.closest('button');
    const li = e.target.closest('li[data-code]');
    if (!btn || !li) return;
    const a = state.areas.custom.find((x) => x.code === li.dataset.code);
    if (!a) return;
    if (btn.dataset.act === 'open') { selectArea({ code: a.code, name: a.name, level: 'custom' }); zoomToArea(a.code); }
    if (btn.dataset.act === 'compare') { addToCompare(a.code); setView('vergelijken'); }
    if (btn.dataset.act === 'delete') deleteCustom(a.code, a.name);
  });
}

// ---------- compare view ----------
function areaName(code) {
  for (const l of ['custom', 'buurt', 'wijk', 'gemeente']) {
    const a = state.areas[l].find((x) => x.code === code);
    if (a) return a.name;
  }
  return code;
}
function optionsHtml(withCustom = true) {
  const groups = [['custom', 'Eigen gebieden'], ['gemeente', 'Gemeente'], ['wijk', 'Wijken'], ['buurt', 'Buurten']].filter(([l]) => withCustom || l !== 'custom');
  return groups.map(([l, title]) => state.areas[l].length ? `<optgroup label="${title}">${state.areas[l].map((a) => `<option value="${esc(a.code)}">${esc(a.name)} (${esc(a.code)})</option>`).join('')}</optgroup>` : '').join('');
}
function renderComparePicker() {
  $('area-pick').innerHTML = '<option value="">Klik op de kaart of kies hier…</option>' + optionsHtml(true);
  if (state.selected) $('area-pick').value = state.selected.code;
  $('compare-pick').innerHTML = optionsHtml(true);
  $('cmp-control').innerHTML = optionsHtml(false);
  renderCompareChips();
}
function renderCompareChips() {
  $('compare-chips').innerHTML = state.compare.length
    ? state.compare.map((c, i) => `<li data-code="${esc(c)}"><i style="background:${SERIES_COLOURS[i % SERIES_COLOURS.length]}"></i>${esc(areaName(c))} <button type="button" class="small" title="Weghalen">×</button></li>`).join('')
    : '<li class="hint">Kies twee of meer gebieden.</li>';
  const t = $('cmp-target');
  const cur = t.value;
  t.innerHTML = state.compare.map((c) => `<option value="${esc(c)}">${esc(areaName(c))}</option>`).join('');
  if (state.compare.includes(cur)) t.value = cur;
}
function addToCompare(code) {
  if (!state.compare.includes(code)) state.compare.push(code);
  renderCompareChips();
}
function shiftDays(d, n) {
  const t = new Date(`${d}T00:00:00Z`);
  t.setUTCDate(t.getUTCDate() + n);
  return t.toISOString().slice(0, 10);
}
function defaultComparePeriods() {
  const f = filterParams();
  const p = state.meta.period || {};
  const to = f.to || p.last;
  const from = f.from || p.first;
  if (!from || !to) return;
  const len = Math.round((Date.parse(to) - Date.parse(from)) / 86400000) + 1;
  let cFrom = from;
  let cTo = to;
  // Compare the filter period with the equally long period before it; when that lies before the data,
  // split the period in two halves.
  if (p.first && shiftDays(from, -len) < p.first) {
    const half = Math.floor(len / 2);
    cFrom = shiftDays(from, half);
    $('cmp-vs-from').value = from;
    $('cmp-vs-to').value = shiftDays(cFrom, -1);
  } else {
    $('cmp-vs-from').value = shiftDays(from, -len);
    $('cmp-vs-to').value = shiftDays(from, -1);
  }
  $('cmp-from').value = cFrom;
  $('cmp-to').value = cTo;
}

async function runCompare() {
  const out = $('compare-result');
  if (state.compare.length < 1) { out.innerHTML = '<p class="error">Kies minstens één gebied (liefst twee of meer).</p>'; return; }
  const f = filterParams();
  const body = {
    areas: state.compare,
    category: f.category || undefined,
    source: f.source || undefined,
    from: $('cmp-from').value,
    to: $('cmp-to').value,
    vs_from: $('cmp-vs-from').value,
    vs_to: $('cmp-vs-to').value,
  };
  for (const k of ['from', 'to', 'vs_from', 'vs_to']) {
    if (!body[k]) { out.innerHTML = `<p class="error">Vul alle periodedatums in (${k}).</p>`; return; }
  }
  if (body.from > body.to || body.vs_from > body.vs_to) { out.innerHTML = '<p class="error">Een begindatum ligt na de einddatum.</p>'; return; }
  if ($('cmp-intervention').checked) {
    const buffer = Number($('cmp-buffer').value);
    if (!Number.isFinite(buffer) || buffer < 0) { out.innerHTML = '<p class="error">De buffer moet een positief aantal meters zijn.</p>'; return; }
    body.intervention = { target: $('cmp-target').value, buffer_m: buffer, control: $('cmp-control').value };
  }
  out.innerHTML = '<p class="hint">Berekenen…</p>';
  let res;
  let fallback = false;
  try {
    res = await api.post('/api/compare', body);
    if (!res || !Array.isArray(res.areas)) throw new ApiError('geen vergelijking', 404);
  } catch (e) {
    // A server without POST /api/compare (404/405): counts per period from /stats, without CI and p.
    if (!(e instanceof ApiError) || ![404, 405].includes(e.status) || body.intervention) {
      out.innerHTML = `<p class="error">Vergelijken mislukt: ${esc(errorMessage(e))}</p>`;
      return;
    }
    try {
      res = await compareFromStats(body, f);
      fallback = true;
    } catch (e2) {
      out.innerHTML = `<p class="error">Vergelijken mislukt: ${esc(errorMessage(e2))}</p>`;
      return;
    }
  }
  const rows = res.areas || [];
  let html = fallback ? '<p class="hint">Deze server berekent nog geen vergelijking: aantallen en verhouding per dag uit de gebiedscijfers, zonder betrouwbaarheidsinterval en p.</p>' : '';
  html += `<p class="hint">Periode ${fmtDate(body.from)} – ${fmtDate(body.to)} vergeleken met ${fmtDate(body.vs_from)} – ${fmtDate(body.vs_to)}${f.category ? `; categorie ${esc(f.category)}` : ''}.</p>`;
  html += `<table id="compare-table" class="data"><thead><tr><th>Gebied</th><th>Incidenten</th><th>Vergelijkingsperiode</th><th>Per 1.000 inw.</th><th>Verhouding</th><th>95 %-BI</th><th>p</th></tr></thead><tbody>`;
  for (const r of rows) {
    const sig = r.p !== null && r.p !== undefined && r.p < 0.05;
    html += `<tr data-code="${esc(r.code)}"><td>${esc(r.name || r.code)}</td><td class="num" data-col="count">${esc(countText(r.count, r.count_label))}</td><td class="num" data-col="vs_count">${esc(countText(r.vs_count, r.vs_count_label))}</td><td class="num">${r.rate === null || r.rate === undefined ? '–' : fmtNum(r.rate, 1)}</td><td class="num">${fmtNum(r.rate_ratio, 2)}</td><td class="num">${r.ci_low === null || r.ci_low === undefined ? '–' : `${fmtNum(r.ci_low, 2)} – ${fmtNum(r.ci_high, 2)}`}</td><td class="num${sig ? ' sig' : ''}">${fmtNum(r.p, 3)}</td></tr>`;
  }
  html += '</tbody></table>';
  html += '<div class="charts">';
  // Withheld counts (small-count protection) get no bar: their label is in the table.
  html += barChart(rows.flatMap((r, i) => [
    { label: `${r.name || r.code}`, value: r.count, colour: SERIES_COLOURS[i % SERIES_COLOURS.length] },
    { label: `${r.name || r.code} (vgl.)`, value: r.vs_count, colour: '#bbbbbb' },
  ]).filter((b) => b.value !== null && b.value !== undefined), { width: 420, title: 'Incidenten: periode en vergelijkingsperiode' });
  html += trendChart(rows.map((r) => ({ name: r.name || r.code, points: r.series || [] })), { width: 480, height: 180, title: 'Verloop per gebied' });
  html += '</div>';
  if (res.wdq) html += wdqHtml(res.wdq);
  out.innerHTML = html;
}

/** Compare rows from GET /api/areas/{code}/stats for both periods (servers without POST /api/compare). */
async function compareFromStats(body, f) {
  const days = (a, b) => Math.round((Date.parse(b) - Date.parse(a)) / 86400000) + 1;
  const areas = await Promise.all(body.areas.map(async (code) => {
    const params = { category: f.category, source: f.source };
    const [now, vs] = await Promise.all([
      api.get(`/api/areas/${encodeURIComponent(code)}/stats`, { ...params, from: body.from, to: body.to }),
      api.get(`/api/areas/${encodeURIComponent(code)}/stats`, { ...params, from: body.vs_from, to: body.vs_to }),
    ]);
    const hidden = now.count === null || now.count === undefined || vs.count === null || vs.count === undefined;
    const ratio = !hidden && vs.count > 0 ? (now.count / days(body.from, body.to)) / (vs.count / days(body.vs_from, body.vs_to)) : null;
    return { code, name: now.name, count: now.count, count_label: now.count_label, vs_count: vs.count, vs_count_label: vs.count_label, rate: now.rate, rate_ratio: ratio, ci_low: null, ci_high: null, p: null, series: [] };
  }));
  return { areas, wdq: null };
}

function wdqHtml(w) {
  const label = {
    wdq: 'Weighted Displacement Quotient (WDQ)', success_measure: 'Succesmaat', buffer_measure: 'Buffermaat',
    reading: 'Interpretatie', gross_effect: 'Bruto effect', net_effect: 'Netto effect',
  };
  const rows = Object.entries(w).map(([k, v]) => `<tr><th>${esc(label[k] || k)}</th><td>${typeof v === 'number' ? fmtNum(v, 3) : esc(typeof v === 'object' ? JSON.stringify(v) : v)}</td></tr>`).join('');
  return `<h3>Interventie-evaluatie</h3><table class="data" id="wdq-table">${rows}</table>`;
}

function levelOf(code) {
  for (const l of ['custom', 'buurt', 'wijk', 'gemeente']) if (state.areas[l].some((a) => a.code === code)) return l;
  return 'buurt';
}

function initCompare() {
  $('area-pick').addEventListener('change', (e) => {
    const code = e.target.value;
    if (!code) return;
    selectArea({ code, name: areaName(code), level: levelOf(code) });
    zoomToArea(code);
  });
  $('compare-add').addEventListener('click', () => { const v = $('compare-pick').value; if (v) addToCompare(v); });
  $('compare-chips').addEventListener('click', (e) => {
    const li = e.target.closest('li[data-code]');
    if (e.target.tagName === 'BUTTON' && li) { state.compare = state.compare.filter((c) => c !== li.dataset.code); renderCompareChips(); }
  });
  $('compare-run').addEventListener('click', runCompare);
}

// ---------- patrol view ----------
function initPatrol() {
  const hours = [...Array(24).keys()];
  $('patrol-from').innerHTML = hours.map((h) => `<option value="${h}"${h === 20 ? ' selected' : ''}>${String(h).padStart(2, '0')}:00</option>`).join('');
  $('patrol-to').innerHTML = hours.map((h) => `<option value="${h}"${h === 2 ? ' selected' : ''}>${String(h).padStart(2, '0')}:00</option>`).join('');
  $('patrol-run').addEventListener('click', runPatrol);
}
function patrolParams() {
  const f = filterParams();
  return { day: $('patrol-day').value, from_hour: $('patrol-from').value, to_hour: $('patrol-to').value, top: 10, category: f.category, from: f.from, to: f.to, source: f.source };
}
async function runPatrol() {
  const out = $('patrol-result');
  const p = patrolParams();
  if (p.from_hour === p.to_hour) { out.innerHTML = '<p class="error">Begin- en einduur zijn gelijk: kies een tijdblok.</p>'; return; }
  out.innerHTML = '<p class="hint">Laden…</p>';
  let fc;
  try {
    fc = await api.get('/api/patrol', p);
  } catch (e) {
    out.innerHTML = `<p class="error">Surveillancelijst niet beschikbaar: ${esc(errorMessage(e))}</p>`;
    return;
  }
  state.patrolShown = true;
  const features = (fc && fc.features) || [];
  state.map.getSource('patrol').setData({ type: 'FeatureCollection', features });
  for (const m of state.patrolMarkers) m.remove();
  state.patrolMarkers = [];
  const bounds = new maplibregl.LngLatBounds();
  for (const f of features) {
    const c = centroid(f.geometry);
    if (!c) continue;
    bounds.extend(c);
    const el = document.createElement('div');
    el.className = 'rank-marker';
    el.textContent = f.properties.rank;
    state.patrolMarkers.push(new maplibregl.Marker({ element: el }).setLngLat(c).addTo(state.map));
  }
  if (!bounds.isEmpty()) state.map.fitBounds(bounds, { padding: 80, maxZoom: 16 });
  const dayName = $('patrol-day').selectedOptions[0].textContent;
  const block = `${$('patrol-from').selectedOptions[0].textContent}–${$('patrol-to').selectedOptions[0].textContent}`;
  const sorted = features.slice().sort((a, b) => a.properties.rank - b.properties.rank);
  out.innerHTML = `<h3>Top ${sorted.length} voor ${esc(dayName)} ${esc(block)}</h3>
    ${sorted.length ? `<ol id="patrol-list" class="patrol">${sorted.map((f) => { const q = f.properties; return `<li value="${esc(q.rank)}"><strong>${esc(q.street || 'Cel zonder straatnaam')}</strong><br><span class="hint">${fmtNum(q.count)} incidenten · score ${fmtNum(q.score, 2)}</span></li>`; }).join('')}</ol>` : '<p>Geen incidenten in dit tijdblok.</p>'}
    <div class="buttons noprint">
      <button type="button" id="patrol-print">Afdrukken</button>
      <a href="${esc(absUrl('/api/patrol', { ...p, format: 'html' }))}" target="_blank" rel="noopener">Printbare lijst (HTML)</a>
    </div>`;
  $('patrol-print').addEventListener('click', () => window.print());
}
function centroid(g) {
  if (!g) return null;
  const ring = g.type === 'Polygon' ? g.coordinates[0] : g.type === 'MultiPolygon' ? g.coordinates[0][0] : g.type === 'Point' ? [g.coordinates] : null;
  if (!ring || !ring.length) return null;
  const pts = ring.length > 1 && ring[0][0] === ring[ring.length - 1][0] && ring[0][1] === ring[ring.length - 1][1] ? ring.slice(0, -1) : ring;
  const sx = pts.reduce((s, p) => s + p[0], 0);
  const sy = pts.reduce((s, p) => s + p[1], 0);
  return [sx / pts.length, sy / pts.length];
}

// ---------- BI links ----------
function renderLinks() {
  const f = filterParams();
  const q = qs(f);
  const withQ = (path, extra) => absUrl(path, { ...extra, ...f });
  const tmpl = (layer, fmt) => `${absUrl(`/tiles/${layer}/`, {})}{z}/{x}/{y}.${fmt}${q ? `?${q}` : ''}`;
  const links = [
    ['Vectortegels buurten (MVT)', tmpl('buurten', 'mvt')],
    ['TileJSON buurten', withQ('/tiles/buurten.json')],
    ['Rastertegels buurten (PNG)', tmpl('buurten', 'png')],
    ['Rastertegels dichtheid (PNG)', tmpl('kde', 'png')],
    ['Rastertegels hotspots (PNG)', tmpl('hotspots', 'png')],
    ['WMS GetCapabilities', withQ('/wms', { SERVICE: 'WMS', REQUEST: 'GetCapabilities', VERSION: '1.3.0' })],
    ['GeoJSON per buurt', withQ('/api/stats.geojson', { level: 'buurt' })],
    ['TopoJSON per buurt (Power BI)', withQ('/api/stats.topojson', { level: 'buurt' })],
    ['CSV per buurt', withQ('/api/stats.csv', { level: 'buurt' })],
    ['Tableau TMS', withQ('/bi/tableau.tms')],
  ];
  $('links').innerHTML = links.map(([label, url], i) => `<div class="link-row"><label for="link-${i}">${esc(label)}</label><div class="row"><input id="link-${i}" readonly value="${esc(url)}"><button type="button" class="small" data-copy="link-${i}">Kopiëren</button></div></div>`).join('');
}
async function copyText(inputId, button) {
  const input = $(inputId);
  try {
    await navigator.clipboard.writeText(input.value);
  } catch (e) {
    input.select();
    document.execCommand('copy');
  }
  const old = button.textContent;
  button.textContent = 'Gekopieerd';
  setTimeout(() => { button.textContent = old; }, 1500);
}

// ---------- views ----------
function setView(view) {
  document.body.dataset.view = view;
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.view === view);
  $('compare-view').hidden = view !== 'vergelijken';
  $('side-kaart').hidden = !(view === 'kaart' || view === 'vergelijken');
  document.querySelector('.side-pick').hidden = $('side-kaart').hidden;
  $('side-surveillance').hidden = view !== 'surveillance';
  $('side-links').hidden = view !== 'links';
  if (view === 'vergelijken' && !$('cmp-from').value) defaultComparePeriods();
  if (view !== 'surveillance') {
    for (const m of state.patrolMarkers) m.remove();
    state.patrolMarkers = [];
    if (state.map && state.map.getSource('patrol')) state.map.getSource('patrol').setData({ type: 'FeatureCollection', features: [] });
    state.patrolShown = false;
  }
  if (state.map) state.map.resize();
}

// ---------- login ----------
const ROLE_NAMES = { viewer: 'kijker', analyst: 'analist', admin: 'beheerder' };

/** GET /api/me; `null` when a login is required. An ended session is cleared by the server: ask once more. */
async function loadMe() {
  for (let i = 0; i < 2; i++) {
    try {
      return await api.get('/api/me');
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
    }
  }
  return null;
}

/** Shows who is logged in (or the login form) and removes controls the caller may not use. */
function applyMe(me) {
  state.me = me;
  window.brandpunt.me = me;
  const loggedIn = Boolean(me && !me.anonymous);
  $('login-form').hidden = loggedIn;
  $('who').hidden = !loggedIn;
  if (loggedIn) {
    $('who-name').textContent = me.user;
    $('who-role').textContent = `(${ROLE_NAMES[me.role] || me.role})`;
  }
  for (const el of document.querySelectorAll('[data-needs]')) {
    if (!(me && me[el.dataset.needs])) el.remove();
  }
  const canEdit = Boolean(me && me.edit_areas);
  document.body.classList.toggle('no-edit', !canEdit);
  $('draw-login-hint').hidden = canEdit;
}

function initLogin() {
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('login-error').textContent = '';
    const user = $('login-user').value.trim();
    const password = $('login-password').value;
    if (!user || !password) {
      $('login-error').textContent = 'Vul gebruikersnaam en wachtwoord in.';
      return;
    }
    $('login-submit').disabled = true;
    try {
      await api.post('/api/login', { user, password });
      location.reload();
    } catch (err) {
      $('login-password').value = '';
      $('login-error').textContent = err instanceof ApiError && err.status === 401
        ? 'Onjuiste gebruikersnaam of wachtwoord.'
        : errorMessage(err);
    } finally {
      $('login-submit').disabled = false;
    }
  });
  $('logout').addEventListener('click', async () => {
    try {
      await api.post('/api/logout');
    } catch (e) {
      status(`Uitloggen mislukt: ${errorMessage(e)}`, 'error', true);
      return;
    }
    location.reload();
  });
}

// ---------- start ----------
async function main() {
  initLogin();
  let me;
  try {
    me = await loadMe();
  } catch (e) {
    status(`De kaart kan niet starten: ${errorMessage(e)}`, 'error', true);
    return;
  }
  applyMe(me);
  if (!me) {
    status('Log in om de kaart te zien.', 'warn', true);
    document.body.dataset.ready = 'login';
    return;
  }
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => setView(b.dataset.view));
  $('links').addEventListener('click', (e) => { if (e.target.dataset.copy) copyText(e.target.dataset.copy, e.target); });
  if (typeof maplibregl === 'undefined') {
    status('De kaartbibliotheek (MapLibre) kon niet worden geladen.', 'error', true);
    return;
  }
  let meta;
  try {
    meta = await api.get('/api/meta');
  } catch (e) {
    status(`De kaart kan niet starten: ${errorMessage(e)}`, 'error', true);
    return;
  }
  state.meta = meta;
  $('gemeente-naam').textContent = meta.name ? `– ${meta.name}` : '';
  document.title = `brandpunt – ${meta.name || 'kaart'}`;
  buildFilterPanel(meta);
  initMap(meta);
  initDrawing();
  initCompare();
  initPatrol();
  renderLinks();
  await loadAreas();
  document.body.dataset.ready = '1';
}

main().catch((e) => status(`Onverwachte fout: ${e.message}`, 'error', true));
