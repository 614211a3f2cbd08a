package tests

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scriptling-contrib/gossip/gen/spec"
)

// The `errors:` entries of api.yaml are promises: "this call raises this
// class when ...". TestDeclaredErrors reads them from api.yaml when it runs
// and fails when an entry has no case below that shows the call raising
// that class, when a case does not raise it, and when a case claims an
// error api.yaml does not declare. A new entry therefore cannot land
// without a script that makes it happen.

// errorCase is a script that makes one callable raise one declared class.
type errorCase struct {
	callable string // "create" for module functions, "Class.method" for methods
	class    string
	setup    string // statements run before the call (gossip is imported)
	call     string // the expression that must raise
}

const (
	node        = "c = gossip.create(bind_addr=\"127.0.0.1:0\")\n"
	started     = node + "c.start()\n"
	stopped     = started + "c.stop()\n"
	testKey     = `"0123456789abcdef"`
	encrypted   = "c = gossip.create(bind_addr=\"127.0.0.1:0\", encryption_key=" + testKey + ")\nc.start()\n"
	group       = started + "g = c.create_node_group({\"role\": \"web\"})\n"
	election    = node + "e = c.create_leader_election()\n"
	tooBigUDP   = `"x" * 60001`
	unsendable  = `lambda x: x`
	bigReliable = `"x" * 16777217`
)

var errorCases = []errorCase{
	{"create", "ValueError", "", `gossip.create(encryption_key="too short")`},
	{"create", "ValueError", "", `gossip.create(bind_addr="127.0.0.1:notaport")`},
	{"decode_json", "ValueError", "", `gossip.decode_json("{\"a\": ")`},

	{"Cluster.start", "RuntimeError", started, `c.start()`},
	{"Cluster.start", "RuntimeError", started + "d = gossip.create(bind_addr=c.local_node()[\"addr\"])\n", `d.start()`},
	{"Cluster.start", "RuntimeError", stopped, `c.start()`},
	{"Cluster.join", "RuntimeError", started, `c.join("127.0.0.1:1")`},
	{"Cluster.leave", "RuntimeError", node, `c.leave()`},

	{"Cluster.send", "TypeError", started, `c.send(128, ` + unsendable + `)`},
	{"Cluster.send", "ValueError", started, `c.send(128, ` + tooBigUDP + `)`},
	{"Cluster.send", "RuntimeError", node, `c.send(128, "x")`},
	{"Cluster.send_tagged", "TypeError", started, `c.send_tagged("web", 128, ` + unsendable + `)`},
	{"Cluster.send_tagged", "ValueError", started, `c.send_tagged("web", 128, ` + tooBigUDP + `)`},
	{"Cluster.send_tagged", "RuntimeError", stopped, `c.send_tagged("web", 128, "x")`},
	{"Cluster.send_to", "KeyError", started, `c.send_to("no-such-node", 128, "x")`},
	{"Cluster.send_to", "TypeError", started, `c.send_to(c.node_id(), 128, ` + unsendable + `)`},
	{"Cluster.send_to", "ValueError", started, `c.send_to(c.node_id(), 128, ` + bigReliable + `, True)`},
	{"Cluster.send_to", "RuntimeError", node, `c.send_to(c.node_id(), 128, "x")`},

	{"Cluster.handle", "ValueError", node, `c.handle(5, lambda msg: None)`},
	{"Cluster.set_metadata", "ValueError", node, `c.set_metadata("", 1)`},
	{"Cluster.set_metadata", "ValueError", node, `c.set_metadata("k", "x" * 1048577)`},
	{"Cluster.set_metadata", "RuntimeError", stopped, `c.set_metadata("k", 1)`},
	{"Cluster.delete_metadata", "RuntimeError", stopped, `c.delete_metadata("k")`},

	{"Cluster.handle_with_reply", "ValueError", node, `c.handle_with_reply(5, lambda msg: None)`},
	{"Cluster.send_request", "KeyError", started, `c.send_request("no-such-node", 200, 1)`},
	{"Cluster.send_request", "TypeError", started, `c.send_request(c.node_id(), 200, ` + unsendable + `)`},
	{"Cluster.send_request", "ValueError", started, `c.send_request(c.node_id(), 200, ` + bigReliable + `)`},
	{"Cluster.send_request", "RuntimeError", started, `c.send_request(c.node_id(), 200, 1)`},
	{"Cluster.send_request", "RuntimeError", stopped, `c.send_request(c.node_id(), 200, 1)`},
	{"Cluster.send_request", "RuntimeError", started + "c.handle_with_reply(200, lambda msg: 1 / 0)\n", `c.send_request(c.node_id(), 200, 1)`},
	{"Cluster.unhandle", "ValueError", node, `c.unhandle(5)`},
	{"Cluster.nodes_by_tag", "ValueError", node, `c.nodes_by_tag("")`},
	{"Cluster.candidates", "ValueError", node, `c.candidates(-1)`},
	{"Cluster.create_node_group", "ValueError", node, `c.create_node_group({"": "x"})`},
	{"Cluster.create_leader_election", "ValueError", node, `c.create_leader_election(check_interval="2s", leader_timeout="1s")`},
	{"Cluster.create_leader_election", "ValueError", node, `c.create_leader_election(metadata_criteria={"": "x"})`},

	{"Cluster.install_key", "ValueError", encrypted, `c.install_key("short")`},
	{"Cluster.install_key", "RuntimeError", started, `c.install_key(` + testKey + `)`},
	{"Cluster.use_key", "ValueError", encrypted, `c.use_key("fedcba9876543210")`},
	{"Cluster.use_key", "RuntimeError", started, `c.use_key(` + testKey + `)`},
	{"Cluster.remove_key", "ValueError", encrypted, `c.remove_key("short")`},
	{"Cluster.remove_key", "RuntimeError", started, `c.remove_key(` + testKey + `)`},
	{"Cluster.list_keys", "RuntimeError", started, `c.list_keys()`},

	{"NodeGroup.send_to_peers", "TypeError", group, `g.send_to_peers(128, ` + unsendable + `)`},
	{"NodeGroup.send_to_peers", "ValueError", group, `g.send_to_peers(128, ` + tooBigUDP + `)`},
	{"NodeGroup.send_to_peers", "RuntimeError", group + "g.close()\n", `g.send_to_peers(128, 1)`},
	{"LeaderElection.start", "RuntimeError", election, `e.start()`},
	{"LeaderElection.send_to_peers", "TypeError", election, `e.send_to_peers(128, ` + unsendable + `)`},
	{"LeaderElection.send_to_peers", "ValueError", "c = gossip.create(bind_addr=\"127.0.0.1:0\")\nc.start()\ne = c.create_leader_election()\n", `e.send_to_peers(128, ` + tooBigUDP + `)`},
	{"LeaderElection.send_to_peers", "RuntimeError", election, `e.send_to_peers(128, 1)`},
	{"LeaderElection.on_event", "ValueError", election, `e.on_event("no_such_event", lambda a, b: None)`},
}

