#!/usr/bin/python3
"""The web gateway's security at the HTTP level, against real federators.

Started by tests/test_web.c: a.example serves plain HTTP on loopback,
b.example HTTPS with its own certificate. Checks: nothing without a
session; a session acts as its user only (another user's self, inbox and
client are out of reach, and prekeys go to its own clients only);
operator calls are not served; every POST needs JSON, this origin and
the session's CSRF token; cookies are HttpOnly, SameSite=Strict, with an
expiry, Secure under TLS; log-out ends the session; wrong passwords are
rate-limited per handle; the page carries a strict CSP and has no inline
script or style.
"""
import http.client
import json
import os
import re
import ssl
import sys
import urllib.parse

ENV = os.environ
A = ENV["WEB_A"]
B = ENV["WEB_B"]
FAILURES = int(ENV["LOGIN_FAILURES"])
problems = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        problems.append(what)


def request(base, method, path, body=None, cookie=None, csrf=None,
            ctype="application/json", headers=None):
    u = urllib.parse.urlsplit(base)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=ENV["CA"])
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
    else:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = ctype
    if cookie:
        h["Cookie"] = cookie
    if csrf:
        h["X-CSRF-Token"] = csrf
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        j = json.loads(raw)
    except ValueError:
        j = raw.decode("utf-8", "replace")
    return r.status, r, j


def login(base, user, password):
    st, r, j = request(base, "POST", "/api/login", {"user": user, "password": password})
    if st != 200:
        return st, None, None, j
    sc = r.getheader("Set-Cookie")
    cookie = sc.split(";")[0]
    return st, cookie, j["csrf"], sc


def call(base, cookie, csrf, name, body, **kw):
    return request(base, "POST", "/api/call/" + name, body, cookie, csrf, **kw)


