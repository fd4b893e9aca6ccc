// Choropleth of the buurten: class breaks (quantiles of the loaded buurt features, count or rate per 1,000
// inhabitants) recomputed after every filter change, and the fill colours that follow them. "Kleur naar" also
// offers the CBS kerncijfers and the municipality's indicators per buurt (GET /api/enrichment): those colour by
// quantile classes of their values, whatever the filter.

import { api } from './api.js';
import { esc } from './charts.js';
import { choroplethExpression, enrichmentExpression, quantileBreaks } from './layers.js';
import { state, setBreaks, setEnrichment, setMode, subscribe } from './state.js';
import { status, errorMessage } from './status.js';

/** Whether `mode` is an enrichment key rather than 'count' or 'rate'. */
export function isEnrichmentMode(mode) {
  return String(mode).includes(':');
}

/** The values of enrichment column `key` per buurt code. */
export function enrichmentValues(key) {
  const out = new Map();
  for (const a of (state.enrichment && state.enrichment.areas) || []) {
    const v = a.values[key];
    if (v !== undefined && v !== null) out.set(a.code, v);
  }
  return out;
}

/** The label of enrichment column `key`. */
export function enrichmentLabel(key) {
  const c = ((state.enrichment && state.enrichment.columns) || []).find((x) => x.key === key);
  return c ? c.label : key;
}

/** Loads the kerncijfers and indicators per buurt and adds them to "Kleur naar". */
export async function loadEnrichment() {
  let t;
  try {
    t = await api.get('/api/enrichment', { level: 'buurt' });
  } catch (e) {
    status(`Kerncijfers niet beschikbaar: ${errorMessage(e)}`, 'warn');
    return;
  }
  setEnrichment(t);
  const group = (source, label) => {
    const cols = t.columns.filter((c) => c.source === source);
    return cols.length ? `<optgroup label="${label}" data-source="${source}">${cols.map((c) => `<option value="${esc(c.key)}">${esc(c.label)}</option>`).join('')}</optgroup>` : '';
  };
  const sel = document.getElementById('choropleth-mode');
  for (const g of sel.querySelectorAll('optgroup')) g.remove();
  sel.insertAdjacentHTML('beforeend', group('cbs', 'Kerncijfers CBS') + group('indicator', 'Indicatoren gemeente'));
}

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
    if (isEnrichmentMode(state.mode)) {
      const values = enrichmentValues(state.mode);
      state.breaks[state.mode] = quantileBreaks([...values.values()]);
      map.setPaintProperty('buurten-fill', 'fill-color', enrichmentExpression(values, state.breaks[state.mode]));
      return;
    }
    map.setPaintProperty('buurten-fill', 'fill-color', choroplethExpression(state.mode, state.breaks[state.mode]));
  });
  document.getElementById('choropleth-mode').addEventListener('change', (e) => setMode(e.target.value));
}
