# A lab host for the reliable-delivery scenario, in one of two roles.
#
# sender: sends the numbers 0, 1, 2, ... to the receiver with
# send_to(reliable=True, timeout=TIMEOUT), at most RATE a second. A send
# that raises "not sent" (nothing went out) or KeyError (the receiver is
# dead or leaving here) is retried with the same number; "unconfirmed" (still
# queued, delivered at most once) and any other error are recorded and the
# next number follows. Every outcome is one JSON line {"n", "o", "t",
# "took"}; a status line {"role": "sender", ...} with the counts, the
# receiver's state in this node's view and stats() follows every STATUS
# seconds. The control file {"stop": true} ends the sending (the status
# lines go on).
#
# receiver: handles the numbers and prints one line {"h": n, "r": run} per
# message as its handler runs, and a status line {"role": "receiver", ...}
# with the count, duplicates, order violations and the gaps below the
# highest number (as [first, last] ranges) every STATUS seconds. Writing
# {"sleep": seconds, "run": r} to the control file makes run r call
# time.sleep once: a script busy elsewhere, not calling the library. (The
# file outlives the process; a later run ignores it.)
#
# argv: role, bind address, node id, seeds (comma-separated), control file,
# run (a label the lab gives each start of the process), and for the
# sender the receiver's id.
import sys
import json
import os
import os.path
import time
import scriptling.net.gossip as gossip

MSG = 300
TIMEOUT = 1.0  # send_to's timeout, seconds
RATE = 200.0   # sends a second, at most
STATUS = 0.25  # seconds between status lines

role = sys.argv[1]
bind = sys.argv[2]
node_id = sys.argv[3]
seeds = [s for s in sys.argv[4].split(",") if s != ""]
control = sys.argv[5]
run = int(sys.argv[6])

node = gossip.create(bind_addr=bind, node_id=node_id, profile="lan", probe_interval="300ms",
                     probe_timeout="150ms", gossip_interval="100ms", suspicion_mult=4,
                     push_pull_interval="10s")

control_text = [None]


def read_control():
    """The control file's object when it changed since the last call, else None."""
    if not os.path.exists(control):
        return None
    text = os.read_file(control)
    if text == control_text[0]:
        return None
    control_text[0] = text
    return json.loads(text)


def join():
    while len(seeds) > 0:
        try:
            node.join(seeds)
            return
        except Exception as e:
            node.wait(0.1)


def peer_state(peer):
    for n in node.nodes():
        if n["id"] == peer:
            return n["state"]
    return "unknown"


def sender(peer):
    counts = {"confirmed": 0, "unconfirmed": 0, "failed": 0, "not_sent": 0, "not_alive": 0}
    n = 0
    sending = True
    next_status = 0.0
    next_send = time.time()
    while True:
        now = time.time()
        if now >= next_status:
            next_status = now + STATUS
            c = read_control()
            if c != None and c.get("stop", False):
                sending = False
            print(json.dumps({"role": "sender", "node": node_id, "r": run, "t": now, "next": n,
                              "sending": sending, "peer": peer_state(peer), "counts": counts,
                              "stats": node.stats()}))
        if not sending:
            node.wait(STATUS)
            continue
        if now < next_send:
            node.wait(next_send - now)
            continue
        next_send = max(next_send + 1.0 / RATE, now)
        start = time.time()
        try:
            node.send_to(peer, MSG, n, reliable=True, timeout=TIMEOUT)
            outcome = "confirmed"
        except KeyError as e:
            counts["not_alive"] += 1
            continue
        except Exception as e:
            text = str(e)
            if "not running" in text:
                raise e
            if "not sent" in text:
                counts["not_sent"] += 1
                continue
            outcome = "unconfirmed" if "unconfirmed" in text else "failed"
        counts[outcome] += 1
        line = {"n": n, "o": outcome, "t": start, "took": time.time() - start}
        if outcome == "failed":
            line["err"] = str(e)
        print(json.dumps(line))
        n += 1


st = {"count": 0, "dups": 0, "disorder": 0, "max": -1}
seen = {}
gaps = []


def on_msg(msg):
    k = msg["payload"]
    print(json.dumps({"h": k, "r": run}))
    st["count"] += 1
    if k in seen:
        st["dups"] += 1
    seen[k] = True
    if k <= st["max"]:
        st["disorder"] += 1
        return
    if st["max"] >= 0 and k > st["max"] + 1:
        gaps.append([st["max"] + 1, k - 1])
    st["max"] = k


def receiver():
    next_status = 0.0
    while True:
        now = time.time()
        if now >= next_status:
            next_status = now + STATUS
            busy = 0
            c = read_control()
            if c != None and c.get("run", 0) == run and c.get("sleep", 0) > 0:
                busy = c["sleep"]
            print(json.dumps({"role": "receiver", "node": node_id, "r": run, "t": now,
                              "busy": busy, "count": st["count"], "dups": st["dups"],
                              "disorder": st["disorder"], "max": st["max"], "gaps": gaps,
                              "stats": node.stats()}))
            if busy > 0:
                time.sleep(busy)
                next_status = 0.0
                continue
        node.wait(0.02)


if role == "receiver":
    node.handle(MSG, on_msg)
    node.start()
    join()
    receiver()
elif role == "sender":
    node.start()
    join()
    sender(sys.argv[7])
else:
    raise ValueError("role must be sender or receiver, got " + role)
