# decode_json turns JSON text into Scriptling values.
import testkit
import scriptling.net.gossip as gossip

v = gossip.decode_json('{"a": [1, 2.5, "x", true, null], "b": {"c": -3}}')
assert v == {"a": [1, 2.5, "x", True, None], "b": {"c": -3}}, str(v)
assert isinstance(v["a"][0], int)
assert isinstance(v["a"][1], float)
assert gossip.decode_json("12") == 12
assert gossip.decode_json('"s"') == "s"
assert gossip.decode_json("null") == None
assert gossip.decode_json("[]") == []
testkit.expect_error("ValueError", lambda: gossip.decode_json("{bad"), ["decode_json()"])
testkit.expect_error("ValueError", lambda: gossip.decode_json("1 2"), ["decode_json()"])
testkit.expect_error("TypeError", lambda: gossip.decode_json(5), ["decode_json()", "json_string", "str", "int"])
assert gossip.MSG_USER == 128
print("json ok")
