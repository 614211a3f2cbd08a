package engine

import "testing"

// The observer flag survives the header's encoding, and an ordinary
// node's header does not carry it.
func TestHeaderObserverFlag(t *testing.T) {
	for _, want := range []bool{false, true} {
		h := nodeHeader{instance: 7, metaVersion: 3, appVersion: "1.0.0", tags: []string{"web"}, observer: want}
		got, err := decodeHeader(h.encode(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got.observer != want || got.leaving || got.appVersion != "1.0.0" || len(got.tags) != 1 {
			t.Fatalf("observer=%v: decoded %+v", want, got)
		}
	}
}
