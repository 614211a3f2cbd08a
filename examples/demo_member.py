# The demo's fourth node: joins the seed given as the first argument and runs
# until its process is killed.
import sys
import scriptling.net.gossip as gossip

node = gossip.create(bind_addr="127.0.0.1:0", node_id="db-1", tags=["db"], app_version="1.0.0",
                     probe_interval="200ms", probe_timeout="100ms", gossip_interval="50ms")
node.set_metadata("role", "storage")
node.start()
node.join(sys.argv[1])
print("db-1 joined as", node.local_node()["addr"])
node.wait()
