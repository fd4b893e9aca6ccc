// The Dashboard tab ("dashboard veiligheid"): a thin client of GET /api/dashboard (key figures per category
// group against the previous period and a year earlier, the trend per group with the seasonal baseline, the
// ranking of buurten and wijken, this month's opvallend list with a thumbnail map, the hour-of-week heat map and
// the scope's kerncijfers) and of GET /api/enrichment/correlation (the scatter plot of a kerncijfer or indicator
// against the counts across buurten). It uses the map's filter; the scope picker restricts it to a gemeente or
// wijk. Printable: the print stylesheet (style.css) shows the dashboard alone. Every number shown comes from the
// API as it answered (viewers: protected counts with their labels).

import { api, absUrl, XLSX_LABEL } from './api.js';
import { trendChart, hourOfWeekChart, esc, fmtNum, countText } from './charts.js';
import { zoomToArea } from './areas.js';
import { fmtDate } from './dates.js';
import { filterParams } from './filters.js';
import { state, subscribe, selectArea } from './state.js';
import { errorMessage } from './status.js';

const $ = (id) => document.getElementById(id);

const known = (v) => v !== null && v !== undefined;

// The latest request: an older answer arriving later is dropped.
let latest = null;
// The filter version the shown dashboard was made for (null: none yet).
let shownFor = null;
let data = null;
let rankLevel = 'buurt';
let sortKey = 'count';
let sortDir = -1;
// Buurt geometry (WGS84) for the thumbnail map, loaded once: [{code, rings}].
let buurtShapes = null;

/** The dashboard's query: the map's filter and the chosen scope. */
export function dashboardParams() {
  const scope = $('dash-scope') ? $('dash-scope').value : '';
  return { ...filterParams(), area: scope || undefined };
}

/** A change as "+12 % (95 %-BI −3 % tot +30 %)"; '–' when there is none. */
function changeText(c) {
  if (!c || !known(c.rate_ratio)) return '–';
  const pct = (r) => (known(r) ? `${r >= 1 ? '+' : '−'}${fmtNum(Math.abs(r - 1) * 100, 0)} %` : 'onbegrensd');
  return `${pct(c.rate_ratio)} (95 %-BI ${pct(c.ci_low)} tot ${pct(c.ci_high)})`;
}

/** Whether a change's interval excludes "no change". */
function significant(c) {
  return c && known(c.ci_low) && (c.ci_low > 1 || (known(c.ci_high) && c.ci_high < 1));
}

function figureText(f) {
  if (!f) return '–';
  if (f.no_data) return 'geen gegevens';
  return countText(f.count, f.count_label);
}

function figuresHtml(d) {
  const period = (p) => (p ? `${fmtDate(p.from)} – ${fmtDate(p.to)}` : '–');
  let html = `<table id="dash-figures" class="data"><thead><tr><th>Groep</th><th>Incidenten</th><th>Per 1.000 inw.</th>
    <th>Vorige periode<br><span class="n">${esc(period(d.previous))}</span></th><th>Verandering</th>
    <th>Jaar eerder<br><span class="n">${esc(period(d.year_before))}</span></th><th>Verandering</th></tr></thead><tbody>`;
  for (const g of d.groups) {
    const cell = (col, value, text, extra = '') => `<td class="num${extra}" data-col="${col}" data-value="${esc(known(value) ? value : '')}">${esc(text)}</td>`;
    html += `<tr data-group="${esc(g.name)}"><th>${esc(g.label)}</th>`;
    html += cell('count', g.current.count, countText(g.current.count, g.current.count_label));
    html += cell('rate', g.current.rate, known(g.current.rate) ? fmtNum(g.current.rate, 2) : '–');
    html += cell('previous', g.previous && g.previous.count, figureText(g.previous));
    html += cell('change_previous', g.change_previous && g.change_previous.rate_ratio, changeText(g.change_previous), significant(g.change_previous) ? ' sig' : '');
    html += cell('year_before', g.year_before && g.year_before.count, figureText(g.year_before));
    html += cell('change_year_before', g.change_year_before && g.change_year_before.rate_ratio, changeText(g.change_year_before), significant(g.change_year_before) ? ' sig' : '');
    html += '</tr>';
  }
  html += '</tbody></table>';
  html += `<p class="hint" id="dash-method">Verandering: ${esc(d.change_method)}. Vetgedrukt: het interval sluit "geen verandering" uit.</p>`;
  return html;
}

