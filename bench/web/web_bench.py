#!/usr/bin/python3
"""Latencies of the web gateway (bench/web/web_bench.sh starts it).

Rows, interleaved in rounds so that load changes hit each alike: a
log-in of a known handle with its password (argon2id verify), a wrong
log-in of an unknown handle (the stand-in hash: should cost the same), a
static file, and a local API call through the gateway
(Conversations/ListConversations). One new TCP connection per request, as
the page's fetches mostly are. Medians and 90th percentiles per row, and
the ratio of unknown to known log-ins.
"""
import http.client
import json
import statistics
import sys
import time
import urllib.parse

url, password, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlsplit(url)


def req(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = "application/json"
    t = time.perf_counter()
    c.request(method, path, body=None if body is None else json.dumps(body), headers=h)
    r = c.getresponse()
    data = r.read()
    dt = time.perf_counter() - t
    c.close()
    return dt, r, data


def login_known():
    dt, r, data = req("POST", "/api/login", {"user": "alice", "password": password})
    assert r.status == 200, data
    return dt, r.getheader("Set-Cookie").split(";")[0], json.loads(data)["csrf"]


_, cookie, csrf = login_known()
rows = {"log-in, known handle": [], "log-in, unknown handle": [],
        "static file (app.js)": [], "API call (ListConversations)": []}
per_round = {"log-in, known handle": 10, "log-in, unknown handle": 10,
             "static file (app.js)": 200, "API call (ListConversations)": 200}
for _ in range(rounds):
    for _ in range(per_round["log-in, known handle"]):
        rows["log-in, known handle"].append(login_known()[0])
    for i in range(per_round["log-in, unknown handle"]):
        dt, r, _ = req("POST", "/api/login", {"user": "nobody%d" % i, "password": "x"})
        assert r.status == 401
        rows["log-in, unknown handle"].append(dt)
    for _ in range(per_round["static file (app.js)"]):
        dt, r, _ = req("GET", "/app.js")
        assert r.status == 200
        rows["static file (app.js)"].append(dt)
    for _ in range(per_round["API call (ListConversations)"]):
        dt, r, _ = req("POST", "/api/call/Conversations/ListConversations", {},
                       {"Cookie": cookie, "X-CSRF-Token": csrf})
        assert r.status == 200
        rows["API call (ListConversations)"].append(dt)

print("%-30s %8s %10s %10s" % ("row", "n", "median ms", "p90 ms"))
for name, v in rows.items():
    v = sorted(v)
    print("%-30s %8d %10.2f %10.2f" % (name, len(v), statistics.median(v) * 1e3,
                                        v[int(len(v) * 0.9) - 1] * 1e3))
known = statistics.median(rows["log-in, known handle"])
unknown = statistics.median(rows["log-in, unknown handle"])
print("unknown / known log-in: %.2f" % (unknown / known))
