# A handler that raises, a handler that is slow and a script that stops
# running handlers altogether must not cost a node its membership: it keeps
# gossiping and stays alive in everyone's view. Reliable messages wait
# (backpressure) and all arrive; unreliable ones that find the queue full
# are dropped and counted in cluster.stats().
import time
import testkit

RELIABLE = 200
UNRELIABLE = 201

a = testkit.node()  # sender and observer
b = testkit.node()  # its handler raises
c = testkit.node(tags=["slow"])  # its handler is slow
d = testkit.node(tags=["sink"])  # its script stops running handlers for a while
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

# --- d: the script does not run handlers; the queue fills up -------------
d_reliable = []
d_unreliable = []
d.handle(RELIABLE, recorder(d_reliable))
d.handle(UNRELIABLE, recorder(d_unreliable))
stats_before = d.stats()  # the last call into d for a while

FLOOD = 1500  # more than the 1024 events the queue holds
RELIABLE_COUNT = 300
for i in range(FLOOD):
    a.send_to(d.node_id(), UNRELIABLE, i)
# send_tagged returns once the messages are queued for d, whether or not d
# takes them: d's backlog holds them back without blocking a.
for i in range(1, RELIABLE_COUNT + 1):
    a.send_tagged("sink", RELIABLE, i, reliable=True)

# Several seconds of gossip (tens of probe rounds) with d not pumping.
deadline = time.time() + 3.0
while time.time() < deadline:
    for n in live:
        n.wait(0.02)
    for n in live:
        assert n.num_alive() == 4, "d dropped out while its script was busy"
assert dead_events(d) == [], events

# Now d runs its handlers again: every reliable message arrives, exactly
# once and in order; the unreliable flood lost what did not fit.
testkit.wait_until(lambda: len(d_reliable) >= RELIABLE_COUNT, [d] + live, "d's reliable backlog")
d.wait(0.2)
assert d_reliable == list(range(1, RELIABLE_COUNT + 1)), "reliable messages lost, duplicated or reordered"
s = d.stats()
dropped = s["unreliable_dropped"] - stats_before["unreliable_dropped"]
received = s["unreliable_received"] - stats_before["unreliable_received"]
assert dropped > 0, "a full queue dropped no unreliable message: " + str(s)
assert received == len(d_unreliable), str(received) + " counted, " + str(len(d_unreliable)) + " handled"
assert received + dropped <= FLOOD, s
assert s["reliable_received"] - stats_before["reliable_received"] == RELIABLE_COUNT, s
assert s["queue_depth"] == 0, s
for key in s.keys():
    assert isinstance(s[key], int), key + " is not an int"
assert a.stats()["unreliable_sent"] >= FLOOD

for n in nodes:
    assert n.num_alive() == 4
testkit.stop_all(nodes)
print("robustness ok")
