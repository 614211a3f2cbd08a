package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/paularlott/scriptling"
	"github.com/paularlott/scriptling/object"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/host"
)

// Figure 8: binding overhead. The same Scriptling loop calls the generated
// method c.num_alive() and, on an object built by hand, a plain
// object.Builtin that makes the same engine call (NumAlive) and nothing
// else. "memberlist" in this figure's columns is that hand-written builtin.
func runBindingOverhead(b *bench) error {
	loops := 200_000
	if b.quick {
		loops = 5_000
	}
	p := host.New(host.Options{})
	defer host.Shutdown()
	if _, err := p.Eval("import scriptling.net.gossip as gossip\nc = gossip.create(bind_addr=\"127.0.0.1:0\")\nc.start()\n"); err != nil {
		return fmt.Errorf("setup script: %w", err)
	}
	raw, err := startOurs("raw-builtin", lan, nil)
	if err != nil {
		return err
	}
	defer raw.Stop()
	rc := raw.c
	_ = p.SetObjectVar("raw", &object.Instance{
		Class: &object.Class{Name: "Raw", Methods: map[string]object.Object{}},
		Fields: map[string]object.Object{
			"num_alive": &object.Builtin{Fn: func(context.Context, object.Kwargs, ...object.Object) object.Object {
				return object.NewInteger(int64(rc.NumAlive()))
			}},
		},
	})
	loop := func(target string) (float64, error) {
		src := fmt.Sprintf("for i in range(%d):\n    %s.num_alive()\n", loops, target)
		t0 := time.Now()
		if _, err := p.Eval(src); err != nil {
			return 0, err
		}
		return float64(time.Since(t0).Nanoseconds()) / float64(loops) / 1000, nil
	}
	if _, err := loop("c"); err != nil { // warm up
		return err
	}
	ours, base, err := b.compare(func(s side) ([]float64, error) {
		target := "c"
		if s.name == baseSide.name {
			target = "raw"
		}
		us, err := loop(target)
		return []float64{us}, err
	})
	if err != nil {
		return err
	}
	b.add("binding: num_alive() per call (baseline: hand-written builtin)", "us", cost, ours[0], base[0])
	return nil
}

// Figure 9: end to end through the bindings. A Go sender sends reliable
// messages to one receiver; the rate counts messages reaching a Scriptling
// handler (the receiver created and run by a script, dispatching in
// c.wait) against a Go handler on an engine node dispatching in Wait.
// "memberlist" in this figure's columns is the Go handler.
// Each round carries 200,000 messages (a second or two) so that a burst of
// other work on the machine does not decide a round.
func runEndToEnd(b *bench) error {
	total := 200_000
	if b.quick {
		total = 1_000
	}
	ours, base, err := b.compare(func(s side) ([]float64, error) {
		var r float64
		var err error
		if s.name == oursSide.name {
			r, err = e2eScript(total)
		} else {
			r, err = e2eGo(total)
		}
		return []float64{r}, err
	})
	if err != nil {
		return err
	}
	b.add("end to end: script handler (baseline: Go handler)", "msg/s", rate, ours[0], base[0])
	return nil
}

// blast sends total reliable messages from tx to every alive peer.
func blast(tx *engine.Cluster, total int) error {
	for i := range total {
		if err := tx.Send(context.Background(), benchType, int64(i), true, -1); err != nil {
			return err
		}
	}
	return nil
}

// e2eProfile names a file for CPU profiles of the end-to-end figure's
// script-handler side, taken while the messages flow: round r writes
// FILE.r (go tool pprof takes them all at once).
var e2eProfile = flag.String("e2e-cpuprofile", "", "write CPU profiles of the end-to-end figure's script-handler side to FILE.1, FILE.2, ...")

// e2eRounds counts the profiled rounds.
var e2eRounds int

