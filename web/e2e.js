// End-to-end encryption of the web client, the same scheme and bytes as
// fedctl (docs/encryption.md, message format version 2): sessions set up
// with X25519 from a claimed prekey, HKDF-SHA256 chain keys, the hash
// ratchet (HMAC-SHA256 0x01 / 0x02), and AES-256-GCM with a key and nonce
// derived per message. Only WebCrypto primitives; nothing hand-written.
// Private prekeys are non-extractable CryptoKeys; session state (chain and
// kept message keys) is bytes, kept in IndexedDB by the caller.

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

export const V2 = 2;
export const HEADER_LEN = 40;
export const OVERHEAD = HEADER_LEN + 16;
export const LAST_RESORT = 65535;
const MAX_SKIP = 1000;
const MAX_HELD = 1000;
const MAX_PLAINTEXT = 1 << 20;

const SESSION_LABEL = "fedrpc-e2e v2 session";
const MESSAGE_LABEL = "fedrpc-e2e v2 message key";
const AD_LABEL = "fedrpc-e2e v2 associated data";

export class E2EError extends Error {}

// ---- encodings (e2e_encode.c) ----

function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function u16(v) {
  return new Uint8Array([(v >> 8) & 255, v & 255]);
}

function u32(v) {
  return new Uint8Array([(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
}

function u64(decimal) {
  let v = BigInt(decimal);
  const out = new Uint8Array(8);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 255n);
    v >>= 8n;
  }
  return out;
}

function str(s) {
  const b = enc.encode(s);
  if (b.length === 0 || b.length > 512) throw new E2EError("malformed ciphertext or context");
  return concat(u16(b.length), b);
}

// ctx: {sender, senderClient, recipient, recipientClient, conversation};
// users and conversations "uuid@domain", clients decimal strings.
function parties(ctx) {
  return concat(str(ctx.sender), u64(ctx.senderClient), str(ctx.recipient), u64(ctx.recipientClient));
}

export function b64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function unb64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// ---- primitives (WebCrypto) ----

export async function generateKeyPair() {
  const kp = await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
  const pub = new Uint8Array(await subtle.exportKey("raw", kp.publicKey));
  return { privateKey: kp.privateKey, pub };
}

async function dh(privateKey, peerPub) {
  let pub;
  try {
    pub = await subtle.importKey("raw", peerPub, { name: "X25519" }, true, []);
    // WebCrypto refuses an all-zero result (a public key of low order).
    return new Uint8Array(await subtle.deriveBits({ name: "X25519", public: pub }, privateKey, 256));
  } catch (e) {
    throw new E2EError("invalid public key");
  }
}

async function hkdf(ikm, salt, info, bytes) {
  const key = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(
    await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8),
  );
}

async function hmacByte(keyBytes, b) {
  const key = await subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", key, new Uint8Array([b])));
}

// The key of the chain's next message; returns [mk, moved-on chain].
async function chainStep(chain) {
  const mk = await hmacByte(chain.key, 0x01);
  const next = await hmacByte(chain.key, 0x02);
  return [mk, { key: next, n: chain.n + 1 }];
}

async function deriveChains(ctxIniToResp, prekeyId, shared, base, prekeyPub) {
  const info = concat(enc.encode(SESSION_LABEL), parties(ctxIniToResp), u16(prekeyId));
  const okm = await hkdf(shared, concat(base, prekeyPub), info, 64);
  return [okm.slice(0, 32), okm.slice(32)];
}

async function gcmKey(mk) {
  const okm = await hkdf(mk, new Uint8Array(0), enc.encode(MESSAGE_LABEL), 44);
  const key = await subtle.importKey("raw", okm.slice(0, 32), "AES-GCM", false, ["encrypt", "decrypt"]);
  return [key, okm.slice(32)];
}

function associatedData(ctx, header) {
  return concat(enc.encode(AD_LABEL), parties(ctx), str(ctx.conversation), header);
}

// ---- sessions ----

// A new session with the recipient's client from its prekey (id, pub).
export async function initiate(ctx, prekeyId, prekeyPub) {
  const base = await generateKeyPair();
  const shared = await dh(base.privateKey, prekeyPub);
  const [i2r, r2i] = await deriveChains(ctx, prekeyId, shared, base.pub, prekeyPub);
  return {
    peer: ctx.recipient,
    peerClient: ctx.recipientClient,
    initiator: true,
    prekeyId,
    base: base.pub,
    send: { key: i2r, n: 0 },
    recv: { key: r2i, n: 0 },
    kept: [],
    created: Date.now(),
  };
}

