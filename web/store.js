// The web client's keys and history in the browser's IndexedDB, one
// database per user: the client (its id, its private prekeys, which are
// non-extractable CryptoKeys and never leave the browser, and the next
// one-time prekey id to hand out), the sessions, the messages read and
// sent, and how far the inbox was read.

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class Store {
  static async open(user) {
    const r = indexedDB.open("fedrpc:" + user, 1);
    r.onupgradeneeded = () => r.result.createObjectStore("kv");
    const s = new Store();
    s.db = await request(r);
    return s;
  }

  async get(key) {
    const tx = this.db.transaction("kv", "readonly");
    return request(tx.objectStore("kv").get(key));
  }

  // Every value of one call in one transaction, so that a session never
  // moves on without the message it sealed, or the other way round.
  async put(values) {
    const tx = this.db.transaction("kv", "readwrite");
    const st = tx.objectStore("kv");
    for (const [k, v] of Object.entries(values)) st.put(v, k);
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }
}
