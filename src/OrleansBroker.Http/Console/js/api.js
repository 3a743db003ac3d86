// The console's one way to the broker: the public HTTP API, signed in as the user of this browser tab.
// Credentials live in this tab's sessionStorage only (gone when the tab closes), as RabbitMQ's console keeps them.

const credentialKey = 'obroker.credentials';
const tenantKey = 'obroker.tenant';

/** An answer other than 2xx, with the problem+json the API sends. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code;
    this.title = problem?.title;
  }
}

export const session = {
  get authorization() { return sessionStorage.getItem(credentialKey); },
  get tenant() { return sessionStorage.getItem(tenantKey) ?? ''; },
  set tenant(value) { sessionStorage.setItem(tenantKey, value); },
  /** Basic credentials of a user, or Bearer for an API key (name left empty). */
  signIn(name, secret) {
    const value = name ? `Basic ${base64(`${name}:${secret}`)}` : `Bearer ${secret}`;
    sessionStorage.setItem(credentialKey, value);
  },
  signOut() {
    sessionStorage.removeItem(credentialKey);
    sessionStorage.removeItem(tenantKey);
  },
};

function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** A path segment: names may hold '/', which the API takes percent-encoded. */
export const seg = (name) => encodeURIComponent(name);

/**
 * Calls the API. `body` is sent as JSON unless `raw` gives the body and its content type.
 * Resolves to the parsed JSON (or null for 204); rejects with ApiError.
 */
export async function api(method, path, { body, raw, contentType, headers = {}, signal } = {}) {
  const sent = { 'X-Requested-With': 'obroker-console', Accept: 'application/json', ...headers };
  if (session.authorization) sent.Authorization = session.authorization;
  if (sessionStorage.getItem(tenantKey) !== null) sent['Broker-Tenant'] = session.tenant;
  let payload;
  if (raw !== undefined) {
    payload = raw;
    sent['Content-Type'] = contentType || 'text/plain';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    sent['Content-Type'] = 'application/json';
  }
  const response = await fetch(`api/${path}`, { method, headers: sent, body: payload, signal, cache: 'no-store' });
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = { detail: text }; }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (response.status === 401 && path !== 'whoami') window.dispatchEvent(new CustomEvent('obroker:signed-out'));
    throw error;
  }
  return json;
}

export const get = (path, options) => api('GET', path, options);
export const post = (path, body, options) => api('POST', path, { body, ...options });
export const put = (path, body, options) => api('PUT', path, { body, ...options });
export const del = (path, options) => api('DELETE', path, options);
