// The patrol view: for a day and a time block, the top 10 cells of GET /api/patrol on the map (numbered
// markers) and as a printable list. The list follows the filter while the view is open and is taken off
// the map when the view is left.

import { api, absUrl } from './api.js';
import { esc, fmtNum } from './charts.js';
import { filterParams } from './filters.js';
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
    ${sorted.length ? `<ol id="patrol-list" class="patrol">${sorted.map((f) => { const q = f.properties; return `<li value="${esc(q.rank)}"><strong>${esc(q.street || 'Cel zonder straatnaam')}</strong><br><span class="hint">${fmtNum(q.count)} incidenten · score ${fmtNum(q.score, 2)}</span></li>`; }).join('')}</ol>` : '<p>Geen incidenten in dit tijdblok.</p>'}
    <div class="buttons noprint">
      <button type="button" id="patrol-print">Afdrukken</button>
      <a href="${esc(absUrl('/api/patrol', { ...p, format: 'html' }))}" target="_blank" rel="noopener">Printbare lijst (HTML)</a>
    </div>`;
  $('patrol-print').addEventListener('click', () => window.print());
}

/** Fills the hour pickers and wires the patrol view to its button, the filter and the view changes. */
export function initPatrol() {
  const hours = [...Array(24).keys()];
  $('patrol-from').innerHTML = hours.map((h) => `<option value="${h}"${h === 20 ? ' selected' : ''}>${String(h).padStart(2, '0')}:00</option>`).join('');
  $('patrol-to').innerHTML = hours.map((h) => `<option value="${h}"${h === 2 ? ' selected' : ''}>${String(h).padStart(2, '0')}:00</option>`).join('');
  $('patrol-run').addEventListener('click', runPatrol);
  subscribe('filter', () => { if (state.view === 'surveillance' && state.patrolShown) runPatrol(); });
  subscribe('view', (view) => {
    if (view === 'surveillance') return;
    clearMarkers();
    if (state.map && state.map.getSource('patrol')) state.map.getSource('patrol').setData({ type: 'FeatureCollection', features: [] });
    setPatrolShown(false);
  });
}
