# Messages between real nodes: broadcast, tag-routed and direct sends, both
# unreliable and reliable, payload round trips, ordering and sender info.
import testkit
import scriptling.net.gossip as gossip

a = testkit.node(tags=["web"])
b = testkit.node(tags=["web", "worker"])
c = testkit.node(tags=["worker"])
nodes = [a, b, c]
for n in [b, c]:
    n.join(testkit.addr(a))
testkit.wait_until(lambda: all([n.num_alive() == 3 for n in nodes]), nodes, "3 alive")
a.set_metadata("role", "sender")
testkit.wait_until(lambda: [x["metadata"] for x in b.nodes() if x["id"] == a.node_id()] == [{"role": "sender"}],
                   nodes, "a's metadata at b")

inbox = {}
for n in nodes:
    inbox[n.node_id()] = []

def collector(n):
    box = inbox[n.node_id()]
    return lambda msg: box.append(msg)

for n in nodes:
    n.handle(gossip.MSG_USER, collector(n))
    n.handle(200, collector(n))

def payloads(n, mtype):
    return [m["payload"] for m in inbox[n.node_id()] if m["type"] == mtype]

# broadcast, reliable: everyone else gets it, the sender does not
a.send(gossip.MSG_USER, {"key": "value"}, reliable=True)
testkit.wait_until(lambda: payloads(b, 128) == [{"key": "value"}] and payloads(c, 128) == [{"key": "value"}],
                   nodes, "reliable broadcast")
assert payloads(a, 128) == []

# the handler's message dict
msg = inbox[b.node_id()][0]
assert msg["type"] == 128
assert msg["sender"]["id"] == a.node_id()
assert msg["sender"]["addr"] == testkit.addr(a)
assert msg["sender"]["state"] == "alive"
assert msg["sender"]["metadata"] == {"role": "sender"}
assert msg["sender"]["tags"] == ["web"]

# broadcast, unreliable (loopback: no loss expected, but poll rather than assume)
testkit.send_until(lambda: a.send(gossip.MSG_USER, "Hello cluster!"),
                   lambda: "Hello cluster!" in payloads(b, 128) and "Hello cluster!" in payloads(c, 128),
                   nodes, "unreliable broadcast")

# payload round trip of every supported type, nested
value = {"s": "text", "i": -42, "big": 9007199254740993, "f": 2.5, "t": True, "n": None,
         "l": [1, "two", [3.0, False], {}], "d": {"inner": {"deep": [None]}}, "e": "", "u": "héllo ✓"}
a.send_to(b.node_id(), 200, value, reliable=True)
# reliable and unreliable messages are not ordered with respect to each other
testkit.send_until(lambda: a.send_to(b.node_id(), 200, [1, 2, 3]),
                   lambda: value in payloads(b, 200) and [1, 2, 3] in payloads(b, 200), nodes, "typed payloads")
assert [p for p in payloads(b, 200) if isinstance(p, dict)] == [value], str(payloads(b, 200))
for scalar in [0, 1.0, "x", True, None]:
    a.send_to(c.node_id(), 200, scalar, reliable=True)
testkit.wait_until(lambda: len(payloads(c, 200)) == 5, nodes, "scalar payloads")
assert payloads(c, 200) == [0, 1.0, "x", True, None], str(payloads(c, 200))
assert isinstance(payloads(c, 200)[1], float)

# tag routing: only nodes carrying the tag run the handler
a.send_tagged("worker", 128, "to workers", reliable=True)
a.send_tagged("web", 128, "to web", reliable=True)
testkit.wait_until(lambda: "to workers" in payloads(b, 128) and "to workers" in payloads(c, 128)
                   and "to web" in payloads(b, 128), nodes, "tagged delivery")
a.send_to(c.node_id(), 128, "marker", reliable=True)
testkit.wait_until(lambda: "marker" in payloads(c, 128), nodes, "marker after tagged")
assert "to web" not in payloads(c, 128), "c has no web tag"
testkit.send_until(lambda: b.send_tagged("web", 128, "web from b"),
                   lambda: "web from b" in payloads(a, 128), nodes, "unreliable tagged")
assert "web from b" not in payloads(c, 128)

# reliable messages between two nodes arrive exactly once, in order
got = []
c.handle(201, lambda m: got.append(m["payload"]))
for i in range(300):
    b.send_to(c.node_id(), 201, i, reliable=True)
testkit.wait_until(lambda: len(got) >= 300, nodes, "300 ordered messages")
assert got == list(range(300)), "order or duplicates: " + str(got[:20])

# direct send to an unknown node is a KeyError naming it
testkit.expect_error("KeyError", lambda: a.send_to("no-such-node", 128, "x"), ["send_to()", "no-such-node"])

testkit.stop_all(nodes)
# sending on a stopped node is refused
testkit.expect_error("RuntimeError", lambda: a.send(128, "late"), ["send()"])
print("messaging ok")
