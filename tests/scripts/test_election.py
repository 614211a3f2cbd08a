# Leader election: one leader (the lowest eligible id at start), events on
# every node with and without the term argument, terms that grow with every
# new leadership, failover when the leader stops, an incumbent that keeps
# its place, metadata criteria, min_cluster_size, and election methods
# called from event handlers.
import testkit
import scriptling.net.gossip as gossip

a, b, c = testkit.cluster_of(3)
nodes = [a, b, c]
by_id = {}
for n in nodes:
    by_id[n.node_id()] = n
ids = sorted(list(by_id.keys()))

events = []
def recorder(name):
    def f(event_type, node_id):
        events.append([name, event_type, node_id])
    return f

# Handlers that take a third argument get the term; two-argument ones
# (recorder above) keep working unchanged.
termed = []
def term_recorder(name):
    def f(event_type, node_id, term):
        termed.append([name, event_type, node_id, term])
    return f

elections = {}
for n in nodes:
    e = n.create_leader_election(check_interval="100ms", leader_timeout="1s")
    assert e.get_term() == 0
    for kind in ["elected", "lost", "became_leader", "stepped_down"]:
        e.on_event(kind, recorder(n.node_id()))
        e.on_event(kind, term_recorder(n.node_id()))
    elections[n.node_id()] = e
for i in ids:
    elections[i].start()

def leaders():
    return [i for i in ids if elections[i].is_leader()]

def all_agree(leader):
    return all([elections[i].get_leader_id() == leader for i in elections.keys()])

testkit.wait_until(lambda: leaders() == [ids[0]] and all_agree(ids[0]), nodes, "lowest id elected")
assert elections[ids[0]].has_leader() and elections[ids[1]].has_leader()
assert not elections[ids[1]].is_leader()
testkit.wait_until(lambda: all([[i, "elected", ids[0]] in events for i in ids]), nodes, "elected events")
assert [ids[0], "became_leader", ids[0]] in events
assert [e for e in events if e[1] == "became_leader"] == [[ids[0], "became_leader", ids[0]]], str(events)

# every node knows the leader's term; the events carried it
first_term = elections[ids[0]].get_term()
assert first_term >= 1, str(first_term)
testkit.wait_until(lambda: all([elections[i].get_term() == first_term for i in ids]), nodes, "term known everywhere")
assert [e for e in termed if e[1] == "became_leader"] == [[ids[0], "became_leader", ids[0], first_term]], str(termed)
testkit.wait_until(lambda: all([[i, "elected", ids[0], first_term] in termed for i in ids]), nodes, "elected events with the term")
assert len(termed) == len(events), str(termed) + " / " + str(events)

# the leader's send_to_peers reaches the other eligible nodes
got = []
for i in ids[1:]:
    by_id[i].handle(160, lambda m: got.append(m["payload"]))
elections[ids[0]].send_to_peers(160, "from leader", reliable=True)
testkit.wait_until(lambda: len(got) == 2, nodes, "leader message")

# stable: the leader stays while nothing changes
for k in range(30):
    for n in nodes:
        n.wait(0.01)
    assert len(leaders()) <= 1
assert leaders() == [ids[0]]
assert [e for e in events if e[1] == "became_leader"] == [[ids[0], "became_leader", ids[0]]], str(events)

# failover: stopping the leader's election resigns at once; the next id
# leads in a newer term
events.clear()
termed.clear()
elections[ids[0]].stop()
assert not elections[ids[0]].is_leader()
rest = [by_id[i] for i in ids]
testkit.wait_until(lambda: leaders() == [ids[1]] and elections[ids[2]].get_leader_id() == ids[1], rest, "second id elected")
assert [ids[0], "stepped_down", ids[0]] in events, str(events)
assert [ids[1], "became_leader", ids[1]] in events, str(events)
second_term = elections[ids[1]].get_term()
assert second_term > first_term, str([first_term, second_term])
assert [ids[0], "stepped_down", ids[0], first_term] in termed, str(termed)
assert [ids[1], "became_leader", ids[1], second_term] in termed, str(termed)
testkit.wait_until(lambda: elections[ids[2]].get_term() == second_term, rest, "second term known")

