// Map style of brandpunt: sources and layers, colour scales and their Dutch legends.
// Works without a basemap (offline): the boundaries alone carry the map.

import { absUrl } from './api.js';

export const PDOK_BRT = 'https://service.pdok.nl/brt/achtergrondkaart/wmts/v2_0/standaard/EPSG:3857/{z}/{x}/{y}.png';

/** Vector tile sources that follow the filter (source name = server layer = source-layer). */
export const FILTERED_SOURCES = ['gemeenten', 'wijken', 'buurten', 'incidents', 'hotspots', 'emerging', 'kde'];

/** Tile URL template of a server layer for a filter query (object). */
export function tileUrl(layer, filter, format = 'mvt') {
  const base = absUrl(`/tiles/${layer}/`, {}) + `{z}/{x}/{y}.${format}`;
  const q = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== '' && v != null)).toString();
  return q ? `${base}?${q}` : base;
}

/** Colour of the forecast cells (map layer and patrol view). */
export const FORECAST_COLOUR = '#c51b8a';

export const CHORO_COLOURS = ['#fff5eb', '#fdd0a2', '#fd8d3c', '#d94801', '#7f2704'];
export const NO_DATA = '#d9d9d9';
/** Neutral class of areas whose count is withheld (small-count protection: `suppressed` in the tiles). */
export const SUPPRESSED = '#9e9e9e';

export const GI_BINS = [
  { bin: 3, label: 'Hotspot, 99 % betrouwbaar', colour: '#b2182b' },
  { bin: 2, label: 'Hotspot, 95 % betrouwbaar', colour: '#ef8a62' },
  { bin: 1, label: 'Hotspot, 90 % betrouwbaar', colour: '#fddbc7' },
  { bin: 0, label: 'Niet significant', colour: 'rgba(0,0,0,0)' },
  { bin: -1, label: 'Coldspot, 90 % betrouwbaar', colour: '#d1e5f0' },
  { bin: -2, label: 'Coldspot, 95 % betrouwbaar', colour: '#67a9cf' },
  { bin: -3, label: 'Coldspot, 99 % betrouwbaar', colour: '#2166ac' },
];

export const EMERGING = [
  { key: 'new_hot_spot', en: 'new hot spot', label: 'Nieuwe hotspot', colour: '#67000d' },
  { key: 'consecutive_hot_spot', en: 'consecutive hot spot', label: 'Aaneengesloten hotspot', colour: '#a50f15' },
  { key: 'intensifying_hot_spot', en: 'intensifying hot spot', label: 'Intensiverende hotspot', colour: '#cb181d' },
  { key: 'persistent_hot_spot', en: 'persistent hot spot', label: 'Aanhoudende hotspot', colour: '#ef3b2c' },
  { key: 'diminishing_hot_spot', en: 'diminishing hot spot', label: 'Afnemende hotspot', colour: '#fb6a4a' },
  { key: 'sporadic_hot_spot', en: 'sporadic hot spot', label: 'Sporadische hotspot', colour: '#fc9272' },
  { key: 'oscillating_hot_spot', en: 'oscillating hot spot', label: 'Wisselende hotspot', colour: '#fcbba1' },
  { key: 'historical_hot_spot', en: 'historical hot spot', label: 'Historische hotspot', colour: '#fee0d2' },
  { key: 'new_cold_spot', en: 'new cold spot', label: 'Nieuwe coldspot', colour: '#08306b' },
  { key: 'consecutive_cold_spot', en: 'consecutive cold spot', label: 'Aaneengesloten coldspot', colour: '#08519c' },
  { key: 'intensifying_cold_spot', en: 'intensifying cold spot', label: 'Intensiverende coldspot', colour: '#2171b5' },
  { key: 'persistent_cold_spot', en: 'persistent cold spot', label: 'Aanhoudende coldspot', colour: '#4292c6' },
  { key: 'diminishing_cold_spot', en: 'diminishing cold spot', label: 'Afnemende coldspot', colour: '#6baed6' },
  { key: 'sporadic_cold_spot', en: 'sporadic cold spot', label: 'Sporadische coldspot', colour: '#9ecae1' },
  { key: 'oscillating_cold_spot', en: 'oscillating cold spot', label: 'Wisselende coldspot', colour: '#c6dbef' },
  { key: 'historical_cold_spot', en: 'historical cold spot', label: 'Historische coldspot', colour: '#deebf7' },
];

