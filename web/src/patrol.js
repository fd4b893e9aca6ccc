// The patrol view: for a day and a time block, the top 10 cells of GET /api/patrol on the map (numbered
// markers) and as a printable list. The list follows the filter while the view is open and is taken off
// the map when the view is left. "toon verwachting" adds the top 5 % forecast cells of the coming week
// (GET /api/forecast, method prospective) to the map and lists them with their streets.

import { api, absUrl, XLSX_LABEL } from './api.js';
import { esc, fmtNum } from './charts.js';
import { filterParams } from './filters.js';
import { fetchForecast, methodLabel } from './forecast.js';
import { state, subscribe, setPatrolShown } from './state.js';
import { errorMessage } from './status.js';

const $ = (id) => document.getElementById(id);

// The numbered markers on the map (MapLibre objects of the list shown now).
let markers = [];

function clearMarkers() {
  for (const m of markers) m.remove();
  markers = [];
}

function patrolParams() {
  const f = filterParams();
  return { day: $('patrol-day').value, from_hour: $('patrol-from').value, to_hour: $('patrol-to').value, top: 10, category: f.category, from: f.from, to: f.to, source: f.source };
}

/** A point inside a cell for its marker: the mean of its outer ring's vertices. */
function centroid(g) {
  if (!g) return null;
  const ring = g.type === 'Polygon' ? g.coordinates[0] : g.type === 'MultiPolygon' ? g.coordinates[0][0] : g.type === 'Point' ? [g.coordinates] : null;
  if (!ring || !ring.length) return null;
  const pts = ring.length > 1 && ring[0][0] === ring[ring.length - 1][0] && ring[0][1] === ring[ring.length - 1][1] ? ring.slice(0, -1) : ring;
  const sx = pts.reduce((s, p) => s + p[0], 0);
  const sy = pts.reduce((s, p) => s + p[1], 0);
  return [sx / pts.length, sy / pts.length];
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
  setPatrolShown(true);
  const features = (fc && fc.features) || [];
  state.map.getSource('patrol').setData({ type: 'FeatureCollection', features });
  clearMarkers();
  const bounds = new maplibregl.LngLatBounds();
  for (const f of features) {
    const c = centroid(f.geometry);
    if (!c) continue;
    bounds.extend(c);
    const el = document.createElement('div');
    el.className = 'rank-marker';
    el.textContent = f.properties.rank;
    markers.push(new maplibregl.Marker({ element: el }).setLngLat(c).addTo(state.map));
  }
  if (!bounds.isEmpty()) state.map.fitBounds(bounds, { padding: 80, maxZoom: 16 });
  const dayName = $('patrol-day').selectedOptions[0].textContent;
  const block = `${$('patrol-from').selectedOptions[0].textContent}–${$('patrol-to').selectedOptions[0].textContent}`;
  const sorted = features.slice().sort((a, b) => a.properties.rank - b.properties.rank);
  out.innerHTML = `<h3>Top ${sorted.length} voor ${esc(dayName)} ${esc(block)}</h3>
    ${sorted.length ? `<ol id="patrol-list" class="patrol">${sorted.map((f) => patrolItem(f.properties, dayName)).join('')}</ol>
    <p class="hint" id="patrol-rule">Verwacht per ${esc(dayName)}: de score over de hele periode${fc.period ? ` (${esc(fc.period.from)} t/m ${esc(fc.period.to)})` : ''} gedeeld door het aantal keren dat dit tijdblok in die periode begint (${esc(fmtNum(fc.occurrences))} keer).</p>` : '<p>Geen incidenten in dit tijdblok.</p>'}
    <div class="buttons noprint">
      <button type="button" id="patrol-print">Afdrukken</button>
      <a id="patrol-print-map" href="${esc(absUrl('/api/patrol', { ...p, format: 'html' }))}" target="_blank" rel="noopener">Printbare kaart en lijst</a>
      <a id="patrol-xlsx" class="button" href="${esc(absUrl('/api/patrol', { ...p, format: 'xlsx' }))}" download>${esc(XLSX_LABEL)}</a>
    </div>`;
  $('patrol-print').addEventListener('click', () => window.print());
}

