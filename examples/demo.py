# A three-node cluster on loopback: tagged routing, metadata propagation, a
# fourth node that joins from another process and is killed, and the
# membership printed as a table.
import os
import os.path
import subprocess
import time
import scriptling.net.gossip as gossip

# Quick failure detection so the demo shows a crash within a few seconds.
TUNING = {"probe_interval": "200ms", "probe_timeout": "100ms", "gossip_interval": "50ms",
          "suspicion_mult": 3, "push_pull_interval": "2s"}


def start(name, tags, role):
    node = gossip.create(bind_addr="127.0.0.1:0", node_id=name, tags=tags, app_version="1.0.0",
                         **TUNING)
    node.set_metadata("role", role)
    node.start()
    return node


def wait_for(what, cond, nodes, timeout=20.0):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        for n in nodes:
            n.wait(0.02)


def print_table(viewer):
    rows = [["ID", "ADDR", "STATE", "TAGS", "METADATA"]]
    for n in viewer.nodes():
        meta = ", ".join([k + "=" + str(n["metadata"][k]) for k in sorted(list(n["metadata"].keys()))])
        rows.append([n["id"], n["addr"], n["state"], ",".join(n["tags"]), meta])
    widths = [max([len(r[i]) for r in rows]) for i in range(5)]
    for r in rows:
        print("  ".join([r[i].ljust(widths[i]) for i in range(5)]).rstrip())


web = start("web-1", ["web"], "frontend")
worker = start("worker-1", ["worker"], "batch")
hybrid = start("hybrid-1", ["web", "worker"], "general")
nodes = [web, worker, hybrid]
seed = web.local_node()["addr"]
for n in [worker, hybrid]:
    n.join(seed)
wait_for("three alive nodes", lambda: all([n.num_alive() == 3 for n in nodes]), nodes)
print("cluster up:", ", ".join([n.node_id() + "@" + n.local_node()["addr"] for n in nodes]))

web.on_state_change(lambda node_id, state: print(f"  [web-1 sees] {node_id} is now {state}"))

# Tag-routed messages: only nodes carrying the tag run the handler.
inbox = []


def recorder(name):
    return lambda msg: inbox.append(name + " <- " + msg["sender"]["id"] + ": " + msg["payload"])


for n in nodes:
    n.handle(gossip.MSG_USER, recorder(n.node_id()))
web.send_tagged("worker", gossip.MSG_USER, "job #1 for workers", reliable=True)
worker.send_tagged("web", gossip.MSG_USER, "page cache flushed", reliable=True)
wait_for("tagged deliveries", lambda: len(inbox) == 4, nodes)
print("tagged messages:")
for line in sorted(inbox):
    print("  " + line)

# Metadata set on one node reaches every other node.
worker.set_metadata("load", 0.42)
wait_for("metadata on web-1",
         lambda: [n["metadata"].get("load") for n in web.nodes() if n["id"] == "worker-1"] == [0.42], nodes)
print("worker-1 metadata as seen by web-1:",
      [n["metadata"] for n in web.nodes() if n["id"] == "worker-1"][0])

# A fourth node joins from another process and is killed with SIGKILL: no
# goodbye, so the others detect the failure (suspect, then dead).
runner = os.getenv("SCRIPTLING_GOSSIP_RUNNER")
member = os.path.join(os.path.dirname(__file__), "demo_member.py")
if runner:
    # The script blocks in subprocess.run for 3 s, so the nodes' handlers
    # wait meanwhile; the engine logs a warning about the waiting events.
    print("starting db-1 in another process; it is killed after 3 s (handlers wait meanwhile)")
    subprocess.run(["timeout", "-s", "KILL", "3", runner, member, seed])
    wait_for("db-1 declared dead", lambda: [n["state"] for n in web.nodes() if n["id"] == "db-1"] == ["dead"],
             nodes, 30.0)
else:
    print("SCRIPTLING_GOSSIP_RUNNER is not set: stopping hybrid-1 instead of killing a process")
    hybrid.stop()
    nodes = [web, worker]
    wait_for("hybrid-1 gone", lambda: web.num_alive() == 2, nodes)

web.wait(0.1)  # let the last state-change events print first
print()
print("membership as seen by web-1:")
print_table(web)

for n in nodes:
    n.stop()
print("demo done")
