package engine

import (
	"errors"
	"reflect"
	"sync"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// memberlist v0.7.0 tells its event delegate of joins, updates and
// departures, but not of a node becoming suspect or being cleared of
// suspicion (a refuted suspicion with unchanged metadata fires nothing), and
// the *Node it hands the delegate does not say whether a departed node left
// or failed (the exported Node.State is never set; the real state lives in
// the unexported nodeState that embeds the Node). The engine therefore reads
// exactly that, a node's state, from memberlist's private nodeState:
//
//   - inside an event callback, from the Node memberlist passes (which is
//     the first field of its nodeState), under the lock memberlist holds
//     for the call;
//   - for the suspect watch (peerwatch.go), the names in memberlist's
//     suspicion-timer map (one entry per suspect node, so usually none) and
//     the states of the few nodes asked about, under memberlist's read lock.
//
// Nothing else is read, and never the whole table. The layout is checked
// once at Start (before memberlist.Create, so callbacks fired inside Create
// can use it) and a memberlist upgrade that changes it fails Start loudly
// instead of reading garbage.

// mlLayout is where a node's state lives in memberlist's types.
type mlLayout struct {
	lockIdx   []int   // Memberlist.nodeLock
	mapIdx    []int   // Memberlist.nodeMap: map[string]*nodeState
	timersIdx []int   // Memberlist.nodeTimers: map[string]*suspicion
	stateOff  uintptr // offset of nodeState.State
}

var errLayout = errors.New("unsupported memberlist version: node table layout not recognised")

// checkMLLayout verifies memberlist's layout from its types alone.
func checkMLLayout() (*mlLayout, error) {
	t := reflect.TypeFor[memberlist.Memberlist]()
	lf, ok := t.FieldByName("nodeLock")
	if !ok || lf.Type != reflect.TypeFor[sync.RWMutex]() {
		return nil, errLayout
	}
	mf, ok := t.FieldByName("nodeMap")
	if !ok || mf.Type.Kind() != reflect.Map || mf.Type.Key().Kind() != reflect.String ||
		mf.Type.Elem().Kind() != reflect.Pointer {
		return nil, errLayout
	}
	tf, ok := t.FieldByName("nodeTimers")
	if !ok || tf.Type.Kind() != reflect.Map || tf.Type.Key().Kind() != reflect.String {
		return nil, errLayout
	}
	st := mf.Type.Elem().Elem()
	if st.Kind() != reflect.Struct || st.NumField() < 1 || !st.Field(0).Anonymous ||
		st.Field(0).Type != reflect.TypeFor[memberlist.Node]() || st.Field(0).Offset != 0 {
		return nil, errLayout
	}
	sf, ok := st.FieldByName("State")
	if !ok || len(sf.Index) != 1 || sf.Type != reflect.TypeFor[memberlist.NodeStateType]() {
		return nil, errLayout
	}
	return &mlLayout{lockIdx: lf.Index, mapIdx: mf.Index, timersIdx: tf.Index, stateOff: sf.Offset}, nil
}

// stateOfEventNode is the state of the node memberlist passed to an event
// callback. n must be the *Node memberlist gives NotifyJoin, NotifyUpdate
// or NotifyLeave (the embedded Node of its nodeState), read during the call.
func (l *mlLayout) stateOfEventNode(n *memberlist.Node) memberlist.NodeStateType {
	return *(*memberlist.NodeStateType)(unsafe.Add(unsafe.Pointer(n), l.stateOff))
}

// mlReader reads node states from one memberlist.
type mlReader struct {
	layout *mlLayout
	lock   *sync.RWMutex
	nodes  reflect.Value // nodeMap
	timers reflect.Value // nodeTimers
}

// newMLReader binds the checked layout to ml.
func newMLReader(l *mlLayout, ml *memberlist.Memberlist) *mlReader {
	v := reflect.ValueOf(ml).Elem()
	return &mlReader{
		layout: l,
		lock:   (*sync.RWMutex)(unsafe.Pointer(v.FieldByIndex(l.lockIdx).UnsafeAddr())),
		nodes:  v.FieldByIndex(l.mapIdx),
		timers: v.FieldByIndex(l.timersIdx),
	}
}

// mlStateMissing marks a node memberlist no longer holds.
const mlStateMissing memberlist.NodeStateType = -1

// watch calls fn under memberlist's read lock with the names of the nodes
// under suspicion now (usually none: the check is then a map length) and a
// lookup of any node's state. While fn runs memberlist changes no state, so
// what fn applies cannot interleave with the event callbacks.
func (r *mlReader) watch(fn func(suspects []string, stateOf func(string) memberlist.NodeStateType)) {
	r.lock.RLock()
	defer r.lock.RUnlock()
	var suspects []string
	if r.timers.Len() > 0 {
		it := r.timers.MapRange()
		for it.Next() {
			suspects = append(suspects, it.Key().String())
		}
	}
	fn(suspects, r.stateLocked)
}

// stateLocked is name's state, or mlStateMissing; the read lock is held.
func (r *mlReader) stateLocked(name string) memberlist.NodeStateType {
	v := r.nodes.MapIndex(reflect.ValueOf(name))
	if !v.IsValid() || v.IsNil() {
		return mlStateMissing
	}
	return *(*memberlist.NodeStateType)(unsafe.Add(v.UnsafePointer(), r.layout.stateOff))
}
