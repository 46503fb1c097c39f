#!/usr/bin/python3
"""The web client in headless chromium against real federators.

Started by tests/test_web.c, which runs the daemons (a.example, b.example,
c.example), registers the people and hands over everything in the
environment. Alice (a.example) and Bob (b.example) use browsers; Carol
(c.example) uses fedctl. The script asks the C side to stop and start
c.example through a pair of pipes ("stop 2" / "start 2", answered "ok"),
and reads and claims prekeys with fedctl rpc on the local APIs of
a.example (A_SOCK) and c.example (C_SOCK). Every wait polls with a
bounded total; nothing is written outside the test's scratch folder,
except the screenshot when SCREENSHOT names a file.
"""
import json
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ENV = os.environ
WAIT_S = float(ENV.get("WEB_WAIT_S", "90"))
ctl_out = os.fdopen(int(ENV["CTL_OUT"]), "w", buffering=1)
ctl_in = os.fdopen(int(ENV["CTL_IN"]), "r")


def step(what):
    print(f"browser test: {what}", flush=True)


def control(cmd):
    ctl_out.write(cmd + "\n")
    line = ctl_in.readline().strip()
    if line != "ok":
        raise SystemExit(f"control {cmd!r}: {line!r}")


def wait_for(what, fn, timeout=WAIT_S):
    """Polls fn until it returns something true; fails naming `what`."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # the page is being redrawn
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


def click(what, d, css):
    """Finds and clicks css, again while the page redraws it under us (a
    list the page refreshes can replace the element between the two)."""
    wait_for(what, lambda: d.find_element(By.CSS_SELECTOR, css).click() or True)


def browser(name):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--disable-gpu", "--window-size=1280,900",
              "--no-first-run", "--disable-extensions",
              f"--user-data-dir={ENV['SCRATCH']}/chrome-{name}"):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.set_page_load_timeout(WAIT_S)
    d.set_script_timeout(WAIT_S)
    return d


def fedctl(*args, want=0):
    cmd = [ENV["FEDCTL"], *args, "--socket", ENV["C_SOCK"], "--json"]
    r = subprocess.run(cmd, env={**ENV, "FEDCTL_HOME": ENV["C_HOME"]},
                       capture_output=True, text=True, timeout=WAIT_S)
    if r.returncode != want:
        raise AssertionError(f"fedctl {args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def rpc(sock, method, body):
    """One local API call with fedctl rpc; the reply as a dict (proto3
    JSON: lowerCamel names, zero values left out)."""
    r = subprocess.run([ENV["FEDCTL"], "rpc", "call", "--local", method, "--data", json.dumps(body),
                        "--socket", sock], capture_output=True, text=True, timeout=WAIT_S)
    if r.returncode != 0:
        raise AssertionError(f"fedctl rpc call {method}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return json.loads(r.stdout)


def prekeys_left(user, client):
    """The one-time prekeys the backend holds for a.example's client, as
    FetchInbox says."""
    r = rpc(ENV["A_SOCK"], "fedrpc.local.v1.Inbox/FetchInbox", {"self": user, "client": client, "limit": 1})
    return r.get("prekeysLeft", 0), r.get("prekeysLow", False)


# The browser's stored client record: the counter and the ids it holds.
STORED_CLIENT_JS = """
const [db, forget, done] = arguments;
const r = indexedDB.open(db, 1);
r.onerror = () => done({error: String(r.error)});
r.onsuccess = () => {
  const st = r.result.transaction("kv", "readwrite").objectStore("kv");
  const g = st.get("client");
  g.onsuccess = () => {
    const c = g.result;
    const seen = {next: c.nextPrekey === undefined ? null : c.nextPrekey, ids: Object.keys(c.prekeys).map(Number)};
    if (forget) { delete c.nextPrekey; st.put(c, "client"); }
    st.transaction.oncomplete = () => { r.result.close(); done(seen); };
  };
};
"""


def login(d, url, user, password):
    d.get(url)
    wait_for(f"{user}'s log-in form", lambda: d.find_element(By.ID, "user").is_displayed())
    d.find_element(By.ID, "user").send_keys(user)
    d.find_element(By.ID, "password").send_keys(password)
    d.find_element(By.ID, "login-go").click()
    wait_for(f"{user}'s page", lambda: d.execute_script("return document.body.dataset.ready") == "true")


def find_and_connect(d, who):
    box = d.find_element(By.ID, "search-q")
    box.clear()
    box.send_keys(who)
    d.find_element(By.ID, "search-go").click()
    click(f"{who} found", d, "#search-results button")


def texts(d, css):
    return [e.text for e in d.find_elements(By.CSS_SELECTOR, css)]


def message_shown(d, text):
    return any(text in t for t in texts(d, "#messages .text"))


def open_conv(d, conv):
    click(f"conversation {conv}", d, f'#convs li[data-conv="{conv}"]')
    wait_for("the conversation open", lambda: d.find_element(
        By.ID, "conv-title").get_attribute("data-conv") == conv)


def send(d, text):
    box = d.find_element(By.ID, "send-text")
    box.send_keys(text)
    d.find_element(By.ID, "send-go").click()
    wait_for(f"'{text}' shown as sent", lambda: message_shown(d, text))


MARKERS_JS = """
const own = arguments[0], bad = [];
const people = document.querySelectorAll("li.person");
if (people.length === 0) bad.push("no people on the page");
for (const li of people) {
  const user = li.dataset.user, remote = !user.endsWith("@" + own);
  if (li.dataset.federated !== String(remote)) bad.push(user + ": data-federated " + li.dataset.federated);
  const b = li.querySelector(".badge.federated");
  if (remote && !(b && b.textContent.includes("federated") && b.textContent.includes(user.split("@")[1])))
    bad.push(user + ": no federated badge naming its domain");
  if (!remote && b) bad.push(user + ": local user marked federated");
}
for (const li of document.querySelectorAll("#convs li"))
  if (li.dataset.federated !== "true") bad.push(li.dataset.conv + ": conversation not marked federated");
