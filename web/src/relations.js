// The "Relaties" view: the network of registrations, addresses and pseudonymised persons and vehicles around an
// incident or address (GET /api/relations/neighbours, Cytoscape.js from npm, loaded as the global `cytoscape`).
// Only for users with the `relations` grant (me.relations): for anyone else the tab stays hidden and nothing
// here runs. In this view a click on the map opens the network of the nearest incident the user may see
// (GET /api/incidents.geojson in a small box); a tap on a node expands it (its neighbours, depth 1, merged in);
// the incidents of the network are shown on the map at their addresses; the map's filter (period, category,
// source) applies; the export buttons download the shown network's neighbourhood as GraphML, GEXF, JSON or CSV.

import { api, absUrl } from './api.js';
import { filterParams } from './filters.js';
import { state, subscribe, setView } from './state.js';
import { errorMessage } from './status.js';

const $ = (id) => document.getElementById(id);

const KIND_NAMES = {
  incident: 'registratie',
  address: 'adres',
  person: 'persoon',
  vehicle: 'voertuig',
  organisation: 'organisatie',
  phone: 'telefoon',
  other: 'overig',
};
const KIND_COLOURS = {
  incident: '#c0392b',
  address: '#2471a3',
  person: '#7d3c98',
  vehicle: '#1e8449',
  organisation: '#b9770e',
  phone: '#5d6d7e',
  other: '#5d6d7e',
};

let cy = null;
// The node whose network is shown (the root of the exports) and the depth it was opened with.
let root = null;
// The latest request: an older answer arriving later is dropped.
let latest = null;

function showCounts() {
  const el = $('relations-count');
  const nodes = cy ? cy.nodes().length : 0;
  const edges = cy ? cy.edges().length : 0;
  el.dataset.nodes = String(nodes);
  el.dataset.edges = String(edges);
  el.textContent = root ? `${nodes} knooppunten, ${edges} verbindingen` : '';
}

function setHint(text, error) {
  const el = $('relations-hint');
  el.textContent = text;
  el.classList.toggle('error', Boolean(error));
}

function ensureGraph() {
  if (cy) return cy;
  cy = cytoscape({
    container: $('relations-graph'),
    elements: [],
    wheelSensitivity: 0.3,
    style: [
      {
        selector: 'node',
        style: {
          label: 'data(label)',
          'font-size': 8,
          'background-color': (n) => KIND_COLOURS[n.data('kind')] || '#5d6d7e',
          width: 14,
          height: 14,
        },
      },
      { selector: 'node[kind = "address"]', style: { shape: 'round-rectangle' } },
      { selector: 'node[kind = "incident"]', style: { shape: 'diamond' } },
      { selector: 'node.root', style: { 'border-width': 3, 'border-color': '#222' } },
      { selector: 'edge', style: { width: 1, 'line-color': '#aab' } },
      { selector: 'edge[kind = "co_occurs"]', style: { 'line-style': 'dashed', 'line-color': '#d5a6bd' } },
    ],
  });
  cy.on('tap', 'node', (e) => expand(e.target.id()));
  cy.on('mouseover', 'node', (e) => {
    const d = e.target.data();
    setHint(`${KIND_NAMES[d.kind] || d.kind}: ${d.label} · ${d.incidents ?? ''} registratie(s) · ${d.first || ''} – ${d.last || ''} · ${d.sources || ''}`);
  });
  return cy;
}

function layout() {
  cy.layout({ name: 'cose', animate: false, fit: true, padding: 10 }).run();
}

/** The elements of a Cytoscape.js answer not yet in the graph. */
function newElements(answer) {
  const els = (answer && answer.elements) || { nodes: [], edges: [] };
  const fresh = [];
  for (const n of els.nodes || []) if (!cy.getElementById(n.data.id).length) fresh.push({ group: 'nodes', data: n.data });
  for (const e of els.edges || []) if (!cy.getElementById(e.data.id).length) fresh.push({ group: 'edges', data: e.data });
  return fresh;
}

/** Open the network of `node` (depth 1), replacing what is shown. */
export async function openNetwork(node) {
  if (!state.me || !state.me.relations) return;
  setView('relaties');
  ensureGraph();
  const token = Symbol('open');
  latest = token;
  setHint('Laden…');
  let answer;
  try {
    answer = await api.get('/api/relations/neighbours', { ...filterParams(), node, depth: 1 });
  } catch (e) {
    if (latest !== token) return;
    setHint(`Het netwerk kon niet worden geladen: ${errorMessage(e)}`, true);
    return;
  }
  if (latest !== token) return;
  root = node;
  $('relations-node').value = node;
  cy.elements().remove();
  cy.add(newElements(answer));
  cy.getElementById(node).addClass('root');
  layout();
  setHint('Tik op een knooppunt om het uit te breiden.');
  showCounts();
  updateExports();
  showOnMap();
}

