// Custom areas: drawing a polygon on the map, naming and saving it (POST /api/areas), the list of custom
// areas and deleting one (DELETE /api/areas/{code}). Only callers with `edit_areas` get the drawing controls.

import { api } from './api.js';
import { esc } from './charts.js';
import { PolygonDrawer } from './draw.js';
import { tileUrl } from './layers.js';
import { loadAreas, zoomToArea } from './areas.js';
import {
  state, subscribe, setDrawer, setDrawnGeometry, selectArea, addCompare, removeCompare, setView,
} from './state.js';
import { status, errorMessage } from './status.js';

const $ = (id) => document.getElementById(id);

function renderCustomList() {
  const list = state.areas.custom;
  $('custom-list').innerHTML = list.length
    ? list.map((a) => `<li data-code="${esc(a.code)}"><button type="button" class="link" data-act="open">${esc(a.name)}</button><button type="button" class="small" data-act="compare" title="Toevoegen aan vergelijking">+ vergelijk</button><button type="button" class="small danger custom-delete" data-act="delete" title="Verwijderen">×</button></li>`).join('')
    : '<li class="hint">Nog geen eigen gebieden.</li>';
}

/** Makes the map fetch the custom areas' tiles again (after a save or delete). */
function refreshAreasTiles() {
  const src = state.map.getSource('areas');
  if (src) src.setTiles([tileUrl('areas', { v: Date.now() })]);
}

async function saveDrawn(name) {
  const feature = { type: 'Feature', properties: { name }, geometry: state.drawnGeometry };
  try {
    const res = await api.post('/api/areas', feature);
    status(`Gebied "${res.name}" opgeslagen.`, 'ok');
    state.drawer.cancel();
    setDrawnGeometry(null);
    $('draw-panel').hidden = true;
    $('draw-start').hidden = false;
    $('draw-name').value = '';
    refreshAreasTiles();
    await loadAreas(['custom']);
    selectArea({ code: res.code, name: res.name, level: 'custom' });
  } catch (e) {
    status(`Opslaan mislukt: ${errorMessage(e)}`, 'error', true);
  }
}

/** Asks for confirmation, then deletes the custom area `code` (named `name`) and forgets it everywhere. */
export async function deleteCustom(code, name) {
  if (!confirm(`Gebied "${name}" verwijderen?`)) return;
  try {
    await api.del(`/api/areas/${encodeURIComponent(code)}`);
    status(`Gebied "${name}" verwijderd.`, 'ok');
    removeCompare(code);
    if (state.selected && state.selected.code === code) selectArea(null);
    refreshAreasTiles();
    await loadAreas(['custom']);
  } catch (e) {
    status(`Verwijderen mislukt: ${errorMessage(e)}`, 'error', true);
  }
}

/** The polygon drawer on `map`, the drawing controls and the list of custom areas. */
export function initCustomAreas(map) {
  setDrawer(new PolygonDrawer(map, {
    onChange: (n) => {
      if (state.drawer && state.drawer.active) $('draw-help').textContent = n < 3 ? `Klik op de kaart om hoekpunten te plaatsen (${n} geplaatst, minstens 3).` : `${n} hoekpunten. Dubbelklik of kies Afronden.`;
    },
    onFinish: (geom) => {
      setDrawnGeometry(geom);
      $('draw-save').hidden = false;
      $('draw-finish').hidden = true;
      $('draw-help').textContent = 'Geef het gebied een naam en sla het op.';
      $('draw-name').focus();
    },
  }));
  subscribe('areas', renderCustomList);
  // Callers who may not edit areas have no drawing controls (see login.js).
  if (!$('draw-start')) return;
  $('draw-start').addEventListener('click', () => {
    setView('kaart');
    $('draw-panel').hidden = false;
    $('draw-save').hidden = true;
    $('draw-finish').hidden = false;
    $('draw-start').hidden = true;
    state.drawer.start();
    $('draw-help').textContent = 'Klik op de kaart om hoekpunten te plaatsen; dubbelklik of kies Afronden.';
  });
  $('draw-finish').addEventListener('click', () => {
    if (!state.drawer.finish()) status('Een gebied heeft minstens 3 hoekpunten nodig.', 'error');
  });
  $('draw-cancel').addEventListener('click', () => {
    state.drawer.cancel();
    setDrawnGeometry(null);
    $('draw-panel').hidden = true;
    $('draw-start').hidden = false;
  });
  $('draw-save').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('draw-name').value.trim();
    if (!name) { status('Geef het gebied een naam.', 'error'); return; }
    saveDrawn(name);
  });
  $('custom-list').addEventListener('click', (e) => {
    const btn = e.target.closest('button');
    const li = e.target.closest('li[data-code]');
    if (!btn || !li) return;
    const a = state.areas.custom.find((x) => x.code === li.dataset.code);
    if (!a) return;
    if (btn.dataset.act === 'open') { selectArea({ code: a.code, name: a.name, level: 'custom' }); zoomToArea(a.code); }
    if (btn.dataset.act === 'compare') { addCompare(a.code); setView('vergelijken'); }
    if (btn.dataset.act === 'delete') deleteCustom(a.code, a.name);
  });
}
