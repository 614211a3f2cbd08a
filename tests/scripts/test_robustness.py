# A handler that raises and a handler that is slow must not cost a node its
# membership: it keeps gossiping and stays alive in everyone's view. (A
# script that stops running handlers altogether is tests/busy_test.go: its
# sender must live in another interpreter, since any call into the library
# runs the handlers of every node of the script.)
import time
import testkit

RELIABLE = 200
UNRELIABLE = 201

a = testkit.node()  # sender and observer
b = testkit.node()  # its handler raises
c = testkit.node(tags=["slow"])  # its handler is slow
d = testkit.node()  # a bystander
for n in [b, c, d]:
    n.join(testkit.addr(a))
nodes = [a, b, c, d]
live = [a, b, c]
testkit.wait_until(lambda: all([n.num_alive() == 4 for n in nodes]), nodes, "4 nodes alive everywhere")

events = []
a.on_state_change(lambda node_id, state: events.append([node_id, state]))


def dead_events(node):
    return [e for e in events if e[0] == node.node_id() and e[1] == "dead"]


def recorder(into):
    def handler(msg):
        into.append(msg["payload"])
    return handler


# --- b: every other message makes the handler raise ----------------------
b_got = []


def flaky(msg):
    n = msg["payload"]
    if n % 2 == 1:
        raise ValueError("handler failure " + str(n))
    b_got.append(n)


b.handle(RELIABLE, flaky)
for i in range(1, 21):
    a.send_to(b.node_id(), RELIABLE, i, reliable=True)
testkit.wait_until(lambda: len(b_got) == 10, live, "b to handle its messages")
assert b_got == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20], b_got
assert b.num_alive() == 4
# every raising call is logged and counted
assert b.stats()["handler_errors"] == 10, b.stats()["handler_errors"]

# --- c: a slow handler blocks the script, not the node ---------------------
c_got = []
c_depths = []


def slow(msg):
    time.sleep(0.02)
    c_got.append(msg["payload"])
    # Inside a handler stats() does not dispatch, so it sees the backlog.
    c_depths.append(c.stats()["queue_depth"])


c.handle(RELIABLE, slow)
# send_tagged returns once a message is queued for c (send_to would wait for
# c to acknowledge each one, and every call into the library runs the
# handlers of this script's nodes, so no backlog would build up).
for i in range(1, 101):
    a.send_tagged("slow", RELIABLE, i, reliable=True)
c.wait(1.0)  # about 50 handlers, one after another
testkit.wait_until(lambda: len(c_got) == 100, [c], "c to work through its backlog")
assert c_got == list(range(1, 101)), "slow handler saw messages out of order"
assert max(c_depths) > 0, "the backlog was never visible in queue_depth"
testkit.wait_until(lambda: all([n.num_alive() == 4 for n in live]), live, "c alive everywhere")
assert dead_events(c) == [], events

for n in nodes:
    assert n.num_alive() == 4
testkit.stop_all(nodes)
print("robustness ok")