export function readHeader(ct) {
  if (ct.length < 1) throw new E2EError("malformed ciphertext or context");
  if (ct[0] !== V2) throw new E2EError("unknown ciphertext version " + ct[0]);
  if (ct.length < OVERHEAD || ct.length - OVERHEAD > MAX_PLAINTEXT || (ct[1] & ~1) !== 0)
    throw new E2EError("malformed ciphertext or context");
  return {
    fromResponder: (ct[1] & 1) !== 0,
    prekeyId: (ct[2] << 8) | ct[3],
    base: ct.slice(4, 36),
    n: ((ct[36] << 24) | (ct[37] << 16) | (ct[38] << 8) | ct[39]) >>> 0,
  };
}

// Our side of a session from the initiator's first message (its header h),
// with our prekey {privateKey, pub}.
export async function accept(ctx, prekey, h) {
  if (h.fromResponder) throw new E2EError("no session for this message");
  let shared;
  try {
    shared = await dh(prekey.privateKey, h.base);
  } catch (e) {
    throw new E2EError("wrong key, tampered ciphertext or wrong sender, recipient or conversation");
  }
  const [i2r, r2i] = await deriveChains(ctx, h.prekeyId, shared, h.base, prekey.pub);
  return {
    peer: ctx.sender,
    peerClient: ctx.senderClient,
    initiator: false,
    prekeyId: h.prekeyId,
    base: h.base,
    send: { key: r2i, n: 0 },
    recv: { key: i2r, n: 0 },
    kept: [],
    created: Date.now(),
  };
}

export function matches(s, h) {
  if (h.fromResponder !== s.initiator || h.prekeyId !== s.prekeyId) return false;
  for (let i = 0; i < 32; i++) if (h.base[i] !== s.base[i]) return false;
  return true;
}

// Encrypts text for the session's peer; the session moves on (the caller
// keeps it before the ciphertext leaves).
export async function encrypt(s, ctx, text) {
  const pt = enc.encode(text);
  if (pt.length > MAX_PLAINTEXT) throw new E2EError("the text is longer than 1 MiB");
  if (s.send.n > 0xffffffff) throw new E2EError("the session's message counter is used up");
  const [mk, chain] = await chainStep(s.send);
  const header = concat(
    new Uint8Array([V2, s.initiator ? 0 : 1]),
    u16(s.prekeyId),
    s.base,
    u32(chain.n - 1),
  );
  const [key, iv] = await gcmKey(mk);
  const sealed = new Uint8Array(
    await subtle.encrypt({ name: "AES-GCM", iv, additionalData: associatedData(ctx, header), tagLength: 128 }, key, pt),
  );
  s.send = chain;
  return concat(header, sealed);
}

async function open(mk, ctx, ct) {
  const [key, iv] = await gcmKey(mk);
  try {
    return new Uint8Array(
      await subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: associatedData(ctx, ct.slice(0, HEADER_LEN)), tagLength: 128 },
        key,
        ct.slice(HEADER_LEN),
      ),
    );
  } catch (e) {
    throw new E2EError("wrong key, tampered ciphertext or wrong sender, recipient or conversation");
  }
}

function bound(s, held, max, spare) {
  let count = s.kept.filter((k) => (k.usedBy !== 0) === held).length;
  if (count <= max) return;
  let drop = count - max;
  s.kept = s.kept.filter((k) => {
    if (drop > 0 && (k.usedBy !== 0) === held && !(held && k.n === spare)) {
      drop--;
      return false;
    }
    return true;
  });
}

// Decrypts a message of the session's peer; tag is its inbox event id
// (a kept key opens again for the same event only). Returns the text.
export async function decrypt(s, ctx, ct, tag) {
  const h = readHeader(ct);
  if (!matches(s, h)) throw new E2EError("no session for this message");
  let pt;
  if (h.n < s.recv.n) {
    const k = s.kept.find((x) => x.n === h.n);
    if (!k) throw new E2EError("message key no longer kept");
    if (k.usedBy !== 0 && k.usedBy !== tag)
      throw new E2EError("replayed message: its key was already used by another inbox event");
    pt = await open(k.key, ctx, ct);
    if (k.usedBy === 0) {
      k.usedBy = tag;
      bound(s, true, MAX_HELD, h.n);
    }
  } else {
    const gap = h.n - s.recv.n;
    if (gap > MAX_SKIP)
      throw new E2EError("more than 1000 messages of the session skipped before this one; refused");
    let chain = s.recv;
    const skipped = [];
    for (let i = 0; i < gap; i++) {
      const [k, next] = await chainStep(chain);
      skipped.push({ n: chain.n, key: k, usedBy: 0 });
      chain = next;
    }
    const [mk, next] = await chainStep(chain);
    pt = await open(mk, ctx, ct);
    s.kept.push(...skipped, { n: h.n, key: mk, usedBy: tag });
    s.recv = next;
    bound(s, false, MAX_SKIP, 0);
    bound(s, true, MAX_HELD, h.n);
  }
  return new TextDecoder().decode(pt);
}

// Forgets the keys used by events up to upTo (acknowledged).
export function forgetUsed(s, upTo) {
  s.kept = s.kept.filter((k) => !(k.usedBy !== 0 && k.usedBy <= upTo));
}
