#!/usr/bin/env bash
# Manual self-test of the two peer drivers against a live Redis.
#   tests/interop/selftest.sh [HOST] [PORT]     (default 127.0.0.1 6379)
# Uses namespace `drvtest` and deletes every drvtest* key at the end.
# Needs setup.sh to have run; the harness itself is stdlib-only python3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
host="${1:-127.0.0.1}"
port="${2:-6379}"

"$here/setup.sh"

cleanup() {
  redis-cli -h "$host" -p "$port" --scan --pattern 'drvtest*' | xargs -r -d '\n' redis-cli -h "$host" -p "$port" del >/dev/null
}
trap cleanup EXIT
cleanup

HERE="$here" HOST="$host" PORT="$port" python3 - <<'PY'
import json, os, subprocess, sys, time

here, host, port = os.environ["HERE"], os.environ["HOST"], os.environ["PORT"]
NS = "drvtest"
failures = []

def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)

class Peer:
    def __init__(self, name, argv):
        self.name = name
        self.p = subprocess.Popen(argv + ["--host", host, "--port", port, "--ns", NS],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, encoding="utf-8")
        first = json.loads(self.p.stdout.readline())
        assert first == {"ready": True}, first
        self.n = 0

    def req(self, op, **params):
        self.n += 1
        self.p.stdin.write(json.dumps(dict(id=self.n, op=op, **params)) + "\n")
        self.p.stdin.flush()
        resp = json.loads(self.p.stdout.readline())
        assert resp["id"] == self.n, (resp, self.n)
        return resp

    def ok(self, op, **params):
        r = self.req(op, **params)
        if not r["ok"]:
            raise AssertionError("%s %s failed: %r" % (self.name, op, r))
        return r["result"]

    def quit(self):
        r = self.req("quit")
        rc = self.p.wait(timeout=10)
        check(r["ok"] and rc == 0, "%s: quit -> exit 0" % self.name)

js = Peer("js", ["node", os.path.join(here, "js", "driver.js"), "--realtime"])
py = Peer("py", [os.path.join(here, "python", ".venv", "bin", "python"),
                 os.path.join(here, "python", "driver.py")])

BODIES = {
    "ascii": "hello world",
    "utf8": "héllo wörld 😀🚀 漢字かな 🇩🇪",
    "empty": "",
    "64KiB ascii": "x" * 65536,
    "64KiB utf8 (16384 emoji)": "😀" * 16384,
}