/** One list item of a patrol cell: its street (or why there is none), the expected number per occurrence of
 * the block, and the period's count and score; withheld counts as their label. */
export function patrolItem(q, dayName) {
  const street = q.street
    ? `<strong>${esc(q.street)}</strong>`
    : `<strong>Geen straatnaam</strong> <span class="street-note">(${esc(q.street_note || 'onbekend')})</span>`;
  const detail = q.suppressed
    ? `${esc(q.count_label)} incidenten`
    : `verwacht <span class="per-week">${fmtNum(q.per_week, 2)}</span> per ${esc(dayName)} · ${fmtNum(q.count)} incidenten in de periode (score ${fmtNum(q.score, 1)})`;
  return `<li value="${esc(q.rank)}">${street}<br><span class="hint">${detail}</span></li>`;
}

function clearForecast() {
  if (state.map && state.map.getSource('patrol-forecast')) state.map.getSource('patrol-forecast').setData({ type: 'FeatureCollection', features: [] });
  $('patrol-forecast-result').innerHTML = '';
}

// Answers of superseded forecast requests are dropped.
let forecastAsked = 0;

/** Draws and lists the forecast cells while "toon verwachting" is ticked; clears them otherwise. */
async function showForecast() {
  const mine = ++forecastAsked;
  if (!$('patrol-forecast').checked) { clearForecast(); return; }
  const out = $('patrol-forecast-result');
  out.innerHTML = '<p class="hint">Verwachting laden…</p>';
  let fc;
  try {
    fc = await fetchForecast('prospective', 5);
  } catch (e) {
    if (mine === forecastAsked) out.innerHTML = `<p class="error">Verwachting niet beschikbaar: ${esc(errorMessage(e))}</p>`;
    return;
  }
  if (mine !== forecastAsked || !$('patrol-forecast').checked) return;
  const features = (fc && fc.features) || [];
  state.map.getSource('patrol-forecast').setData({ type: 'FeatureCollection', features });
  const rows = features.map((f) => {
    const q = f.properties;
    const risk = q.suppressed ? esc(q.count_label || 'afgeschermd') : `${fmtNum((q.share || 0) * 100, 1)} % van de verwachting`;
    const street = q.street ? `<strong>${esc(q.street)}</strong>` : `<strong>Geen straatnaam</strong> <span class="street-note">(${esc(q.street_note || 'onbekend')})</span>`;
    return `<li value="${esc(q.rank)}">${street}<br><span class="hint">${risk}</span></li>`;
  }).join('');
  out.innerHTML = `<h3>Verwachting ${esc(fc.at)} t/m ${esc(fc.forecast_until)}</h3>
    <p class="hint">${esc(methodLabel(fc.method))}: de hoogste 5 % van de cellen van ${esc(fc.cell_m)} m (${esc(fmtNum(fc.top_cells))} cellen), gestippeld op de kaart.</p>
    ${features.length ? `<ol id="patrol-forecast-list" class="patrol">${rows}</ol>` : '<p>Geen verwachting: te weinig incidenten.</p>'}`;
}

/** Fills the hour pickers and wires the patrol view to its button, the filter and the view changes. */
export function initPatrol() {
  const hours = [...Array(24).keys()];
  $('patrol-from').innerHTML = hours.map((h) => `<option value="${h}"${h === 20 ? ' selected' : ''}>${String(h).padStart(2, '0')}:00</option>`).join('');
  $('patrol-to').innerHTML = hours.map((h) => `<option value="${h}"${h === 2 ? ' selected' : ''}>${String(h).padStart(2, '0')}:00</option>`).join('');
  $('patrol-run').addEventListener('click', runPatrol);
  $('patrol-forecast').addEventListener('change', showForecast);
  subscribe('filter', () => {
    if (state.view !== 'surveillance') return;
    if (state.patrolShown) runPatrol();
    if ($('patrol-forecast').checked) showForecast();
  });
  subscribe('view', (view) => {
    if (view === 'surveillance') return;
    clearMarkers();
    if (state.map && state.map.getSource('patrol')) state.map.getSource('patrol').setData({ type: 'FeatureCollection', features: [] });
    setPatrolShown(false);
    $('patrol-forecast').checked = false;
    forecastAsked++;
    clearForecast();
  });
}