// startE2EProfile starts the next round's profile when -e2e-cpuprofile
// asks for one; the returned function stops it.
func startE2EProfile() (func(), error) {
	if *e2eProfile == "" {
		return func() {}, nil
	}
	e2eRounds++
	f, err := os.Create(fmt.Sprintf("%s.%d", *e2eProfile, e2eRounds))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// e2eRetransmits is how many messages the sender of the last end-to-end
// run wrote again: a message the receiver's full queue refused waits for
// the sender's retransmission timeout (50 ms at least), so a few of them
// decide the rate more than the handler's speed does.
var e2eRetransmits uint64

func e2eScript(total int) (float64, error) {
	tx, err := startOurs(fmt.Sprintf("e2e-tx-%d", time.Now().UnixNano()), lan, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Stop()
	p := host.New(host.Options{})
	defer host.Shutdown()
	var t0, t1 time.Time
	var sendErr atomic.Pointer[error]
	stopProfile := func() {}
	defer func() { stopProfile() }()
	setVar(p, "SENDER", object.NewString(tx.Addr()))
	setVar(p, "TOTAL", object.NewInteger(int64(total)))
	setVar(p, "bench_ready", &object.Builtin{Fn: func(context.Context, object.Kwargs, ...object.Object) object.Object {
		if err := waitUntil(30*time.Second, 5*time.Millisecond, "the script node", func() bool { return tx.c.NumAlive() == 2 }); err != nil {
			return object.NewString(err.Error())
		}
		stop, err := startE2EProfile()
		if err != nil {
			return object.NewString(err.Error())
		}
		stopProfile = stop
		t0 = time.Now()
		go func() {
			if err := blast(tx.c, total); err != nil {
				sendErr.Store(&err)
			}
		}()
		return object.NewString("")
	}})
	setVar(p, "bench_done", &object.Builtin{Fn: func(context.Context, object.Kwargs, ...object.Object) object.Object {
		t1 = time.Now()
		stopProfile()
		stopProfile = func() {}
		return object.NewString("")
	}})
	src := `import scriptling.net.gossip as gossip
c = gossip.create(bind_addr="127.0.0.1:0")
c.start()
c.join(SENDER)
got = [0]
def on_message(msg):
    got[0] = got[0] + 1
c.handle(200, on_message)
problem = bench_ready()
if problem != "":
    raise Exception(problem)
while got[0] < TOTAL:
    c.wait(0.005)
bench_done()
c.stop()
`
	if _, err := p.Eval(src); err != nil {
		return 0, fmt.Errorf("script: %w", err)
	}
	if e := sendErr.Load(); e != nil {
		return 0, *e
	}
	e2eRetransmits = tx.c.Stats().ReliableRetransmits
	return float64(total) / t1.Sub(t0).Seconds(), nil
}

func setVar(p *scriptling.Scriptling, name string, v object.Object) {
	_ = p.SetObjectVar(name, v)
}

func e2eGo(total int) (float64, error) {
	tx, err := startOurs(fmt.Sprintf("e2e-tx-%d", time.Now().UnixNano()), lan, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Stop()
	rx, err := startOurs(fmt.Sprintf("e2e-rx-%d", time.Now().UnixNano()), lan, nil)
	if err != nil {
		return 0, err
	}
	defer rx.Stop()
	if err := rx.Join(tx.Addr()); err != nil {
		return 0, err
	}
	got := 0
	_ = rx.c.Handle(benchType, func(engine.Message) { got++ })
	if err := waitUntil(30*time.Second, 5*time.Millisecond, "the receiver", func() bool { return tx.c.NumAlive() == 2 }); err != nil {
		return 0, err
	}
	t0 := time.Now()
	errCh := make(chan error, 1)
	go func() { errCh <- blast(tx.c, total) }()
	deadline := time.Now().Add(120 * time.Second)
	for got < total {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the Go handler got %d of %d", got, total)
		}
		rx.c.Wait(context.Background(), 5*time.Millisecond)
	}
	elapsed := time.Since(t0)
	if err := <-errCh; err != nil {
		return 0, err
	}
	e2eRetransmits = tx.c.Stats().ReliableRetransmits
	return float64(total) / elapsed.Seconds(), nil
}