for peer in (js, py):
    n = peer.name
    q = "selftest_" + n
    if n == "js":
        channel = "%s:rt:%s" % (NS, q)
        check(peer.ok("subscribe", channel=channel) is True, "js: subscribe")
    check(peer.ok("createQueue", qname=q) is True, n + ": createQueue")
    r = peer.req("createQueue", qname=q)
    check(not r["ok"], n + ": createQueue again fails: %s / %s" % (r.get("error"), r.get("message")))
    sent = {}
    for label, body in BODIES.items():
        r = peer.req("sendMessage", qname=q, message=body)
        if r["ok"]:
            sent[r["result"]] = (label, body)
            check(len(r["result"]) == 32, "%s: send %s -> id %s" % (n, label, r["result"]))
        else:
            print("note %s: send %s refused: %s: %s" % (n, label, r["error"], r["message"]))
            check(label == "empty" and n == "py", "%s: only py refuses the empty body" % n)
    got = {}
    first = None
    for _ in range(len(sent)):
        m = peer.ok("receiveMessage", qname=q)
        check(m is not None, n + ": receive got a message")
        got[m["id"]] = m
        first = first or m
    check(peer.ok("receiveMessage", qname=q) is None, n + ": receive on drained queue -> null")
    for mid, (label, body) in sent.items():
        m = got.get(mid)
        check(m is not None and m["message"] == body, "%s: %s body round-trips" % (n, label))
    print("     %s sample message fields: rc=%r fr=%r sent=%r raw keys=%s"
          % (n, first["rc"], first["fr"], first["sent"], sorted(first["raw"])))
    attrs = peer.ok("getQueueAttributes", qname=q)
    print("     %s attributes: %s" % (n, json.dumps(attrs)))
    check(attrs["totalsent"] == len(sent) and attrs["totalrecv"] == len(sent)
          and attrs["msgs"] == len(sent), n + ": attribute counters")
    # change visibility -> visible again, re-receive keeps fr, rc=2
    check(peer.ok("changeMessageVisibility", qname=q, msgid=first["id"], vt=0) is True,
          n + ": changeMessageVisibility existing -> true")
    again = peer.ok("receiveMessage", qname=q, vt=30)
    check(again and again["id"] == first["id"] and again["rc"] == 2 and again["fr"] == first["fr"],
          n + ": re-receive after cmv: rc 2, same fr")
    check(peer.ok("changeMessageVisibility", qname=q, msgid="a" * 32, vt=5) is False,
          n + ": changeMessageVisibility unknown id -> false")
    check(peer.ok("deleteMessage", qname=q, msgid=first["id"]) is True, n + ": deleteMessage received msg -> true")
    check(peer.ok("deleteMessage", qname=q, msgid=first["id"]) is False, n + ": deleteMessage again -> false")
    # pop
    pid = peer.ok("sendMessage", qname=q, message="pop me")
    popped = peer.ok("popMessage", qname=q)
    check(popped and popped["id"] == pid and popped["message"] == "pop me" and popped["rc"] == 1,
          n + ": popMessage")
    check(peer.ok("popMessage", qname=q) is None, n + ": popMessage on empty -> null")
    # delete a never-received message (PyRSMQ quirk: reports False)
    did = peer.ok("sendMessage", qname=q, message="delete me unreceived")
    dres = peer.ok("deleteMessage", qname=q, msgid=did)
    print("     %s deleteMessage of never-received message -> %r" % (n, dres))
    check(dres is (n == "js"), n + ": deleteMessage never-received (js true, py false)")
    # set attributes
    sa = peer.ok("setQueueAttributes", qname=q, vt=45, delay=1, maxsize=2048)
    check(sa["vt"] == 45 and sa["delay"] == 1 and sa["maxsize"] == 2048, n + ": setQueueAttributes -> %s" % json.dumps(sa))
    r = peer.req("setQueueAttributes", qname=q)
    print("     %s setQueueAttributes with no attribute -> %s" % (n, json.dumps(r)))
    check(q in peer.ok("listQueues"), n + ": listQueues contains queue")
    check(peer.ok("validateId", msgid=first["id"]) is True, n + ": validateId real id -> true")
    v = peer.ok("validateId", msgid="abc")
    check(v is (n == "py"), n + ": validateId 'abc' -> %r" % v)
    if n == "js":
        deadline = time.time() + 3
        msgs = []
        while time.time() < deadline:
            msgs = peer.ok("messages", channel=channel)
            if len(msgs) >= len(sent) + 2:
                break
            time.sleep(0.05)
        print("     js realtime payloads: %s" % msgs)
        check(msgs[:len(sent)] == [str(i) for i in range(1, len(sent) + 1)], "js: realtime payloads = ZCARD after each send")
    check(peer.ok("deleteQueue", qname=q) is True, n + ": deleteQueue")
    r = peer.req("deleteQueue", qname=q)
    check(not r["ok"], n + ": deleteQueue again fails: %s / %s" % (r.get("error"), r.get("message")))
    r = peer.req("bogusOp")
    check(not r["ok"], n + ": unknown op -> ok:false (%s)" % r.get("error"))

# ---- cross-peer
xq = "selftest_cross"
check(js.ok("createQueue", qname=xq) is True, "cross: js creates queue")
for label, body in BODIES.items():
    if body == "":
        continue
    mid = js.ok("sendMessage", qname=xq, message=body)
    m = py.ok("receiveMessage", qname=xq)
    check(m and m["id"] == mid and m["message"] == body, "cross: js -> py %s" % label)
    mid = py.ok("sendMessage", qname=xq, message=body)
    m = js.ok("receiveMessage", qname=xq)
    check(m and m["id"] == mid and m["message"] == body, "cross: py -> js %s" % label)
mid = js.ok("sendMessage", qname=xq, message="")
m = py.ok("receiveMessage", qname=xq)
check(m and m["id"] == mid and m["message"] == "", "cross: js -> py empty body")
check(js.ok("getQueueAttributes", qname=xq)["totalrecv"] == py.ok("getQueueAttributes", qname=xq)["totalrecv"],
      "cross: both peers read the same counters")
check(py.ok("deleteQueue", qname=xq) is True, "cross: py deletes js queue")
pq = "selftest_pyfloat"
py.ok("createQueue", qname=pq, vt=1.5)
print("     py-created queue vt=1.5 read by js: %s" % json.dumps(js.ok("getQueueAttributes", qname=pq)))
print("     ... and by py: %s" % json.dumps(py.ok("getQueueAttributes", qname=pq)))
js.ok("deleteQueue", qname=pq)

js.quit()
py.quit()
print("selftest: %d check(s) FAILED" % len(failures) if failures else "selftest: all checks passed")
sys.exit(1 if failures else 0)
PY
