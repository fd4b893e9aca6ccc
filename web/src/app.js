// brandpunt web map: start-up and wiring. Each feature is its own module (below); the state they share is
// state.js, and they react to each other's changes through its topics. Plain ES modules on top of the
// global `maplibregl`. The API contract is web/API.md; everything the user sees is Dutch.

import { api } from './api.js';
import { loadAreas } from './areas.js';
import { initChoropleth, loadEnrichment } from './choropleth.js';
import { initCompare } from './compare.js';
import { initCustomAreas } from './custom-areas.js';
import { dashboardParams, initDashboard } from './dashboard.js';
import { filterParams, initFilters } from './filters.js';
import { forecastParams, initForecast } from './forecast.js';
import { evaluationParams, initForecastEvaluation } from './forecast-eval.js';
import { initLegend, renderLegend } from './legend.js';
import { initCopyButtons, initLinks } from './links.js';
import { applyMe, initLogin, loadMe } from './login.js';
import { initMap } from './map.js';
import { initPanel } from './panel.js';
import { initPatrol } from './patrol.js';
import { initRelations } from './relations.js';
import { state, setMeta } from './state.js';
import { status, errorMessage } from './status.js';
import { initViews } from './views.js';

// For the end-to-end tests (and the console): the state, the map, the caller and the filter.
window.brandpunt = {
  state,
  filterParams,
  dashboardParams,
  forecastParams,
  evaluationParams,
  get map() { return state.map; },
  get me() { return state.me; },
};

const $ = (id) => document.getElementById(id);

async function main() {
  initLogin();
  let me;
  try {
    me = await loadMe();
  } catch (e) {
    status(`De kaart kan niet starten: ${errorMessage(e)}`, 'error', true);
    return;
  }
  applyMe(me);
  if (!me) {
    status('Log in om de kaart te zien.', 'warn', true);
    document.body.dataset.ready = 'login';
    return;
  }
  initViews();
  initCopyButtons();
  if (typeof maplibregl === 'undefined') {
    status('De kaartbibliotheek (MapLibre) kon niet worden geladen.', 'error', true);
    return;
  }
  let meta;
  try {
    meta = await api.get('/api/meta');
  } catch (e) {
    status(`De kaart kan niet starten: ${errorMessage(e)}`, 'error', true);
    return;
  }
  setMeta(meta);
  $('gemeente-naam').textContent = meta.name ? `– ${meta.name}` : '';
  document.title = `brandpunt – ${meta.name || 'kaart'}`;
  initFilters(meta);
  const map = initMap(meta);
  initChoropleth(map);
  initLegend();
  renderLegend();
  initCustomAreas(map);
  initPanel();
  initCompare();
  initDashboard();
  initForecast();
  initForecastEvaluation();
  initPatrol();
  initLinks();
  initRelations(map);
  await Promise.all([loadAreas(), loadEnrichment()]);
  document.body.dataset.ready = '1';
}

main().catch((e) => status(`Onverwachte fout: ${e.message}`, 'error', true));