// declaredErrorScript runs one case and prints what it raised (see reportRaised).
func declaredErrorScript(ec errorCase) string {
	var b strings.Builder
	b.WriteString("import scriptling.net.gossip as gossip\n")
	b.WriteString(ec.setup)
	b.WriteString(reportRaised(ec.call))
	b.WriteString("print(outcome)\n")
	if strings.Contains(ec.setup, "c = ") {
		b.WriteString("c.stop()\n")
	}
	return b.String()
}

// declaredErrors lists api.yaml's (callable, class) pairs with their "when".
func declaredErrors(s *spec.Spec) map[[2]string]string {
	out := map[[2]string]string{}
	add := func(name string, f *spec.Function) {
		for _, r := range f.Raises {
			out[[2]string{name, r.Class}] = r.When
		}
	}
	for _, f := range s.Functions {
		add(f.Name, f)
	}
	for _, cl := range s.Classes {
		for _, m := range cl.Methods {
			add(cl.Name+"."+m.Name, m)
		}
	}
	return out
}

func TestDeclaredErrors(t *testing.T) {
	s, err := spec.Load("../api.yaml")
	if err != nil {
		t.Fatalf("loading api.yaml: %v", err)
	}
	declared := declaredErrors(s)
	covered := map[[2]string]bool{}
	for _, ec := range errorCases {
		key := [2]string{ec.callable, ec.class}
		if _, ok := declared[key]; !ok {
			t.Errorf("a case makes %s raise %s, but api.yaml does not declare it: declare it or drop the case", ec.callable, ec.class)
		}
		covered[key] = true
	}
	var missing []string
	for key, when := range declared {
		if !covered[key] {
			missing = append(missing, key[0]+" raises "+key[1]+" when "+when)
		}
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("api.yaml: %s; no case shows it", m)
	}

	path, _ := filepath.Abs("declared_errors.py")
	for i, ec := range errorCases {
		t.Run(ec.callable+"/"+ec.class+"/"+strings.Repeat("i", i%4+1), func(t *testing.T) {
			r := runSource(t, path, []byte(declaredErrorScript(ec)))
			if r.Err != nil {
				t.Fatalf("script failed (the error was not catchable?): %v\ncall: %s", r.Err, ec.call)
			}
			class, msg := raised(r.Stdout)
			if class != ec.class {
				t.Fatalf("%s: api.yaml says %s (%s), got %s: %s", ec.call, ec.class,
					declared[[2]string{ec.callable, ec.class}], class, msg)
			}
		})
	}
	t.Logf("declared errors: %d, cases: %d", len(declared), len(errorCases))
}
