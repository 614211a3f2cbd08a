package bindrt

import (
	"testing"

	"github.com/paularlott/scriptling/object"
)

// Shorthands for the script values the tables are made of.
var (
	null = &object.Null{}
	str  = object.NewString
	num  = object.NewInteger
	flt  = object.NewFloat
	yes  = object.NewBoolean(true)
)

func list(items ...object.Object) object.Object  { return &object.List{Elements: items} }
func tuple(items ...object.Object) object.Object { return &object.Tuple{Elements: items} }

// dict builds a dict from key, value pairs.
func dict(kv ...object.Object) object.Object {
	pairs := map[string]object.DictPair{}
	for i := 0; i < len(kv); i += 2 {
		pairs[object.DictKey(kv[i])] = object.DictPair{Key: kv[i], Value: kv[i+1]}
	}
	return &object.Dict{Pairs: pairs}
}

// wantExc checks that exc is an exception of class kind with message msg;
// an empty kind wants no exception.
func wantExc(t *testing.T, exc *object.Exception, kind, msg string) {
	t.Helper()
	switch {
	case kind == "" && exc != nil:
		t.Fatalf("unexpected %s: %s", exc.ExceptionType, exc.Message)
	case kind == "":
	case exc == nil:
		t.Fatalf("no exception, want %s: %s", kind, msg)
	case exc.ExceptionType != kind || exc.Message != msg:
		t.Fatalf("got %s: %s\nwant %s: %s", exc.ExceptionType, exc.Message, kind, msg)
	}
}

const (
	typeErr  = object.ExceptionTypeTypeError
	valueErr = object.ExceptionTypeValueError
)
