// The phenomenon profile section of the area side panel (GET /api/areas/{code}/profile): one dimension
// (bouwjaar, gebruiksdoel, oppervlakte, WOZ-klassen or an imported address attribute) as a table of classes with
// incidents, share, addresses and relative risk, optionally broken down by buurt, wijk or year with the tests of
// homogeneity across the groups. Loaded on request (a profile reads every address of the area). Viewers get the
// protected counts the server sends: withheld classes show their label, withheld tests say so.

import { api } from './api.js';
import { esc, fmtNum, countText } from './charts.js';
import { errorMessage } from './status.js';

const $ = (id) => document.getElementById(id);

const DIMENSION_LABELS = {
  bouwjaar: 'Bouwjaar',
  gebruiksdoel: 'Gebruiksdoel',
  oppervlakte: 'Oppervlakte (m²)',
  woz: 'WOZ-waarde (€)',
};

const BY_LABELS = { '': 'Niet uitsplitsen', buurt: 'Per buurt', wijk: 'Per wijk', year: 'Per jaar' };

/** The HTML of the profile controls for an area; `dimensions` are the ones the server offers. */
export function profileControlsHtml(dimensions) {
  const dims = dimensions && dimensions.length ? dimensions : ['bouwjaar', 'gebruiksdoel', 'oppervlakte'];
  return `<h3>Fenomeenprofiel</h3>
    <div class="profile-controls">
      <label>Kenmerk <select id="profile-dimension">${dims.map((d) => `<option value="${esc(d)}"${d === 'woz' ? ' selected' : ''}>${esc(DIMENSION_LABELS[d] || d)}</option>`).join('')}</select></label>
      <label>Uitsplitsen <select id="profile-by">${Object.entries(BY_LABELS).map(([v, l]) => `<option value="${v}">${esc(l)}</option>`).join('')}</select></label>
      <button type="button" id="profile-show">Profiel tonen</button>
    </div>
    <div id="profile-result"></div>`;
}

function rrText(r) {
  const rr = r.relative_risk;
  if (!rr) return r.affected_label ? esc(r.affected_label) : '–';
  const sig = rr.ci_lower > 1 ? ' <strong title="significant verhoogd">▲</strong>' : rr.ci_upper < 1 ? ' <span title="significant verlaagd">▼</span>' : '';
  return `${fmtNum(rr.rr, 2)} <span class="hint">(${fmtNum(rr.ci_lower, 2)} – ${fmtNum(rr.ci_upper, 2)})</span>${sig}`;
}

function rowsTable(rows, id) {
  return `<table class="profile-table" id="${id}"><thead><tr><th>Klasse</th><th>Incidenten</th><th>Aandeel</th><th>Adressen</th><th>Relatief risico (95 %-BI)</th></tr></thead><tbody>${rows.map((r) => `<tr data-class="${esc(r.class)}">
      <td>${esc(r.class)}</td>
      <td>${esc(countText(r.incidents, r.count_label))}</td>
      <td>${r.incident_share === null || r.incident_share === undefined ? '–' : `${fmtNum(r.incident_share * 100, 0)} %`}</td>
      <td>${fmtNum(r.addresses)}</td>
      <td>${rrText(r)}</td></tr>`).join('')}</tbody></table>`;
}

function testText(name, t, by) {
  if (!t) return '';
  const p = t.p_value < 0.001 ? '< 0,001' : fmtNum(t.p_value, 3);
  const how = t.method === 'monte_carlo' ? `, p door simulatie (${fmtNum(t.simulations)} tabellen; kleine verwachte aantallen)` : '';
  const verdict = t.p_value < 0.05 ? '<strong>verschilt per ' + esc(by) + '</strong>' : 'geen aantoonbaar verschil per ' + esc(by);
  return `<li>${esc(name)}: χ² = ${fmtNum(t.statistic, 2)}, df = ${fmtNum(t.df)}, p = ${p}${how} — ${verdict}</li>`;
}

function breakdownHtml(v) {
  const byName = { buurt: 'buurt', wijk: 'wijk', year: 'jaar' }[v.by] || v.by;
  let html = `<p class="hint">Hele gebied: ${fmtNum(v.incidents)} incidenten.</p>`;
  if (v.tests_withheld) html += '<p class="hint" id="profile-tests-withheld">Toetsen niet getoond: er zijn afgeschermde aantallen (te weinig incidenten).</p>';
  else if (v.risk_test || v.distribution_test) {
    html += `<ul class="profile-tests" id="profile-tests">${testText('Relatief risico per klasse gelijk', v.risk_test, byName)}${testText('Verdeling van de incidenten gelijk', v.distribution_test, byName)}</ul>`;
  } else if (v.tests_note) html += `<p class="hint">${esc(v.tests_note)}</p>`;
  html += rowsTable(v.overall.rows, 'profile-overall');
  // Groups with incidents first, by their count; empty groups are summarised.
  const groups = v.groups.slice().sort((a, b) => (b.incidents ?? 0) - (a.incidents ?? 0));
  const shown = groups.filter((g) => g.incidents !== 0);
  for (const g of shown) {
    const title = g.name ? `${g.name} (${g.group})` : g.group;
    html += `<details class="profile-group" data-group="${esc(g.group)}"><summary>${esc(title)}: ${esc(countText(g.incidents, g.count_label))} incidenten, ${fmtNum(g.addresses)} adressen</summary>${rowsTable(g.rows, `profile-group-${esc(g.group)}`)}</details>`;
  }
  if (groups.length > shown.length) html += `<p class="hint">${groups.length - shown.length} groepen zonder incidenten.</p>`;
  return html;
}

/** Wire the controls rendered by profileControlsHtml for area `code` and filter parameters `f`. */
export function initProfileControls(code, f) {
  const button = $('profile-show');
  if (!button) return;
  button.addEventListener('click', async () => {
    const out = $('profile-result');
    const dimension = $('profile-dimension').value;
    const by = $('profile-by').value;
    out.innerHTML = '<p class="hint">Profiel berekenen…</p>';
    try {
      const params = { ...f, dimension };
      if (by) params.by = by;
      const v = await api.get(`/api/areas/${encodeURIComponent(code)}/profile`, params);
      if (v.suppressed) {
        out.innerHTML = '<p class="hint" id="profile-suppressed">Te weinig incidenten om een profiel te tonen.</p>';
        return;
      }
      const note = `<p class="hint">Relatief risico: kans dat een adres van de klasse getroffen is, gedeeld door die kans buiten de klasse. ${fmtNum(v.incidents_without_address)} incidenten zonder adres tellen niet mee.</p>`;
      out.innerHTML = (v.groups ? breakdownHtml(v) : rowsTable(v.rows || [], 'profile-overall')) + note;
    } catch (e) {
      out.innerHTML = `<p class="error">Profiel niet beschikbaar: ${esc(errorMessage(e))}</p>`;
    }
  });
}
