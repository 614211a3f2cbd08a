package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// channelLog records what a channel handler received.
type channelLog struct {
	mu  sync.Mutex
	got []string
}

func (l *channelLog) handle(from string, body []byte) error {
	if string(body) == "bad" {
		return errors.New("bad body")
	}
	l.mu.Lock()
	l.got = append(l.got, from+":"+string(body))
	l.mu.Unlock()
	return nil
}

func (l *channelLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.got, s)
}

// A feature channel carries datagrams to one node and to all, reports a
// malformed body as a decode error, stays out of the user range, and
// refuses a type outside its range or one already open.
func TestFeatureChannel(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	logs := make([]*channelLog, 3)
	chans := make([]*Channel, 3)
	for i, c := range nodes {
		logs[i] = &channelLog{}
		ch, err := c.OpenChannel(MinChannelType, logs[i].handle)
		if err != nil {
			t.Fatal(err)
		}
		chans[i] = ch
	}
	if err := chans[0].SendTo("n1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	chans[1].SendToAll([]byte("all"))
	waitFor(t, 10*time.Second, "channel messages", func() bool {
		return logs[1].has("n0:one") && logs[0].has("n1:all") && logs[2].has("n1:all")
	})
	if logs[1].has("n1:all") {
		t.Fatal("SendToAll delivered to the sender")
	}

	before := nodes[2].Stats().DecodeErrors
	if err := chans[0].SendTo("n2", []byte("bad")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the malformed body counted", func() bool { return nodes[2].Stats().DecodeErrors > before })

	// A closed channel's messages are unknown internal messages.
	chans[2].Close()
	before = nodes[2].Stats().DecodeErrors
	if err := chans[0].SendTo("n2", []byte("late")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the closed channel's message counted", func() bool { return nodes[2].Stats().DecodeErrors > before })
	if logs[2].has("n0:late") {
		t.Fatal("a closed channel delivered")
	}

	if err := chans[0].SendTo("nobody", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SendTo an unknown node: %v, want ErrNotFound", err)
	}
	if err := chans[0].SendTo("n0", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SendTo itself: %v, want ErrNotFound", err)
	}
	for _, typ := range []int{MinChannelType - 1, MaxChannelType + 1} {
		if _, err := nodes[0].OpenChannel(typ, logs[0].handle); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), fmt.Sprint(typ)) {
			t.Fatalf("OpenChannel(%d): %v", typ, err)
		}
	}
	if _, err := nodes[0].OpenChannel(MinChannelType, logs[0].handle); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("opening an open channel: %v", err)
	}
	if _, err := nodes[0].OpenChannel(MaxChannelType, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil channel handler: %v", err)
	}
	if err := nodes[0].Handle(MinChannelType, func(Message) {}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Handle on a channel type: %v, want ErrInvalidArgument", err)
	}
}

