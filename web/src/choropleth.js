// Choropleth of the buurten: class breaks (quantiles of the loaded buurt features, count or rate per 1,000
// inhabitants) recomputed after every filter change, and the fill colours that follow them.

import { choroplethExpression, quantileBreaks } from './layers.js';
import { state, setBreaks, setMode, subscribe } from './state.js';

/** Recomputes the class breaks from the loaded buurt features of the applied filter. */
export function updateBreaks(map) {
  if (!map.getSource('buurten') || !map.isSourceLoaded('buurten')) return;
  const feats = map.querySourceFeatures('buurten', { sourceLayer: 'buurten' });
  if (!feats.length) return; // tiles not there yet (or an empty filter result: keep the old classes)
  const byCode = new Map();
  for (const f of feats) byCode.set(f.properties.code, f.properties);
  const vals = (prop) => [...byCode.values()].map((p) => (p[prop] === undefined || p[prop] === null ? NaN : Number(p[prop])));
  // The k of this filter's protection, from a "< k" label in the tiles (k can differ per category group).
  const lt = [...byCode.values()].map((p) => /^<\s*(\d+)$/.exec(String(p.count_label || ''))).find(Boolean);
  setBreaks({ count: quantileBreaks(vals('count')), rate: quantileBreaks(vals('rate')) }, lt ? Number(lt[1]) : null);
}

/** Colours the buurten by the current mode and breaks, now and after every change of either. */
export function initChoropleth(map) {
  subscribe('classes', () => {
    map.setPaintProperty('buurten-fill', 'fill-color', choroplethExpression(state.mode, state.breaks[state.mode]));
  });
  document.getElementById('choropleth-mode').addEventListener('change', (e) => setMode(e.target.value));
}