return bad;
"""


def check_markers(d, own_domain):
    """Every remote person and the conversation carry the marker (read in
    one go: the page redraws while polling)."""
    bad = d.execute_script(MARKERS_JS, own_domain)
    assert not bad, "; ".join(bad)


def main():
    a_url, b_url = ENV["WEB_A"], ENV["WEB_B"]
    carol_name = ENV["CAROL_NAME"]
    alice = browser("alice")
    bob = browser("bob")
    try:
        step("log in")
        login(alice, a_url, "alice", ENV["PW_A"])
        step("bob logs in with a one-time link")
        bob.get(b_url + "/" + ENV["LINK_B"])
        wait_for("bob's page", lambda: bob.execute_script("return document.body.dataset.ready") == "true")
        assert "token" not in bob.current_url, bob.current_url
        # The browsers' clients exist now: fedctl's encryption finds them.
        step("connect")
        find_and_connect(alice, "bob@b.example")
        find_and_connect(alice, "carol@c.example")
        click("alice's request at bob", bob, "#requests button")
        wait_for("carol sees alice's request", lambda: '"pending"' in fedctl("connections")
                 or "pending" in fedctl("connections"))
        fedctl("accept", "alice@a.example")

        step("create a conversation")
        for handle in ("bob", "carol"):
            wait_for(f"{handle} connected", lambda: any(
                handle in t for t in texts(alice, "#connections li.person")) and alice.find_elements(
                By.CSS_SELECTOR, "#connections input[type=checkbox]"))
        wait_for("two connections to tick", lambda: len(alice.find_elements(
            By.CSS_SELECTOR, "#connections input[type=checkbox]")) == 2)

        def tick_both():
            boxes = alice.find_elements(By.CSS_SELECTOR, "#connections input[type=checkbox]")
            for box in boxes:
                if not box.is_selected():
                    box.click()
            return len(boxes) == 2 and all(b.is_selected() for b in alice.find_elements(
                By.CSS_SELECTOR, "#connections input[type=checkbox]"))
        wait_for("both connections ticked", tick_both)
        alice.find_element(By.ID, "conv-name").send_keys("plans")
        alice.find_element(By.ID, "conv-create").click()
        conv = wait_for("the conversation", lambda: alice.find_element(
            By.ID, "conv-title").get_attribute("data-conv"))
        assert conv.endswith("@a.example"), conv
        wait_for("three members", lambda: len(alice.find_elements(By.CSS_SELECTOR, "#members li")) == 3)

        step("the display name from c.example is text")
        # The texts are read inside the wait: the list may be redrawn.
        name = wait_for("carol's name", lambda: [t for t in texts(
            alice, "#members li .name") if "Carol" in t])
        assert name[0] == carol_name, name[0]
        assert not alice.find_elements(By.ID, "pwned-img")
        assert alice.execute_script("return window.pwned === undefined")
        check_markers(alice, "a.example")

        step("alice writes; bob and carol read")
        send(alice, "hello from the browser")
        open_conv(bob, conv)
        wait_for("bob reads alice", lambda: message_shown(bob, "hello from the browser"))
        check_markers(bob, "b.example")
        wait_for("carol reads alice", lambda: "hello from the browser" in fedctl("inbox", "--ack"))

        step("carol answers with fedctl; both browsers read it")
        fedctl("send", conv, "hi from fedctl")
        wait_for("alice reads carol", lambda: message_shown(alice, "hi from fedctl"))
        wait_for("bob reads carol", lambda: message_shown(bob, "hi from fedctl"))

        step("bob answers from his browser")
        send(bob, "bob here")
        wait_for("alice reads bob", lambda: message_shown(alice, "bob here"))
        wait_for("carol reads bob", lambda: "bob here" in fedctl("inbox", "--ack"))

        step("c.example goes down: queued, then delivered")
        wait_for("delivered to c.example", lambda: any(
            "delivered to c.example" in t for t in texts(alice, "#messages .state")))
        control("stop 2")
        send(alice, "while c is down")
        mine = lambda: alice.find_elements(By.CSS_SELECTOR, "#messages li.mine")[-1]
        wait_for("queued for c.example", lambda: "queued for c.example" in mine().text)
        wait_for("delivered to b.example", lambda: "delivered to b.example" in mine().text)
        if ENV.get("SCREENSHOT"):
            alice.save_screenshot(ENV["SCREENSHOT"])
        control("start 2")
        wait_for("delivered to c.example after it returned",
                 lambda: "delivered to c.example" in mine().text, timeout=WAIT_S * 2)
        wait_for("carol reads what waited", lambda: "while c is down" in fedctl("inbox", "--ack"))
        check_markers(alice, "a.example")

        step("alice's one-time prekeys run out; her browser uploads new ones")
        alice_q = alice.find_element(By.ID, "whoami").text.rsplit("(", 1)[1].rstrip(")")
        alice_id = {"id": alice_q.split("@")[0], "domain": "a.example"}
        alice_client = alice.execute_script("return document.body.dataset.client")
        # A file of the same origin without the page: nothing polls while
        # the prekeys are drained, and the stored client loses its counter,
        # as one stored before the counter was.
        alice.get(a_url + "/favicon.svg")
        seen = alice.execute_async_script(STORED_CLIENT_JS, "fedrpc:" + alice_q, True)
        assert seen.get("next") == 20, seen
        left, low = prekeys_left(alice_id, alice_client)
        assert left == 20 and not low, (left, low)
        claimed = []
        for _ in range(left):
            r = rpc(ENV["C_SOCK"], "fedrpc.local.v1.Users/ClaimPrekeys", {"targets": [{"user": alice_id}]})
            claimed += [c["prekey"].get("id", 0) for u in r.get("users", []) for c in u.get("clients", [])]
        assert sorted(claimed) == list(range(20)), claimed
        assert prekeys_left(alice_id, alice_client) == (0, True)
        # A prekey with the next id, not made by the browser: its first
        # upload (ids 20..38) is refused and said in the status line.
        r = rpc(ENV["A_SOCK"], "fedrpc.local.v1.Users/AddPrekeys",
                {"self": alice_id, "client": alice_client, "prekeys": [{"id": 20, "key": "A" * 43 + "="}]})
        assert r.get("prekeysLeft") == 1, r
        alice.get(a_url)
        wait_for("alice's page again", lambda: alice.execute_script("return document.body.dataset.ready") == "true")
        trouble = wait_for("the failed upload in the status line", lambda: [t for t in [
            alice.find_element(By.ID, "status").text] if "still has a prekey with id 20" in t])[0]
        assert trouble.startswith("this client has 1 one-time prekey left; senders starting a session take "
                                  "one each (adding prekeys: Users/AddPrekeys: ") and "trying again in 5 s" in trouble, trouble
        step("the upload is tried again with new ids and succeeds")
        # The stray prekey goes (well before the retry, 5 s later).
        r = rpc(ENV["C_SOCK"], "fedrpc.local.v1.Users/ClaimPrekeys", {"targets": [{"user": alice_id}]})
        assert [c["prekey"].get("id") for u in r["users"] for c in u["clients"]] == [20], r
        wait_for("20 one-time prekeys on a.example again", lambda: prekeys_left(alice_id, alice_client) == (20, False))
        wait_for("the status line cleared", lambda: "prekey" not in alice.find_element(By.ID, "status").text)
        seen = alice.execute_async_script(STORED_CLIENT_JS, "fedrpc:" + alice_q, False)
        assert seen.get("next") == 59 and all(i in seen["ids"] for i in range(39, 59)) and not any(
            i in seen["ids"] for i in range(20, 39)), seen
        step("a new client of carol's starts a session from a new prekey; alice reads it")
        fedctl("client", "add")
        fedctl("send", conv, "from carol's new client")
        open_conv(alice, conv)
        wait_for("alice reads carol's new client", lambda: message_shown(alice, "from carol's new client"))
        assert prekeys_left(alice_id, alice_client) == (19, False)
        seen = alice.execute_async_script(STORED_CLIENT_JS, "fedrpc:" + alice_q, False)
        assert 39 not in seen["ids"], seen

        step("no errors in the pages' consoles (script errors, CSP violations)")
        for name, d in (("alice", alice), ("bob", bob)):
            # (Asking whether a session exists before logging in is a 401;
            # a file of the page's opened on its own has no favicon.ico; the
            # prekey upload refused above is a 409.)
            expected = (("/api/session", "401"), ("/favicon.ico", "404"), ("/Users/AddPrekeys", "409"))
            severe = [e["message"] for e in d.get_log("browser") if e.get("level") == "SEVERE"
                      and not any(p in e["message"] and c in e["message"] for p, c in expected)]
            assert not severe, f"{name}'s console: {severe}"
        step("the browser enforces the CSP: an inline script put in the page does not run")
        alice.execute_script(
            "const s = document.createElement('script');"
            "s.textContent = 'window.inlineRan = 1;';"
            "document.body.append(s);")
        assert alice.execute_script("return window.inlineRan === undefined"), "inline script ran"
        blocked = [e["message"] for e in alice.get_log("browser") if "Content Security Policy" in e["message"]]
        assert blocked, "no CSP report for the inline script"
        step("passed")
    except BaseException:
        # What the pages said, for the failure's report.
        for name, d in (("alice", alice), ("bob", bob)):
            try:
                print(f"{name}'s page status: {d.find_element(By.ID, 'status').text!r}; "
                      f"log-in error: {d.find_element(By.ID, 'login-error').text!r}", file=sys.stderr)
            except Exception:
                pass
        raise
    finally:
        for d in (alice, bob):
            try:
                logs = d.get_log("browser")
                for entry in logs:
                    if entry.get("level") == "SEVERE":
                        print("console:", entry.get("message"), file=sys.stderr)
            except Exception:
                pass
            d.quit()
        ctl_out.write("exit\n")


if __name__ == "__main__":
    main()
