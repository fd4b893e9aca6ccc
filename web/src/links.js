// The "Links voor BI" view: tile, WMS, GeoJSON/TopoJSON/CSV/Excel and Tableau addresses for the current filter,
// each with a copy button, and download buttons for the statistics per buurt as CSV and as Excel (.xlsx).

import { absUrl, qs, XLSX_LABEL } from './api.js';
import { esc } from './charts.js';
import { filterParams } from './filters.js';
import { subscribe } from './state.js';

const $ = (id) => document.getElementById(id);

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
    ['Excel per buurt (.xlsx)', withQ('/api/stats.xlsx', { level: 'buurt' })],
    ['Tableau TMS', withQ('/bi/tableau.tms')],
  ];
  $('links-downloads').innerHTML = `<a id="download-stats-csv" class="button" href="${esc(withQ('/api/stats.csv', { level: 'buurt' }))}" download>Download CSV</a>
    <a id="download-stats-xlsx" class="button" href="${esc(withQ('/api/stats.xlsx', { level: 'buurt' }))}" download>${esc(XLSX_LABEL)}</a>`;
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

/** The copy buttons work from the start; the links themselves are rendered by initLinks. */
export function initCopyButtons() {
  $('links').addEventListener('click', (e) => { if (e.target.dataset.copy) copyText(e.target.dataset.copy, e.target); });
}

/** Renders the links for the current filter and again after every filter change. */
export function initLinks() {
  renderLinks();
  subscribe('filter', renderLinks);
}
