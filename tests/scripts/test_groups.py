# Node groups: criteria matching (exact, "*", "~sub"), callbacks exactly once
# per entry and exit, queries, send_to_peers and close.
import testkit
import scriptling.net.gossip as gossip

a, b, c = testkit.cluster_of(3)
nodes = [a, b, c]
a.set_metadata("role", "api")
a.set_metadata("zone", "us-east-1")
b.set_metadata("role", "api")
b.set_metadata("zone", "eu-west-1")
c.set_metadata("role", "web")
c.set_metadata("zone", "us-east-2")
testkit.wait_until(lambda: all([len([x for x in n.alive_nodes() if "zone" in x["metadata"]]) == 3 for n in nodes]),
                   nodes, "metadata everywhere")

events = []
def added(node):
    events.append(["+", node["id"]])
def removed(node):
    events.append(["-", node["id"]])

api = a.create_node_group({"role": "api"}, on_node_added=added, on_node_removed=removed)
assert api.count() == 2, str(api.nodes())
assert sorted([n["id"] for n in api.nodes()]) == sorted([a.node_id(), b.node_id()])
assert api.contains(a.node_id()) and api.contains(b.node_id()) and not api.contains(c.node_id())
assert sorted([e[1] for e in events]) == sorted([a.node_id(), b.node_id()]) and all([e[0] == "+" for e in events])

east = a.create_node_group({"zone": "~us-east"})
assert sorted([n["id"] for n in east.nodes()]) == sorted([a.node_id(), c.node_id()])
anyzone = c.create_node_group({"zone": "*", "role": "*"})
assert anyzone.count() == 3
both = a.create_node_group({"role": "api", "zone": "~eu-"})
assert [n["id"] for n in both.nodes()] == [b.node_id()]
none = a.create_node_group({"missing": "*"})
assert none.count() == 0 and none.nodes() == []
everyone = b.create_node_group({})
assert everyone.count() == 3

# non-string values match by their text
c.set_metadata("weight", 3)
testkit.wait_until(lambda: a.get_node(c.node_id())["metadata"].get("weight") == 3, nodes, "weight")
heavy = a.create_node_group({"weight": "3"})
assert [n["id"] for n in heavy.nodes()] == [c.node_id()]

# a metadata change moves a node in and out: one callback each
events.clear()
c.set_metadata("role", "api")
testkit.wait_until(lambda: api.contains(c.node_id()), nodes, "c joins api group")
c.set_metadata("zone", "us-east-3")   # still api: no new event
testkit.wait_until(lambda: a.get_node(c.node_id())["metadata"]["zone"] == "us-east-3", nodes, "zone change")
for i in range(20):
    for n in nodes:
        n.wait(0.01)
assert events == [["+", c.node_id()]], str(events)
c.set_metadata("role", "web")
testkit.wait_until(lambda: not api.contains(c.node_id()), nodes, "c leaves api group")
assert events == [["+", c.node_id()], ["-", c.node_id()]], str(events)

# the local node's own metadata counts too
events.clear()
a.set_metadata("role", "db")
testkit.wait_until(lambda: not api.contains(a.node_id()), nodes, "a leaves its own group")
assert events == [["-", a.node_id()]], str(events)
a.set_metadata("role", "api")
testkit.wait_until(lambda: api.contains(a.node_id()), nodes, "a back in")

# send_to_peers reaches the other members only
got = {}
def recorder(name):
    def f(msg):
        got[name] = msg["payload"]
    return f
a.handle(150, recorder("a"))
b.handle(150, recorder("b"))
c.handle(150, recorder("c"))
api.send_to_peers(150, "to api", reliable=True)
testkit.wait_until(lambda: "b" in got, nodes, "group message")
for i in range(20):
    for n in nodes:
        n.wait(0.01)
assert got == {"b": "to api"}, str(got)
testkit.expect_error("TypeError", lambda: api.send_to_peers(150, lambda: 1), ["send_to_peers()", "data"])
testkit.expect_error("ValueError", lambda: api.send_to_peers(1, 1), ["send_to_peers()", "message_type"])

# a node that stops leaves the group once
events.clear()
b_id = b.node_id()
b.stop()
testkit.wait_until(lambda: not api.contains(b_id), [a, c], "b leaves the group")
for i in range(30):
    a.wait(0.01)
    c.wait(0.01)
assert events == [["-", b_id]], str(events)
assert events[0][1] == b_id

# close: callbacks stop, the group empties
api.close()
api.close()
assert api.count() == 0 and api.nodes() == [] and not api.contains(a.node_id())
testkit.expect_error("RuntimeError", lambda: api.send_to_peers(150, 1), ["send_to_peers()", "closed"])
events.clear()
c.set_metadata("role", "api")
testkit.wait_until(lambda: a.get_node(c.node_id())["metadata"]["role"] == "api", [a, c], "role change after close")
for i in range(10):
    a.wait(0.01)
assert events == []

# bad arguments
testkit.expect_error("TypeError", lambda: a.create_node_group("role"), ["create_node_group()", "criteria"])
testkit.expect_error("TypeError", lambda: a.create_node_group({"role": 1}), ["create_node_group()", "criteria"])
testkit.expect_error("ValueError", lambda: a.create_node_group({"": "x"}), ["create_node_group()", "criteria"])
testkit.expect_error("TypeError", lambda: a.create_node_group({}, on_node_added=5), ["create_node_group()", "on_node_added"])

testkit.stop_all([a, c])
print("groups ok")