function trendHtml(d) {
  const t = d.trend;
  let html = `<div class="charts" id="dash-trend">`;
  for (const g of t.groups) {
    const counts = g.series.map((s) => ({ period: s.period, count: s.count, count_label: s.count_label }));
    // A step without a (publishable) baseline breaks the baseline's line.
    const expected = g.series.map((s) => ({ period: s.period, count: known(s.expected) ? Math.round(s.expected * 10) / 10 : null, count_label: 'geen basis' }));
    html += `<div class="multiple" data-group="${esc(g.name)}">${trendChart([
      { name: 'incidenten', points: counts },
      { name: 'verwacht (seizoensbasis)', points: expected },
    ], { width: 300, height: 150, title: g.label })}</div>`;
  }
  html += '</div>';
  html += `<p class="hint">Per ${t.step === 'week' ? 'week' : 'maand'} van ${fmtDate(t.from)} tot en met ${fmtDate(t.to)}; verwacht: ${esc(t.baseline)}.</p>`;
  return html;
}

function sortRows(rows) {
  const val = (r) => {
    switch (sortKey) {
      case 'name': return r.name || r.code;
      case 'rate': return r.rate;
      case 'previous': return r.previous ? r.previous.count : null;
      case 'change': return r.change ? r.change.rate_ratio : null;
      case 'striking': return r.striking || null;
      default: return r.count;
    }
  };
  return rows.slice().sort((a, b) => {
    const x = val(a);
    const y = val(b);
    if (!known(x) && !known(y)) return 0;
    if (!known(x)) return 1; // withheld and unknown values last, in either direction
    if (!known(y)) return -1;
    return (typeof x === 'string' ? x.localeCompare(y, 'nl') : x - y) * sortDir;
  });
}

const STRIKING = { increase: '↑ meer dan verwacht', decrease: '↓ minder dan verwacht' };

function rankingHtml(d) {
  const rows = sortRows(d.ranking[rankLevel] || []);
  const th = (key, label) => `<th data-sort="${key}" class="sortable${sortKey === key ? (sortDir < 0 ? ' desc' : ' asc') : ''}" aria-sort="${sortKey === key ? (sortDir < 0 ? 'descending' : 'ascending') : 'none'}">${label}</th>`;
  let html = `<div class="row noprint"><label><input type="radio" name="dash-level" value="buurt"${rankLevel === 'buurt' ? ' checked' : ''}> Buurten</label>
    <label><input type="radio" name="dash-level" value="wijk"${rankLevel === 'wijk' ? ' checked' : ''}> Wijken</label>
    <span class="hint">Klik op een kolomkop om te sorteren, op een rij om het gebied op de kaart te openen.</span></div>`;
  html += `<table id="dash-ranking" class="data" data-level="${rankLevel}"><thead><tr>${th('name', 'Gebied')}${th('count', 'Incidenten')}${th('rate', 'Per 1.000 inw.')}${th('previous', 'Vorige periode')}${th('change', 'Verandering')}${th('striking', 'Opvallend deze maand')}</tr></thead><tbody>`;
  for (const r of rows) {
    html += `<tr data-code="${esc(r.code)}" data-level="${esc(r.level)}" tabindex="0">
      <td>${esc(r.name || r.code)}</td>
      <td class="num" data-col="count" data-value="${esc(known(r.count) ? r.count : '')}">${esc(countText(r.count, r.count_label))}</td>
      <td class="num" data-col="rate">${known(r.rate) ? fmtNum(r.rate, 2) : '–'}</td>
      <td class="num" data-col="previous">${esc(figureText(r.previous))}</td>
      <td class="num${significant(r.change) ? ' sig' : ''}" data-col="change">${esc(changeText(r.change))}</td>
      <td data-col="striking">${esc(STRIKING[r.striking] || '')}</td></tr>`;
  }
  html += '</tbody></table>';
  return html;
}