function emergingExpression() {
  const expr = ['match', ['downcase', ['to-string', ['get', 'category']]]];
  const seen = new Set();
  for (const e of EMERGING) {
    for (const k of [e.key, e.en, e.label.toLowerCase()]) {
      if (seen.has(k)) continue;
      seen.add(k);
      expr.push(k, e.colour);
    }
  }
  expr.push('rgba(0,0,0,0)');
  return expr;
}

/**
 * Choropleth fill expression for property `prop` ('count' or 'rate') with ascending class breaks
 * (upper bounds of the first classes); areas whose count is withheld (`suppressed`) get the neutral class
 * SUPPRESSED, other areas without the property NO_DATA.
 */
export function choroplethExpression(prop, breaks) {
  const colours = classColours(breaks.length);
  // Withheld counts (small-count protection) get their own neutral class, before "no data".
  if (!breaks.length) return ['case', ['has', 'suppressed'], SUPPRESSED, ['has', prop], colours[0], NO_DATA];
  const step = ['step', ['to-number', ['get', prop]], colours[0]];
  breaks.forEach((b, i) => step.push(b, colours[i + 1]));
  return ['case', ['has', 'suppressed'], SUPPRESSED, ['has', prop], step, NO_DATA];
}

/**
 * Choropleth fill expression for enrichment values (a kerncijfer or indicator per buurt code, `values`: Map
 * code -> number) with ascending class breaks; buurten without a value get NO_DATA.
 */
export function enrichmentExpression(values, breaks) {
  const colours = classColours(breaks.length);
  const expr = ['match', ['get', 'code']];
  for (const [code, v] of values) {
    let i = 0;
    while (i < breaks.length && v >= breaks[i]) i += 1;
    expr.push(code, colours[i]);
  }
  if (expr.length === 2) return NO_DATA;
  expr.push(NO_DATA);
  return expr;
}

/** Colours of the classes for `nBreaks` breaks: spread over the whole ramp, lightest first. */
export function classColours(nBreaks) {
  const last = CHORO_COLOURS.length - 1;
  if (nBreaks === 0) return [CHORO_COLOURS[0]];
  return Array.from({ length: nBreaks + 1 }, (_, i) => CHORO_COLOURS[Math.round((i * last) / nBreaks)]);
}

/**
 * Class breaks (at most 4, strictly ascending) of the values by quantiles; the first class starts at the
 * minimum. Returns [] when there are no values.
 */
export function quantileBreaks(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return [];
  const out = [];
  for (const q of [0.2, 0.4, 0.6, 0.8]) {
    const x = v[Math.min(v.length - 1, Math.floor(q * v.length))];
    const b = Number.isInteger(x) ? x + 1 : Math.round(x * 10) / 10 + 0.1;
    if (b > v[0] && (!out.length || b > out[out.length - 1])) out.push(Math.round(b * 10) / 10);
  }
  return out;
}

