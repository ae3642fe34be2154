// The one way the console talks to the satellite: same-origin fetch of /v1/admin/..., the
// session cookie sent by the browser, the CSRF token in X-CSRF-Token on every state change,
// and the server's own error message surfaced as an ApiError.

let csrfToken = '';
let onSessionEnded = () => {};

export function setCsrfToken(token) { csrfToken = token || ''; }
export function onUnauthenticated(callback) { onSessionEnded = callback; }

export class ApiError extends Error {
  constructor(status, reason, message) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function errorOf(res) {
  let reason = '';
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const text = await res.text();
    try {
      const body = JSON.parse(text);
      if (body && body.error) {
        reason = body.error.reason || '';
        message = body.error.message || message;
      }
    } catch {
      if (text) message = text.trim();
    }
  } catch { /* keep the status line */ }
  // A route this satellite does not have (an older version): say so plainly.
  const missingRoute = res.status === 404 && /^no route for /.test(message);
  if (missingRoute) message = `This satellite does not offer this yet (${message}); upgrade it, or use the CLI.`;
  const err = new ApiError(res.status, reason, message);
  err.missingRoute = missingRoute;
  return err;
}

// Sends a request. `body`: an object (sent as JSON), a string or Blob (sent as is, with
// `contentType`), or undefined. Answers: parsed JSON, or the Response itself with raw: true.
export async function request(method, path, { query, body, contentType, raw, accept } = {}) {
  const headers = { Accept: accept || 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  let payload;
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Blob || body instanceof ArrayBuffer) {
      payload = body;
      headers['Content-Type'] = contentType || 'application/octet-stream';
    } else {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(withQuery(path, query), {
    method, headers, body: payload, credentials: 'same-origin', cache: 'no-store',
  });
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && path !== '/v1/admin/login') onSessionEnded(err);
    throw err;
  }
  if (raw) return res;
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) return res.json();
  return res.text();
}

export const get = (path, query) => request('GET', path, { query });
export const post = (path, body, options = {}) => request('POST', path, { body: body === undefined ? {} : body, ...options });
export const del = (path) => request('DELETE', path);

// Audit records arrive as JSON lines.
export function parseJsonLines(text) {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
}
