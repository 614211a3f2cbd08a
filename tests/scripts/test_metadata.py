# Metadata: set before and after start, every value type, large values,
# deletes, and local accessors.
import testkit
import scriptling.net.gossip as gossip

a = gossip.create(bind_addr="127.0.0.1:0", probe_interval="100ms", gossip_interval="20ms",
                  push_pull_interval="500ms")
a.set_metadata("role", "leader")
a.set_metadata("version", 2)
a.start()
b = testkit.node(push_pull_interval="500ms")
b.join(testkit.addr(a))
nodes = [a, b]

def meta_of(viewer, owner):
    found = [x["metadata"] for x in viewer.nodes() if x["id"] == owner.node_id()]
    return found[0] if found else None

# set before start: visible everywhere
testkit.wait_until(lambda: meta_of(b, a) == {"role": "leader", "version": 2}, nodes, "pre-start metadata")

# every value type, set after start
a.set_metadata("ratio", 0.75)
a.set_metadata("enabled", True)
a.set_metadata("role", "worker")
want = {"role": "worker", "version": 2, "ratio": 0.75, "enabled": True}
testkit.wait_until(lambda: meta_of(b, a) == want, nodes, "typed metadata")
assert isinstance(meta_of(b, a)["version"], int)
assert isinstance(meta_of(b, a)["enabled"], bool)

# local accessors
assert a.get_metadata("role") == "worker"
assert a.get_metadata("missing") == None
assert a.all_metadata() == want
assert a.local_node()["metadata"] == want

# a value of several KiB (far beyond memberlist's 512-byte node meta)
big = "x" * 8192
b.set_metadata("blob", big)
testkit.wait_until(lambda: (meta_of(a, b) or {}).get("blob") == big, nodes, "8 KiB metadata value")

# deletes propagate
a.delete_metadata("ratio")
a.delete_metadata("never-set")
del want["ratio"]
assert a.all_metadata() == want
testkit.wait_until(lambda: meta_of(b, a) == want, nodes, "delete propagated")

# wrong value types are refused
testkit.expect_error("TypeError", lambda: a.set_metadata("k", [1]), ["set_metadata()", "value", "list"])
testkit.expect_error("TypeError", lambda: a.set_metadata("k", None), ["set_metadata()", "value"])
testkit.expect_error("TypeError", lambda: a.set_metadata(1, "v"), ["set_metadata()", "key", "str", "int"])

testkit.stop_all(nodes)
print("metadata ok")
