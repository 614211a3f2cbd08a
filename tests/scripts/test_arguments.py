# Bad arguments get catchable errors naming the function, the parameter,
# what was expected and what was given. (tests/badinput_test.go derives the
# exhaustive set from api.yaml; these are the reference's own examples.)
import testkit
import scriptling.net.gossip as gossip

E = testkit.expect_error
E("TypeError", lambda: gossip.create(tags="web"), ["create()", "tags must be a list of str, got str"])
E("TypeError", lambda: gossip.create(tags=["web", 1]), ["create()", "tags[1]", "str", "int"])
E("TypeError", lambda: gossip.create(bind_addr=8000), ["create()", "bind_addr", "str", "int"])
E("ValueError", lambda: gossip.create(encryption_key="32-byte-key-here-1234567890ab"),
  ["create()", "encryption_key must be 16, 24 or 32 bytes, got 29"])
E("TypeError", lambda: gossip.create(nope=1), ["create()", "nope"])
E("TypeError", lambda: gossip.create(compression="yes"), ["create()", "compression", "bool", "str"])
E("ValueError", lambda: gossip.create(profile="fast"), ["create()", "profile", "fast"])
E("ValueError", lambda: gossip.create(probe_interval="soon"), ["create()", "probe_interval", "soon"])
E("ValueError", lambda: gossip.create(bind_addr="no-port"), ["create()", "no-port"])
E("ValueError", lambda: gossip.create(bind_addr="no.such.host.invalid:0"),
  ["create()", "bind_addr", "no.such.host.invalid:0", "does not resolve"])
E("ValueError", lambda: gossip.create(advertise_addr="no.such.host.invalid:7000"),
  ["create()", "advertise_addr", "no.such.host.invalid:7000", "does not resolve"])

c = gossip.create(bind_addr="127.0.0.1:0")
E("ValueError", lambda: c.send(5, "x"), ["send()", "message_type must be >= 128, got 5"])
E("TypeError", lambda: c.send("128", "x"), ["send()", "message_type", "int", "str"])
E("TypeError", lambda: c.send(True, "x"), ["send()", "message_type", "int", "bool"])
E("TypeError", lambda: c.send(128), ["send()", "data"])
E("TypeError", lambda: c.send(128, "x", False, 1), ["send()"])
E("TypeError", lambda: c.send(128, "x", reliable="no"), ["send()", "reliable", "bool", "str"])
E("TypeError", lambda: c.send(128, "x", 1, reliable=True), ["send()", "reliable"])
E("TypeError", lambda: c.send(128, lambda: 1), ["send()", "data", "function"])
E("TypeError", lambda: c.send(128, {"a": [1, c]}), ["send()", "data", "Cluster"])
E("TypeError", lambda: c.send(128, {1: "x"}), ["send()", "data", "key"])
E("TypeError", lambda: c.handle(128, "not callable"), ["handle()", "handler", "str"])
E("ValueError", lambda: c.handle(127, lambda m: 1), ["handle()", "message_type must be >= 128, got 127"])
E("TypeError", lambda: c.join(5), ["join()", "peers", "int"])
E("TypeError", lambda: c.join(["a:1", 2]), ["join()", "peers[1]", "int"])
E("TypeError", lambda: c.send_tagged(None, 128, "x"), ["send_tagged()", "tag", "NoneType"])
E("TypeError", lambda: c.set_metadata("k", {"a": 1}), ["set_metadata()", "value", "dict"])
E("TypeError", lambda: c.get_metadata(), ["get_metadata()", "key"])
E("ValueError", lambda: c.wait(-1), ["wait()", "timeout"])
E("TypeError", lambda: c.on_state_change(), ["on_state_change()", "handler"])

# a list that contains itself cannot be sent (no infinite recursion)
loop = [1]
loop.append(loop)
E("ValueError", lambda: c.send(128, loop), ["send()", "data"])

# operations that need a running node say so
E("RuntimeError", lambda: c.send(128, "x"), ["send()"])
E("RuntimeError", lambda: c.join("127.0.0.1:1"), ["join()"])
c.stop()
print("arguments ok")
