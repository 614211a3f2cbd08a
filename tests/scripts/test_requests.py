# Request/reply: handle_with_reply answers send_request; timeouts, unknown
# nodes, missing handlers and raising handlers give distinct errors; both
# nodes live in this one script, so the requester's wait must run the
# responder's handlers.
import testkit
import scriptling.net.gossip as gossip

a, b = testkit.cluster_of(2)
nodes = [a, b]
b_id = b.node_id()

# echo: the handler's return value is the reply, for every payload kind
def echo(msg):
    return {"echo": msg["payload"], "from": msg["sender"]["id"], "type": msg["type"]}
b.handle_with_reply(200, echo)
reply = a.send_request(b_id, 200, "hello")
assert reply == {"echo": "hello", "from": a.node_id(), "type": 200}, str(reply)
for payload in [None, True, 7, 2.5, "s", [1, [2, "x"]], {"k": {"n": [1, 2]}}]:
    assert a.send_request(b_id, 200, payload, timeout=5)["echo"] == payload, str(payload)
assert a.send_request(b_id, 200, "x", "2s")["echo"] == "x"

# a handler may return None or a scalar
b.handle_with_reply(201, lambda m: None)
assert a.send_request(b_id, 201, 1) == None
b.handle_with_reply(202, lambda m: m["payload"] * 2)
assert a.send_request(b_id, 202, 21) == 42

# many requests in a row keep their answers straight
for i in range(30):
    assert a.send_request(b_id, 202, i) == i * 2

# handlers keep running while the requester waits
seen = []
a.handle(140, lambda m: seen.append(m["payload"]))
def slow_echo(msg):
    b.send_to(a.node_id(), 140, "during", reliable=True)
    return "done"
b.handle_with_reply(203, slow_echo)
assert a.send_request(b_id, 203, 0) == "done"
testkit.wait_until(lambda: seen == ["during"], nodes, "handler run while waiting")

# a request to itself runs the local handler directly
a.handle_with_reply(204, lambda m: "self:" + m["payload"])
assert a.send_request(a.node_id(), 204, "x") == "self:x"

# a reply handler can itself send a request (nested waits, same script)
def relay(msg):
    return "relayed " + str(b.send_request(a.node_id(), 204, msg["payload"]))
b.handle_with_reply(205, relay)
assert a.send_request(b_id, 205, "y") == "relayed self:y"

# distinct errors
testkit.expect_error("KeyError", lambda: a.send_request("no-such-node", 200, 1),
                     ["send_request()", "unknown node", "no-such-node"])
testkit.expect_error("RuntimeError", lambda: a.send_request(b_id, 250, 1),
                     ["send_request()", "no reply handler", b_id])
def boom(msg):
    raise ValueError("kaboom " + str(msg["payload"]))
b.handle_with_reply(206, boom)
testkit.expect_error("RuntimeError", lambda: a.send_request(b_id, 206, 3),
                     ["send_request()", "remote handler failed", "kaboom 3"])
b.handle_with_reply(207, lambda m: lambda: 1)
testkit.expect_error("RuntimeError", lambda: a.send_request(b_id, 207, 1),
                     ["remote handler failed", "result of handler"])
testkit.expect_error("RuntimeError", lambda: a.send_request(a.node_id(), 250, 1),
                     ["no reply handler"])
a.handle_with_reply(210, boom)
testkit.expect_error("RuntimeError", lambda: a.send_request(a.node_id(), 210, 4),
                     ["remote handler failed", "kaboom 4"])

# a plain handle() handler does not answer requests
b.handle(208, lambda m: None)
testkit.expect_error("RuntimeError", lambda: b.send_request(b_id, 208, 1), ["no reply handler"])

# bad arguments
testkit.expect_error("ValueError", lambda: a.send_request(b_id, 5, 1), ["send_request()", "message_type", "128"])
testkit.expect_error("ValueError", lambda: a.send_request(b_id, 200, 1, timeout=0), ["timeout"])
testkit.expect_error("ValueError", lambda: a.send_request(b_id, 200, 1, timeout="soon"), ["timeout"])
testkit.expect_error("TypeError", lambda: a.send_request(b_id, 200, lambda: 1), ["send_request()", "data"])
testkit.expect_error("TypeError", lambda: a.handle_with_reply(200, 5), ["handle_with_reply()", "handler"])
testkit.expect_error("ValueError", lambda: a.handle_with_reply(1, echo), ["handle_with_reply()", "message_type"])

# unhandle removes either kind of handler, once
assert b.unhandle(200) == True
assert b.unhandle(200) == False
assert b.unhandle(208) == True
testkit.expect_error("RuntimeError", lambda: a.send_request(b_id, 200, 1), ["no reply handler"])
testkit.expect_error("ValueError", lambda: b.unhandle(3), ["unhandle()", "message_type"])

# timeout: the handler takes longer than the request may wait
def sleepy(msg):
    b.wait(0.6)
    return "late"
b.handle_with_reply(209, sleepy)
import time
t0 = time.time()
msg = testkit.expect_error("RuntimeError", lambda: a.send_request(b_id, 209, 1, timeout="300ms"),
                           ["send_request()", "timeout", "no reply", b_id])
assert time.time() - t0 < 3.0

# a stopped node: the request fails at once rather than hanging
b.stop()
testkit.wait_until(lambda: a.num_alive() == 1, [a], "b gone")
testkit.expect_error("KeyError", lambda: a.send_request(b_id, 202, 1), ["send_request()", b_id])

a.stop()
testkit.expect_error("RuntimeError", lambda: a.send_request(b_id, 202, 1), ["send_request()", "not running"])
print("requests ok")