/** Projects WGS84 rings into an SVG of `w` x `h` px (equirectangular, scaled by cos(latitude)). */
function thumbnailSvg(shapes, colourOf, w = 320, h = 260) {
  if (!shapes.length) return '<p class="hint">Geen buurten om te tekenen.</p>';
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const s of shapes) for (const poly of s.rings) for (const ring of poly) for (const [x, y] of ring) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
  const scale = Math.min(w / Math.max(1e-9, (x1 - x0) * k), h / Math.max(1e-9, y1 - y0));
  const px = (x) => ((x - x0) * k * scale).toFixed(1);
  const py = (y) => ((y1 - y) * scale).toFixed(1);
  let svg = `<svg id="dash-thumbnail" class="chart" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="Kaart van de opvallende buurten">`;
  for (const s of shapes) {
    const d = s.rings.map((poly) => poly.map((ring) => `M${ring.map(([x, y]) => `${px(x)},${py(y)}`).join('L')}Z`).join('')).join('');
    const { fill, title } = colourOf(s.code);
    svg += `<path d="${d}" fill="${fill}" stroke="#fff" stroke-width="0.6" fill-rule="evenodd" data-code="${esc(s.code)}"><title>${esc(title)}</title></path>`;
  }
  return svg + '</svg>';
}

async function loadShapes() {
  if (buurtShapes) return buurtShapes;
  const gj = await api.get('/api/stats.geojson', { level: 'buurt' });
  buurtShapes = (gj.features || []).map((f) => ({
    code: f.properties.code,
    name: f.properties.name,
    rings: f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates,
  }));
  return buurtShapes;
}

/** The monthly analysis of `month` (its tables: total, months, buurten, categories) as an Excel download. */
function monthlyXlsxLink(month) {
  if (!month) return '';
  const f = filterParams();
  const href = absUrl('/api/report/monthly', { month, category: f.category, source: f.source, format: 'xlsx' });
  return `<div class="buttons noprint"><a id="dash-monthly-xlsx" class="button" href="${esc(href)}" download>${esc(XLSX_LABEL)}</a></div>`;
}

function strikingHtml(d) {
  const m = d.month || {};
  let html = `<p class="hint">Maand ${esc(m.month || '')}: buurten met significant meer of minder incidenten dan hun eigen verleden doet verwachten (Poisson-toets, Benjamini-Hochberg 5 %).</p>`;
  if (!d.striking.length) return `${html}<p id="dash-striking-none">Deze maand valt geen buurt op.</p>${monthlyXlsxLink(m.month)}`;
  html += '<ol id="dash-striking">';
  for (const a of d.striking) {
    html += `<li data-code="${esc(a.code)}" data-direction="${esc(a.direction)}"><strong>${esc(a.name || a.code)}</strong>: ${esc(countText(a.observed, a.count_label))} incidenten, verwacht ${fmtNum(a.expected, 1)} (${esc(STRIKING[a.direction] || a.direction)})</li>`;
  }
  return `${html}</ol>${monthlyXlsxLink(m.month)}`;
}

async function drawThumbnail(d, token) {
  const el = $('dash-map');
  try {
    const shapes = await loadShapes();
    if (latest !== token) return;
    const inScope = new Set((d.ranking.buurt || []).map((r) => r.code));
    const dir = new Map(d.striking.map((a) => [a.code, a.direction]));
    const names = new Map((d.ranking.buurt || []).map((r) => [r.code, r.name]));
    el.innerHTML = thumbnailSvg(shapes.filter((s) => inScope.has(s.code)), (code) => {
      const di = dir.get(code);
      const fill = di === 'increase' ? '#c0392b' : di === 'decrease' ? '#2166ac' : '#e6e6e0';
      return { fill, title: `${names.get(code) || code}${di ? `: ${STRIKING[di]}` : ''}` };
    }) + '<ul class="legend inline"><li><i style="background:#c0392b"></i>meer dan verwacht</li><li><i style="background:#2166ac"></i>minder dan verwacht</li><li><i style="background:#e6e6e0"></i>niet opvallend</li></ul>';
  } catch (e) {
    el.innerHTML = `<p class="hint">Kaartje niet beschikbaar: ${esc(errorMessage(e))}</p>`;
  }
}

