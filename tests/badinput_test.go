package tests

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/gen/spec"
)

// The bad-input cases are derived from api.yaml when the test runs, so a
// parameter added to the spec is covered without touching this file. For
// every parameter of every module function and class method (classes other
// than Cluster are made through the Cluster method returning them) the test
// passes a value of the wrong type, None where None is not allowed, a value
// outside each constraint, leaves it out when it is required, and repeats it
// as a keyword; for every callable it adds an extra positional argument and
// an unknown keyword. Each case runs as its own small script and must raise
// a catchable TypeError or ValueError whose text names the function (and the
// parameter, where the mistake is about one).

// badCase is one call that must be refused.
type badCase struct {
	name   string   // subtest name
	method bool     // needs a Cluster `c` (not started)
	start  bool     // c must be started (size checks need a running node)
	setup  string   // statement creating the object `o` the call is made on, if any
	call   string   // the offending expression
	class  string   // "TypeError" or "ValueError"
	want   []string // substrings the message must contain
}

// badInputPrelude defines the callables used as valid handler arguments.
const badInputPrelude = `import scriptling.net.gossip as gossip

def cb1(a):
    return None

def cb2(a, b):
    return None

`

// badInputScript wraps one case in a script that reports what was raised
// (see reportRaised).
func badInputScript(bc badCase) string {
	var b strings.Builder
	b.WriteString(badInputPrelude)
	if bc.method {
		b.WriteString("c = gossip.create(bind_addr=\"127.0.0.1:0\")\n")
		if bc.start {
			b.WriteString("c.start()\n")
		}
		if bc.setup != "" {
			b.WriteString(bc.setup + "\n")
		}
	}
	b.WriteString(reportRaised(bc.call))
	if bc.method {
		b.WriteString("c.stop()\n")
	}
	b.WriteString("print(outcome)\n")
	return b.String()
}

// lit renders a Go value as a Scriptling literal.
func lit(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return strconv.Quote(x)
	}
	panic(fmt.Sprintf("lit: unsupported %T", v))
}

// validValue is a literal accepted by p's type and constraints; it only has
// to pass argument conversion, which runs before the engine is called.
func validValue(p *spec.Param) string {
	return validFor(p.Type, p)
}

func validFor(t *spec.Type, p *spec.Param) string {
	c := p.Constraints
	switch t.Kind {
	case spec.Str:
		if len(c.Choices) > 0 {
			return lit(c.Choices[0])
		}
		if len(c.Lengths) > 0 {
			return lit(strings.Repeat("k", c.Lengths[0]))
		}
		return lit("k")
	case spec.Int:
		if c.Min != nil {
			return lit(int64(*c.Min))
		}
		return "1"
	case spec.Float, spec.Duration:
		if c.Min != nil {
			return lit(math.Max(*c.Min, 0.5))
		}
		return "0.5"
	case spec.Bool:
		return "True"
	case spec.Any:
		return lit("payload")
	case spec.Callable:
		if p.Signature != nil && len(p.Signature.Params) == 2 {
			return "cb2"
		}
		return "cb1"
	case spec.List:
		return "[" + validFor(t.Elem, &spec.Param{}) + "]"
	case spec.Dict:
		return "{\"k\": " + validFor(t.Elem, &spec.Param{}) + "}"
	case spec.Union:
		return validFor(t.Alts[0], p)
	}
	panic("validFor: unsupported type " + t.Expr)
}

// wrongType is a value of a type p does not accept and the substrings the
// TypeError must show (besides the function and parameter names).
type wrongValue struct {
	label string
	value string
	want  []string
}

