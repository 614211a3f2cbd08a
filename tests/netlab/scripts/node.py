# One lab host. Configured by a JSON object in argv[1]; creates a node, joins
# the seeds, optionally takes part in a leader election, and then prints one
# JSON status line per interval on stdout so that the lab can observe it.
#
# The control file named in the config, when present, holds a JSON object
# {"meta": {key: value}}: its metadata is set whenever the file changes, so
# the lab can change a host's metadata without a channel into the process.
import sys
import json
import os
import os.path
import time
import scriptling.net.gossip as gossip

cfg = json.loads(sys.argv[1])

node = gossip.create(bind_addr=cfg["bind"], node_id=cfg["id"], profile="lan",
                     probe_interval=cfg["probe_interval"], probe_timeout=cfg["probe_timeout"],
                     gossip_interval=cfg["gossip_interval"], suspicion_mult=cfg["suspicion_mult"],
                     push_pull_interval=cfg["push_pull_interval"],
                     dead_node_reclaim_time=cfg["dead_node_reclaim_time"])
node.start()

events = []
node.on_state_change(lambda node_id, state: events.append([time.time(), node_id, state]))

election = None
if cfg["election"]:
    election = node.create_leader_election(check_interval=cfg["check_interval"],
                                           leader_timeout=cfg["leader_timeout"],
                                           min_cluster_size=cfg["min_cluster_size"])

    def on_election(kind, node_id, term=None):
        events.append([time.time(), node_id, "election:" + kind])

    for kind in ["elected", "lost", "became_leader", "stepped_down"]:
        election.on_event(kind, on_election)
    election.start()


def current_term():
    # get_term() arrives with the term-aware election; without it the lab
    # reports no term and the scenarios that need one fail saying so.
    try:
        return election.get_term()
    except Exception:
        return None


def leadership():
    """(is_leader, term, leader) read so that the term belongs to the answer:
    a term that moved while is_leader() was asked is read again."""
    for attempt in range(5):
        before = current_term()
        lead = election.is_leader()
        leader = election.get_leader_id()
        if current_term() == before:
            return [lead, before, leader]
    return [lead, None, leader]


seeds = cfg["seeds"]
joined = len(seeds) == 0
join_error = None


def try_join():
    global joined, join_error
    try:
        node.join(seeds)
        joined = True
        join_error = None
    except Exception as e:
        join_error = str(e)


control_text = None


def read_control():
    global control_text
    path = cfg["control"]
    if not os.path.exists(path):
        return
    text = os.read_file(path)
    if text == control_text:
        return
    control_text = text
    meta = json.loads(text)["meta"]
    for key in meta.keys():
        node.set_metadata(key, meta[key])


seq = 0
while True:
    if not joined:
        try_join()
    read_control()
    node.wait(cfg["interval"])
    seq += 1
    members = {}
    for n in node.nodes():
        members[n["id"]] = {"state": n["state"], "addr": n["addr"], "meta": n["metadata"]}
    status = {"id": node.node_id(), "t": time.time(), "seq": seq,
              "addr": node.local_node()["addr"], "members": members,
              "joined": joined, "join_error": join_error, "events": events}
    if election != None:
        lead = leadership()
        status["is_leader"] = lead[0]
        status["term"] = lead[1]
        status["leader"] = lead[2]
    events = []
    print(json.dumps(status))
