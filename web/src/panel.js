// The area side panel: the area picker, and for the selected area its figures (GET /api/areas/{code}/stats),
// the change against the previous period, categories, trend and hour-of-week profile, the phenomenon profile on
// request (profile-panel.js), with buttons to zoom, compare and (custom areas) delete, and its CBS kerncijfers and
// municipal indicators. It follows the selection and the filter.

import { api } from './api.js';
import { trendChart, hourOfWeekChart, barChart, esc, fmtNum, countText } from './charts.js';
import { areaName, areaOptionsHtml, levelOf, zoomToArea } from './areas.js';
import { enrichmentLabel } from './choropleth.js';
import { deleteCustom } from './custom-areas.js';
import { fmtDate } from './dates.js';
import { filterParams } from './filters.js';
import { state, subscribe, selectArea, addCompare, setView } from './state.js';
import { errorMessage } from './status.js';
import { profileControlsHtml, initProfileControls } from './profile-panel.js';

const $ = (id) => document.getElementById(id);

const EMPTY = '<p class="hint">Klik op een buurt of een eigen gebied voor de cijfers.</p>';

// The latest showArea call: an older answer arriving later is dropped.
let latest = null;

async function showArea(area) {
  const el = $('side-kaart');
  const f = filterParams();
  const token = Symbol('area');
  latest = token;
  el.innerHTML = `<h2>${esc(area.name || area.code)}</h2><p class="hint">Laden…</p>`;
  const step = f.from && f.to && (Date.parse(f.to) - Date.parse(f.from)) / 86400000 <= 120 ? 'week' : 'month';
  const code = encodeURIComponent(area.code);
  const results = await Promise.allSettled([
    api.get(`/api/areas/${code}/stats`, f),
    api.get(`/api/areas/${code}/timeseries`, { ...f, step }),
    api.get(`/api/areas/${code}/hour-of-week`, f),
    api.get('/api/profile/dimensions'),
  ]);
  if (latest !== token) return;
  const [stats, ts, how, dims] = results;
  if (stats.status === 'rejected') {
    el.innerHTML = `<h2>${esc(area.name || area.code)}</h2><p class="error">Cijfers konden niet worden geladen: ${esc(errorMessage(stats.reason))}</p>`;
    return;
  }
  const s = stats.value;
  const levelName = { buurt: 'Buurt', wijk: 'Wijk', gemeente: 'Gemeente', custom: 'Eigen gebied' }[s.level] || s.level;
  const prev = s.previous || {};
  const known = (v) => v !== null && v !== undefined;
  const changePct = known(s.count) && known(prev.count) && prev.count > 0 ? (s.count / prev.count - 1) * 100 : null;
  const ch = s.change;
  let changeText = 'geen vorige periode om mee te vergelijken';
  const prevDays = prev.from && prev.to ? (Date.parse(prev.to) - Date.parse(prev.from)) / 86400000 + 1 : null;
  const partly = known(prev.covered_days) && prevDays !== null && prev.covered_days > 0 && prev.covered_days < prevDays;
  if (s.previous && prev.covered_days === 0) {
    // The previous period lies before the data begin: no data, not "0 incidents".
    changeText = `geen gegevens over de vorige periode (${fmtDate(prev.from)} – ${fmtDate(prev.to)}): de gegevens beginnen op ${fmtDate(prev.data_from)}`;
  } else if (s.previous && (s.suppressed || prev.suppressed)) {
    // Withheld counts (small-count protection): no percentage, the labels instead.
    changeText = `niet te berekenen, te weinig incidenten om te tonen: ${esc(countText(s.count, s.count_label))} t.o.v. ${esc(countText(prev.count, prev.count_label))} (${fmtDate(prev.from)} – ${fmtDate(prev.to)})`;
  } else if (partly) {
    // Partly before the data: the count covers only the days with data; the change below is per day.
    changeText = `vorige periode (${fmtDate(prev.from)} – ${fmtDate(prev.to)}) heeft alleen gegevens vanaf ${fmtDate(prev.data_from)} (${fmtNum(prev.covered_days)} dagen): ${fmtNum(prev.count)} incidenten`;
  } else if (changePct !== null) {
    changeText = `${changePct >= 0 ? '+' : ''}${fmtNum(changePct, 0)} % t.o.v. ${fmtNum(prev.count)} (${fmtDate(prev.from)} – ${fmtDate(prev.to)})`;
  } else if (prev.count === 0) {
    changeText = `vorige periode (${fmtDate(prev.from)} – ${fmtDate(prev.to)}): 0 incidenten`;
  }
  let sig = '';
  if (ch && ch.rate_ratio !== null && ch.rate_ratio !== undefined) {
    const significant = ch.p !== null && ch.p < 0.05;
    const ci = ch.ci_low !== null && ch.ci_low !== undefined && ch.ci_high !== null && ch.ci_high !== undefined ? ` (95 %-BI ${fmtNum(ch.ci_low, 2)} – ${fmtNum(ch.ci_high, 2)})` : '';
    sig = `<p class="hint">Verhouding per dag ${fmtNum(ch.rate_ratio, 2)}${ci}${ch.p !== null && ch.p !== undefined ? `, p = ${fmtNum(ch.p, 3)}` : ''}: ${significant ? '<strong>significante verandering</strong>' : 'geen significante verandering'}.</p>`;
  }
  const cats = (s.categories || []).slice().sort((a, b) => (b.count ?? -1) - (a.count ?? -1)).slice(0, 8);
  const hiddenCats = cats.filter((c) => c.suppressed);
  let html = `<h2>${esc(s.name || area.name)}</h2>
    <p class="hint">${esc(levelName)} <code>${esc(s.code)}</code> · ${fmtDate(f.from)} – ${fmtDate(f.to)}</p>
    <dl class="figures">
      <div><dt>Incidenten</dt><dd id="panel-count" data-value="${esc(s.count)}" data-label="${esc(s.count_label)}" data-suppressed="${s.suppressed ? '1' : '0'}">${esc(countText(s.count, s.count_label))}</dd></div>
      <div><dt>Inwoners</dt><dd id="panel-inhabitants">${fmtNum(s.inhabitants)}</dd></div>
      <div><dt>Per 1.000 inwoners</dt><dd id="panel-rate">${s.rate === null || s.rate === undefined ? '–' : fmtNum(s.rate, 1)}</dd></div>
    </dl>
    <p id="panel-change" class="change">Verandering: ${changeText}</p>${sig}`;
  html += `<h3>Categorieën</h3>${barChart(cats.filter((c) => !c.suppressed).map((c) => ({ label: c.label || c.code, value: c.count })), { width: 330 })}`;
  if (hiddenCats.length) html += `<p class="hint" id="panel-hidden-categories">Te weinig om te tonen: ${hiddenCats.map((c) => `${esc(c.label || c.code)} (${esc(c.count_label || 'afgeschermd')})`).join(', ')}.</p>`;
  html += '<h3>Verloop</h3>';
  html += ts.status === 'fulfilled' && ts.value ? trendChart([{ name: s.name, points: ts.value.series || [] }], { width: 330, title: ts.value.step === 'week' ? 'Incidenten per week' : 'Incidenten per maand' }) : `<p class="hint">Verloop niet beschikbaar${ts.status === 'rejected' ? `: ${esc(errorMessage(ts.reason))}` : ''}.</p>`;
  html += '<h3>Uur van de week</h3>';
  // An area whose count is withheld (small-count protection) gets no time profile: the server withholds it whole.
  if (how.status === 'fulfilled' && how.value && how.value.suppressed) html += `<p class="hint" id="panel-how-suppressed">Te weinig incidenten om een tijdprofiel te tonen${s.count_label ? ` (${esc(s.count_label)})` : ''}.</p>`;
  else html += how.status === 'fulfilled' && how.value ? hourOfWeekChart(how.value.slots, { title: 'Gewogen incidenten per uur (aoristisch)' }) : `<p class="hint">Tijdprofiel niet beschikbaar${how.status === 'rejected' ? `: ${esc(errorMessage(how.reason))}` : ''}.</p>`;
  html += enrichmentHtml(s.enrichment);
  html += profileControlsHtml(dims.status === 'fulfilled' && dims.value ? dims.value.dimensions : null);
  html += `<div class="buttons">
      <button type="button" id="panel-zoom">Inzoomen</button>
      <button type="button" id="panel-compare">Toevoegen aan vergelijking</button>
      ${s.level === 'custom' ? '<button type="button" id="panel-delete" class="danger">Verwijderen</button>' : ''}
    </div>`;
  el.innerHTML = html;
  initProfileControls(area.code, f);
  $('panel-zoom').addEventListener('click', () => zoomToArea(area.code));
  $('panel-compare').addEventListener('click', () => { addCompare(area.code); setView('vergelijken'); });
  if ($('panel-delete')) $('panel-delete').addEventListener('click', () => deleteCustom(area.code, s.name));
}

