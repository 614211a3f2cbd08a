# Every node a script creates votes in leader elections, whether or not it
# runs one: a single node running an election among three eligible nodes,
# with min_cluster_size=2, can only lead with a vote from a node that runs
# no election.
import testkit
import scriptling.net.gossip as gossip

a, b, c = testkit.cluster_of(3)
nodes = [a, b, c]

e = a.create_leader_election(check_interval="100ms", leader_timeout="1s", min_cluster_size=2)
e.start()
testkit.wait_until(lambda: e.is_leader(), nodes, "the only candidate leads with the others' votes")
assert e.get_leader_id() == a.node_id()
assert e.get_term() >= 1

e.stop()
testkit.stop_all(nodes)
print("election_voters ok")
