# A node for process-level tests: joins the seed given as the first argument
# with the node id given as the second, prints "joined", then runs handlers
# until its cluster is stopped (by Ctrl-C in the runner).
import sys
import scriptling.net.gossip as gossip

node = gossip.create(bind_addr="127.0.0.1:0", node_id=sys.argv[2],
                     probe_interval="100ms", probe_timeout="50ms", gossip_interval="20ms")
node.start()
node.join(sys.argv[1])
print("joined", node.local_node()["addr"])
node.wait()
print("stopped")
