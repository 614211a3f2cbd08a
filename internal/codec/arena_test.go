package codec

import (
	"fmt"
	"strings"
	"testing"
)

// arenaValues are values of every kind and size class the arena handles:
// the small block, one block per kind, dict keys, empty containers.
func arenaValues() []any {
	long := strings.Repeat("y", 300)
	many := make([]any, 0, 50)
	for i := range 50 {
		many = append(many, []any{int64(i), fmt.Sprint(i), float64(i) / 3, i%2 == 0, nil})
	}
	return []any{
		[]any{int64(123456), strings.Repeat("x", 88)},
		[]any{int64(-1), "a", 1.5, []any{}, map[string]any{}},
		[]any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}},
		map[string]any{"id": int64(7), "name": "n", "tags": []any{"a", "b"}, "score": 2.5, long: long},
		many,
		map[string]any{"nested": many, "empty": []any{}, "": ""},
		"",
		long,
		int64(300),
		[]any{},
	}
}

// TestDecodeArenaCountsExactly: the first pass counts exactly the parts the
// decoder takes, so no part falls back to an allocation of its own and no
// room is left unused.
func TestDecodeArenaCountsExactly(t *testing.T) {
	for i, v := range arenaValues() {
		enc, err := EncodeValue(v)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := measure(enc)
		if !ok {
			t.Fatalf("value %d: measure refused a valid encoding", i)
		}
		d := decoder{b: enc, a: newArena(s)}
		got, err := d.value(0)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if !equalValues(got, v) {
			t.Fatalf("value %d: decoded %#v, want %#v", i, got, v)
		}
		a := d.a
		if a.spills != 0 {
			t.Errorf("value %d: %d parts did not fit the counts", i, a.spills)
		}
		for name, lc := range map[string][2]int{
			"elems": {len(a.elems), cap(a.elems)}, "strs": {len(a.strs), cap(a.strs)},
			"lists": {len(a.lists), cap(a.lists)}, "ints": {len(a.ints), cap(a.ints)},
			"floats": {len(a.floats), cap(a.floats)}, "bytes": {len(a.bytes), cap(a.bytes)},
		} {
			if lc[0] != lc[1] {
				t.Errorf("value %d: %s used %d of %d counted", i, name, lc[0], lc[1])
			}
		}
	}
}

// TestDecodedListsOwnTheirCapacity: lists decoded side by side share one
// block, but appending to one never writes into the next.
func TestDecodedListsOwnTheirCapacity(t *testing.T) {
	enc, err := EncodeValue([]any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeValue(enc)
	if err != nil {
		t.Fatal(err)
	}
	outer := v.([]any)
	first := outer[0].([]any)
	_ = append(first, "overwrite?")
	outer = append(outer, "extra")
	want := []any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}, "extra"}
	if !equalValues(outer, want) {
		t.Fatalf("after appends: %#v, want %#v", outer, want)
	}
}

// TestDecodeAllocations: a message of about 100 bytes (a number and a
// string in a list) costs two allocations, and a 1 KiB nested dict one per
// dict plus a few blocks, not one per value.
func TestDecodeAllocations(t *testing.T) {
	msg, err := EncodeValue([]any{int64(123456), strings.Repeat("x", 88)})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = DecodeValue(msg) }); n > 2 {
		t.Errorf("decoding a 100-byte message allocated %.0f times, want at most 2", n)
	}
	items := make([]any, 0, 20)
	for i := range 20 {
		items = append(items, []any{int64(i * 1000), fmt.Sprint("item-", i), float64(i) * 1.25, "tag"})
	}
	list, err := EncodeValue(items)
	if err != nil {
		t.Fatal(err)
	}
	// Lists, list headers, strings, string bytes, ints, floats: six blocks.
	if n := testing.AllocsPerRun(200, func() { _, _ = DecodeValue(list) }); n > 6 {
		t.Errorf("decoding a list of 20 lists allocated %.0f times, want at most 6", n)
	}
}
