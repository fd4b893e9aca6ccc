// The state of the web map, in one object, and the only functions that change it. Every change that other
// parts of the page react to is announced on a topic; feature modules subscribe and render.
//
// Topics (detail passed to the listeners):
//   'filter'   the filter was applied (filterVersion went up)             –
//   'classes'  choropleth mode or class breaks changed                    –
//   'selected' the selected area changed                                  { area, previous }
//   'areas'    the lists of areas were (re)loaded                         –
//   'compare'  the list of areas to compare changed                       –
//   'view'     the view (tab) changed                                     view name
//
// Form fields read only when their form is submitted (compare periods, patrol day and hours, login) stay in the
// DOM; everything the page shares between features lives here.

export const state = {
  meta: null, // GET /api/meta
  me: null, // GET /api/me: who is calling and what they may
  view: 'kaart', // 'kaart' | 'vergelijken' | 'surveillance' | 'links' | 'relaties'
  // filter
  months: [], // 'YYYY-MM' of the data period (the time slider's steps)
  groups: new Set(),
  codes: new Set(),
  sources: new Set(),
  from: '', // 'YYYY-MM-DD' or ''
  to: '',
  filterVersion: 0, // goes up every time the filter is applied
  // choropleth classes
  mode: 'count', // 'count' | 'rate' | an enrichment key ('cbs:COLUMN', 'indicator:NAME')
  breaks: { count: [], rate: [] },
  enrichment: null, // GET /api/enrichment?level=buurt: the kerncijfers and indicators per buurt
  suppressedK: null, // the k of the "< k" labels in the loaded tiles, null when there are none
  breaksDirty: false, // the breaks do not yet follow the applied filter
  breaksVersion: null, // filterVersion the breaks were computed for; null before the first computation
  // areas
  selected: null, // {code, name, level}
  areas: { buurt: [], wijk: [], gemeente: [], custom: [] },
  compare: [], // area codes, in the order they were added
  drawnGeometry: null, // GeoJSON polygon drawn but not yet saved
  patrolShown: false, // a patrol list is on the map
  // the map and its polygon drawer (set once at start)
  map: null,
  drawer: null,
};

const listeners = new Map();

/** Calls `fn(detail)` after every change announced on `topic`. */
export function subscribe(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, []);
  listeners.get(topic).push(fn);
}

function notify(topic, detail) {
  for (const fn of listeners.get(topic) || []) fn(detail);
}

// ---------- session and server ----------
export function setMe(me) {
  state.me = me;
}
export function setMeta(meta) {
  state.meta = meta;
}
export function setMap(map) {
  state.map = map;
}
export function setDrawer(drawer) {
  state.drawer = drawer;
}

// ---------- view ----------
export function setView(view) {
  state.view = view;
  notify('view', view);
}

// ---------- filter ----------
/** Adds (`on`) or removes `value` in the filter set `kind`: 'groups', 'codes' or 'sources'. */
export function setFilterValue(kind, value, on) {
  if (on) state[kind].add(value); else state[kind].delete(value);
}
export function setSources(sources) {
  state.sources = new Set(sources);
}
export function setMonths(months) {
  state.months = months;
}
/** Sets the filter period ('YYYY-MM-DD' or ''); takes effect with the next filterApplied(). */
export function setPeriod(from, to) {
  state.from = from;
  state.to = to;
}
/** The filter is applied: its version goes up and the class breaks must follow the new tiles. */
export function filterApplied() {
  state.filterVersion += 1;
  state.breaksDirty = true;
  notify('filter');
}

// ---------- choropleth classes ----------
export function setMode(mode) {
  state.mode = mode;
  notify('classes');
}
export function setEnrichment(table) {
  state.enrichment = table;
}
export function markBreaksDirty() {
  state.breaksDirty = true;
}
/** New class breaks for the applied filter, and the k of its "< k" labels (null when none). */
export function setBreaks(breaks, suppressedK) {
  state.breaks = { ...state.breaks, ...breaks };
  state.suppressedK = suppressedK;
  state.breaksDirty = false;
  state.breaksVersion = state.filterVersion;
  notify('classes');
}

// ---------- areas ----------
/** Replaces the area lists of the levels in `lists` ({level: [area]}). */
export function setAreas(lists) {
  Object.assign(state.areas, lists);
  notify('areas');
}
/** Selects `area` ({code, name, level}); `null` clears the selection. */
export function selectArea(area) {
  const previous = state.selected;
  state.selected = area;
  notify('selected', { area, previous });
}
export function setDrawnGeometry(geometry) {
  state.drawnGeometry = geometry;
}

// ---------- compare ----------
export function addCompare(code) {
  if (!state.compare.includes(code)) state.compare.push(code);
  notify('compare');
}
export function removeCompare(code) {
  state.compare = state.compare.filter((c) => c !== code);
  notify('compare');
}

// ---------- patrol ----------
export function setPatrolShown(shown) {
  state.patrolShown = shown;
}