func wrongTypes(p *spec.Param) []wrongValue {
	t := p.Type
	var out []wrongValue
	switch {
	case t.Kind == spec.Str:
		out = append(out, wrongValue{"int", "12345", []string{"str", "got int"}})
	case t.Kind == spec.Int:
		out = append(out,
			wrongValue{"str", `"7"`, []string{"int", "got str"}},
			wrongValue{"float", "1.5", []string{"int", "got float"}},
			wrongValue{"bool", "True", []string{"int", "got bool"}})
	case t.Kind == spec.Float:
		out = append(out, wrongValue{"str", `"7"`, []string{"got str"}})
	case t.Kind == spec.Bool:
		out = append(out,
			wrongValue{"str", `"yes"`, []string{"bool", "got str"}},
			wrongValue{"int", "1", []string{"bool", "got int"}})
	case t.Kind == spec.Duration:
		out = append(out, wrongValue{"list", "[1]", []string{"got list"}})
	case t.Kind == spec.Callable:
		out = append(out, wrongValue{"str", `"not callable"`, []string{"got str"}})
	case t.Kind == spec.Any:
		out = append(out,
			wrongValue{"function", "cb1", []string{"got function"}},
			wrongValue{"instance", "gossip.create(bind_addr=\"127.0.0.1:0\")", []string{"got Cluster"}},
			wrongValue{"dict-int-key", `{1: "x"}`, []string{"keys", "got int"}},
			wrongValue{"nested-function", `{"a": [1, cb1]}`, []string{`["a"][1]`, "got function"}})
	case t.Kind == spec.List && t.Elem.Kind == spec.Str:
		out = append(out,
			wrongValue{"str", `"k"`, []string{"list of str", "got str"}},
			wrongValue{"element-int", `["k", 2]`, []string{"[1]", "got int"}})
	case t.IsStrOrStrList():
		out = append(out,
			wrongValue{"int", "5", []string{"got int"}},
			wrongValue{"element-int", `["k", 2]`, []string{"[1]", "got int"}})
	case t.IsScalarUnion():
		out = append(out,
			wrongValue{"list", "[1]", []string{"got list"}},
			wrongValue{"dict", `{"a": 1}`, []string{"got dict"}})
	}
	if !p.Nullable && t.Kind != spec.Any {
		out = append(out, wrongValue{"None", "None", []string{"got NoneType"}})
	}
	return out
}

// outOfRange is a value breaking one of p's constraints.
func outOfRange(p *spec.Param) []wrongValue {
	c := p.Constraints
	var out []wrongValue
	switch p.Type.Kind {
	case spec.Int:
		if c.Min != nil {
			out = append(out, wrongValue{"below-min", lit(int64(*c.Min) - 1), []string{">="}})
		}
		if c.Max != nil {
			out = append(out, wrongValue{"above-max", lit(int64(*c.Max) + 1), []string{"<="}})
		}
	case spec.Float, spec.Duration:
		if c.Min != nil {
			v := -1.0
			if *c.Min > 0 {
				v = *c.Min / 10
			}
			out = append(out, wrongValue{"below-min", lit(v), []string{">="}})
		}
		if c.Max != nil {
			out = append(out, wrongValue{"above-max", lit(*c.Max * 2), []string{"<="}})
		}
	}
	if p.Type.Kind == spec.Duration {
		out = append(out,
			wrongValue{"bad-duration", `"soon"`, []string{"soon"}},
			wrongValue{"nan", `float("nan")`, []string{"finite"}})
	}
	if len(c.Lengths) > 0 {
		n := 0
		for _, l := range c.Lengths {
			n = max(n, l)
		}
		out = append(out, wrongValue{"bad-length", lit(strings.Repeat("k", n+1)), []string{strconv.Itoa(n + 1)}})
	}
	if len(c.Choices) > 0 {
		out = append(out, wrongValue{"bad-choice", `"no-such-choice"`, []string{"no-such-choice"}})
	}
	return out
}

// callExpr builds a call of f with the given positional and keyword
// arguments (already rendered).
func callExpr(f *spec.Function, positional []string, keywords [][2]string) string {
	target := "gossip." + f.Name
	switch {
	case f.Class != nil && f.Class.Name == "Cluster":
		target = "c." + f.Name
	case f.Class != nil:
		target = "o." + f.Name
	}
	args := append([]string(nil), positional...)
	for _, kv := range keywords {
		args = append(args, kv[0]+"="+kv[1])
	}
	return target + "(" + strings.Join(args, ", ") + ")"
}

// requiredExcept passes every required parameter but skip, by keyword.
func requiredExcept(f *spec.Function, skip string) [][2]string {
	var kw [][2]string
	for _, p := range f.Params {
		if p.Required() && p.Name != skip {
			kw = append(kw, [2]string{p.Name, validValue(p)})
		}
	}
	return kw
}

