# Metadata and State Monitoring.
import scriptling.net.gossip as gossip

peer = gossip.create(bind_addr="127.0.0.1:0")
peer.set_metadata("role", "worker")
peer.start()

cluster = gossip.create(bind_addr="127.0.0.1:0")
cluster.set_metadata("role", "leader")
cluster.set_metadata("version", 2)
cluster.start()

cluster.on_state_change(lambda node_id, state:
    print(f"Node {node_id} -> {state}")
)

cluster.join([peer.local_node()["addr"]])

# Wait until the peer's metadata has arrived.
def peer_meta():
    for node in cluster.alive_nodes():
        if node["id"] == peer.node_id():
            return node["metadata"]
    return {}

for attempt in range(400):
    if peer_meta().get("role") == "worker":
        break
    cluster.wait(0.025)

# Check other nodes' metadata
for node in cluster.alive_nodes():
    print(f"{node['id']}: role={node['metadata'].get('role')}")

peer.stop()
cluster.stop()
