// HTTP client of the brandpunt API (contract: web/API.md). Every call returns parsed JSON or throws an
// ApiError whose message is Dutch and names the failing parameter when the server did.

/** Error of an API call: `status` 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(message, status, parameter) {
    super(message);
    this.status = status;
    this.parameter = parameter || null;
  }
}

/** Query string of a plain object; empty, null and undefined values are left out. */
export function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return parts.join('&');
}

/** Absolute URL on this server (tile URLs must be absolute: MapLibre fetches them from a worker). */
export function absUrl(path, params) {
  const q = qs(params);
  return `${location.origin}${path}${q ? (path.includes('?') ? '&' : '?') + q : ''}`;
}

/** Sends `method path` (JSON `body` for POST) with the session cookie; rejects with a Dutch ApiError when the
 * server cannot be reached. */
async function send(method, path, params, body) {
  const headers = body !== undefined ? { 'Content-Type': 'application/json' } : {};
  // State-changing requests carry the app's mark: the server refuses them for cookie sessions otherwise (CSRF).
  if (method !== 'GET') headers['X-Brandpunt'] = '1';
  try {
    return await fetch(absUrl(path, params), {
      method,
      credentials: 'same-origin',
      headers,
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ApiError(`De server is niet bereikbaar (${path}).`, 0);
  }
}

/** The ApiError of a failed answer: the server's message (`json.error`) and the parameter it names. */
function failure(res, json, path) {
  const msg = json && json.error ? json.error : `Fout ${res.status} bij ${path}`;
  const param = json && json.parameter ? json.parameter : null;
  return new ApiError(param ? `${msg} (parameter: ${param})` : msg, res.status, param);
}

async function request(method, path, params, body) {
  const res = await send(method, path, params, body);
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (e) {
    json = null;
  }
  if (!res.ok) throw failure(res, json, path);
  return json;
}

/** Label of every Excel download button. */
export const XLSX_LABEL = 'Download Excel (.xlsx)';

/**
 * Downloads the answer of `method path` (JSON `body` for POST) as the file the server names in its
 * Content-Disposition (else `fallbackName`): for downloads a plain link cannot make (POST bodies).
 */
export async function download(method, path, params, body, fallbackName) {
  const res = await send(method, path, params, body);
  if (!res.ok) {
    let json = null;
    try { json = await res.json(); } catch (e) { json = null; }
    throw failure(res, json, path);
  }
  const blob = await res.blob();
  const m = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = m ? m[1] : fallbackName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

export const api = {
  get: (path, params) => request('GET', path, params),
  post: (path, body) => request('POST', path, undefined, body),
  put: (path, body) => request('PUT', path, undefined, body),
  del: (path) => request('DELETE', path),
};
