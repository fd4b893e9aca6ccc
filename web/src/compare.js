// The compare view: the areas to compare (chips), two periods (by default the filter period and the equally
// long period before it), an optional intervention evaluation (WDQ), and the result of POST /api/compare as
// a table, bars and trend lines. Servers without POST /api/compare get counts from /stats instead.

import { api, ApiError, download, XLSX_LABEL } from './api.js';
import { trendChart, barChart, esc, fmtNum, countText, SERIES_COLOURS } from './charts.js';
import { areaName, areaOptionsHtml } from './areas.js';
import { fmtDate, shiftDays } from './dates.js';
import { filterParams } from './filters.js';
import { state, subscribe, addCompare, removeCompare } from './state.js';
import { errorMessage } from './status.js';

const $ = (id) => document.getElementById(id);

function renderComparePicker() {
  $('compare-pick').innerHTML = areaOptionsHtml(true);
  $('cmp-control').innerHTML = areaOptionsHtml(false);
  renderCompareChips();
}

function renderCompareChips() {
  $('compare-chips').innerHTML = state.compare.length
    ? state.compare.map((c, i) => `<li data-code="${esc(c)}"><i style="background:${SERIES_COLOURS[i % SERIES_COLOURS.length]}"></i>${esc(areaName(c))} <button type="button" class="small" title="Weghalen">×</button></li>`).join('')
    : '<li class="hint">Kies twee of meer gebieden.</li>';
  const t = $('cmp-target');
  const cur = t.value;
  t.innerHTML = state.compare.map((c) => `<option value="${esc(c)}">${esc(areaName(c))}</option>`).join('');
  if (state.compare.includes(cur)) t.value = cur;
}

/** Fills the period fields: the filter period against the equally long period before it. */
function defaultComparePeriods() {
  const f = filterParams();
  const p = state.meta.period || {};
  const to = f.to || p.last;
  const from = f.from || p.first;
  if (!from || !to) return;
  const len = Math.round((Date.parse(to) - Date.parse(from)) / 86400000) + 1;
  let cFrom = from;
  let cTo = to;
  // Compare the filter period with the equally long period before it; when that lies before the data,
  // split the period in two halves.
  if (p.first && shiftDays(from, -len) < p.first) {
    const half = Math.floor(len / 2);
    cFrom = shiftDays(from, half);
    $('cmp-vs-from').value = from;
    $('cmp-vs-to').value = shiftDays(cFrom, -1);
  } else {
    $('cmp-vs-from').value = shiftDays(from, -len);
    $('cmp-vs-to').value = shiftDays(from, -1);
  }
  $('cmp-from').value = cFrom;
  $('cmp-to').value = cTo;
}

