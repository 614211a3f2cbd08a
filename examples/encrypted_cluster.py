# Encrypted Cluster: AES-GCM on every packet and stream, Snappy compression,
# and a bearer token. The key must be 16, 24 or 32 bytes; the reference's
# "32-byte" example key has 29 bytes and is refused with a ValueError.
import scriptling.net.gossip as gossip

try:
    gossip.create(encryption_key="32-byte-key-here-1234567890ab")
except ValueError as e:
    print("refused:", e)

KEY = "32-byte-key-here-1234567890abcde"   # 32 bytes: AES-256

def secure_node():
    node = gossip.create(
        bind_addr="127.0.0.1:0",
        encryption_key=KEY,
        compression=True,
        bearer_token="secret-token"
    )
    node.start()
    return node

cluster = secure_node()
peer = secure_node()
peer.join([cluster.local_node()["addr"]])

# The joiner knows the cluster when join() returns; the node it joined learns
# of the joiner a moment later. Wait for that before broadcasting from it.
for attempt in range(400):
    if cluster.num_alive() == 2:
        break
    cluster.wait(0.025)

got = []
peer.handle(128, lambda msg: got.append(msg["payload"]))
cluster.send(128, "compressible " * 100, reliable=True)
for attempt in range(400):
    if got:
        break
    peer.wait(0.025)
assert got, "the peer received nothing"
print("peer received", len(got[0]), "characters over an encrypted link")

peer.stop()
cluster.stop()
