# Handlers of every node a script made run in any call into the library and
# in wait() on any of its nodes, and in the module-level gossip.wait().
import time
import scriptling.net.gossip as gossip
import testkit

a = testkit.node(node_id="pump-a")
b = testkit.node(node_id="pump-b")
b.join(testkit.addr(a))
testkit.wait_until(lambda: a.num_alive() == 2 and b.num_alive() == 2, [a, b], "both nodes alive")

got = []
b.handle(130, lambda msg: got.append(msg["payload"]))

# a.wait() runs b's handler: both nodes belong to this script.
a.send_to(b.node_id(), 130, 1, reliable=True)
deadline = time.time() + 10
while len(got) < 1 and time.time() < deadline:
    a.wait(0.05)
assert got == [1], "a.wait() did not run b's handler: " + str(got)

# Any call into the library on a runs b's queued handlers too.
a.send_to(b.node_id(), 130, 2, reliable=True)
deadline = time.time() + 10
while len(got) < 2 and time.time() < deadline:
    a.num_alive()
assert got == [1, 2], "a call into a did not run b's handler: " + str(got)

# The module-level wait runs every node's handlers.
a.send_to(b.node_id(), 130, 3, reliable=True)
deadline = time.time() + 10
while len(got) < 3 and time.time() < deadline:
    gossip.wait(0.05)
assert got == [1, 2, 3], "gossip.wait() did not run b's handler: " + str(got)

# gossip.wait(None) returns once every node has stopped.
a.stop()
b.stop()
start = time.time()
gossip.wait(None)
assert time.time() - start < 5, "gossip.wait(None) did not return after every node stopped"
print("pump ok")
