// The views (tabs): Kaart, Dashboard, Vergelijken, Surveillance, Links voor BI, and Relaties (only with the relations grant). Shows the parts of the page that
// belong to the current view; the compare and patrol views react to the change themselves.

import { setView, subscribe } from './state.js';

const $ = (id) => document.getElementById(id);

function showView(view) {
  document.body.dataset.view = view;
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.view === view);
  $('compare-view').hidden = view !== 'vergelijken';
  $('dashboard-view').hidden = view !== 'dashboard';
  $('side-kaart').hidden = !(view === 'kaart' || view === 'vergelijken');
  document.querySelector('.side-pick').hidden = $('side-kaart').hidden;
  $('side-surveillance').hidden = view !== 'surveillance';
  $('side-links').hidden = view !== 'links';
  $('side-relaties').hidden = view !== 'relaties';
}

/** The tabs switch the view. */
export function initViews() {
  subscribe('view', showView);
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => setView(b.dataset.view));
}