// withArg is the required parameters plus p=value.
func withArg(f *spec.Function, p *spec.Param, value string) [][2]string {
	return append(requiredExcept(f, p.Name), [2]string{p.Name, value})
}

// badInputCases derives every case from the spec.
func badInputCases(s *spec.Spec) ([]badCase, []string) {
	var cases []badCase
	var skipped []string
	var callables []*spec.Function
	callables = append(callables, s.Functions...)
	setups := map[*spec.Class]string{}
	for _, cl := range s.Classes {
		if cl.Name != "Cluster" {
			// Other classes are made by a Cluster factory method.
			factory := factoryOf(s, cl)
			if factory == nil {
				skipped = append(skipped, "class "+cl.Name+" (no Cluster method returns it)")
				continue
			}
			setups[cl] = "o = " + callExpr(factory, nil, requiredExcept(factory, ""))
		}
		callables = append(callables, cl.Methods...)
	}
	for _, f := range callables {
		fn := f.Owner()
		method := f.Class != nil
		prefix := f.Name + "/"
		if method && f.Class.Name != "Cluster" {
			prefix = f.Class.Name + "." + prefix
		}
		add := func(name, call, class string, want ...string) {
			cases = append(cases, badCase{
				name: prefix + name, method: method, setup: setups[f.Class], call: call, class: class,
				want: append([]string{fn}, want...),
			})
		}
		for _, p := range f.Params {
			for _, w := range wrongTypes(p) {
				add(p.Name+"/type-"+w.label, callExpr(f, nil, withArg(f, p, w.value)), "TypeError", append([]string{p.Name}, w.want...)...)
			}
			for _, w := range outOfRange(p) {
				add(p.Name+"/value-"+w.label, callExpr(f, nil, withArg(f, p, w.value)), "ValueError", append([]string{p.Name}, w.want...)...)
			}
			if p.Required() {
				add(p.Name+"/missing", callExpr(f, nil, requiredExcept(f, p.Name)), "TypeError", "missing", p.Name)
			}
		}
		// The first parameter given both positionally and by keyword.
		if len(f.Params) > 0 && !f.Params[0].KeywordOnly {
			p := f.Params[0]
			kw := append(requiredExcept(f, p.Name), [2]string{p.Name, validValue(p)})
			add(p.Name+"/twice", callExpr(f, []string{validValue(p)}, kw), "TypeError", "multiple values", p.Name)
		}
		// The arity check runs before any argument is read, so None is fine.
		extra := make([]string, f.MaxPositional()+1)
		for i := range extra {
			extra[i] = "None"
		}
		kw := append(requiredExcept(f, ""), [2]string{"no_such_arg", "1"})
		if len(f.Params) == 0 {
			// A callable without parameters refuses any argument at once.
			add("extra-positional", callExpr(f, extra, nil), "TypeError", "takes no positional arguments, got 1")
			add("unknown-keyword", callExpr(f, nil, kw), "TypeError", "unexpected keyword argument", "no_such_arg")
			continue
		}
		add("extra-positional", callExpr(f, extra, nil), "TypeError",
			fmt.Sprintf("at most %d arguments, got %d", f.MaxPositional(), len(extra)))
		add("unknown-keyword", callExpr(f, nil, kw), "TypeError", "unexpected keyword", "no_such_arg")
	}
	return cases, skipped
}

// factoryOf is the Cluster method that returns an instance of cl.
func factoryOf(s *spec.Spec, cl *spec.Class) *spec.Function {
	for _, c := range s.Classes {
		if c.Name != "Cluster" {
			continue
		}
		for _, m := range c.Methods {
			if t := m.Returns.Type; t != nil && t.Kind == spec.ClassKind && t.Name == cl.Name {
				return m
			}
		}
	}
	return nil
}

