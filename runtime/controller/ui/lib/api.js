// The controller's REST API: JSON in and out, the session cookie, and the CSRF token on every
// request that changes something.

// sessionExpired runs when a request is refused for want of a session (set by onSessionExpired).
let sessionExpired = () => {};

// onSessionExpired sets what to do when the controller no longer knows the session: the login
// page, which this module cannot import (the login page uses it).
export function onSessionExpired(fn) {
  sessionExpired = fn;
}

class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return '';
}

async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD') {
    const token = cookie('csrftoken');
    if (token) opts.headers['X-CSRFToken'] = token;
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'The controller cannot be reached (' + e.message + ').');
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = text; }
  }
  if (!resp.ok) {
    let msg = data && typeof data === 'object' && data.error ? data.error : resp.status + ' ' + (resp.statusText || 'error');
    if (resp.status === 429) msg = (data && data.error) || 'Too many attempts: wait a moment and try again.';
    const err = new ApiError(resp.status, msg, data);
    if (resp.status === 401 && path !== '/login' && path !== '/api/useraccount') sessionExpired();
    throw err;
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

// optional fetches an endpoint the controller may not have (yet): null on 404 / 405 / 501.
export async function optional(path) {
  try {
    return await get(path);
  } catch (e) {
    if (e.status === 404 || e.status === 405 || e.status === 501) return null;
    throw e;
  }
}

export async function list(kind) {
  const d = await get('/api/' + kind);
  return (d && d.results) || [];
}

export function refOf(o, kind) { return o.url || '/api/' + kind + '/' + o.uuid; }
export function uuidOfRef(ref) {
  if (!ref) return '';
  const m = /\/api\/[a-z-]+\/([^/?#]+)/.exec(ref);
  return m ? m[1] : '';
}
export function byRef(objs, ref) {
  const id = uuidOfRef(ref);
  if (id) return objs.find((o) => o.uuid === id);
  const m = /[?&]name=([^&]*)/.exec(ref || '');
  return m ? objs.find((o) => o.name === decodeURIComponent(m[1])) : undefined;
}
