# Three-Node Cluster with Tags: only web-tagged nodes receive the message.
import scriptling.net.gossip as gossip

# Node 1 - web server
web = gossip.create(bind_addr="127.0.0.1:0", tags=["web"])
web.start()
seed = web.local_node()["addr"]

# Node 2 - worker
worker = gossip.create(bind_addr="127.0.0.1:0", tags=["worker"])
worker.start()
worker.join([seed])

# Node 3 - both
hybrid = gossip.create(bind_addr="127.0.0.1:0", tags=["web", "worker"])
hybrid.start()
hybrid.join([seed])

inboxes = {"web": [], "worker": [], "hybrid": []}
web.handle(128, lambda msg: inboxes["web"].append(msg["payload"]))
worker.handle(128, lambda msg: inboxes["worker"].append(msg["payload"]))
hybrid.handle(128, lambda msg: inboxes["hybrid"].append(msg["payload"]))

for attempt in range(400):
    if web.num_alive() == 3:
        break
    web.wait(0.025)

# Only web-tagged nodes receive this
web.send_tagged("web", 128, "Hello web nodes!", reliable=True)

for attempt in range(400):
    if inboxes["hybrid"]:
        break
    hybrid.wait(0.025)
worker.wait(0.1)

print("hybrid got:", inboxes["hybrid"])
print("worker got:", inboxes["worker"])
assert inboxes["hybrid"] == ["Hello web nodes!"]
assert inboxes["worker"] == []

for node in [hybrid, worker, web]:
    node.stop()
