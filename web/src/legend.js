// The legend of the visible map layers: choropleth classes (with the class of withheld counts), KDE, Gi*
// hotspots, emerging hotspots, the forecast, incidents, cells and custom areas.

import { esc, fmtNum } from './charts.js';
import { enrichmentLabel, isEnrichmentMode } from './choropleth.js';
import { classColours, NO_DATA, SUPPRESSED, GI_BINS, EMERGING, FORECAST_COLOUR } from './layers.js';
import { state, subscribe } from './state.js';

/** The k of the "< k" labels the caller gets, or null when counts are exact (analysts, admins). */
function protectedK() {
  if (state.suppressedK) return state.suppressedK;
  return state.meta && state.meta.protected && state.meta.min_count ? state.meta.min_count : null;
}

function legendRange(breaks, i, integer) {
  const f = (v) => fmtNum(v, integer ? 0 : 1);
  if (!breaks.length) return 'alle waarden';
  if (i === breaks.length) return `${f(breaks[i - 1])} of meer`;
  if (!integer) return i === 0 ? `minder dan ${f(breaks[0])}` : `${f(breaks[i - 1])} tot ${f(breaks[i])}`;
  const lo = i === 0 ? 0 : breaks[i - 1];
  const hi = breaks[i] - 1;
  return lo === hi ? f(lo) : `${f(lo)} – ${f(hi)}`;
}

/** Renders the legend of the layers visible on the map now. */
export function renderLegend() {
  const map = state.map;
  const vis = (id) => map && map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none';
  let html = '';
  if (vis('buurten-fill') && isEnrichmentMode(state.mode)) {
    const breaks = state.breaks[state.mode] || [];
    html += `<h4>${esc(enrichmentLabel(state.mode))} per buurt</h4><ul class="legend" id="legend-choropleth" data-mode="${esc(state.mode)}">`;
    const colours = classColours(breaks.length);
    for (let i = 0; i <= breaks.length; i++) html += `<li><i style="background:${colours[i]}"></i>${legendRange(breaks, i, false)}</li>`;
    html += `<li><i style="background:${NO_DATA}"></i>geen waarde</li></ul>`;
  } else if (vis('buurten-fill')) {
    const breaks = state.breaks[state.mode];
    const integer = state.mode === 'count';
    html += `<h4>${state.mode === 'count' ? 'Aantal incidenten per buurt' : 'Incidenten per 1.000 inwoners'}</h4><ul class="legend" id="legend-choropleth">`;
    const colours = classColours(breaks.length);
    for (let i = 0; i <= breaks.length; i++) html += `<li><i style="background:${colours[i]}"></i>${legendRange(breaks, i, integer)}</li>`;
    const k = protectedK();
    if (k) html += `<li id="legend-suppressed"><i class="suppressed" style="background-color:${SUPPRESSED}"></i>te weinig om te tonen (&lt; ${esc(k)})</li>`;
    if (state.mode === 'rate') html += `<li><i style="background:${NO_DATA}"></i>onbekend (geen inwoners)</li>`;
    html += '</ul>';
  }
  if (vis('kde-fill')) html += '<h4>Dichtheid (KDE)</h4><div class="ramp kde"></div><div class="ramp-labels"><span>laag</span><span>hoog (per km²)</span></div><p class="hint" id="legend-kde-dim">buurtkleuren gedimd zolang de dichtheid aan staat</p>';
  if (vis('hotspots-fill')) {
    html += '<h4>Hotspots (Getis-Ord Gi*)</h4><ul class="legend">' + GI_BINS.filter((b) => b.bin !== 0).map((b) => `<li><i style="background:${b.colour}"></i>${esc(b.label)}</li>`).join('') + '</ul>';
  }
  if (vis('emerging-fill')) {
    html += '<h4>Opkomende hotspots</h4><ul class="legend">' + EMERGING.map((e) => `<li><i style="background:${e.colour}"></i>${esc(e.label)}</li>`).join('') + '</ul>';
  }
  if (vis('forecast-fill')) {
    const f = state.forecast;
    html += '<h4>Verwachting komende week</h4><ul class="legend" id="legend-forecast">';
    html += f
      ? `<li><i style="background:${FORECAST_COLOUR}"></i>hoogste ${esc(fmtNum(f.top))} % van de cellen van ${esc(f.cell_m)} m (${esc(fmtNum(f.cells))} cellen): ${esc(f.label)}, van ${esc(f.at)} t/m ${esc(f.until)}, uit de incidenten vóór ${esc(f.at)}</li>`
      : '<li>laden…</li>';
    html += '</ul>';
  }
  if (vis('incidents-points')) html += '<ul class="legend"><li><i class="dot"></i>incident (vanaf zoom 15)</li></ul>';
  if (vis('cells-fill')) html += '<h4>Incidentcellen</h4><div class="ramp cells"></div><div class="ramp-labels"><span>0</span><span>20+</span></div>';
  html += '<ul class="legend"><li><i class="custom"></i>eigen gebied</li></ul>';
  document.getElementById('legend').innerHTML = html;
}

/** Keeps the legend in step with the choropleth classes. */
export function initLegend() {
  subscribe('classes', renderLegend);
}