// sizeCases are payloads and metadata over the documented maximum sizes;
// the size is only known once encoded, so the node must be running.
func sizeCases(s *spec.Spec) []badCase {
	var cases []badCase
	for _, cl := range s.Classes {
		if cl.Name != "Cluster" {
			continue
		}
		for _, f := range cl.Methods {
			var data, reliable *spec.Param
			for _, p := range f.Params {
				switch {
				case p.Type.Kind == spec.Any:
					data = p
				case p.Name == "reliable":
					reliable = p
				}
			}
			if data == nil || reliable == nil {
				continue
			}
			for _, size := range []struct {
				label    string
				reliable bool
				n        int
				limit    int
			}{
				// The unreliable limit leaves room for the envelope.
				{"unreliable", false, engine.MaxUnreliablePayload + 1, 0},
				{"reliable", true, engine.MaxReliablePayload + 1, engine.MaxReliablePayload},
			} {
				var pos []string
				for _, p := range f.Params {
					switch {
					case p.KeywordOnly:
						// Optional; the defaults do.
					case p == data:
						pos = append(pos, fmt.Sprintf(`"x" * %d`, size.n))
					case p == reliable:
						pos = append(pos, lit(size.reliable))
					case p.Name == "node_id":
						pos = append(pos, "c.node_id()") // a known node: itself
					default:
						pos = append(pos, validValue(p))
					}
				}
				want := []string{f.Owner(), "payload", "limit"}
				if size.limit > 0 {
					want = append(want, strconv.Itoa(size.limit))
				}
				cases = append(cases, badCase{
					name:   f.Name + "/" + data.Name + "/too-large-" + size.label,
					method: true, start: true,
					call:  callExpr(f, pos, nil),
					class: "ValueError",
					want:  want,
				})
			}
		}
	}
	cases = append(cases, badCase{
		name: "set_metadata/value/too-large", method: true,
		call:  fmt.Sprintf(`c.set_metadata("k", "x" * %d)`, engine.MaxMetadataSize+1),
		class: "ValueError", want: []string{"set_metadata()", "metadata", "limit"},
	}, badCase{
		name: "decode_json/json_string/malformed", call: `gossip.decode_json("{\"a\": ")`,
		class: "ValueError", want: []string{"decode_json()"},
	})
	return cases
}

// TestBadInput runs every derived case and checks the exception's class and
// text.
func TestBadInput(t *testing.T) {
	s, err := spec.Load("../api.yaml")
	if err != nil {
		t.Fatalf("loading api.yaml: %v", err)
	}
	cases, skipped := badInputCases(s)
	cases = append(cases, sizeCases(s)...)
	path, _ := filepath.Abs("badinput.py")
	refused := 0
	for _, bc := range cases {
		t.Run(bc.name, func(t *testing.T) {
			r := runSource(t, path, []byte(badInputScript(bc)))
			if r.Err != nil {
				t.Fatalf("script failed (the error was not catchable?): %v\ncall: %s", r.Err, bc.call)
			}
			class, msg := raised(r.Stdout)
			if class != bc.class {
				t.Fatalf("%s: want %s, got %s: %s", bc.call, bc.class, class, msg)
			}
			for _, w := range bc.want {
				if !strings.Contains(msg, w) {
					t.Fatalf("%s: %s message %q lacks %q", bc.call, class, msg, w)
				}
			}
			refused++
		})
	}
	t.Logf("bad inputs tried: %d, refused with the right class and text: %d", len(cases), refused)
	if len(skipped) > 0 {
		t.Logf("not covered: %s", strings.Join(skipped, ", "))
	}
}

// reportRaised is script code that calls expr inside a function and sets
// outcome to "RAISED <class>|<message>" for what it raised ("none" when it
// returned); the script prints outcome at its end.
func reportRaised(expr string) string {
	return "def call():\n    return " + expr + "\n\n" + `outcome = "RAISED none|call returned normally"
try:
    call()
except KeyError as e:
    outcome = "RAISED KeyError|" + str(e)
except TypeError as e:
    outcome = "RAISED TypeError|" + str(e)
except ValueError as e:
    outcome = "RAISED ValueError|" + str(e)
except RuntimeError as e:
    outcome = "RAISED RuntimeError|" + str(e)
except Exception as e:
    outcome = "RAISED other|" + str(e)
`
}

// raised reads the class and message a reportRaised script printed.
func raised(stdout string) (class, msg string) {
	line := ""
	for _, l := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(l, "RAISED "); ok {
			line = rest
		}
	}
	class, msg, _ = strings.Cut(line, "|")
	return class, msg
}
