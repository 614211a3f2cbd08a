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

# state-change handlers as bound methods
a.on_state_change(counter.on_state)
b.stop()
testkit.wait_until(lambda: "dead" in counter.states or "leaving" in counter.states, [a], "b gone")

# wait() returns once the cluster stops
a.stop()
a.wait()
print("handlers ok")