function enrichmentHtml(d) {
  const e = d.enrichment && d.enrichment.scope;
  if (!e) return '<p class="hint">Kies een gemeente of wijk als gebied voor de kerncijfers.</p>';
  const name = (d.enrichment.scope_name && d.enrichment.scope_name !== (d.scope || {}).name) ? `<p class="hint">${esc(d.enrichment.scope_name)}</p>` : '';
  const labels = new Map((d.enrichment.columns || []).map((c) => [c.key, c.label]));
  const rows = [
    ...Object.entries(e.cbs || {}).map(([k, v]) => [labels.get(`cbs:${k}`) || k, v, 'CBS']),
    ...Object.entries(e.indicators || {}).map(([k, v]) => [labels.get(`indicator:${k}`) || k, v, 'gemeente']),
  ];
  if (!rows.length) return '<p class="hint">Geen kerncijfers voor dit gebied.</p>';
  return `${name}<table class="data" id="dash-kerncijfers"><tbody>${rows.map(([l, v, src]) => `<tr><th>${esc(l)}</th><td class="num">${fmtNum(v, Number.isInteger(v) ? 0 : 1)}</td><td class="n">${src}</td></tr>`).join('')}</tbody></table>`;
}

function scatterSvg(c, w = 420, h = 280) {
  const pts = c.points.filter((p) => known(p.x) && known(p.y));
  if (!pts.length) return '<p class="hint">Geen buurten met beide waarden.</p>';
  const pad = { l: 44, r: 10, t: 10, b: 34 };
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
  const sx = (v) => pad.l + ((v - x0) / Math.max(1e-9, x1 - x0)) * (w - pad.l - pad.r);
  const sy = (v) => pad.t + (1 - (v - y0) / Math.max(1e-9, y1 - y0)) * (h - pad.t - pad.b);
  let svg = `<svg id="dash-scatter-svg" class="chart" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="Spreidingsdiagram">`;
  svg += `<line class="grid" x1="${pad.l}" x2="${w - pad.r}" y1="${sy(y0)}" y2="${sy(y0)}"/><line class="grid" x1="${pad.l}" x2="${pad.l}" y1="${pad.t}" y2="${h - pad.b}"/>`;
  for (const v of [y0, (y0 + y1) / 2, y1]) svg += `<text class="ax" x="${pad.l - 4}" y="${sy(v) + 3}" text-anchor="end">${fmtNum(v, v % 1 ? 1 : 0)}</text>`;
  for (const v of [x0, (x0 + x1) / 2, x1]) svg += `<text class="ax" x="${sx(v)}" y="${h - pad.b + 12}" text-anchor="middle">${fmtNum(v, v % 1 ? 1 : 0)}</text>`;
  svg += `<text class="ax" x="${(w + pad.l) / 2}" y="${h - 4}" text-anchor="middle">${esc(c.x.label)}</text>`;
  for (const p of pts) svg += `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.5" fill="#1f5fa8" fill-opacity="0.7" data-code="${esc(p.code)}"><title>${esc(p.name)}: ${fmtNum(p.x, 1)}; ${fmtNum(p.y, 2)}</title></circle>`;
  return svg + '</svg>';
}

async function loadScatter() {
  const el = $('dash-scatter');
  const x = $('dash-x').value;
  if (!x) { el.innerHTML = '<p class="hint">Geen kerncijfers of indicatoren beschikbaar.</p>'; return; }
  const token = latest;
  try {
    const c = await api.get('/api/enrichment/correlation', { ...dashboardParams(), x, y: $('dash-y').value, level: 'buurt' });
    if (latest !== token) return;
    const r = (v) => (known(v) ? fmtNum(v, 2) : 'niet te bepalen');
    el.innerHTML = `${scatterSvg(c)}<p id="dash-corr" data-n="${c.n}" data-pearson="${esc(known(c.pearson) ? c.pearson : '')}" data-spearman="${esc(known(c.spearman) ? c.spearman : '')}">Pearson r = ${r(c.pearson)}, Spearman ρ = ${r(c.spearman)}, over n = ${fmtNum(c.n)} buurten${c.protected ? ' (buurten met afgeschermde aantallen tellen niet mee)' : ''}.</p>`;
  } catch (e) {
    el.innerHTML = `<p class="error">Spreidingsdiagram niet beschikbaar: ${esc(errorMessage(e))}</p>`;
  }
}

