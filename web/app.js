// The web client's page: log-in, people (search by handle@domain,
// connection requests, connections), conversations with their owning
// domain, members with qualified ids and a federated marker, messages
// with their delivery state per remote domain, refreshed by polling.
// Every text that came from a server (names, handles, messages, errors)
// is put in the page with textContent, never as HTML.

import * as api from "./api.js";
import { Client, qualified, deliveryText } from "./client.js";

const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);

let me = null; // {user, handle}
let client = null;
let current = null; // the open conversation's qualified id
let convs = [];
const profiles = new Map(); // qualified id -> profile
let polling = false;
let prekeyTrouble = null; // the failed prekey top-up the status line shows

// ---- building the DOM (text only) ----

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function status(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

function isRemote(domain) {
  return domain !== me.user.domain;
}

// The domain badge; a remote one says "federated" in words and a symbol.
function domainBadge(domain) {
  const b = el("span", "badge " + (isRemote(domain) ? "federated" : "local"));
  b.textContent = isRemote(domain) ? "\u21c4 " + domain + " \u00b7 federated" : domain;
  if (isRemote(domain)) b.title = "on another domain: " + domain;
  return b;
}

// A person: name, handle@domain and the qualified id, with the badge.
function person(q, extra) {
  const uq = qualified(q);
  const p = profiles.get(uq);
  const li = el("li", "person");
  li.dataset.user = uq;
  li.dataset.federated = String(isRemote(q.domain));
  li.append(el("span", "name", p && p.name ? p.name : "(unknown)"));
  if (p && p.handle) li.append(el("span", "handle qid", "@" + p.handle + "@" + q.domain + " "));
  li.append(el("span", "qid", uq));
  li.append(domainBadge(q.domain));
  if (extra) li.append(extra);
  return li;
}

function button(text, id, onClick) {
  const b = el("button", "", text);
  if (id) b.id = id;
  b.addEventListener("click", (e) => {
    e.preventDefault();
    onClick().catch((err) => status(err.message, true));
  });
  return b;
}

async function loadProfiles(qids) {
  const want = qids.filter((q) => !profiles.has(qualified(q)));
  if (want.length === 0) return;
  const r = await api.call("Users/GetProfiles", { users: want });
  for (const p of r.profiles || []) profiles.set(qualified(p.id), p);
}

// ---- people ----

async function search(ev) {
  ev.preventDefault();
  const q = $("search-q").value.trim();
  const list = $("search-results");
  list.replaceChildren();
  try {
    const r = await api.call("Users/FindUser", { query: q });
    if (!r.profile || !r.profile.id) {
      list.append(el("li", "", "nobody is " + q));
      return;
    }
    profiles.set(qualified(r.profile.id), r.profile);
    const to = r.profile.id;
    list.append(
      person(
        to,
        button("connect", "connect-" + to.id, async () => {
          await api.call("Connections/Connect", { to });
          status("asked " + q + " to connect");
          await refresh();
        }),
      ),
    );
  } catch (e) {
    list.append(el("li", "error", e.message));
  }
}

async function renderConnections() {
  const r = await api.call("Connections/ListConnections", {});
  const cs = r.connections || [];
  await loadProfiles(cs.map((c) => c.to));
  const req = $("requests");
  const con = $("connections");
  const ticked = new Set([...con.querySelectorAll("input:checked")].map((i) => i.value));
  req.replaceChildren();
  con.replaceChildren();
  for (const c of cs) {
    const uq = qualified(c.to);
    if (c.relation === "RELATION_PENDING") {
      req.append(
        person(
          c.to,
          button("accept", "accept-" + c.to.id, async () => {
            await api.call("Connections/Accept", { to: c.to });
            status("connected with " + uq);
            await refresh();
          }),
        ),
      );
    } else if (c.relation === "RELATION_ACCEPTED") {
      const box = el("input");
      box.type = "checkbox";
      box.value = uq;
      box.id = "pick-" + c.to.id;
      box.checked = ticked.has(uq);
      con.append(person(c.to, box));
    } else if (c.relation === "RELATION_SENT") {
      con.append(person(c.to, el("span", "state", "asked, waiting for an answer")));
    }
  }
}

async function createConversation(ev) {
  ev.preventDefault();
  const members = [...$("connections").querySelectorAll("input:checked")].map((i) => {
    const at = i.value.indexOf("@");
    return { id: i.value.slice(0, at), domain: i.value.slice(at + 1) };
  });
  try {
    const r = await api.call("Conversations/CreateConversation", { name: $("conv-name").value, members });
    current = qualified(r.conversation.id);
    if ((r.unreachable_domains || []).length > 0)
      status("created; not reached: " + r.unreachable_domains.join(", "), true);
    await refresh();
  } catch (e) {
    status(e.message, true);
  }
}

// ---- conversations ----

async function renderConversations() {
  const r = await api.call("Conversations/ListConversations", {});
  convs = r.conversations || [];
  const list = $("convs");
  list.replaceChildren();
  for (const c of convs) {
    const cq = qualified(c.id);
    const li = el("li", cq === current ? "conv current" : "conv");
    li.dataset.conv = cq;
    const remote = [...new Set((c.members || []).map((m) => m.id.domain).filter(isRemote))];
    li.dataset.federated = String(isRemote(c.id.domain) || remote.length > 0);
    li.append(el("span", "name", c.name || "(no name)"));
    li.append(el("span", "qid", "owned by " + c.id.domain));
    li.append(domainBadge(c.id.domain));
    if (remote.length > 0 && !isRemote(c.id.domain))
      li.append(el("span", "badge federated", "\u21c4 with " + remote.join(", ") + " \u00b7 federated"));
    li.addEventListener("click", () => {
      current = cq;
      renderCurrent().catch((e) => status(e.message, true));
      for (const x of list.children) x.classList.toggle("current", x.dataset.conv === cq);
    });
    list.append(li);
  }
}

// Who wrote a message: their name and handle@domain, marked if remote.
function sender(uq) {
  const at = uq.indexOf("@");
  const domain = uq.slice(at + 1);
  const p = profiles.get(uq);
  const s = el("span", "from");
  s.dataset.user = uq;
  s.append(el("span", "name", p && p.name ? p.name : uq));
  if (p && p.handle) s.append(el("span", "qid", "@" + p.handle + "@" + domain));
  if (isRemote(domain)) s.append(domainBadge(domain));
  return s;
}

function messageItem(m) {
  const li = el("li", m.mine ? "message mine" : "message");
  li.dataset.key = m.key;
  li.append(m.mine ? el("span", "from", "you") : sender(m.from));
  if (m.error) li.append(el("span", "text error", m.error));
  else li.append(el("span", "text", m.text));
  if (m.mine) {
    for (const d of m.deliveries || []) {
      const s = el("span", "state", deliveryText(d));
      s.dataset.domain = d.domain;
      s.dataset.state = d.state;
      li.append(s);
    }
    for (const f of m.failed || [])
      for (const c of f.clients || [])
        li.append(el("span", "state", "failed for client " + BigInt(c).toString(16) + " of " + qualified(f.user)));
    for (const d of m.unreachable || [])
      li.append(el("span", "state", "not encrypted for users of " + d + " (unreachable)"));
  }
  return li;
}

async function renderCurrent() {
  const c = convs.find((x) => qualified(x.id) === current);
  $("conv-view").hidden = !c;
  if (!c) return;
  const shown = client.messages.filter((m) => m.conv === current);
  const senders = [...new Set(shown.filter((m) => !m.mine).map((m) => m.from))].map((uq) => {
    const at = uq.indexOf("@");
    return { id: uq.slice(0, at), domain: uq.slice(at + 1) };
  });
  await loadProfiles([...(c.members || []).map((m) => m.id), ...senders]);
  $("conv-title").textContent = c.name || "(no name)";
  $("conv-title").dataset.conv = current;
  const owner = $("conv-owner");
  owner.replaceChildren(el("span", "", "owned by " + c.id.domain + " "), domainBadge(c.id.domain));
  const members = $("members");
  members.replaceChildren(...(c.members || []).map((m) => person(m.id)));
  const msgs = $("messages");
  msgs.replaceChildren(...shown.map(messageItem));
}

async function send(ev) {
  ev.preventDefault();
  const c = convs.find((x) => qualified(x.id) === current);
  const text = $("send-text").value;
  if (!c || text === "") return;
  try {
    await client.send(c, text);
    $("send-text").value = "";
    status("sent");
  } catch (e) {
    status(e.message, true);
  }
  await renderCurrent();
}

// ---- the loop ----

async function refresh() {
  const events = await client.sync();
  await client.refreshDeliveries();
  await renderConnections();
  await renderConversations();
  if (events.length >= 0) await renderCurrent();
}

// A failed prekey top-up is said once per attempt, and taken back from
// the status line when one succeeds; a working one says nothing.
function showPrekeyTrouble() {
  const t = client.refill.trouble;
  if (t && t !== prekeyTrouble) status(t, true);
  else if (!t && prekeyTrouble && $("status").textContent === prekeyTrouble) status("");
  prekeyTrouble = t;
}

async function poll() {
  if (polling) return;
  polling = true;
  try {
    await refresh();
    showPrekeyTrouble();
  } catch (e) {
    if (e.status === 401) return showLogin("logged out");
    status(e.message, true);
  } finally {
    polling = false;
  }
}

async function start(who) {
  me = who;
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("logout").hidden = false;
  $("whoami").textContent = "@" + who.handle + "@" + who.user.domain + " (" + qualified(who.user) + ")";
  client = new Client(who);
  await client.open();
  document.body.dataset.client = client.clientId;
  await poll();
  setInterval(poll, POLL_MS);
  document.body.dataset.ready = "true";
}

function showLogin(why) {
  $("login-view").hidden = false;
  $("app-view").hidden = true;
  $("logout").hidden = true;
  $("login-error").textContent = why || "";
}

async function login(ev) {
  ev.preventDefault();
  try {
    const who = await api.login($("user").value.trim(), $("password").value);
    $("password").value = "";
    await start(who);
  } catch (e) {
    $("login-error").textContent = e.message;
  }
}

async function main() {
  $("login").addEventListener("submit", login);
  $("search").addEventListener("submit", search);
  $("conv-new").addEventListener("submit", createConversation);
  $("send").addEventListener("submit", send);
  $("logout").addEventListener("click", async () => {
    await api.logout().catch(() => {});
    location.reload();
  });
  // A one-time log-in link: #login=HANDLE&token=TOKEN (the fragment never
  // reaches the server's logs); it is dropped from the address at once.
  const link = new URLSearchParams(location.hash.slice(1));
  if (link.get("login") && link.get("token")) {
    history.replaceState(null, "", location.pathname);
    try {
      return await start(await api.loginToken(link.get("login"), link.get("token")));
    } catch (e) {
      return showLogin(e.message);
    }
  }
  const who = await api.session();
  if (who) await start(who);
  else showLogin();
}

main().catch((e) => status(e.message, true));