/** Add the neighbours (depth 1) of `node` to the graph. */
async function expand(node) {
  const token = Symbol('expand');
  latest = token;
  let answer;
  try {
    answer = await api.get('/api/relations/neighbours', { ...filterParams(), node, depth: 1 });
  } catch (e) {
    if (latest === token) setHint(`Uitbreiden mislukt: ${errorMessage(e)}`, true);
    return;
  }
  if (latest !== token) return;
  const fresh = newElements(answer);
  if (fresh.length) {
    cy.add(fresh);
    layout();
  }
  setHint(fresh.length ? `${fresh.filter((e) => e.group === 'nodes').length} knooppunt(en) toegevoegd.` : 'Geen nieuwe verbindingen.');
  showCounts();
  showOnMap();
}

function updateExports() {
  const params = { ...filterParams(), node: root, depth: 2 };
  for (const a of document.querySelectorAll('#relations-exports a')) {
    a.href = root ? absUrl(`/api/relations/export.${a.dataset.format}`, params) : '#';
    a.toggleAttribute('aria-disabled', !root);
  }
}

const MAP_SOURCE = 'relations-points';

/** The incidents of the shown network as points on the map (their addresses), from the address-level export. */
async function showOnMap() {
  const map = state.map;
  if (!map || !cy) return;
  $('relations-on-map').dataset.ready = '0';
  const regs = new Set(cy.nodes('[kind = "incident"]').map((n) => n.data('label')));
  let fc = { type: 'FeatureCollection', features: [] };
  if (regs.size) {
    try {
      const all = await api.get('/api/incidents.geojson', filterParams());
      fc.features = (all.features || []).filter((f) => regs.has(f.properties.registration));
    } catch (e) {
      setHint(`Adressen niet op de kaart: ${errorMessage(e)}`, true);
    }
  }
  $('relations-on-map').dataset.points = String(fc.features.length);
  $('relations-on-map').textContent = `${fc.features.length} registratie(s) op de kaart.`;
  $('relations-on-map').dataset.ready = '1';
  const src = map.getSource(MAP_SOURCE);
  if (src) {
    src.setData(fc);
    return;
  }
  map.addSource(MAP_SOURCE, { type: 'geojson', data: fc });
  map.addLayer({
    id: MAP_SOURCE,
    type: 'circle',
    source: MAP_SOURCE,
    paint: { 'circle-radius': 7, 'circle-color': '#7d3c98', 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 },
  });
}

/** Open the network of the nearest incident the user may see within a few pixels of a map click. */
async function openAtPoint(map, point) {
  const r = 8;
  const sw = map.unproject([point.x - r, point.y + r]);
  const ne = map.unproject([point.x + r, point.y - r]);
  const bbox = [sw.lng, sw.lat, ne.lng, ne.lat].map((v) => v.toFixed(6)).join(',');
  let fc;
  try {
    fc = await api.get('/api/incidents.geojson', { ...filterParams(), bbox });
  } catch (e) {
    setHint(`Geen registratie gevonden: ${errorMessage(e)}`, true);
    return;
  }
  const at = map.unproject([point.x, point.y]);
  const d2 = (f) => (f.geometry.coordinates[0] - at.lng) ** 2 + (f.geometry.coordinates[1] - at.lat) ** 2;
  const hits = (fc.features || []).slice().sort((a, b) => d2(a) - d2(b));
  if (!hits.length) {
    setHint('Geen registratie op deze plek (binnen het filter en uw rechten).');
    return;
  }
  await openNetwork(`incident:${hits[0].properties.registration}`);
}

/** The view, for users with the grant only. */
export function initRelations(map) {
  const me = state.me;
  const tab = $('tab-relaties');
  tab.hidden = !(me && me.relations);
  if (tab.hidden) return;
  if (typeof cytoscape === 'undefined') {
    setHint('De netwerkbibliotheek (Cytoscape.js) kon niet worden geladen.', true);
    return;
  }
  map.on('click', (e) => {
    if (state.view !== 'relaties') return;
    openAtPoint(map, e.point);
  });
  $('relations-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const node = $('relations-node').value.trim();
    if (node) openNetwork(node);
  });
  subscribe('filter', () => { if (root && state.view === 'relaties') openNetwork(root); });
  subscribe('view', (view) => {
    if (view === 'relaties' && cy) cy.resize();
    if (map.getLayer(MAP_SOURCE)) map.setLayoutProperty(MAP_SOURCE, 'visibility', view === 'relaties' ? 'visible' : 'none');
  });
  updateExports();
  // For the end-to-end tests: the graph and the way in.
  window.brandpunt.relations = { openNetwork, expand, get cy() { return cy; } };
}
