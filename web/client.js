// The browser as one more client of its user: its own prekeys (made here,
// private halves never leave the browser, topped up when the backend says
// they run low: prekeys.js), its own sessions and its own inbox. Sending and reading follow fedctl's rules (docs/encryption.md):
// a session per recipient client, set up from a claimed prekey only when
// there is none; missing clients reported by the owner are claimed for and
// the message is sent again; the state is kept before a ciphertext leaves.

import * as api from "./api.js";
import * as e2e from "./e2e.js";
import { makePrekeys, PrekeyRefill, PREKEYS } from "./prekeys.js";
import { Store } from "./store.js";

const MAX_ROUNDS = 4;
const SESSIONS_PER_PEER = 8;

export function qualified(q) {
  return q.id + "@" + q.domain;
}

function qidOf(s) {
  const at = s.indexOf("@");
  return { id: s.slice(0, at), domain: s.slice(at + 1) };
}

// Delivery states as fedctl sent words them.
export function deliveryText(d) {
  switch (d.state) {
    case "DELIVERY_STATE_DELIVERED":
      return "delivered to " + d.domain;
    case "DELIVERY_STATE_QUEUED": {
      let t = "queued for " + d.domain;
      if (d.failures > 0)
        t += " (" + d.failures + " failed attempt" + (d.failures === 1 ? "" : "s") + ": " + d.last_error + ")";
      return t;
    }
    case "DELIVERY_STATE_MOVED_ASIDE":
      return "moved aside for " + d.domain + ": " + d.reason;
    case "DELIVERY_STATE_DROPPED":
      return "dropped for " + d.domain + ": " + d.reason;
    case "DELIVERY_STATE_QUEUED_AT_OWNER":
      return "queued at owner " + (d.via || d.domain) + " for " + d.domain;
    default:
      return "unknown for " + d.domain;
  }
}

function final(d) {
  return d.state === "DELIVERY_STATE_DELIVERED" || d.state === "DELIVERY_STATE_DROPPED";
}

export class Client {
  constructor(me) {
    this.me = me; // {user: {id, domain}, handle}
    this.self = qualified(me.user);
    this.refill = new PrekeyRefill(this);
  }

  async open() {
    this.store = await Store.open(this.self);
    this.client = await this.store.get("client");
    this.sessions = (await this.store.get("sessions")) || [];
    this.messages = (await this.store.get("messages")) || [];
    if (!this.client) await this.register();
  }

  // A new client with its prekeys: the private halves stay in IndexedDB.
  async register() {
    const { keys: prekeys, pub } = await makePrekeys([...Array(PREKEYS).keys()]);
    const last = await e2e.generateKeyPair();
    prekeys[e2e.LAST_RESORT] = last;
    const r = await api.call("Users/AddClient", {
      prekeys: pub,
      last_prekey: { id: e2e.LAST_RESORT, key: e2e.b64(last.pub) },
      client_class: "CLIENT_CLASS_DESKTOP",
    });
    // nextPrekey: the next one-time id to hand out (prekeys.js).
    this.client = { id: r.client, prekeys, nextPrekey: PREKEYS };
    await this.store.put({ client: this.client, sessions: [], messages: [] });
  }

  get clientId() {
    return this.client.id;
  }

  ctxTo(peer, peerClient, conv) {
    return { sender: this.self, senderClient: this.clientId, recipient: peer, recipientClient: peerClient, conversation: conv };
  }

  // ---- sessions (session_store.c) ----

  forSending(peer, client) {
    const mine = this.sessions.filter((s) => s.peer === peer && s.peerClient === client);
    return mine.filter((s) => s.initiator).pop() || mine.filter((s) => !s.initiator).pop() || null;
  }

  addSession(s) {
    this.sessions.push(s);
    const same = this.sessions.filter((x) => x.peer === s.peer && x.peerClient === s.peerClient);
    if (same.length > SESSIONS_PER_PEER) {
      const keep = this.forSending(s.peer, s.peerClient);
      const drop = same.find((x) => x !== keep);
      this.sessions = this.sessions.filter((x) => x !== drop);
    }
  }

  clientsOf(peer) {
    return [...new Set(this.sessions.filter((s) => s.peer === peer).map((s) => s.peerClient))];
  }

  // ---- sending (send_ciphers.c, cmd_send.c) ----

  async sealNew(targets, user, cp, convQ, text, ignore) {
    const uq = qualified(user);
    if (!cp.prekey || !cp.prekey.key) {
      ignore.add(uq);
      return;
    }
    const key = e2e.unb64(cp.prekey.key);
    if (key.length !== 32) {
      ignore.add(uq);
      return;
    }
    const ctx = this.ctxTo(uq, cp.client, convQ);
    const s = await e2e.initiate(ctx, cp.prekey.id, key);
    const ct = await e2e.encrypt(s, ctx, text);
    this.addSession(s);
    this.target(targets, user).clients.push({ client: cp.client, ciphertext: e2e.b64(ct) });
  }

  target(targets, user) {
    const uq = qualified(user);
    if (!targets.has(uq)) targets.set(uq, { user, clients: [] });
    return targets.get(uq);
  }

  async claimAndSeal(targets, wanted, convQ, text, ignore) {
    if (wanted.length === 0) return [];
    const r = await api.call("Users/ClaimPrekeys", { targets: wanted });
    for (const u of r.users || [])
      for (const cp of u.clients || []) await this.sealNew(targets, u.user, cp, convQ, text, ignore);
    return r.unreachable_domains || [];
  }