def main():
    # ---- no session ----
    st, _, _ = request(A, "GET", "/api/session")
    check(st == 401, "no session: /api/session is 401")
    st, _, j = request(A, "POST", "/api/call/Conversations/ListConversations", {})
    check(st == 401, f"no session: a call is 401 ({st} {j})")
    st, _, _ = request(A, "POST", "/api/call/Inbox/FetchInbox", {"client": "1"},
                       cookie="fedrpc_session=" + "0" * 64)
    check(st == 401, "a made-up session cookie is 401")

    # ---- the page and its headers ----
    st, r, page = request(A, "GET", "/")
    csp = r.getheader("Content-Security-Policy") or ""
    check(st == 200 and "script-src 'self'" in csp and "unsafe-inline" not in csp
          and "default-src 'none'" in csp, f"strict CSP: {csp}")
    check(r.getheader("X-Content-Type-Options") == "nosniff", "nosniff")
    check(r.getheader("X-Frame-Options") == "DENY", "no framing")
    inline = [s for s in re.findall(r"<script[^>]*>", page) if "src=" not in s]
    check(not inline and "style=" not in page and "onclick" not in page.lower(),
          "no inline script or style in the page")
    st, _, _ = request(A, "GET", "/", headers={"Host": "rebound.example:80"})
    check(st == 421, f"plain HTTP answers to loopback names only ({st})")
    st, _, _ = request(A, "GET", "/../a.conf")
    check(st == 404, "no file outside the page's folder")

    # ---- log-in ----
    st, alice, alice_csrf, sc = login(A, "alice", ENV["PW_ALICE"])
    check(st == 200, "alice logs in")
    check("HttpOnly" in sc and "SameSite=Strict" in sc and "Max-Age=" in sc
          and "Secure" not in sc, f"cookie flags on loopback HTTP: {sc}")
    st, eve, eve_csrf, _ = login(A, "eve@a.example", ENV["PW_EVE"])
    check(st == 200, "eve logs in")
    st, _, _, j = login(A, "alice@b.example", ENV["PW_ALICE"])
    check(st == 400, f"a log-in for another domain is refused ({j})")

    # ---- a session acts as its user only ----
    st, _, j = call(A, eve, eve_csrf, "Users/AddClient", {
        "prekeys": [{"id": 0, "key": "B" * 43 + "="}], "last_prekey": {"id": 65535, "key": "A" * 43 + "="}})
    check(st == 200, f"eve adds a client ({j})")
    eve_client = j.get("client") if isinstance(j, dict) else None
    st, _, j = call(A, alice, alice_csrf, "Conversations/ListConversations", {})
    check(st == 200 and j == {"conversations": []}, f"alice lists her conversations ({j})")
    st, _, sess = request(A, "GET", "/api/session", cookie=eve)
    eve_id = sess["user"]
    st, _, j = call(A, alice, alice_csrf, "Conversations/ListConversations", {"self": eve_id})
    check(st == 403, f"alice cannot act as eve ({st} {j})")
    st, _, j = call(A, alice, alice_csrf, "Inbox/FetchInbox", {"self": eve_id, "client": eve_client})
    check(st == 403, f"alice cannot read eve's inbox as eve ({st})")
    st, _, j = call(A, alice, alice_csrf, "Inbox/FetchInbox", {"client": eve_client})
    check(st != 200 and "has no client" in str(j), f"alice cannot read eve's client's inbox ({st} {j})")
    st, _, j = call(A, alice, alice_csrf, "Inbox/AckInbox", {"client": eve_client, "up_to": "100"})
    check(st != 200 and "has no client" in str(j), f"alice cannot acknowledge eve's inbox ({st} {j})")
    key = "C" * 43 + "="
    st, _, j = call(A, eve, eve_csrf, "Users/AddPrekeys", {"client": eve_client, "prekeys": [{"id": 1, "key": key}]})
    check(st == 200 and j.get("prekeys_left") == 2, f"eve adds a prekey to her client ({st} {j})")
    st, _, j = call(A, alice, alice_csrf, "Users/AddPrekeys", {"client": eve_client, "prekeys": [{"id": 2, "key": key}]})
    check(st == 404 and "has no client" in str(j), f"alice cannot add prekeys to eve's client ({st} {j})")
    st, _, j = call(A, alice, alice_csrf, "Users/AddPrekeys",
                    {"self": eve_id, "client": eve_client, "prekeys": [{"id": 2, "key": key}]})
    check(st == 403, f"alice cannot add prekeys as eve ({st} {j})")
    st, _, j = call(A, eve, eve_csrf, "Inbox/FetchInbox", {"client": eve_client, "limit": 1})
    check(st == 200 and j.get("prekeys_left") == 2, f"eve's client has only her own prekeys ({st} {j})")
    for op in ("Delivery/ListQueues", "Delivery/DropItems", "Users/RegisterUser", "Users/DeleteUser"):
        st, _, _ = call(A, alice, alice_csrf, op, {})
        check(st == 404, f"{op} is not served to the page ({st})")
    st, _, j = call(A, alice, alice_csrf, "Users/FindUser", {"bogus": 1})
    check(st == 400 and "bogus" in j["error"], f"an unknown field is named ({j})")

    # ---- CSRF and cross-site requests ----
    st, _, _ = call(A, alice, None, "Conversations/ListConversations", {})
    check(st == 403, "a POST without the CSRF token is refused")
    st, _, _ = call(A, alice, eve_csrf, "Conversations/ListConversations", {})
    check(st == 403, "a POST with another session's CSRF token is refused")
    st, _, _ = call(A, alice, alice_csrf, "Conversations/ListConversations", "{}", ctype="text/plain")
    check(st == 415, "a form-like (text/plain) POST is refused")
    st, _, _ = call(A, alice, alice_csrf, "Conversations/ListConversations", {},
                    headers={"Origin": "http://evil.example"})
    check(st == 403, "a POST from another origin is refused")
    st, _, _ = call(A, alice, alice_csrf, "Conversations/ListConversations", {},
                    headers={"Sec-Fetch-Site": "cross-site"})
    check(st == 403, "a cross-site POST is refused")
    st, _, _ = request(A, "POST", "/api/login", {"user": "eve", "password": ENV["PW_EVE"]},
                       headers={"Origin": "http://evil.example"})
    check(st == 403, "a log-in from another origin is refused")

    # ---- one-time log-in links ----
    token = ENV["LINK_EVE"].split("token=")[1]
    st, _, j = request(A, "POST", "/api/login", {"user": "eve", "token": token})
    check(st == 200, f"eve logs in with her link ({st} {j})")
    st, _, j = request(A, "POST", "/api/login", {"user": "eve", "token": token})
    check(st == 401, f"the link works once ({st} {j})")
    st, _, j = request(A, "POST", "/api/login", {"user": "alice", "token": token})
    check(st == 401, f"eve's link does not log alice in ({st} {j})")

    # ---- log-out ----
    st, _, _ = request(A, "POST", "/api/logout", {}, eve, eve_csrf)
    check(st == 200, "eve logs out")
    st, _, _ = request(A, "GET", "/api/session", cookie=eve)
    check(st == 401, "the session is gone after log-out")

    # ---- wrong passwords (eve's link tried for alice was one) ----
    for i in range(FAILURES - 1):
        st, _, _, _ = login(A, "alice", "wrong password %d" % i)
        check(st == 401, f"wrong password {i + 1} is refused")
    st, _, _, j = login(A, "alice", ENV["PW_ALICE"])
    check(st == 429 and "too many" in j["error"], f"then even the right one waits ({st} {j})")
    st, _, _, _ = login(A, "eve", ENV["PW_EVE"])
    check(st == 200, "other handles are not held up")
    for i in range(FAILURES + 1):
        st, _, _, _ = login(A, "nobody", "x")
    check(st == 429, "unknown handles are limited too")

    # ---- TLS ----
    st, cookie, csrf, sc = login(B, "bob", ENV["PW_BOB"])
    check(st == 200 and "Secure" in sc and "HttpOnly" in sc, f"HTTPS log-in, Secure cookie: {sc}")
    st, _, j = call(B, cookie, csrf, "Conversations/ListConversations", {},
                    headers={"Origin": B})
    check(st == 200, f"bob calls over HTTPS ({st} {j})")
    try:
        plain = B.replace("https://", "http://")
        st, _, _ = request(plain, "GET", "/")
        check(False, f"plain HTTP to the HTTPS listener answered {st}")
    except Exception:
        check(True, "plain HTTP to the HTTPS listener gets no answer")

    if problems:
        print("%d problems" % len(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
