// The browser client's one-time prekeys: made here (private halves
// non-extractable, kept in IndexedDB with the client), numbered by a
// counter kept with them so that no id is handed out twice, and topped up
// when the backend says they run low (FetchInbox's prekeys_low), as fedctl
// client prekeys does by hand.
//
// The new private halves are kept, with the counter moved past their ids,
// before the public halves are uploaded (fedctl's order): an upload whose
// answer was lost may still have been applied, and a key the backend hands
// out must be one this client can open. When the call was refused (a 4xx
// answer) nothing was added, and the new keys are dropped again; when no
// answer or a server error came they stay (unused, they cost only room). A failed upload is
// tried again at a later poll, with new ids, after a pause that doubles
// from RETRY_MS up to RETRY_MAX_MS; one upload at a time.

import * as api from "./api.js";
import * as e2e from "./e2e.js";

export const PREKEYS = 20; // one-time prekeys made at registration; a top-up goes back to as many
const RETRY_MS = 5000;
const RETRY_MAX_MS = 300000;

// Key pairs for ids: {id: {privateKey, pub}} and the public halves as the
// local API takes them.
export async function makePrekeys(ids) {
  const keys = {};
  const pub = [];
  for (const id of ids) {
    const kp = await e2e.generateKeyPair();
    keys[id] = kp;
    pub.push({ id, key: e2e.b64(kp.pub) });
  }
  return { keys, pub };
}

// The counter of a client stored before it had one: its ids were
// 0..PREKEYS-1 at registration, and any it holds above were added later.
function derivedNext(client) {
  let next = PREKEYS;
  for (const k of Object.keys(client.prekeys)) {
    const id = Number(k);
    if (id !== e2e.LAST_RESORT && id + 1 > next) next = id + 1;
  }
  return next % e2e.LAST_RESORT;
}

// The next n one-time ids after every id used before: within
// 0..LAST_RESORT-1, wrapping, skipping those still held. Moves the counter.
export function freshIds(client, n) {
  let next = client.nextPrekey ?? derivedNext(client);
  const ids = [];
  for (let tried = 0; ids.length < n && tried < e2e.LAST_RESORT; tried++) {
    next %= e2e.LAST_RESORT;
    if (!(next in client.prekeys)) ids.push(next);
    next++;
  }
  client.nextPrekey = next % e2e.LAST_RESORT;
  return ids;
}

// How a failed upload reads, in fedctl's words.
function warning(left, what) {
  return (
    "this client has " + left + " one-time prekey" + (left === 1 ? "" : "s") +
    " left; senders starting a session take one each (" + what + ")"
  );
}

export class PrekeyRefill {
  // client: the Client (its stored client record and its store).
  constructor(client) {
    this.client = client;
    this.busy = false; // an upload is under way
    this.failures = 0; // failed uploads in a row
    this.notBefore = 0; // no upload before this time (ms), after a failure
    this.trouble = null; // what the last failure says, until one succeeds
  }

  // Called with each FetchInbox answer.
  async check(inbox) {
    const left = inbox.prekeys_left || 0;
    if (!inbox.prekeys_low || left >= PREKEYS || this.busy || Date.now() < this.notBefore) return;
    this.busy = true;
    try {
      await this.upload(left);
      this.failures = 0;
      this.notBefore = 0;
      this.trouble = null;
    } catch (e) {
      const pause = Math.min(RETRY_MS * 2 ** this.failures, RETRY_MAX_MS);
      this.failures++;
      this.notBefore = Date.now() + pause;
      this.trouble = warning(left, e.message + "; trying again in " + Math.round(pause / 1000) + " s");
    } finally {
      this.busy = false;
    }
  }

  async upload(left) {
    const c = this.client;
    const rec = c.client;
    const ids = freshIds(rec, PREKEYS - left);
    const made = await makePrekeys(ids);
    Object.assign(rec.prekeys, made.keys);
    try {
      await c.store.put({ client: rec });
    } catch (e) {
      for (const id of ids) delete rec.prekeys[id];
      throw new Error("cannot keep the new prekeys (none uploaded): " + e.message);
    }
    try {
      await api.call("Users/AddPrekeys", { client: c.clientId, prekeys: made.pub });
    } catch (e) {
      if (e instanceof api.ApiError && e.status >= 400 && e.status < 500) {
        for (const id of ids) delete rec.prekeys[id];
        await c.store.put({ client: rec }).catch(() => {});
        throw new Error("adding prekeys: " + e.message);
      }
      if (e instanceof api.ApiError) throw new Error("adding prekeys: " + e.message);
      throw new Error("adding prekeys: no answer from the web gateway: " + e.message);
    }
  }
}
