# Node queries (nodes_by_tag, get_node, counts, is_local, candidates),
# metadata-change events and removable handlers.
import testkit
import time
import scriptling.net.gossip as gossip

a = testkit.node(tags=["web", "api"])
b = testkit.node(tags=["web"])
c = testkit.node(tags=["worker"])
nodes = [a, b, c]
b.join(testkit.addr(a))
c.join(testkit.addr(a))
testkit.wait_until(lambda: all([n.num_alive() == 3 for n in nodes]), nodes, "3 alive")
ids = sorted([n.node_id() for n in nodes])

# nodes_by_tag: alive nodes with the tag, self included, sorted by id
web = [n["id"] for n in a.nodes_by_tag("web")]
assert web == sorted([a.node_id(), b.node_id()]), str(web)
assert [n["id"] for n in c.nodes_by_tag("api")] == [a.node_id()]
assert [n["tags"] for n in c.nodes_by_tag("worker")] == [["worker"]]
assert a.nodes_by_tag("nobody") == []
testkit.expect_error("ValueError", lambda: a.nodes_by_tag(""), ["nodes_by_tag()", "tag"])
testkit.expect_error("TypeError", lambda: a.nodes_by_tag(1), ["nodes_by_tag()", "tag", "str"])

# get_node: remote, local, unknown
nb = a.get_node(b.node_id())
assert nb["id"] == b.node_id() and nb["state"] == "alive" and nb["tags"] == ["web"], str(nb)
assert nb["addr"] == testkit.addr(b)
assert a.get_node(a.node_id())["id"] == a.node_id()
assert a.get_node("no-such-node") == None

# is_local
assert a.is_local(a.node_id()) == True
assert a.is_local(b.node_id()) == False
assert a.is_local("") == False

# candidates: a random subset of alive peers, never self
for i in range(10):
    cs = [n["id"] for n in a.candidates()]
    assert len(cs) == 2 and a.node_id() not in cs, str(cs)
    one = a.candidates(1)
    assert len(one) == 1 and one[0]["id"] in [b.node_id(), c.node_id()]
assert a.candidates(0) == []
assert len(a.candidates(n=10)) == 2
testkit.expect_error("ValueError", lambda: a.candidates(-1), ["candidates()", "n"])

# counts
assert a.num_suspect() == 0 and a.num_dead() == 0

# metadata change events: once per remote change
b.set_metadata("k", 0)
testkit.wait_until(lambda: "k" in a.get_node(b.node_id())["metadata"], nodes, "initial metadata")
changes = []
def on_meta(node):
    changes.append([node["id"], node["metadata"].get("k")])
hid = a.on_metadata_change(on_meta)
assert type(hid) == type(1)
b.set_metadata("k", 1)
testkit.wait_until(lambda: len(changes) >= 1, nodes, "metadata change event")
for i in range(20):
    for n in nodes:
        n.wait(0.01)
assert changes == [[b.node_id(), 1]], str(changes)
# local changes are not reported, remote deletions are
a.set_metadata("mine", 1)
b.delete_metadata("k")
testkit.wait_until(lambda: len(changes) == 2, nodes, "deletion event")
assert changes[1] == [b.node_id(), None], str(changes)
for i in range(20):
    for n in nodes:
        n.wait(0.01)
assert len(changes) == 2, str(changes)

# remove_handler: metadata and state handlers
assert a.remove_handler(hid) == True
assert a.remove_handler(hid) == False
b.set_metadata("k", 2)
testkit.wait_until(lambda: a.get_node(b.node_id())["metadata"].get("k") == 2, nodes, "k=2")
for i in range(10):
    a.wait(0.01)
assert len(changes) == 2
states = []
sid = a.on_state_change(lambda node_id, state: states.append(state))
other = []
sid2 = a.on_state_change(lambda node_id, state: other.append([node_id, state]))
assert sid != sid2
assert a.remove_handler(sid) == True
assert a.remove_handler(12345) == False
testkit.expect_error("TypeError", lambda: a.remove_handler("x"), ["remove_handler()", "handler_id"])
testkit.expect_error("TypeError", lambda: a.on_metadata_change(None), ["on_metadata_change()", "handler"])

# a crashed-or-stopped node shows up in num_dead / num_suspect
c_id = c.node_id()
c.stop()
testkit.wait_until(lambda: [c_id, "leaving"] in other or [c_id, "dead"] in other, [a, b], "c gone")
assert states == []
testkit.wait_until(lambda: a.num_alive() == 2, [a, b], "2 alive")
assert a.num_dead() + a.num_suspect() + len([n for n in a.nodes() if n["state"] == "leaving"]) == 1
assert [n["id"] for n in a.nodes_by_tag("worker")] == []
assert len(a.candidates(5)) == 1
gone = a.get_node(c_id)
assert gone == None or gone["state"] != "alive"

testkit.stop_all([a, b])
print("queries ok")
