# A node that starts and stops, over and over, on one fixed address:
# argv[1] is the address, argv[2] the number of cycles, argv[3] a peer that
# every tenth cycle joins before serving for a moment (a stop after a join
# leaves gracefully, which takes about a second, so most cycles do not).
# Prints "cycle N" after each stop and "done" at the end; a crash ends the
# process before that.
import sys
import scriptling.net.gossip as gossip

bind = sys.argv[1]
cycles = int(sys.argv[2])
peer = sys.argv[3]

for i in range(cycles):
    node = gossip.create(bind_addr=bind, node_id="restarting", probe_interval="200ms",
                         probe_timeout="100ms", gossip_interval="50ms", push_pull_interval="1s")
    node.start()
    if i % 10 == 9:
        try:
            node.join(peer)
        except Exception as e:
            print("join failed: " + str(e))
        node.wait(0.1)
    node.stop()
    print("cycle " + str(i + 1))
print("done")