/** Initial style; `filter` is the filter query object, `breaks` the initial class breaks. */
export function buildStyle(filter, mode, breaks) {
  const vec = (layer, promoteId, extra = {}) => ({
    type: 'vector',
    tiles: [tileUrl(layer, filter)],
    minzoom: 0,
    maxzoom: 16,
    ...(promoteId ? { promoteId } : {}),
    ...extra,
  });
  return {
    version: 8,
    sources: {
      basemap: {
        type: 'raster',
        tiles: [PDOK_BRT],
        tileSize: 256,
        maxzoom: 19,
        attribution: 'Achtergrond: <a href="https://www.pdok.nl">PDOK BRT</a> (Kadaster)',
      },
      gemeenten: vec('gemeenten', 'code'),
      wijken: vec('wijken', 'code'),
      buurten: vec('buurten', 'code'),
      incidents: vec('incidents', null),
      hotspots: vec('hotspots', null),
      emerging: vec('emerging', null),
      kde: vec('kde', null),
      areas: { type: 'vector', tiles: [tileUrl('areas', {})], maxzoom: 16, promoteId: 'code' },
      draw: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
      patrol: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
      forecast: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
      'patrol-forecast': { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#eef0ec' } },
      { id: 'basemap', type: 'raster', source: 'basemap', layout: { visibility: 'none' }, paint: { 'raster-opacity': 0.8 } },
      {
        id: 'buurten-fill',
        type: 'fill',
        source: 'buurten',
        'source-layer': 'buurten',
        paint: {
          'fill-color': choroplethExpression(mode, breaks),
          'fill-opacity': buurtenOpacity(false),
        },
      },
      {
        id: 'kde-fill',
        type: 'fill',
        source: 'kde',
        'source-layer': 'kde',
        layout: { visibility: 'none' },
        // Stacked contour levels (1 = lowest, 5 by default): a ramp from yellow to dark red, each level fairly
        // opaque, so the hot core stands out over the (dimmed) choropleth.
        paint: { 'fill-color': KDE_COLOURS, 'fill-opacity': 0.4 },
      },
      {
        id: 'kde-line',
        type: 'line',
        source: 'kde',
        'source-layer': 'kde',
        layout: { visibility: 'none' },
        paint: { 'line-color': '#7f2704', 'line-width': ['interpolate', ['linear'], ['get', 'level'], 1, 0.8, 5, 2] },
      },
      {
        id: 'hotspots-fill',
        type: 'fill',
        source: 'hotspots',
        'source-layer': 'hotspots',
        layout: { visibility: 'none' },
        paint: {
          'fill-color': ['match', ['to-number', ['get', 'bin']], ...GI_BINS.flatMap((b) => [b.bin, b.colour]), 'rgba(0,0,0,0)'],
          'fill-opacity': 0.8,
        },
      },
      {
        id: 'emerging-fill',
        type: 'fill',
        source: 'emerging',
        'source-layer': 'emerging',
        layout: { visibility: 'none' },
        paint: { 'fill-color': emergingExpression(), 'fill-opacity': 0.8 },
      },
      {
        id: 'forecast-fill',
        type: 'fill',
        source: 'forecast',
        layout: { visibility: 'none' },
        paint: { 'fill-color': FORECAST_COLOUR, 'fill-opacity': 0.55 },
      },
      {
        id: 'forecast-line',
        type: 'line',
        source: 'forecast',
        layout: { visibility: 'none' },
        paint: { 'line-color': '#7a0177', 'line-width': 1 },
      },
      {
        id: 'cells-fill',
        type: 'fill',
        source: 'incidents',
        'source-layer': 'incidents',
        maxzoom: 15,
        filter: ['==', ['geometry-type'], 'Polygon'],
        layout: { visibility: 'none' },
        paint: {
          'fill-color': ['interpolate', ['linear'], ['to-number', ['get', 'count'], 0], 0, '#fee8c8', 5, '#fdbb84', 20, '#e34a33'],
          'fill-opacity': 0.7,
        },
      },
      {
        id: 'buurten-line',
        type: 'line',
        source: 'buurten',
        'source-layer': 'buurten',
        paint: {
          'line-color': ['case', ['boolean', ['feature-state', 'selected'], false], '#111111', '#7a6a58'],
          'line-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3, 0.6],
        },
      },
      { id: 'wijken-line', type: 'line', source: 'wijken', 'source-layer': 'wijken', paint: { 'line-color': '#4a3f35', 'line-width': 1.4 } },
      { id: 'gemeenten-line', type: 'line', source: 'gemeenten', 'source-layer': 'gemeenten', paint: { 'line-color': '#222222', 'line-width': 2.4 } },
      {
        id: 'incidents-points',
        type: 'circle',
        source: 'incidents',
        'source-layer': 'incidents',
        minzoom: 15,
        filter: ['==', ['geometry-type'], 'Point'],
        paint: {
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 15, 4.5, 18, 8],
          'circle-color': '#c0392b',
          'circle-stroke-color': '#ffffff',
          'circle-stroke-width': 1.5,
        },
      },
      {
        id: 'areas-fill',
        type: 'fill',
        source: 'areas',
        'source-layer': 'areas',
        paint: {
          'fill-color': '#3d7fd1',
          'fill-opacity': ['case', ['boolean', ['feature-state', 'selected'], false], 0.35, 0.15],
        },
      },
      {
        id: 'areas-line',
        type: 'line',
        source: 'areas',
        'source-layer': 'areas',
        paint: { 'line-color': '#1f4f8f', 'line-width': 2, 'line-dasharray': [2, 1] },
      },
      {
        id: 'patrol-fill',
        type: 'fill',
        source: 'patrol',
        paint: { 'fill-color': '#6a1b9a', 'fill-opacity': 0.45 },
      },
      { id: 'patrol-line', type: 'line', source: 'patrol', paint: { 'line-color': '#4a148c', 'line-width': 2 } },
      {
        id: 'patrol-forecast-line',
        type: 'line',
        source: 'patrol-forecast',
        paint: { 'line-color': FORECAST_COLOUR, 'line-width': 2.5, 'line-dasharray': [1.5, 1] },
      },
      {
        id: 'draw-fill',
        type: 'fill',
        source: 'draw',
        filter: ['==', ['get', 'kind'], 'polygon'],
        paint: { 'fill-color': '#00897b', 'fill-opacity': 0.3 },
      },
      {
        id: 'draw-line',
        type: 'line',
        source: 'draw',
        filter: ['in', ['get', 'kind'], ['literal', ['line', 'polygon']]],
        paint: { 'line-color': '#00695c', 'line-width': 2.5 },
      },
      {
        id: 'draw-vertices',
        type: 'circle',
        source: 'draw',
        filter: ['==', ['get', 'kind'], 'vertex'],
        paint: { 'circle-radius': 5, 'circle-color': '#ffffff', 'circle-stroke-color': '#00695c', 'circle-stroke-width': 2 },
      },
    ],
  };
}

/** Fill colour of a KDE contour by its level (1 = lowest density). */
export const KDE_COLOURS = ['interpolate', ['linear'], ['get', 'level'], 1, '#fed976', 2, '#feb24c', 3, '#fd8d3c', 4, '#e31a1c', 5, '#800026'];

/** Fill opacity of the buurten: lighter when zoomed in (incident points stay visible), dimmed while the KDE
 * layer is on (so its contours stand out). */
export function buurtenOpacity(dimmed) {
  const f = dimmed ? 0.35 : 1;
  return ['interpolate', ['linear'], ['zoom'],
    13, ['case', ['boolean', ['feature-state', 'hover'], false], 0.9 * f, 0.72 * f],
    16, ['case', ['boolean', ['feature-state', 'hover'], false], 0.45 * f, 0.25 * f]];
}

/** Style layers controlled by each layer checkbox. */
export const TOGGLES = {
  buurten: ['buurten-fill'],
  kde: ['kde-fill', 'kde-line'],
  hotspots: ['hotspots-fill'],
  emerging: ['emerging-fill'],
  forecast: ['forecast-fill', 'forecast-line'],
  incidents: ['incidents-points'],
  cells: ['cells-fill'],
  basemap: ['basemap'],
};
