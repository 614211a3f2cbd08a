# Helpers shared by the script-level tests: start nodes on free loopback
# ports and poll for a condition with a deadline.
import time
import scriptling.net.gossip as gossip

# Tight failure-detection settings so crashes are noticed in about a second.
FAST = {"profile": "lan", "probe_interval": "100ms", "probe_timeout": "50ms",
        "gossip_interval": "20ms", "suspicion_mult": 3, "push_pull_interval": "1s"}


def node(**kwargs):
    """Create and start a node on a free loopback port."""
    if "bind_addr" not in kwargs:
        kwargs["bind_addr"] = "127.0.0.1:0"
    for key in FAST.keys():
        if key not in kwargs:
            kwargs[key] = FAST[key]
    c = gossip.create(**kwargs)
    c.start()
    return c


def addr(c):
    return c.local_node()["addr"]


def wait_until(cond, nodes, what, timeout=20.0):
    """Poll cond() until it is true, running every node's queued handlers
    between polls; fail with `what` when the deadline passes."""
    deadline = time.time() + timeout
    met = cond()
    while not met and time.time() <= deadline:
        for n in nodes:
            n.wait(0.01)
        met = cond()
    if not met:
        raise Exception("timed out after " + str(timeout) + "s waiting for " + what)


def cluster_of(count, **kwargs):
    """Start `count` nodes joined into one cluster and wait until every node
    sees all of them alive."""
    nodes = [node(**kwargs)]
    for i in range(1, count):
        n = node(**kwargs)
        n.join(addr(nodes[0]))
        nodes.append(n)
    wait_until(lambda: all([n.num_alive() == count for n in nodes]), nodes,
               str(count) + " nodes alive everywhere")
    return nodes


def stop_all(nodes):
    for n in nodes:
        n.stop()


def send_until(send, cond, nodes, what, timeout=20.0):
    """Repeat an unreliable send until cond() holds: UDP may drop a datagram
    on a loaded machine, so tests of unreliable delivery resend."""
    deadline = time.time() + timeout
    met = False
    while not met and time.time() <= deadline:
        send()
        for i in range(10):
            for n in nodes:
                n.wait(0.01)
            met = cond()
            if met:
                break
    if not met:
        raise Exception("timed out after " + str(timeout) + "s waiting for " + what)


def expect_error(kind, fn, contains):
    """Call fn() and check it raises `kind` ("TypeError", ...) with a message
    containing every string in `contains`."""
    try:
        fn()
    except TypeError as e:
        return check_error("TypeError", kind, str(e), contains)
    except ValueError as e:
        return check_error("ValueError", kind, str(e), contains)
    except KeyError as e:
        return check_error("KeyError", kind, str(e), contains)
    except RuntimeError as e:
        return check_error("RuntimeError", kind, str(e), contains)
    raise Exception("expected " + kind + " mentioning " + str(contains) + ", nothing raised")


def check_error(got, want, message, contains):
    assert got == want, "expected " + want + ", got " + got + ": " + message
    for part in contains:
        assert part in message, "error message '" + message + "' lacks '" + part + "'"
    return message
