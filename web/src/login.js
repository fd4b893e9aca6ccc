// Login and the caller's rights: GET /api/me, the login form (POST /api/login, then a reload), Uitloggen
// (POST /api/logout), and removing the controls the caller may not use.

import { api, ApiError } from './api.js';
import { setMe } from './state.js';
import { status, errorMessage } from './status.js';

const $ = (id) => document.getElementById(id);

const ROLE_NAMES = { viewer: 'kijker', analyst: 'analist', admin: 'beheerder' };

/** GET /api/me; `null` when a login is required. An ended session is cleared by the server: ask once more. */
export async function loadMe() {
  for (let i = 0; i < 2; i++) {
    try {
      return await api.get('/api/me');
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
    }
  }
  return null;
}

/** Shows who is logged in (or the login form) and removes controls the caller may not use. */
export function applyMe(me) {
  setMe(me);
  const loggedIn = Boolean(me && !me.anonymous);
  $('login-form').hidden = loggedIn;
  $('who').hidden = !loggedIn;
  if (loggedIn) {
    $('who-name').textContent = me.user;
    $('who-role').textContent = `(${ROLE_NAMES[me.role] || me.role})`;
  }
  for (const el of document.querySelectorAll('[data-needs]')) {
    if (!(me && me[el.dataset.needs])) el.remove();
  }
  const canEdit = Boolean(me && me.edit_areas);
  document.body.classList.toggle('no-edit', !canEdit);
  $('draw-login-hint').hidden = canEdit;
}

/** Wires the login form and the Uitloggen button. */
export function initLogin() {
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('login-error').textContent = '';
    const user = $('login-user').value.trim();
    const password = $('login-password').value;
    if (!user || !password) {
      $('login-error').textContent = 'Vul gebruikersnaam en wachtwoord in.';
      return;
    }
    $('login-submit').disabled = true;
    try {
      await api.post('/api/login', { user, password });
      location.reload();
    } catch (err) {
      $('login-password').value = '';
      $('login-error').textContent = err instanceof ApiError && err.status === 401
        ? 'Onjuiste gebruikersnaam of wachtwoord.'
        : errorMessage(err);
    } finally {
      $('login-submit').disabled = false;
    }
  });
  $('logout').addEventListener('click', async () => {
    try {
      await api.post('/api/logout');
    } catch (e) {
      status(`Uitloggen mislukt: ${errorMessage(e)}`, 'error', true);
      return;
    }
    location.reload();
  });
}
