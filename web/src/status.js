// The status line in the header: short messages to the user (Dutch), and the text of an error.

import { ApiError } from './api.js';

let statusTimer = null;

/** Shows `msg` with `kind` ('info', 'ok', 'warn', 'error'); it disappears after 6 s unless `sticky`. */
export function status(msg, kind = 'info', sticky = false) {
  const el = document.getElementById('status');
  el.textContent = msg;
  el.className = kind;
  clearTimeout(statusTimer);
  if (!sticky && msg) statusTimer = setTimeout(() => { el.textContent = ''; el.className = ''; }, 6000);
}

/** The Dutch message of an error: the server's (ApiError) or "Onverwachte fout: ...". */
export function errorMessage(e) {
  return e instanceof ApiError ? e.message : `Onverwachte fout: ${e && e.message ? e.message : e}`;
}
