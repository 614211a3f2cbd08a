# The handler model: handlers run on the script's goroutine, in order, when
# the script calls into the library or waits; errors in handlers are contained.
import testkit
import scriptling.net.gossip as gossip

a = testkit.node()
b = testkit.node()
b.join(testkit.addr(a))
nodes = [a, b]
testkit.wait_until(lambda: a.num_alive() == 2 and b.num_alive() == 2, nodes, "2 alive")

# a handler appends to a list the script reads (run under -race by the Go test)
seen = []
b.handle(128, lambda m: seen.append(m["payload"]))
for i in range(50):
    a.send(128, i, reliable=True)
testkit.wait_until(lambda: len(seen) == 50, nodes, "50 messages")
assert seen == list(range(50))

# bound-method handlers
class Counter:
    def __init__(self):
        self.total = 0
        self.states = []
    def on_message(self, msg):
        self.total += msg["payload"]
    def on_state(self, node_id, state):
        self.states.append(state)

counter = Counter()
b.handle(129, counter.on_message)
a.send_to(b.node_id(), 129, 5, reliable=True)
a.send_to(b.node_id(), 129, 7, reliable=True)
testkit.wait_until(lambda: counter.total == 12, nodes, "bound method handler")

# a handler that raises is logged; later messages still arrive
def bad(msg):
    if msg["payload"] == "boom":
        raise ValueError("handler failure")
    seen.append(msg["payload"])
b.handle(130, bad)
a.send_to(b.node_id(), 130, "boom", reliable=True)
a.send_to(b.node_id(), 130, "after", reliable=True)
testkit.wait_until(lambda: "after" in seen, nodes, "message after a raising handler")
assert b.num_alive() == 2

# a handler may call into the library (no re-entrant dispatch, no deadlock)
replies = []
def echo(msg):
    b.send_to(msg["sender"]["id"], 132, msg["payload"] + "!", reliable=True)
    replies.append(b.num_alive())
b.handle(131, echo)
echoed = []
a.handle(132, lambda m: echoed.append(m["payload"]))
a.send_to(b.node_id(), 131, "ping", reliable=True)
testkit.wait_until(lambda: echoed == ["ping!"], nodes, "echo from inside a handler")
assert replies == [2]

# wait(timeout) runs handlers while it blocks
got = []
b.handle(133, lambda m: got.append(m["payload"]))
a.send_to(b.node_id(), 133, "during wait", reliable=True)
for i in range(200):
    if got:
        break
    b.wait(0.05)
assert got == ["during wait"], str(got)
b.wait(0)
b.wait("10ms")

# registering again replaces the handler
b.handle(133, lambda m: got.append("new:" + m["payload"]))
a.send_to(b.node_id(), 133, "x", reliable=True)
testkit.wait_until(lambda: len(got) == 2, nodes, "replaced handler")
assert got[1] == "new:x"

# a handler may change the message and sender dicts it gets, now or later:
# the next message's are its own
c = testkit.node(tags=["t1", "t2"])
c.join(testkit.addr(b))
c.set_metadata("role", "web")
c.set_metadata("n", 3)
cnodes = [b, c]
testkit.wait_until(lambda: b.get_node(c.node_id()) != None and b.get_node(c.node_id())["metadata"].get("n") == 3, cnodes, "c's metadata on b")
views = []
kept_msgs = []
kept_senders = []
def meddle(msg):
    for k in kept_senders:
        k["tags"][0] = "late"
        k["metadata"]["role"] = "late"
        k["id"] = "late"
    for k in kept_msgs:
        k["payload"] = "late"
    s = msg["sender"]
    views.append([msg["type"], msg["payload"], s["id"], s["addr"], s["state"], s["app_version"], s["observer"], ",".join(s["tags"]), s["metadata"]["role"], s["metadata"]["n"], len(s["metadata"]), len(s), len(msg)])
    s["tags"][0] = "x"
    s["tags"].append("y")
    s["metadata"]["role"] = "x"
    s["metadata"]["extra"] = 1
    s["id"] = "x"
    s["extra"] = 1
    msg["sender"] = None
    kept_msgs.append(msg)
    kept_senders.append(s)
b.handle(134, meddle)
for i in range(3):
    c.send_to(b.node_id(), 134, i, reliable=True)
testkit.wait_until(lambda: len(views) == 3, cnodes, "3 meddled messages")
for i in range(3):
    want = [134, i, c.node_id(), testkit.addr(c), "alive", "", False, "t1,t2", "web", 3, 2, 7, 3]
    assert views[i] == want, str(views[i]) + " != " + str(want)
c.stop()

# state-change handlers as bound methods
a.on_state_change(counter.on_state)
b.stop()
testkit.wait_until(lambda: "dead" in counter.states or "leaving" in counter.states, [a], "b gone")

# wait() returns once the cluster stops
a.stop()
a.wait()
print("handlers ok")