# the incumbent keeps its place when a lower id comes back: moving
# leadership would only cost a handover
elections[ids[0]].start()
testkit.wait_until(lambda: elections[ids[0]].get_leader_id() == ids[1], rest, "returning node learns the leader")
assert elections[ids[0]].get_term() == second_term, str(elections[ids[0]].get_term())
for k in range(30):
    for n in rest:
        n.wait(0.01)
    assert leaders() == [ids[1]], str(leaders())

# the leader's node stopping: the others take over
events.clear()
by_id[ids[1]].stop()
rest = [by_id[ids[0]], by_id[ids[2]]]
testkit.wait_until(lambda: elections[ids[0]].is_leader() and elections[ids[2]].get_leader_id() == ids[0], rest, "failover after stop")
assert [ids[2], "lost", ids[1]] in events or [ids[2], "elected", ids[0]] in events, str(events)
assert elections[ids[0]].get_term() > second_term

# calling election methods from event handlers does not deadlock
calls = []
def reentrant(event_type, node_id):
    e = elections[ids[2]]
    calls.append([event_type, e.is_leader(), e.has_leader(), e.get_leader_id()])
    if event_type == "became_leader":
        e.stop()
        e.start()
elections[ids[2]].on_event("became_leader", reentrant)
elections[ids[2]].on_event("elected", reentrant)
elections[ids[0]].stop()
testkit.wait_until(lambda: len([x for x in calls if x[0] == "became_leader"]) >= 1, rest, "reentrant handler")

for i in [ids[0], ids[2]]:
    elections[i].stop()
    assert not elections[i].is_leader()

# metadata criteria and min_cluster_size
x, y, z = testkit.cluster_of(3)
trio = [x, y, z]
x.set_metadata("role", "leader-ok")
y.set_metadata("role", "leader-ok")
testkit.wait_until(lambda: len([n for n in z.alive_nodes() if n["metadata"].get("role") == "leader-ok"]) == 2, trio, "roles")
eligible = sorted([x.node_id(), y.node_id()])
picked = {}
for n in trio:
    picked[n.node_id()] = n.create_leader_election(check_interval="100ms", leader_timeout="1s",
                                                  metadata_criteria={"role": "leader-ok"})
    picked[n.node_id()].start()
testkit.wait_until(lambda: all([picked[k].get_leader_id() == eligible[0] for k in picked.keys()]), trio, "eligible leader")
assert not picked[z.node_id()].is_leader()

# min_cluster_size=4 among three nodes: every node runs the election, so
# without the minimum they would elect within about a second; with it none
# leads, until a fourth node joins and takes part.
big = {}
for n in trio:
    big[n.node_id()] = n.create_leader_election(check_interval="100ms", leader_timeout="500ms", min_cluster_size=4)
    big[n.node_id()].start()
# the criteria election above took about as long to elect; wait as long
# again, checking all along
for k in range(150):
    for n in trio:
        n.wait(0.01)
    for e in big.values():
        assert not e.is_leader() and not e.has_leader() and e.get_leader_id() == None, "leader with 3 of min_cluster_size=4"
w = testkit.node()
w.join(testkit.addr(x))
quad = trio + [w]
big[w.node_id()] = w.create_leader_election(check_interval="100ms", leader_timeout="500ms", min_cluster_size=4)
big[w.node_id()].start()
testkit.wait_until(lambda: len([k for k in big.keys() if big[k].is_leader()]) == 1, quad, "a leader once four take part")
for e in big.values():
    e.stop()
    e.stop()
big = big[x.node_id()]

# bad arguments
testkit.expect_error("ValueError", lambda: x.create_leader_election(check_interval="1s", leader_timeout="1s"),
                     ["create_leader_election()", "leader_timeout", "check_interval"])
testkit.expect_error("ValueError", lambda: x.create_leader_election(min_cluster_size=0), ["create_leader_election()", "min_cluster_size"])
testkit.expect_error("ValueError", lambda: x.create_leader_election(check_interval="soon"), ["create_leader_election()", "check_interval"])
testkit.expect_error("ValueError", lambda: x.create_leader_election(metadata_criteria={"": "a"}), ["metadata_criteria"])
testkit.expect_error("ValueError", lambda: big.on_event("won", recorder("x")), ["on_event()", "event_type", "won"])
testkit.expect_error("TypeError", lambda: big.on_event("elected", 3), ["on_event()", "handler"])

testkit.stop_all(quad)
testkit.stop_all(rest)
testkit.expect_error("RuntimeError", lambda: big.start(), ["start()", "not running"])
print("election ok")
