package codec

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`null`, nil},
		{`true`, true},
		{`false`, false},
		{`0`, int64(0)},
		{`-0`, int64(0)},
		{`42`, int64(42)},
		{`-17`, int64(-17)},
		{`9223372036854775807`, int64(math.MaxInt64)},
		{`-9223372036854775808`, int64(math.MinInt64)},
		{`9223372036854775808`, 9223372036854775808.0},
		{`100000000000000000000`, 1e20},
		{`1.5`, 1.5},
		{`1.0`, 1.0},
		{`1e3`, 1000.0},
		{`-2.5E-3`, -0.0025},
		{`-0.0`, math.Copysign(0, -1)},
		{`""`, ""},
		{`"h\u00e9llo \ud83d\ude80"`, "héllo 🚀"},
		{`[]`, []any{}},
		{`{}`, map[string]any{}},
		{` [1, 2.5, "x", true, null] `, []any{int64(1), 2.5, "x", true, nil}},
		{`{"a": [1, 2.5, "x", true, null]}`, map[string]any{"a": []any{int64(1), 2.5, "x", true, nil}}},
		{`{"a": {"b": {"c": [[]]}}}`, map[string]any{"a": map[string]any{"b": map[string]any{"c": []any{[]any{}}}}}},
		{`{"k": 1, "k": 2}`, map[string]any{"k": int64(2)}},
		{"\n\t{\"x\":1}\n", map[string]any{"x": int64(1)}},
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), emptyNested(MaxDepth)},
	}
	for _, tt := range tests {
		got, err := DecodeJSON(tt.in)
		if err != nil {
			t.Errorf("DecodeJSON(%q): %v", tt.in, err)
			continue
		}
		if !equalValues(got, tt.want) {
			t.Errorf("DecodeJSON(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

// emptyNested returns depth lists one inside another, the innermost empty.
func emptyNested(depth int) any {
	v := []any{}
	for range depth - 1 {
		v = []any{v}
	}
	return v
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		in      string
		msgPart string
	}{
		{``, "empty input"},
		{`   `, "empty input"},
		{`{`, "unexpected end of input"},
		{`[1, 2`, "unexpected end of input"},
		{`{"a" 1}`, "offset"},
		{`[1,]`, "offset"},
		{`nul`, ""},
		{`'x'`, "offset"},
		{`1 2`, "after the value ending at offset 1"},
		{`{} x`, "after the value ending at offset 2"},
		{`[]]`, "after the value"},
		{`"a" "b"`, "after the value"},
		{`1e400`, "out of range"},
		{`-1e400`, "out of range"},
		{`NaN`, ""},
		{`01`, ""},
	}
	for _, tt := range tests {
		v, err := DecodeJSON(tt.in)
		if !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("DecodeJSON(%q) = %#v, %v; want ErrInvalidJSON", tt.in, v, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.msgPart) {
			t.Errorf("DecodeJSON(%q) error %q does not mention %q", tt.in, err, tt.msgPart)
		}
	}
}

func TestDecodeJSONTooDeep(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
		strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1),
	} {
		_, err := DecodeJSON(in)
		if !errors.Is(err, ErrInvalidJSON) || !errors.Is(err, ErrTooDeep) {
			t.Fatalf("err = %v, want ErrInvalidJSON and ErrTooDeep", err)
		}
	}
}

func TestDecodeJSONMatchesEncoder(t *testing.T) {
	// A decoded JSON value is always a model value, so it encodes.
	v, err := DecodeJSON(`{"users": [{"name": "a", "age": 3, "score": 1.5, "tags": ["x"], "x": null}]}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeValue(b)
	if err != nil || !equalValues(back, v) {
		t.Fatalf("round trip: %#v, %v", back, err)
	}
}
