package engine

import (
	"errors"
	"net"
	"reflect"
	"sync"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// memberlist v0.7.0 exposes no race-free way to read node states:
// Members() returns pointers into its node table (whose fields it keeps
// writing under its lock), omits dead and left nodes, and the exported
// Node.State field is never set (the real state lives in the unexported
// nodeState wrapper). There is also no suspect event. The engine therefore
// reads the table itself, under memberlist's own read lock, and copies what
// it needs. The layout is checked once at Start so a memberlist upgrade that
// changes it fails loudly instead of reading garbage.

// mlNode is a copy of one memberlist node table entry.
type mlNode struct {
	Name  string
	Addr  net.IP
	Port  uint16
	Meta  []byte
	State memberlist.NodeStateType
}

// mlReader reads memberlist's node table.
type mlReader struct {
	lock     *sync.RWMutex
	list     reflect.Value // *Memberlist, dereferenced
	nodesIdx int           // index of the nodes []*nodeState field
	stateIdx int           // index of nodeState.State
}

var errLayout = errors.New("unsupported memberlist version: node table layout not recognised")

// newMLReader checks memberlist's layout and returns a reader for ml.
func newMLReader(ml *memberlist.Memberlist) (*mlReader, error) {
	v := reflect.ValueOf(ml).Elem()
	lf, ok := v.Type().FieldByName("nodeLock")
	if !ok || lf.Type != reflect.TypeFor[sync.RWMutex]() {
		return nil, errLayout
	}
	nf, ok := v.Type().FieldByName("nodes")
	if !ok || nf.Type.Kind() != reflect.Slice || nf.Type.Elem().Kind() != reflect.Pointer {
		return nil, errLayout
	}
	st := nf.Type.Elem().Elem()
	if st.Kind() != reflect.Struct || st.NumField() < 1 || !st.Field(0).Anonymous ||
		st.Field(0).Type != reflect.TypeFor[memberlist.Node]() || st.Field(0).Offset != 0 {
		return nil, errLayout
	}
	sf, ok := st.FieldByName("State")
	if !ok || len(sf.Index) != 1 || sf.Type != reflect.TypeFor[memberlist.NodeStateType]() {
		return nil, errLayout
	}
	return &mlReader{
		lock:     (*sync.RWMutex)(unsafe.Pointer(v.FieldByIndex(lf.Index).UnsafeAddr())),
		list:     v,
		nodesIdx: nf.Index[0],
		stateIdx: sf.Index[0],
	}, nil
}

// snapshot copies the node table under memberlist's read lock.
func (r *mlReader) snapshot() []mlNode {
	r.lock.RLock()
	defer r.lock.RUnlock()
	nodes := r.list.Field(r.nodesIdx)
	out := make([]mlNode, 0, nodes.Len())
	for i := 0; i < nodes.Len(); i++ {
		ns := nodes.Index(i).Elem()
		n := (*memberlist.Node)(unsafe.Pointer(ns.Field(0).UnsafeAddr()))
		out = append(out, mlNode{
			Name:  n.Name,
			Addr:  append(net.IP(nil), n.Addr...),
			Port:  n.Port,
			Meta:  append([]byte(nil), n.Meta...),
			State: memberlist.NodeStateType(ns.Field(r.stateIdx).Int()),
		})
	}
	return out
}
