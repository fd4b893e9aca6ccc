// The MapLibre map: style and controls, map errors in the status line, hover popups, clicks that select an
// area, the layer switches, and the map's side of the state: tiles follow the filter, feature state follows
// the selection, the size follows the view.

import { esc, fmtNum } from './charts.js';
import { updateBreaks } from './choropleth.js';
import { buildStyle, buurtenOpacity, tileUrl, FILTERED_SOURCES, TOGGLES } from './layers.js';
import { renderLegend } from './legend.js';
import { filterParams } from './filters.js';
import { state, subscribe, setMap, markBreaksDirty, selectArea } from './state.js';
import { status } from './status.js';

/** Marks `area` as selected (or not) in the feature state of its layer. */
function setSelectedState(map, area, on) {
  if (!area) return;
  const target = area.level === 'custom' ? { source: 'areas', sourceLayer: 'areas', id: area.code } : area.level === 'buurt' ? { source: 'buurten', sourceLayer: 'buurten', id: area.code } : null;
  if (target) map.setFeatureState(target, { selected: on });
}

/** Hover highlight and popups of buurten and incident points. */
function initHover(map) {
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
}

/** The layer checkboxes; layers this server does not offer (meta.layers) cannot be switched on. */
function initLayerSwitches(map, meta) {
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
      if (input.dataset.layer === 'kde') map.setPaintProperty('buurten-fill', 'fill-opacity', buurtenOpacity(input.checked));
      renderLegend();
    });
  }
}

/** Creates the map for the area of `meta` with the current filter; returns it. */
export function initMap(meta) {
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
  setMap(map);
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  markBreaksDirty();
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
    if (state.breaksDirty) updateBreaks(map);
    document.body.dataset.mapReady = '1';
  });
  initHover(map);
  map.on('click', (e) => {
    if (state.drawer && (state.drawer.active || state.drawer.finished)) return;
    const layers = ['areas-fill', 'buurten-fill'].filter((l) => map.getLayer(l) && map.getLayoutProperty(l, 'visibility') !== 'none');
    const hits = map.queryRenderedFeatures(e.point, { layers });
    if (!hits.length) return;
    const f = hits[0];
    const level = f.layer.id === 'areas-fill' ? 'custom' : 'buurt';
    selectArea({ code: f.properties.code, name: f.properties.name, level });
  });
  initLayerSwitches(map, meta);

  subscribe('filter', () => {
    const f = filterParams();
    for (const s of FILTERED_SOURCES) {
      const src = map.getSource(s);
      if (src) src.setTiles([tileUrl(s, f)]);
    }
  });
  subscribe('selected', ({ area, previous }) => {
    setSelectedState(map, previous, false);
    setSelectedState(map, area, true);
  });
  subscribe('view', () => map.resize());
  return map;
}