function render(d, token) {
  const scope = d.scope || {};
  const period = d.period || {};
  $('dash-title').textContent = `Dashboard veiligheid – ${scope.name || ''}`;
  $('dash-sub').textContent = `Periode ${fmtDate(period.from)} – ${fmtDate(period.to)}${d.category && d.category.length ? `; categorieën ${d.category.join(', ')}` : ''}${d.protected ? `; kleine aantallen (< ${d.min_count}) zijn afgeschermd` : ''}.`;
  $('dash-figures-wrap').innerHTML = figuresHtml(d);
  $('dash-trend-wrap').innerHTML = trendHtml(d);
  $('dash-ranking-wrap').innerHTML = rankingHtml(d);
  $('dash-striking-wrap').innerHTML = strikingHtml(d);
  $('dash-how').innerHTML = d.hour_of_week.suppressed
    ? '<p class="hint" id="dash-how-suppressed">Te weinig incidenten om een tijdprofiel te tonen.</p>'
    : hourOfWeekChart(d.hour_of_week.slots, { title: 'Per uur (aoristisch gewogen)' });
  $('dash-enrichment').innerHTML = enrichmentHtml(d);
  const cols = (d.enrichment && d.enrichment.columns) || [];
  const cur = $('dash-x').value;
  $('dash-x').innerHTML = cols.map((c) => `<option value="${esc(c.key)}">${esc(c.label)}${c.source === 'indicator' ? ' (gemeente)' : ' (CBS)'}</option>`).join('');
  const firstIndicator = cols.find((c) => c.source === 'indicator');
  $('dash-x').value = cols.some((c) => c.key === cur) ? cur : (firstIndicator ? firstIndicator.key : (cols[0] ? cols[0].key : ''));
  return drawThumbnail(d, token);
}

async function loadDashboard() {
  if (state.view !== 'dashboard') return;
  const token = Symbol('dashboard');
  latest = token;
  const version = state.filterVersion;
  document.body.dataset.dashboard = 'loading';
  $('dash-error').textContent = '';
  let d;
  try {
    d = await api.get('/api/dashboard', dashboardParams());
  } catch (e) {
    if (latest !== token) return;
    $('dash-error').textContent = `Dashboard niet beschikbaar: ${errorMessage(e)}`;
    document.body.dataset.dashboard = 'error';
    return;
  }
  if (latest !== token) return;
  data = d;
  shownFor = version;
  await Promise.all([render(d, token), loadScatter()]);
  if (latest === token) document.body.dataset.dashboard = 'ready';
}

function renderScope() {
  const sel = $('dash-scope');
  const cur = sel.value;
  const opt = (a) => `<option value="${esc(a.code)}">${esc(a.name)}</option>`;
  sel.innerHTML = `<option value="">${esc((state.meta && state.meta.name) || 'Hele gebied')} (alles)</option>`
    + (state.areas.gemeente.length > 1 ? `<optgroup label="Gemeenten">${state.areas.gemeente.map(opt).join('')}</optgroup>` : '')
    + (state.areas.wijk.length ? `<optgroup label="Wijken">${state.areas.wijk.map(opt).join('')}</optgroup>` : '');
  sel.value = [...sel.options].some((o) => o.value === cur) ? cur : '';
}

/** The dashboard loads when its tab opens (again after a filter change) and follows its own controls. */
export function initDashboard() {
  subscribe('view', (view) => { if (view === 'dashboard' && shownFor !== state.filterVersion) loadDashboard(); });
  subscribe('filter', () => { if (state.view === 'dashboard') loadDashboard(); else shownFor = null; });
  subscribe('areas', renderScope);
  $('dash-scope').addEventListener('change', loadDashboard);
  $('dash-x').addEventListener('change', loadScatter);
  $('dash-y').addEventListener('change', loadScatter);
  $('dash-print').addEventListener('click', () => window.print());
  $('dash-ranking-wrap').addEventListener('click', (e) => {
    if (!data) return;
    const th = e.target.closest('th[data-sort]');
    if (th) {
      const key = th.dataset.sort;
      sortDir = sortKey === key ? -sortDir : (key === 'name' ? 1 : -1);
      sortKey = key;
      $('dash-ranking-wrap').innerHTML = rankingHtml(data);
      return;
    }
    const tr = e.target.closest('tr[data-code]');
    if (tr) {
      const row = (data.ranking[rankLevel] || []).find((r) => r.code === tr.dataset.code);
      selectArea({ code: tr.dataset.code, name: row ? row.name : tr.dataset.code, level: tr.dataset.level });
      zoomToArea(tr.dataset.code);
    }
  });
  $('dash-ranking-wrap').addEventListener('change', (e) => {
    if (e.target.name !== 'dash-level' || !data) return;
    rankLevel = e.target.value;
    $('dash-ranking-wrap').innerHTML = rankingHtml(data);
  });
}