async function runCompare() {
  const out = $('compare-result');
  if (state.compare.length < 1) { out.innerHTML = '<p class="error">Kies minstens één gebied (liefst twee of meer).</p>'; return; }
  const f = filterParams();
  const body = {
    areas: state.compare,
    category: f.category || undefined,
    source: f.source || undefined,
    from: $('cmp-from').value,
    to: $('cmp-to').value,
    vs_from: $('cmp-vs-from').value,
    vs_to: $('cmp-vs-to').value,
  };
  for (const k of ['from', 'to', 'vs_from', 'vs_to']) {
    if (!body[k]) { out.innerHTML = `<p class="error">Vul alle periodedatums in (${k}).</p>`; return; }
  }
  if (body.from > body.to || body.vs_from > body.vs_to) { out.innerHTML = '<p class="error">Een begindatum ligt na de einddatum.</p>'; return; }
  if ($('cmp-intervention').checked) {
    const buffer = Number($('cmp-buffer').value);
    if (!Number.isFinite(buffer) || buffer < 0) { out.innerHTML = '<p class="error">De buffer moet een positief aantal meters zijn.</p>'; return; }
    body.intervention = { target: $('cmp-target').value, buffer_m: buffer, control: $('cmp-control').value };
  }
  out.innerHTML = '<p class="hint">Berekenen…</p>';
  let res;
  let fallback = false;
  try {
    res = await api.post('/api/compare', body);
    if (!res || !Array.isArray(res.areas)) throw new ApiError('geen vergelijking', 404);
  } catch (e) {
    // A server without POST /api/compare (404/405): counts per period from /stats, without CI and p.
    if (!(e instanceof ApiError) || ![404, 405].includes(e.status) || body.intervention) {
      out.innerHTML = `<p class="error">Vergelijken mislukt: ${esc(errorMessage(e))}</p>`;
      return;
    }
    try {
      res = await compareFromStats(body, f);
      fallback = true;
    } catch (e2) {
      out.innerHTML = `<p class="error">Vergelijken mislukt: ${esc(errorMessage(e2))}</p>`;
      return;
    }
  }
  const rows = res.areas || [];
  let html = fallback ? '<p class="hint">Deze server berekent nog geen vergelijking: aantallen en verhouding per dag uit de gebiedscijfers, zonder betrouwbaarheidsinterval en p.</p>' : '';
  html += `<p class="hint">Periode ${fmtDate(body.from)} – ${fmtDate(body.to)} vergeleken met ${fmtDate(body.vs_from)} – ${fmtDate(body.vs_to)}${f.category ? `; categorie ${esc(f.category)}` : ''}.</p>`;
  html += `<table id="compare-table" class="data"><thead><tr><th>Gebied</th><th>Incidenten</th><th>Vergelijkingsperiode</th><th>Per 1.000 inw.</th><th>Verhouding</th><th>95 %-BI</th><th>p</th></tr></thead><tbody>`;
  for (const r of rows) {
    const sig = r.p !== null && r.p !== undefined && r.p < 0.05;
    html += `<tr data-code="${esc(r.code)}"><td>${esc(r.name || r.code)}</td><td class="num" data-col="count">${esc(countText(r.count, r.count_label))}</td><td class="num" data-col="vs_count">${esc(countText(r.vs_count, r.vs_count_label))}</td><td class="num">${r.rate === null || r.rate === undefined ? '–' : fmtNum(r.rate, 1)}</td><td class="num">${fmtNum(r.rate_ratio, 2)}</td><td class="num">${r.ci_low === null || r.ci_low === undefined ? '–' : `${fmtNum(r.ci_low, 2)} – ${fmtNum(r.ci_high, 2)}`}</td><td class="num${sig ? ' sig' : ''}">${fmtNum(r.p, 3)}</td></tr>`;
  }
  html += '</tbody></table>';
  html += '<div class="charts">';
  // Withheld counts (small-count protection) get no bar: their label is in the table.
  html += barChart(rows.flatMap((r, i) => [
    { label: `${r.name || r.code}`, value: r.count, colour: SERIES_COLOURS[i % SERIES_COLOURS.length] },
    { label: `${r.name || r.code} (vgl.)`, value: r.vs_count, colour: '#bbbbbb' },
  ]).filter((b) => b.value !== null && b.value !== undefined), { width: 420, title: 'Incidenten: periode en vergelijkingsperiode' });
  html += trendChart(rows.map((r) => ({ name: r.name || r.code, points: r.series || [] })), { width: 480, height: 180, title: 'Verloop per gebied' });
  html += '</div>';
  if (res.wdq) html += wdqHtml(res.wdq);
  // The same comparison as an Excel workbook (POST with the same body); not from the /stats fallback.
  if (!fallback) html += `<div class="buttons noprint"><button type="button" id="compare-xlsx">${esc(XLSX_LABEL)}</button><span id="compare-xlsx-error" class="error" role="alert"></span></div>`;
  out.innerHTML = html;
  if (!fallback) {
    $('compare-xlsx').addEventListener('click', async () => {
      $('compare-xlsx-error').textContent = '';
      try {
        await download('POST', '/api/compare', { format: 'xlsx' }, body, 'brandpunt-vergelijking.xlsx');
      } catch (e) {
        $('compare-xlsx-error').textContent = `Download mislukt: ${errorMessage(e)}`;
      }
    });
  }
}

/** Compare rows from GET /api/areas/{code}/stats for both periods (servers without POST /api/compare). */
async function compareFromStats(body, f) {
  const days = (a, b) => Math.round((Date.parse(b) - Date.parse(a)) / 86400000) + 1;
  const areas = await Promise.all(body.areas.map(async (code) => {
    const params = { category: f.category, source: f.source };
    const [now, vs] = await Promise.all([
      api.get(`/api/areas/${encodeURIComponent(code)}/stats`, { ...params, from: body.from, to: body.to }),
      api.get(`/api/areas/${encodeURIComponent(code)}/stats`, { ...params, from: body.vs_from, to: body.vs_to }),
    ]);
    const hidden = now.count === null || now.count === undefined || vs.count === null || vs.count === undefined;
    const ratio = !hidden && vs.count > 0 ? (now.count / days(body.from, body.to)) / (vs.count / days(body.vs_from, body.vs_to)) : null;
    return { code, name: now.name, count: now.count, count_label: now.count_label, vs_count: vs.count, vs_count_label: vs.count_label, rate: now.rate, rate_ratio: ratio, ci_low: null, ci_high: null, p: null, series: [] };
  }));
  return { areas, wdq: null };
}

function wdqHtml(w) {
  const label = {
    wdq: 'Weighted Displacement Quotient (WDQ)', success_measure: 'Succesmaat', buffer_measure: 'Buffermaat',
    reading: 'Interpretatie', gross_effect: 'Bruto effect', net_effect: 'Netto effect',
  };
  const rows = Object.entries(w).map(([k, v]) => `<tr><th>${esc(label[k] || k)}</th><td>${typeof v === 'number' ? fmtNum(v, 3) : esc(typeof v === 'object' ? JSON.stringify(v) : v)}</td></tr>`).join('');
  return `<h3>Interventie-evaluatie</h3><table class="data" id="wdq-table">${rows}</table>`;
}

/** The compare form follows the area lists and the compare list; opening the view fills in default periods. */
export function initCompare() {
  subscribe('areas', renderComparePicker);
  subscribe('compare', renderCompareChips);
  subscribe('view', (view) => { if (view === 'vergelijken' && !$('cmp-from').value) defaultComparePeriods(); });
  $('compare-add').addEventListener('click', () => { const v = $('compare-pick').value; if (v) addCompare(v); });
  $('compare-chips').addEventListener('click', (e) => {
    const li = e.target.closest('li[data-code]');
    if (e.target.tagName === 'BUTTON' && li) removeCompare(li.dataset.code);
  });
  $('compare-run').addEventListener('click', runCompare);
}
