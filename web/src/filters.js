// Filter panel: category groups and codes, the period (dates, or the time slider with its window and play
// button) and the sources. A change is applied 200 ms later (filterApplied in state.js); the map, the side
// panel, the patrol list and the BI links follow it through the 'filter' topic.

import { esc, fmtNum } from './charts.js';
import { monthList, lastDayOfMonth, monthLabel } from './dates.js';
import { state, setFilterValue, setSources, setMonths, setPeriod, filterApplied } from './state.js';
import { status } from './status.js';

const $ = (id) => document.getElementById(id);

/** The filter as query parameters of the API (category, from, to, source). */
export function filterParams() {
  const cats = [...state.groups, ...state.codes];
  const allSources = state.meta ? state.meta.sources || [] : [];
  const src = state.sources.size && state.sources.size < allSources.length ? [...state.sources] : [];
  return {
    category: cats.join(','),
    from: state.from,
    to: state.to,
    source: src.join(','),
  };
}

/** Sets the period from the time slider and the window length. */
function applySlider() {
  const p = state.meta && state.meta.period;
  if (!p || !state.months.length) return;
  const idx = Number($('slider').value);
  const win = $('window').value;
  const endMonth = state.months[idx];
  let from;
  if (win === 'all') from = p.first;
  else {
    const startIdx = Math.max(0, idx - Number(win) + 1);
    from = `${state.months[startIdx]}-01`;
  }
  let to = lastDayOfMonth(endMonth);
  if (from < p.first) from = p.first;
  if (to > p.last) to = p.last;
  $('from').value = from;
  $('to').value = to;
  setPeriod(from, to);
  $('slider-label').textContent = win === 'all'
    ? `Hele periode tot en met ${monthLabel(endMonth)}`
    : `${Number(win) === 1 ? monthLabel(endMonth) : `${monthLabel(state.months[Math.max(0, idx - Number(win) + 1)])} – ${monthLabel(endMonth)}`}`;
}

let filterTimer = null;
function filterChanged() {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(applyFilter, 200);
}

function applyFilter() {
  const f = filterParams();
  if (f.from && f.to && f.from > f.to) {
    status('De begindatum ligt na de einddatum.', 'error');
    return;
  }
  filterApplied();
}

function groupLabel(name) {
  return { inbraak: 'Inbraak', geweld: 'Geweld', overlast: 'Overlast' }[name] || name;
}

/** Adds or removes a checkbox's value in the filter set `kind` ('groups', 'codes', 'sources'). */
function toggle(kind, input) {
  if (!input || !input.value) return;
  setFilterValue(kind, input.value, input.checked);
}

/** Fills the filter panel from GET /api/meta and wires its controls; sets the initial period. */
export function initFilters(meta) {
  const groups = meta.groups || [];
  $('groups').innerHTML = groups.map((g) => `<label><input type="checkbox" name="group" value="${esc(g.name)}"> ${esc(groupLabel(g.name))} <span class="n">(${(g.codes || []).length} codes)</span></label>`).join('') || '<p class="hint">Geen categoriegroepen.</p>';
  $('codes').innerHTML = (meta.categories || []).map((c) => `<label><input type="checkbox" name="code" value="${esc(c.code)}"> <code>${esc(c.code)}</code> ${esc(c.label)} <span class="n">(${fmtNum(c.count)})</span></label>`).join('');
  $('sources').innerHTML = (meta.sources || []).map((s) => `<label><input type="checkbox" name="source" value="${esc(s)}" checked> ${esc(s)}</label>`).join('') || '<p class="hint">Geen bronnen.</p>';
  setSources(meta.sources || []);
  $('groups').addEventListener('change', (e) => { toggle('groups', e.target); filterChanged(); });
  $('codes').addEventListener('change', (e) => { toggle('codes', e.target); filterChanged(); });
  $('sources').addEventListener('change', (e) => {
    toggle('sources', e.target);
    if (state.sources.size === 0) {
      status('Kies minstens één bron.', 'error');
      e.target.checked = true;
      setFilterValue('sources', e.target.value, true);
      return;
    }
    filterChanged();
  });
  const p = meta.period;
  if (p && p.first && p.last) {
    setMonths(monthList(p.first.slice(0, 7), p.last.slice(0, 7)));
    $('slider').max = String(state.months.length - 1);
    $('slider').value = String(state.months.length - 1);
    for (const id of ['from', 'to']) { $(id).min = p.first; $(id).max = p.last; }
    applySlider();
  } else {
    $('slider').disabled = true;
    $('slider-label').textContent = 'Nog geen incidenten ingelezen.';
  }
  $('slider').addEventListener('input', () => { applySlider(); filterChanged(); });
  $('window').addEventListener('change', () => { applySlider(); filterChanged(); });
  for (const id of ['from', 'to']) {
    $(id).addEventListener('change', () => {
      setPeriod($('from').value, $('to').value);
      $('slider-label').textContent = 'Eigen periode';
      filterChanged();
    });
  }
  let playTimer = null;
  $('play').addEventListener('click', () => {
    if (playTimer) { clearInterval(playTimer); playTimer = null; $('play').textContent = '▶'; return; }
    if ($('window').value === 'all') $('window').value = '1';
    $('slider').value = '0';
    applySlider(); applyFilter();
    $('play').textContent = '⏸';
    playTimer = setInterval(() => {
      const v = Number($('slider').value);
      if (v >= Number($('slider').max)) { clearInterval(playTimer); playTimer = null; $('play').textContent = '▶'; return; }
      $('slider').value = String(v + 1);
      applySlider(); applyFilter();
    }, 1500);
  });
}
