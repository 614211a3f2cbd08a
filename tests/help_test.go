package tests

import (
	"strings"
	"testing"
)

// TestHelp checks that help() works for the library, its functions, the
// cluster object and each of its methods, in Scriptling's help style.
func TestHelp(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{"gossip", []string{"create", "decode_json", "MSG_USER"}},
		{"gossip.create", []string{"create(bind_addr=\"127.0.0.1:8000\"", "Create a gossip cluster node",
			"Parameters:", "  encryption_key (str", "Returns:"}},
		{"gossip.decode_json", []string{"decode_json(json_string) - Decode a JSON string", "json_string (str)"}},
		{"c", []string{"send", "send_tagged", "on_state_change", "wait"}},
		{"c.send", []string{"send(message_type, data, reliable=False, *, timeout=None) - Broadcast to all nodes",
			"message_type (int)", "reliable (bool)", "(default: False)"}},
		{"c.handle", []string{"handle(message_type, handler) - Register a message handler", "handler (callable)"}},
		{"c.wait", []string{"wait(timeout=None)"}},
		{"c.get_metadata", []string{"Differs from the reference:", "  Metadata keeps its type\n    Values come back with the type"}},
		{"gossip.create", []string{"Differs from the reference:", "  The 29-byte example key is refused\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			src := "import scriptling.net.gossip as gossip\nc = gossip.create(bind_addr=\"127.0.0.1:0\")\nhelp(" + tc.expr + ")\n"
			r := runSource(t, "help.py", []byte(src))
			if r.Err != nil {
				t.Fatalf("help(%s): %v", tc.expr, r.Err)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stdout, w) {
					t.Errorf("help(%s) lacks %q:\n%s", tc.expr, w, r.Stdout)
				}
			}
		})
	}
}
