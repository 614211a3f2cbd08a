# A lab host that keeps messages flowing: it joins the seeds, then every
# tick sends one reliable and one unreliable message, numbered per
# destination, to every other alive member, checks that the reliable ones
# it receives arrive in order, and prints one JSON line per tick with its
# counts and the node's stats(). argv: bind address, node id, seeds
# (comma-separated, may be empty).
import sys
import json
import time
import scriptling.net.gossip as gossip

RELIABLE = 200
UNRELIABLE = 201

bind = sys.argv[1]
node_id = sys.argv[2]
seeds = [s for s in sys.argv[3].split(",") if s != ""]

node = gossip.create(bind_addr=bind, node_id=node_id, profile="lan", probe_interval="300ms",
                     probe_timeout="150ms", gossip_interval="100ms", suspicion_mult=4)
node.start()

reliable_got = {}
unreliable_got = {}
disorder = [0]
reliable_sent = {}
unreliable_sent = {}
send_errors = [0]


def on_reliable(msg):
    sender = msg["sender"]["id"]
    expected = reliable_got.get(sender, 0)
    if msg["payload"] != expected:
        disorder[0] += 1
    reliable_got[sender] = expected + 1


def on_unreliable(msg):
    sender = msg["sender"]["id"]
    unreliable_got[sender] = unreliable_got.get(sender, 0) + 1


node.handle(RELIABLE, on_reliable)
node.handle(UNRELIABLE, on_unreliable)

joined = len(seeds) == 0
while True:
    if not joined:
        try:
            node.join(seeds)
            joined = True
        except Exception as e:
            pass
    for n in node.nodes():
        peer = n["id"]
        if peer == node_id or n["state"] != "alive":
            continue
        seq = reliable_sent.get(peer, 0)
        try:
            node.send_to(peer, RELIABLE, seq, reliable=True)
            reliable_sent[peer] = seq + 1
        except Exception as e:
            send_errors[0] += 1
        try:
            node.send_to(peer, UNRELIABLE, unreliable_sent.get(peer, 0))
            unreliable_sent[peer] = unreliable_sent.get(peer, 0) + 1
        except Exception as e:
            send_errors[0] += 1
    node.wait(0.1)
    print(json.dumps({"node": node_id, "t": time.time(), "reliable_sent": reliable_sent,
                      "reliable_got": reliable_got, "unreliable_sent": unreliable_sent,
                      "unreliable_got": unreliable_got, "disorder": disorder[0],
                      "send_errors": send_errors[0], "stats": node.stats()}))
