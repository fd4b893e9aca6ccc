// The lists of areas (gemeente, wijken, buurten, custom areas) from GET /api/areas: loading them, looking an
// area up by code, the options of the area pickers and zooming the map to an area.

import { api } from './api.js';
import { esc } from './charts.js';
import { state, setAreas } from './state.js';
import { status, errorMessage } from './status.js';

/** (Re)loads the area lists of `levels`; a level that fails is empty, with a warning. */
export async function loadAreas(levels = ['gemeente', 'wijk', 'buurt', 'custom']) {
  const lists = {};
  await Promise.all(levels.map(async (level) => {
    try {
      lists[level] = (await api.get('/api/areas', { level })) || [];
    } catch (e) {
      lists[level] = [];
      status(`Lijst met gebieden (${level}) niet beschikbaar: ${errorMessage(e)}`, 'warn');
    }
  }));
  setAreas(lists);
}

/** The name of the area with `code` (custom areas first); the code itself when it is unknown. */
export function areaName(code) {
  for (const l of ['custom', 'buurt', 'wijk', 'gemeente']) {
    const a = state.areas[l].find((x) => x.code === code);
    if (a) return a.name;
  }
  return code;
}

/** The level of the area with `code`; 'buurt' when it is unknown. */
export function levelOf(code) {
  for (const l of ['custom', 'buurt', 'wijk', 'gemeente']) if (state.areas[l].some((a) => a.code === code)) return l;
  return 'buurt';
}

/** `<optgroup>`s with an `<option>` per area, per level; custom areas only `withCustom`. */
export function areaOptionsHtml(withCustom = true) {
  const groups = [['custom', 'Eigen gebieden'], ['gemeente', 'Gemeente'], ['wijk', 'Wijken'], ['buurt', 'Buurten']].filter(([l]) => withCustom || l !== 'custom');
  return groups.map(([l, title]) => state.areas[l].length ? `<optgroup label="${title}">${state.areas[l].map((a) => `<option value="${esc(a.code)}">${esc(a.name)} (${esc(a.code)})</option>`).join('')}</optgroup>` : '').join('');
}

/** Fits the map to the bounding box of the area with `code` (when it is listed). */
export function zoomToArea(code) {
  const all = [...state.areas.buurt, ...state.areas.wijk, ...state.areas.gemeente, ...state.areas.custom];
  const a = all.find((x) => x.code === code);
  if (a && a.bbox) state.map.fitBounds(a.bbox, { padding: 60, maxZoom: 16 });
}