  async send(conv, text) {
    const convQ = qualified(conv.id);
    const targets = new Map();
    const ignore = new Set();
    const claim = [];
    for (const m of conv.members || []) {
      const uq = qualified(m.id);
      let found = false;
      for (const c of this.clientsOf(uq)) {
        if (uq === this.self && c === this.clientId) continue;
        const s = this.forSending(uq, c);
        const ct = await e2e.encrypt(s, this.ctxTo(uq, c, convQ), text);
        this.target(targets, m.id).clients.push({ client: c, ciphertext: e2e.b64(ct) });
        found = true;
      }
      if (!found && uq !== this.self) claim.push({ user: m.id });
    }
    const unreachable = await this.claimAndSeal(targets, claim, convQ, text, ignore);
    for (let round = 0; ; round++) {
      await this.store.put({ sessions: this.sessions });
      const strategy =
        ignore.size > 0 ? { ignore_only: { users: [...ignore].map(qidOf) } } : { report_all: {} };
      const r = await api.call("Conversations/SendMessage", {
        sender_client: this.clientId,
        conversation: conv.id,
        recipients: [...targets.values()].filter((t) => t.clients.length > 0),
        strategy,
      });
      if (r.sent) {
        const msg = {
          key: "sent:" + r.message_id,
          messageId: r.message_id,
          conv: convQ,
          from: this.self,
          text,
          time: Date.now(),
          mine: true,
          deliveries: r.deliveries || [],
          failed: r.sent.failed_to_send || [],
          unreachable,
        };
        this.messages.push(msg);
        await this.store.put({ messages: this.messages });
        return msg;
      }
      const ns = r.not_sent;
      if (!ns || ns.reason !== "REASON_CLIENT_MISSING" || !ns.status || round + 1 >= MAX_ROUNDS)
        throw new Error("not sent: " + (ns ? ns.reason : "no answer"));
      const gone = [...(ns.status.redundant || []), ...(ns.status.deleted || [])];
      for (const g of gone) {
        const t = targets.get(qualified(g.user));
        if (t) t.clients = t.clients.filter((c) => !(g.clients || []).includes(c.client));
      }
      for (const d of ns.status.deleted || [])
        this.sessions = this.sessions.filter(
          (s) => !(s.peer === qualified(d.user) && (d.clients || []).includes(s.peerClient)),
        );
      await this.claimAndSeal(targets, ns.status.missing || [], convQ, text, ignore);
      for (const m of ns.status.missing || []) {
        const t = targets.get(qualified(m.user));
        for (const c of m.clients || [])
          if (!t || !t.clients.some((x) => x.client === c)) ignore.add(qualified(m.user));
      }
    }
  }

  // ---- reading (cmd_inbox.c) ----

  async open1(ev, mr) {
    const from = qualified(mr.sender);
    const convQ = qualified(mr.conversation);
    const ct = e2e.unb64(mr.ciphertext);
    const ctx = { sender: from, senderClient: mr.sender_client, recipient: this.self, recipientClient: this.clientId, conversation: convQ };
    const tag = Number(ev.id);
    const h = e2e.readHeader(ct);
    let s = this.sessions.find((x) => x.peer === from && x.peerClient === mr.sender_client && e2e.matches(x, h));
    if (s) return await e2e.decrypt(s, ctx, ct, tag);
    const pk = this.client.prekeys[h.prekeyId];
    if (!pk) throw new e2e.E2EError("no session for this message, and none can be set up");
    s = await e2e.accept(ctx, pk, h);
    const text = await e2e.decrypt(s, ctx, ct, tag);
    this.addSession(s);
    if (h.prekeyId !== e2e.LAST_RESORT) delete this.client.prekeys[h.prekeyId];
    return text;
  }

  // Reads the inbox; returns the events (decrypted messages kept). Then
  // tops the one-time prekeys up if the backend says they run low.
  async sync() {
    const r = await api.call("Inbox/FetchInbox", { client: this.clientId, since: "0", limit: 100 });
    const events = r.events || [];
    if (events.length > 0) await this.read(events);
    await this.refill.check(r);
    return events;
  }

  // Opens, keeps and acknowledges fetched events.
  async read(events) {
    let last = "0";
    for (const ev of events) {
      last = ev.id;
      const mr = ev.message_received;
      if (!mr) continue;
      const key = "event:" + ev.id;
      if (this.messages.some((m) => m.key === key)) continue;
      const msg = { key, conv: qualified(mr.conversation), from: qualified(mr.sender), fromClient: mr.sender_client, time: Number(ev.time_unix_ms), mine: false };
      try {
        msg.text = await this.open1(ev, mr);
      } catch (e) {
        msg.error = "cannot decrypt: " + e.message;
      }
      this.messages.push(msg);
    }
    await this.store.put({ client: this.client, sessions: this.sessions, messages: this.messages });
    await api.call("Inbox/AckInbox", { client: this.clientId, up_to: last });
    for (const s of this.sessions) e2e.forgetUsed(s, Number(last));
    await this.store.put({ sessions: this.sessions });
  }

  // Asks again for the delivery of sent messages not yet final.
  // At most the 20 newest such messages a round, so that many queued
  // messages do not make many calls a second.
  async refreshDeliveries() {
    let changed = false;
    const open = this.messages.filter((m) => m.mine && !m.deliveries.every(final)).slice(-20);
    for (const m of open) {
      const r = await api.call("Delivery/ListSentMessages", { message_id: m.messageId, limit: 1 });
      const sm = (r.messages || [])[0];
      if (sm && JSON.stringify(sm.deliveries || []) !== JSON.stringify(m.deliveries)) {
        m.deliveries = sm.deliveries || [];
        changed = true;
      }
    }
    if (changed) await this.store.put({ messages: this.messages });
    return changed;
  }
}
