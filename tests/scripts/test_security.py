# Security from a script: an encrypted, token-protected cluster works; nodes
# with the wrong key, no key, the wrong token, no token or an incompatible
# app version are refused with clear errors and never counted; mixed
# compression settings interoperate; and the encryption key is rotated
# across the cluster while reliable messages flow, losing none.
import testkit
import scriptling.net.gossip as gossip

KEY1 = "0123456789abcdef"
KEY2 = "fedcba9876543210fedcba9876543210"
TOKEN = "script-token"

def secure(**kw):
    for k, v in {"encryption_key": KEY1, "bearer_token": TOKEN, "app_version": "1.2.0"}.items():
        if k not in kw:
            kw[k] = v
    return testkit.node(**kw)

a = secure(compression=True, compress_min_size=64)
b = secure()
c = secure()
nodes = [a, b, c]
for n in [b, c]:
    n.join(testkit.addr(a))
testkit.wait_until(lambda: all([n.num_alive() == 3 for n in nodes]), nodes, "3 alive")
assert all([x["app_version"] == "1.2.0" for x in a.nodes()]), str(a.nodes())

inbox = {}
for n in nodes:
    inbox[n.node_id()] = []

def collector(n):
    box = inbox[n.node_id()]
    return lambda msg: box.append(msg["payload"])

for n in nodes:
    n.handle(300, collector(n))

# encrypted messages flow, both kinds
a.send(300, "hello", reliable=True)
testkit.send_until(lambda: b.send_to(c.node_id(), 300, "direct"),
                   lambda: "hello" in inbox[b.node_id()] and "hello" in inbox[c.node_id()] and "direct" in inbox[c.node_id()],
                   nodes, "encrypted messages")

# mixed compression: a compresses (large payloads), b and c do not; both ways work
big = "compressible " * 200
a.send_to(b.node_id(), 300, big, reliable=True)
b.send_to(a.node_id(), 300, big, reliable=True)
testkit.wait_until(lambda: big in inbox[b.node_id()] and big in inbox[a.node_id()], nodes, "mixed compression")

# every kind of intruder is refused with an error that says why
cases = [
    ({"encryption_key": "fedcba9876543210"}, []),
    ({"encryption_key": None}, []),
    ({"bearer_token": "guess"}, ["different bearer token"]),
    ({"bearer_token": None}, ["bearer token"]),
    ({"app_version": "2.0.0"}, ["incompatible app version", "1.2.0", "2.0.0"]),
]
for case in cases:
    x = secure(**case[0])
    testkit.expect_error("RuntimeError", lambda: x.join(testkit.addr(a)),
                         ["join()", "could not join any of " + testkit.addr(a)] + case[1])
    x.send(300, "from intruder", reliable=True)
    x.send(300, "from intruder")
    x.stop()
testkit.wait_until(lambda: all([n.num_alive() == 3 for n in nodes]), nodes, "still 3 alive")
for n in nodes:
    n.wait(0.05)
    assert "from intruder" not in inbox[n.node_id()]
    assert len([x for x in n.nodes() if x["id"] not in [a.node_id(), b.node_id(), c.node_id()]]) == 0

# bad input to rotation
testkit.expect_error("ValueError", lambda: a.install_key("short"),
                     ["install_key()", "key must be 16, 24 or 32 bytes, got 5"])
testkit.expect_error("ValueError", lambda: a.use_key(KEY2), ["use_key()", "install_key first"])
testkit.expect_error("ValueError", lambda: a.remove_key(KEY1), ["remove_key()", "still the primary key of 3 node(s)"])
plain = testkit.node()
testkit.expect_error("RuntimeError", lambda: plain.install_key(KEY2), ["install_key()", "encryption_key"])
testkit.expect_error("RuntimeError", lambda: plain.list_keys(), ["list_keys()", "encryption_key"])
plain.stop()

# key rotation while reliable messages flow
got = {}
for n in nodes:
    got[n.node_id()] = []

def counter(n):
    box = got[n.node_id()]
    return lambda msg: box.append(msg["payload"])

for n in nodes:
    n.handle(400, counter(n))

sent = [0]
def burst(count):
    for i in range(count):
        sent[0] = sent[0] + 1
        a.send(400, sent[0], reliable=True)

ids = sorted([n.node_id() for n in nodes])
burst(50)
r = b.install_key(KEY2)
assert r["ok"] == ids and r["failed"] == {}, str(r)
fp2 = r["key"]
assert len(fp2) == 16 and KEY2 not in str(r)
burst(50)
r = c.use_key(KEY2)
assert r["ok"] == ids and r["failed"] == {} and r["key"] == fp2, str(r)
burst(50)
ks = a.list_keys()
assert ks["primary"] == fp2 and ks["primaries"] == {fp2: 3} and ks["nodes"] == 3, str(ks)
assert len(ks["keys"]) == 2 and ks["keys"][fp2] == 3
r = a.remove_key(KEY1)
assert r["ok"] == ids and r["failed"] == {}, str(r)
burst(50)
testkit.wait_until(lambda: got[b.node_id()] == list(range(1, 201)) and got[c.node_id()] == list(range(1, 201)),
                   nodes, "200 messages in order through the rotation")
ks = b.list_keys()
assert ks["keys"] == {fp2: 3} and ks["failed"] == {} and KEY1 not in str(ks) and KEY2 not in str(ks), str(ks)
for n in nodes:
    s = n.stats()
    assert s["reliable_failed"] == 0, str(s)

# the removed key no longer opens the door
old = secure()
testkit.expect_error("RuntimeError", lambda: old.join(testkit.addr(a)), ["join()"])
old.stop()
newcomer = secure(encryption_key=KEY2)
newcomer.join(testkit.addr(b))
nodes.append(newcomer)
testkit.wait_until(lambda: all([n.num_alive() == 4 for n in nodes]), nodes, "newcomer with the new key")

testkit.stop_all(nodes)
print("security ok")
