# Basic Cluster: two nodes on loopback, one message.
# (The reference joins a peer it never starts; here the peer runs too.)
import scriptling.net.gossip as gossip

peer = gossip.create(bind_addr="127.0.0.1:0")
peer.start()

cluster = gossip.create(bind_addr="127.0.0.1:0")
cluster.start()
cluster.join([peer.local_node()["addr"]])

received = []
peer.handle(128, lambda msg: received.append(msg["payload"]))
cluster.handle(128, lambda msg: print(msg["payload"]))
cluster.send(128, "Hello!", reliable=True)

peer.wait(0.05)
for attempt in range(200):
    if received:
        break
    peer.wait(0.05)
print("peer received:", received[0])

cluster.stop()
peer.stop()
