// The forecast map layer "Verwachting komende week": the top x % cells of GET /api/forecast (default 5 %,
// method prospective) for the map's category and source filter, from the day after the filter's last day (the
// server's default when the filter has no end). Also the forecast cells the patrol view draws and lists.

import { api } from './api.js';
import { filterParams } from './filters.js';
import { renderLegend } from './legend.js';
import { state, subscribe } from './state.js';
import { status, errorMessage } from './status.js';

const $ = (id) => document.getElementById(id);

/** The forecast methods of the API with their Dutch names. */
export const FORECAST_METHODS = [
  { key: 'prospective', label: 'prospectieve hotspot' },
  { key: 'naive', label: 'tellen (28 dagen)' },
  { key: 'kde', label: 'dichtheid (KDE, 28 dagen)' },
  { key: 'sepp', label: 'zelfversterkend (SEPP)' },
];

/** The Dutch name of a method key. */
export function methodLabel(key) {
  const m = FORECAST_METHODS.find((x) => x.key === key);
  return m ? m.label : key;
}

/** The day after `iso` (YYYY-MM-DD), as YYYY-MM-DD. */
function dayAfter(iso) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/**
 * The query of the forecast for the map's filter: category and source, the forecast day after the filter's
 * last day (`to`), the top `top` % cells by `method`.
 */
export function forecastParams(method, top) {
  const f = filterParams();
  return { method, top, category: f.category, source: f.source, at: f.to ? dayAfter(f.to) : '' };
}

/** The forecast FeatureCollection for `method` and `top` %; throws the API's error. */
export function fetchForecast(method, top) {
  return api.get('/api/forecast', forecastParams(method, top));
}

function layerOn() {
  const input = document.querySelector('input[data-layer="forecast"]');
  return !!(input && input.checked);
}

// Answers of superseded requests are dropped.
let asked = 0;

/** Loads the layer's cells for the current controls and filter (only while the layer is switched on). */
export async function loadForecastLayer() {
  const map = state.map;
  if (!map || !map.getSource('forecast')) return;
  if (!layerOn()) return;
  const method = $('forecast-method').value;
  const top = Number($('forecast-top').value);
  const mine = ++asked;
  document.body.dataset.forecastReady = '0';
  let fc;
  try {
    fc = await fetchForecast(method, top);
  } catch (e) {
    if (mine !== asked) return;
    status(`Verwachting niet beschikbaar: ${errorMessage(e)}`, 'warn');
    map.getSource('forecast').setData({ type: 'FeatureCollection', features: [] });
    state.forecast = null;
    renderLegend();
    document.body.dataset.forecastReady = '1';
    return;
  }
  if (mine !== asked) return;
  map.getSource('forecast').setData({ type: 'FeatureCollection', features: fc.features || [] });
  state.forecast = {
    method: fc.method,
    label: methodLabel(fc.method),
    at: fc.at,
    until: fc.forecast_until,
    top: fc.top_percent,
    cells: fc.top_cells,
    cell_m: fc.cell_m,
  };
  renderLegend();
  document.body.dataset.forecastReady = '1';
}

/** Fills the method picker and loads the layer when it is switched on, its controls change or the filter does. */
export function initForecast() {
  $('forecast-method').innerHTML = FORECAST_METHODS.map((m) => `<option value="${m.key}"${m.key === 'prospective' ? ' selected' : ''}>${m.label}</option>`).join('');
  const input = document.querySelector('input[data-layer="forecast"]');
  if (input) input.addEventListener('change', loadForecastLayer);
  $('forecast-method').addEventListener('change', loadForecastLayer);
  $('forecast-top').addEventListener('change', loadForecastLayer);
  subscribe('filter', loadForecastLayer);
}
