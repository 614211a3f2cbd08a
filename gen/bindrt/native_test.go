package bindrt

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/paularlott/scriptling/object"
)

type widget struct{ n int }

var widgetClass = &object.Class{Name: "Widget"}

func TestNative(t *testing.T) {
	w := &widget{n: 1}
	inst := &object.Instance{Class: widgetClass, NativeData: w}
	got, exc := Native[*widget]("f()", "w", "Widget", inst)
	wantExc(t, exc, "", "")
	if got != w {
		t.Fatal("wrong value")
	}
	other := &object.Instance{Class: &object.Class{Name: "Gadget"}, NativeData: "x"}
	_, exc = Native[*widget]("f()", "w", "Widget", other)
	wantExc(t, exc, typeErr, "f(): w must be a Widget, got Gadget")
	_, exc = Native[*widget]("f()", "w", "Widget", null)
	wantExc(t, exc, typeErr, "f(): w must be a Widget, got NoneType")
}

func TestNativeSelf(t *testing.T) {
	w := &widget{}
	inst := &object.Instance{Class: widgetClass, NativeData: w}
	gotInst, got, exc := NativeSelf[*widget]("m()", "Widget", []object.Object{inst, num(1)})
	wantExc(t, exc, "", "")
	if gotInst != inst || got != w {
		t.Fatal("wrong instance or value")
	}
	_, _, exc = NativeSelf[*widget]("m()", "Widget", nil)
	wantExc(t, exc, typeErr, "m() must be called on a Widget")
	_, _, exc = NativeSelf[*widget]("m()", "Widget", []object.Object{num(1)})
	wantExc(t, exc, typeErr, "m(): self must be a Widget, got int")
}

func TestBind(t *testing.T) {
	w := &widget{n: 5}
	inst := &object.Instance{Class: widgetClass, NativeData: w}
	var seen []object.Object
	b := Bind(inst, w, "m() - help", func(_ context.Context, gotInst *object.Instance, v *widget, _ object.Kwargs, args []object.Object) object.Object {
		if gotInst != inst || v != w {
			t.Error("called on the wrong instance")
		}
		seen = args
		return num(int64(v.n))
	})
	if b.HelpText != "m() - help" {
		t.Errorf("help %q", b.HelpText)
	}
	res := b.Fn(context.Background(), object.Kwargs{}, str("x"))
	if res.(*object.Integer).IntValue() != 5 || len(seen) != 1 {
		t.Fatalf("got %v with args %v", res, seen)
	}
}

func TestLiveSet(t *testing.T) {
	var l LiveSet[*widget]
	if got := l.Drain(); len(got) != 0 {
		t.Fatalf("zero set drained %v", got)
	}
	a, b, c := &widget{1}, &widget{2}, &widget{3}
	ia, ia2, ib, ic := &object.Instance{}, &object.Instance{}, &object.Instance{}, &object.Instance{}
	l.Add(ia, a)
	l.Add(ia2, a) // two script objects wrapping one Go value
	l.Add(ib, b)
	l.Add(ic, c)
	l.Forget(ic)
	got := l.Drain()
	slices.SortFunc(got, func(x, y *widget) int { return x.n - y.n })
	if !slices.Equal(got, []*widget{a, b}) {
		t.Fatalf("drained %v, want a and b once each", got)
	}
	if again := l.Drain(); len(again) != 0 {
		t.Fatalf("second drain gave %v", again)
	}
}

// TestLiveSetConcurrent adds, forgets and drains from several goroutines;
// run with -race. Every value added and not forgotten is drained exactly once.
func TestLiveSetConcurrent(t *testing.T) {
	var l LiveSet[int]
	var wg sync.WaitGroup
	var mu sync.Mutex
	drained := map[int]int{}
	drain := func() {
		for _, v := range l.Drain() {
			mu.Lock()
			drained[v]++
			mu.Unlock()
		}
	}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				inst := &object.Instance{}
				l.Add(inst, g*1000+i)
				if i%10 == 0 {
					drain()
				}
			}
		}()
	}
	wg.Wait()
	drain()
	if len(drained) != 800 {
		t.Fatalf("%d values drained, want 800", len(drained))
	}
	for v, n := range drained {
		if n != 1 {
			t.Fatalf("value %d drained %d times", v, n)
		}
	}
}