// A channel of a node that cannot send refuses to.
func TestFeatureChannelNotRunning(t *testing.T) {
	c, err := New(testConfig("idle"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	ch, err := c.OpenChannel(MinChannelType, func(string, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.SendTo("x", nil); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("SendTo before Start: %v, want ErrNotRunning", err)
	}
	ch.SendToAll(nil) // must not panic
}

// WatchState runs with the OnStateChange handlers, in registration order;
// WatchMetadata hears this node's own changes, which OnMetadataChange
// does not; the remove functions unsubscribe, once.
func TestWatchStateAndMetadata(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	c := nodes[0]
	var order []string
	c.OnStateChange(func(id, state string) { order = append(order, "handler:"+id+":"+state) })
	removeState := c.WatchState(func(id, state string) { order = append(order, "watch:"+id+":"+state) })
	var metaSeen, userMeta []string
	removeMeta := c.WatchMetadata(func(n Node) { metaSeen = append(metaSeen, fmt.Sprint(n.ID, "=", n.Metadata["k"])) })
	c.OnMetadataChange(func(n Node) { userMeta = append(userMeta, n.ID) })

	if err := c.SetMetadata("k", "v"); err != nil {
		t.Fatal(err)
	}
	pump(t, c, 10*time.Second, "the local change watched", func() bool { return slices.Contains(metaSeen, "n0=v") })
	if err := nodes[1].SetMetadata("k", "w"); err != nil {
		t.Fatal(err)
	}
	pump(t, c, 10*time.Second, "the remote change watched", func() bool { return slices.Contains(metaSeen, "n1=w") })
	if slices.Contains(userMeta, "n0") {
		t.Fatal("OnMetadataChange reported this node's own change")
	}

	nodes[1].stop(false)
	pump(t, c, 10*time.Second, "n1 suspect", func() bool { return slices.Contains(order, "watch:n1:suspect") })
	i := slices.Index(order, "handler:n1:suspect")
	if i < 0 || i+1 >= len(order) || order[i+1] != "watch:n1:suspect" {
		t.Fatalf("state listeners out of registration order: %v", order)
	}
	removeState()
	removeState()
	removeMeta()
	n := len(order)
	pump(t, c, 10*time.Second, "n1 dead", func() bool { return slices.Contains(order, "handler:n1:dead") })
	if slices.Contains(order[n:], "watch:n1:dead") {
		t.Fatalf("a removed state listener ran: %v", order[n:])
	}
	if err := c.SetMetadata("k", "x"); err != nil {
		t.Fatal(err)
	}
	c.Dispatch()
	if slices.Contains(metaSeen, "n0=x") {
		t.Fatal("a removed metadata listener ran")
	}
	c.WatchState(nil)()
	c.WatchMetadata(nil)()
}

// Post runs in Dispatch, after what was queued, with a panic recovered and
// counted; RunHandler recovers too; Extension makes one value per key.
func TestPostRunHandlerExtension(t *testing.T) {
	c := startNode(t, testConfig("solo"))
	var ran []string
	c.Post(func() { ran = append(ran, "first") })
	c.Post(func() { panic("boom") })
	c.Post(func() {
		c.RunHandler(func() { panic("again") })
		ran = append(ran, "after")
	})
	if len(ran) != 0 {
		t.Fatal("Post ran outside Dispatch")
	}
	c.Dispatch()
	if !slices.Equal(ran, []string{"first", "after"}) {
		t.Fatalf("ran %v", ran)
	}
	if got := c.Stats().HandlerErrors; got != 2 {
		t.Fatalf("HandlerErrors %d, want 2", got)
	}
	if c.Post(nil) {
		t.Fatal("Post(nil) reported queued")
	}

	type key struct{}
	made := 0
	mk := func() any { made++; return &made }
	a, b := c.Extension(key{}, mk), c.Extension(key{}, mk)
	if a != b || made != 1 {
		t.Fatalf("Extension made %d values", made)
	}
}

// Running, CanSend and Done follow the lifecycle: Leave stops sending,
// Stop closes Done.
func TestLifecycleAccessors(t *testing.T) {
	c, err := New(testConfig("life"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Running() || c.CanSend() {
		t.Fatal("running before Start")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if !c.Running() || !c.CanSend() {
		t.Fatal("not running after Start")
	}
	if err := c.Leave(); err != nil {
		t.Fatal(err)
	}
	if !c.Running() || c.CanSend() {
		t.Fatalf("after Leave: Running %v CanSend %v", c.Running(), c.CanSend())
	}
	select {
	case <-c.Done():
		t.Fatal("Done closed before Stop")
	default:
	}
	c.Stop()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed by Stop")
	}
	if c.Running() {
		t.Fatal("running after Stop")
	}
}

// SendToNodes reaches the listed alive nodes only, skipping this node and
// unknown ids.
func TestSendToNodes(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	recs := make([]*recorder, 3)
	for i, c := range nodes {
		recs[i] = &recorder{}
		if err := c.Handle(MinUserMessageType, recs[i].handle); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodes[0].SendToNodes(context.Background(), []string{"n0", "n2", "ghost"}, MinUserMessageType, "hi", true, -1); err != nil {
		t.Fatal(err)
	}
	pump(t, nodes[2], 10*time.Second, "n2 got it", func() bool { return recs[2].n.Load() == 1 })
	// A later message to n1 and n0 arrives after the first would have.
	if err := nodes[0].SendTo(context.Background(), "n1", MinUserMessageType, "marker", true, -1); err != nil {
		t.Fatal(err)
	}
	pump(t, nodes[1], 10*time.Second, "n1 got the marker", func() bool { return recs[1].n.Load() >= 1 })
	nodes[0].Dispatch()
	if got := recs[1].all(); len(got) != 1 || got[0].Payload != "marker" {
		t.Fatalf("n1 got %v", got)
	}
	if recs[0].n.Load() != 0 {
		t.Fatal("SendToNodes delivered to the sender")
	}
}
