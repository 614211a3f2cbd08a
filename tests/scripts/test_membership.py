# Membership across three real nodes: join (str and list forms), node dicts,
# counts, state-change events for join and graceful leave.
import testkit
import scriptling.net.gossip as gossip

a = testkit.node(tags=["web"], app_version="1.2.0")
b = testkit.node(tags=["worker"], app_version="1.3.1")
c = testkit.node(node_id="node-c", app_version="1.0.0")
nodes = [a, b, c]

events = []
a.on_state_change(lambda node_id, state: events.append([node_id, state]))

assert a.join(testkit.addr(b)) >= 1, "join with a str"
assert c.join([testkit.addr(a), testkit.addr(b)]) >= 1, "join with a list"
testkit.wait_until(lambda: all([n.num_alive() == 3 for n in nodes]), nodes, "3 alive everywhere")

# node ids: UUIDs unless given
assert len(a.node_id()) == 36 and a.node_id().count("-") == 4, "uuid node id: " + a.node_id()
assert c.node_id() == "node-c"
assert a.node_id() != b.node_id()

# local_node: real advertised port, alive, tags, app_version
local = a.local_node()
assert local["id"] == a.node_id()
assert not local["addr"].endswith(":0"), "advertised port is real: " + local["addr"]
assert local["addr"].startswith("127.0.0.1:")
assert local["state"] == "alive"
assert local["tags"] == ["web"]
assert local["app_version"] == "1.2.0"
assert local["metadata"] == {}

# nodes / alive_nodes / counts, seen from every node
for n in nodes:
    assert n.num_nodes() == 3
    assert n.num_alive() == 3
    ids = sorted([x["id"] for x in n.nodes()])
    assert ids == sorted([a.node_id(), b.node_id(), "node-c"]), str(ids)
    assert len(n.alive_nodes()) == 3
    for x in n.nodes():
        assert x["state"] == "alive"
        assert not x["addr"].endswith(":0")

seen_b = [x for x in a.nodes() if x["id"] == b.node_id()][0]
assert seen_b["tags"] == ["worker"], str(seen_b["tags"])
assert seen_b["app_version"] == "1.3.1"
assert seen_b["addr"] == testkit.addr(b)

# a's handler saw the others arrive as "alive"
testkit.wait_until(lambda: [b.node_id(), "alive"] in events and ["node-c", "alive"] in events,
                   [a], "alive events on a")

# graceful leave: the others see "leaving"
b.leave()
testkit.wait_until(lambda: [b.node_id(), "leaving"] in events, [a], "leaving event for b")
testkit.wait_until(lambda: [x["state"] for x in c.nodes() if x["id"] == b.node_id()] == ["leaving"],
                   [c], "c sees b leaving")
assert a.num_alive() == 2
b.stop()

# stop() leaves gracefully too (crashes are covered by the process-kill test)
c.stop()
testkit.wait_until(lambda: ["node-c", "leaving"] in events, [a], "leaving event for c")
assert a.num_alive() == 1
assert [x["state"] for x in a.nodes() if x["id"] == "node-c"] == ["leaving"]

# stop is idempotent
c.stop()
a.stop()
a.stop()
print("membership ok")
