package bindrt

import (
	"testing"

	"github.com/paularlott/scriptling/object"
)

// TestFromAnyRoundTrip checks that converting the value model to objects
// and back gives the same value.
func TestFromAnyRoundTrip(t *testing.T) {
	values := []any{
		nil, true, int64(-3), 2.5, "s",
		[]any{int64(1), "x", nil},
		map[string]any{"a": []any{map[string]any{"b": false}}, "c": 1.25},
	}
	for _, v := range values {
		back, exc := ArgAny("f()", "p", FromAny(v))
		wantExc(t, exc, "", "")
		if !equalValue(back, v) {
			t.Errorf("%#v came back as %#v", v, back)
		}
	}
}

// TestFromAnyOtherGoTypes checks the Go types outside the value model that
// FromAny accepts, and that anything else is shown rather than lost.
func TestFromAnyOtherGoTypes(t *testing.T) {
	if got := FromAny(7).(*object.Integer).IntValue(); got != 7 {
		t.Errorf("int: %d", got)
	}
	l, exc := ArgStrList("f()", "p", FromAny([]string{"a", "b"}))
	wantExc(t, exc, "", "")
	if len(l) != 2 || l[1] != "b" {
		t.Errorf("[]string: %v", l)
	}
	m, exc := ArgStrDict("f()", "p", FromAny(map[string]string{"k": "v"}))
	wantExc(t, exc, "", "")
	if m["k"] != "v" {
		t.Errorf("map[string]string: %v", m)
	}
	if got := FromAny(struct{ A int }{1}).(*object.String).StringValue(); got != "{1}" {
		t.Errorf("struct: %q", got)
	}
}

func TestDictKey(t *testing.T) {
	k := NewDictKey("name")
	pairs := map[string]object.DictPair{}
	k.Put(pairs, str("v"))
	d := &object.Dict{Pairs: pairs}
	got, exc := ArgStrDict("f()", "p", d)
	wantExc(t, exc, "", "")
	if got["name"] != "v" {
		t.Fatalf("got %v", got)
	}
	// The key must be found the way the interpreter looks keys up.
	if _, ok := pairs[object.DictKey(str("name"))]; !ok {
		t.Fatal("the entry is not filed under the interpreter's hash of the key")
	}
}

func equalValue(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !equalValue(x[k], y[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// TestFillIntoOnePiece checks that the Fill functions convert into objects
// the caller allocated together, as the record converters do.
func TestFillIntoOnePiece(t *testing.T) {
	var piece struct {
		strs  [2]object.String
		dicts [2]object.Dict
		list  object.List
	}
	if s := FillString(&piece.strs[0], "a"); s != &piece.strs[0] || s.StringValue() != "a" {
		t.Errorf("FillString: %p %q", s, s.StringValue())
	}
	d := FillAnyMap(&piece.dicts[0], map[string]any{"k": int64(1)})
	if got, ok := d.GetByString("k"); d != &piece.dicts[0] || !ok || got.Value.(*object.Integer).IntValue() != 1 {
		t.Errorf("FillAnyMap: %v", d.Inspect())
	}
	d = FillStrMap(&piece.dicts[1], nil)
	if d.Pairs == nil || len(d.Pairs) != 0 {
		t.Errorf("FillStrMap of nil: %v (a script may add to it, so it needs a map)", d.Pairs)
	}
	l := FillStrList(&piece.list, []string{"x", "y"})
	if l != &piece.list || len(l.Elements) != 2 || l.Elements[1].(*object.String).StringValue() != "y" {
		t.Errorf("FillStrList: %v", l.Inspect())
	}
}
