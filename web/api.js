// The web gateway's JSON API: log-in, log-out, and local API calls made
// as the logged-in user. Every POST carries the session's CSRF token.

let csrf = "";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const j = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new ApiError(r.status, j.error || r.statusText);
  return j;
}

export async function session() {
  const r = await fetch("/api/session", { credentials: "same-origin" });
  if (!r.ok) return null;
  const j = await r.json();
  csrf = j.csrf;
  return j;
}

export async function login(user, password) {
  const j = await post("/api/login", { user, password });
  csrf = j.csrf;
  return j;
}

export async function loginToken(user, token) {
  const j = await post("/api/login", { user, token });
  csrf = j.csrf;
  return j;
}

export async function logout() {
  await post("/api/logout", {});
  csrf = "";
}

export function call(name, body) {
  return post("/api/call/" + name, body || {});
}