/** The area's CBS kerncijfers and the municipality's indicators (`enrichment` of /stats). */
function enrichmentHtml(e) {
  if (!e) return '';
  const rows = [
    ...Object.entries(e.cbs || {}).map(([k, v]) => [enrichmentLabel(`cbs:${k}`), v, 'CBS']),
    ...Object.entries(e.indicators || {}).map(([k, v]) => [enrichmentLabel(`indicator:${k}`), v, 'gemeente']),
  ];
  if (!rows.length) return '';
  return `<h3>Kerncijfers</h3><table class="data" id="panel-enrichment"><tbody>${rows.map(([l, v, src]) => `<tr><th>${esc(l)}</th><td class="num">${fmtNum(v, Number.isInteger(v) ? 0 : 1)}</td><td class="n">${src}</td></tr>`).join('')}</tbody></table>`;
}

function renderAreaPick() {
  $('area-pick').innerHTML = '<option value="">Klik op de kaart of kies hier…</option>' + areaOptionsHtml(true);
  if (state.selected) $('area-pick').value = state.selected.code;
}

/** The side panel follows the selected area, the filter and the area lists; the picker selects an area. */
export function initPanel() {
  subscribe('selected', ({ area }) => {
    if (!area) {
      $('side-kaart').innerHTML = EMPTY;
      return;
    }
    if ($('area-pick').value !== area.code) $('area-pick').value = area.code;
    setView('kaart');
    showArea(area);
  });
  subscribe('filter', () => { if (state.selected) showArea(state.selected); });
  subscribe('areas', renderAreaPick);
  $('area-pick').addEventListener('change', (e) => {
    const code = e.target.value;
    if (!code) return;
    selectArea({ code, name: areaName(code), level: levelOf(code) });
    zoomToArea(code);
  });
}
