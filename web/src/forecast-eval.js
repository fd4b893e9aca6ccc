// "Hoe goed voorspelt dit?": the honest evaluation of the forecast methods (GET /api/forecast/evaluate) for the
// forecast layer's filter, as a table next to the layer's controls. Per method and coverage: the mean hit rate
// (share of the next week's incidents in the chosen cells), the PAI, the p of the paired test against counting
// (naive) and the verdict: "beter dan tellen" only when p < 0,05, else "niet beter dan tellen"; counting itself
// is the reference ("referentie").

import { api } from './api.js';
import { esc, fmtNum } from './charts.js';
import { filterParams } from './filters.js';
import { methodLabel } from './forecast.js';
import { subscribe } from './state.js';
import { errorMessage } from './status.js';

const $ = (id) => document.getElementById(id);

/** The evaluation's query for the map's filter: category, source and the last day of the filter (`until`). */
export function evaluationParams() {
  const f = filterParams();
  return { folds: 12, horizon: 7, methods: 'naive,kde,prospective,sepp', coverages: '1,3,5,10', category: f.category, source: f.source, until: f.to || '' };
}

/** A share (0..1) as a Dutch percentage with one decimal, '–' without a value. */
export function pctText(v) {
  return v === null || v === undefined ? '–' : `${fmtNum(v * 100, 1)} %`;
}

/** The evaluation's table (HTML) of an API answer. */
export function evaluationTable(ev) {
  let html = `<p class="hint">${ev.folds} weken (folds) van ${ev.horizon_days} dagen tot en met ${esc(ev.until)}, cellen van ${fmtNum(ev.cell_m)} m. `
    + 'Trefferratio: deel van de incidenten van de week erna in de gekozen cellen; PAI: trefferratio gedeeld door het deel van het gebied. '
    + 'Een methode is alleen beter dan tellen als de toets dat laat zien (p &lt; 0,05).</p>';
  html += '<table class="data" id="forecast-eval-table"><thead><tr><th>Methode</th><th>Cellen</th><th>Trefferratio</th><th>PAI</th><th>p</th><th>Oordeel</th></tr></thead><tbody>';
  for (const m of ev.methods || []) {
    for (const c of m.coverages || []) {
      const p = c.test ? c.test.p : null;
      const better = c.verdict === 'beter dan tellen';
      html += `<tr data-method="${esc(m.method)}" data-coverage="${c.coverage_pct}">`
        + `<td>${esc(methodLabel(m.method))}</td>`
        + `<td class="num">${fmtNum(c.coverage_pct)} %</td>`
        + `<td class="num hit">${pctText(c.mean.hit_rate)}</td>`
        + `<td class="num pai">${fmtNum(c.mean.pai, 2)}</td>`
        + `<td class="num p">${p === null ? '–' : fmtNum(p, 3)}</td>`
        + `<td class="verdict${better ? ' sig' : ''}">${esc(c.verdict)}</td></tr>`;
    }
  }
  html += '</tbody></table>';
  return html;
}

// Answers of superseded requests are dropped.
let asked = 0;

/** Computes and shows the evaluation for the current filter (only while the panel is open). */
export async function loadEvaluation() {
  const out = $('forecast-eval-result');
  if (!out || out.hidden) return;
  const mine = ++asked;
  document.body.dataset.forecastEvalReady = '0';
  out.innerHTML = '<p class="hint">Toetsen van de voorspellingen op de afgelopen weken…</p>';
  let ev;
  try {
    ev = await api.get('/api/forecast/evaluate', evaluationParams());
  } catch (e) {
    if (mine !== asked) return;
    out.innerHTML = `<p class="error">Toets niet beschikbaar: ${esc(errorMessage(e))}</p>`;
    document.body.dataset.forecastEvalReady = '1';
    return;
  }
  if (mine !== asked) return;
  out.innerHTML = evaluationTable(ev);
  document.body.dataset.forecastEvalReady = '1';
}

/** The button opens and closes the panel; an open panel follows the filter. */
export function initForecastEvaluation() {
  const button = $('forecast-eval-open');
  const out = $('forecast-eval-result');
  if (!button || !out) return;
  button.addEventListener('click', () => {
    out.hidden = !out.hidden;
    button.setAttribute('aria-expanded', String(!out.hidden));
    if (!out.hidden) loadEvaluation();
  });
  subscribe('filter', loadEvaluation);
}
