package golang

import (
	"fmt"
	"strings"

	"github.com/scriptling-contrib/gossip/gen/bindrt"
	"github.com/scriptling-contrib/gossip/gen/spec"
)

func (e *emitter) library() string {
	s := e.s
	var b strings.Builder
	fmt.Fprintf(&b, "\n// LibraryName is the name scripts import.\nconst LibraryName = %s\n", quote(s.Library.Name))
	fmt.Fprintf(&b, "\n// libraryHelp is the library's help() text.\nconst libraryHelp = %s\n", quote(LibraryHelp(s)))
	b.WriteString(`
// interpreter is the library's state in one interpreter: what Register was
// given, the classes its scripts see and the objects they made. Every
// builtin is a method of it, so two interpreters in one process never share
// a logger or objects.
type interpreter struct {
	// logger receives failures of script callbacks, which have no caller to raise to.
	logger *slog.Logger
`)
	if in := s.Library.Interpreter; in != nil {
		fmt.Fprintf(&b, "\t// shared is made by %s for this interpreter alone.\n\tshared %s\n", in.New, in.Go)
	}
	for _, c := range s.Classes {
		fmt.Fprintf(&b, "\t%sClass *object.Class\n", camel(c.Name, false))
	}
	for _, c := range s.Classes {
		if c.Cleanup != "" {
			fmt.Fprintf(&b, "\t// live%[1]s holds the %[1]s objects not yet cleaned up, for the runtime reset.\n\tlive%[1]s bindrt.LiveSet[%[2]s]\n", c.Name, c.Go)
		}
	}
	b.WriteString(`}

// resets lists the interpreters holding objects the next runtime reset must
// clean up; Scriptling offers only a process-wide reset.
var resets bindrt.ResetList[*interpreter]

// Register adds the library to a Scriptling interpreter. A nil logger
// discards logs. Each call makes the library anew, with its own state, so
// register it once per interpreter.
func Register(registrar interface{ RegisterLibrary(*object.Library) }, l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
`)
	if in := s.Library.Interpreter; in != nil {
		fmt.Fprintf(&b, "\tin := &interpreter{logger: l, shared: %s()}\n", in.New)
	} else {
		b.WriteString("\tin := &interpreter{logger: l}\n")
	}
	b.WriteString(`	resets.Arm((*interpreter).cleanup)
	registrar.RegisterLibrary(in.newLibrary())
}

// newLibrary builds the library for one interpreter.
func (in *interpreter) newLibrary() *object.Library {
`)
	for _, c := range s.Classes {
		fmt.Fprintf(&b, "\tin.%sClass = in.new%sClass()\n", camel(c.Name, false), c.Name)
	}
	b.WriteString("\tfunctions := map[string]*object.Builtin{\n")
	for _, f := range s.Functions {
		fmt.Fprintf(&b, "\t\t%s: {Fn: in.%s, HelpText: %s},\n", quote(f.Name), builtinName(f), helpConst(f))
	}
	b.WriteString("\t}\n\tconstants := map[string]object.Object{\n")
	for _, c := range s.Constants {
		t := &spec.Type{Kind: c.Type.Kind, Expr: c.Type.Expr}
		fmt.Fprintf(&b, "\t\t%s: %s, // %s\n", quote(c.Name), e.toObject(t, e.goLiteral(t, c.Value)), c.Doc)
	}
	b.WriteString("\t}\n\treturn object.NewLibrary(LibraryName, functions, constants, libraryHelp)\n}\n")
	b.WriteString(`
// cleanup cleans up, at a runtime reset, the objects one interpreter's
// scripts left behind.
func (in *interpreter) cleanup() {
`)
	for _, c := range s.Classes {
		if c.Cleanup == "" {
			continue
		}
		fmt.Fprintf(&b, "\tfor _, v := range in.live%s.Drain() {\n", c.Name)
		if m := methodByGo(c, c.Cleanup); m != nil && m.ReturnsError() {
			fmt.Fprintf(&b, "\t\tif err := v.%s(); err != nil {\n\t\t\tin.logger.Error(\"runtime reset: %s failed\", \"error\", err)\n\t\t}\n", c.Cleanup, c.Cleanup)
		} else {
			fmt.Fprintf(&b, "\t\tv.%s()\n", c.Cleanup)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	if len(s.Functions) > 0 {
		b.WriteString("\n// help() texts of the module functions.\nconst (\n")
		for _, f := range s.Functions {
			fmt.Fprintf(&b, "\t%s = %s\n", helpConst(f), quote(HelpText(f)))
		}
		b.WriteString(")\n")
	}
	return b.String()
}

func (e *emitter) class(c *spec.Class) string {
	var b strings.Builder
	lc := camel(c.Name, false)
	fmt.Fprintf(&b, "\n// new%sClass makes the %s class of one interpreter.\n", c.Name, c.Name)
	fmt.Fprintf(&b, "func (in *interpreter) new%sClass() *object.Class {\n\treturn &object.Class{\n\t\tName: %s,\n\t\tMethods: map[string]object.Object{\n", c.Name, quote(c.Name))
	for _, m := range c.Methods {
		fmt.Fprintf(&b, "\t\t\t%s: &object.Builtin{Fn: in.%s, HelpText: %s},\n", quote(m.Name), builtinName(m), helpConst(m))
	}
	b.WriteString("\t\t},\n\t}\n}\n")
	fmt.Fprintf(&b, "\n// %sDoc is the %s description, every instance's __doc__.\nvar %sDoc object.Object = object.NewString(%s)\n", lc, c.Name, lc, quote(ClassHelp(c)))
	if len(c.Methods) > 0 {
		fmt.Fprintf(&b, "\n// help() texts of the %s methods.\nconst (\n", c.Name)
		for _, m := range c.Methods {
			fmt.Fprintf(&b, "\t%s = %s\n", helpConst(m), quote(HelpText(m)))
		}
		b.WriteString(")\n")
	}
	fmt.Fprintf(&b, `
// new%[1]sInstance wraps a Go %[1]s for scripts.
//
// Besides the class methods (which take the instance first, so that
// help(instance) lists them and %[1]s.method(obj, ...) works), every method is
// also stored in the instance's Fields as a builtin bound to this instance.
// Attribute lookup checks Fields before the class, so obj.method is that
// builtin: help(obj.method) prints its HelpText (help() shows nothing useful
// for the bound method Scriptling makes from a class method), and
// f = obj.method; f(...) calls it on obj. __doc__ is a field rather than a
// class entry so that help(obj) does not list it among the methods.
func (in *interpreter) new%[1]sInstance(v %[2]s) object.Object {
	inst := &object.Instance{Class: in.%[3]sClass, NativeData: v}
	inst.Fields = map[string]object.Object{
		"__doc__": %[3]sDoc,
`, c.Name, c.Go, lc)
	for _, m := range c.Methods {
		fmt.Fprintf(&b, "\t\t%s: bindrt.Bind(inst, v, %s, in.%s),\n", quote(m.Name), helpConst(m), methodName(m))
	}
	b.WriteString("\t}\n")
	if c.Cleanup != "" {
		fmt.Fprintf(&b, "\tin.live%s.Add(inst, v)\n\tresets.Track(in)\n", c.Name)
	}
	b.WriteString("\treturn inst\n}\n")
	for _, m := range c.Methods {
		b.WriteString(e.builtin(m))
	}
	return b.String()
}

func methodByGo(c *spec.Class, goName string) *spec.Function {
	for _, m := range c.Methods {
		if m.Go == goName {
			return m
		}
	}
	return nil
}

func (e *emitter) allCallables() []*spec.Function {
	out := append([]*spec.Function(nil), e.s.Functions...)
	for _, c := range e.s.Classes {
		out = append(out, c.Methods...)
	}
	return out
}

func (e *emitter) callbacks() string {
	var b strings.Builder
	for _, f := range e.allCallables() {
		for _, p := range f.Params {
			if p.Type.Kind != spec.Callable {
				continue
			}
			b.WriteString(e.callback(f, p))
		}
	}
	return b.String()
}

func (e *emitter) callback(f *spec.Function, p *spec.Param) string {
	var b strings.Builder
	sig := p.Signature
	name := callbackName(f, p)
	ft := e.funcType(sig)
	fmt.Fprintf(&b, "\n// %s wraps the script callable given to %s as %s.\n", name, f.Owner(), p.Name)
	fmt.Fprintf(&b, "// onError, when not nil, is called each time the callable raises.\n")
	fmt.Fprintf(&b, "func (in *interpreter) %s(ctx context.Context, fn string, v object.Object, onError func()) (%s, *object.Exception) {\n", name, ft)
	fmt.Fprintf(&b, "\tc, exc := bindrt.NewScriptCall(ctx, fn, %s, v)\n\tif exc != nil {\n\t\treturn nil, exc\n\t}\n", quote(p.Name))
	var params, objs []string
	logAttrs := []string{quote("callback"), quote(f.Owner() + " " + p.Name)}
	for _, sp := range sig.Params {
		e.markRecurring(sp.Type)
		id := local(sp.Name)
		params = append(params, id+" "+e.goType(sp.Type))
		objs = append(objs, e.toObject(sp.Type, id))
		switch {
		case sp.Type.IsScalar():
			logAttrs = append(logAttrs, quote(sp.Name), id)
		case sp.Type.Kind == spec.RecordKind:
			for _, fd := range sp.Type.Record.Fields {
				if fd.Type.Kind == spec.Int || fd.Type.Kind == spec.Str {
					logAttrs = append(logAttrs, quote(sp.Name+"."+fd.Name), id+"."+fd.Go)
				}
			}
		}
	}
	returns := sig.Returns != nil && sig.Returns.Kind != spec.None
	fmt.Fprintf(&b, "\treturn func(%s)", strings.Join(params, ", "))
	if returns {
		fmt.Fprintf(&b, " (%s, error)", e.goType(sig.Returns))
	}
	b.WriteString(" {\n")
	callExpr := "c.Call(" + strings.Join(objs, ", ") + ")"
	if req := sig.Required(); req < len(sig.Params) {
		// Optional trailing arguments go only to callables that accept them.
		callExpr = fmt.Sprintf("c.Call(c.Accepted(%d, %s)...)", req, strings.Join(objs, ", "))
	}
	if !returns {
		fmt.Fprintf(&b, "\t\tif _, text, ok := %s; !ok {\n", callExpr)
		b.WriteString("\t\t\t// There is no caller to raise to: log it and carry on.\n")
		fmt.Fprintf(&b, "\t\t\tin.logger.Error(\"script callback raised\", %s, \"error\", text)\n", strings.Join(logAttrs, ", "))
		b.WriteString("\t\t\tif onError != nil {\n\t\t\t\tonError()\n\t\t\t}\n\t\t}\n\t}, nil\n}\n")
		return b.String()
	}
	fmt.Fprintf(&b, "\t\tres, text, ok := %s\n\t\tif !ok {\n\t\t\tif onError != nil {\n\t\t\t\tonError()\n\t\t\t}\n\t\t\treturn %s, errors.New(text)\n\t\t}\n", callExpr, zero(e.goType(sig.Returns)))
	conv := map[spec.Kind]string{spec.Any: "bindrt.ArgAny", spec.Str: "bindrt.ArgStr", spec.Int: "bindrt.ArgInt", spec.Float: "bindrt.ArgFloat", spec.Bool: "bindrt.ArgBool"}[sig.Returns.Kind]
	fmt.Fprintf(&b, "\t\tout, exc := %s(fn, %s, res)\n\t\tif exc != nil {\n\t\t\treturn %s, errors.New(exc.Message)\n\t\t}\n", conv, quote("result of "+p.Name), zero(e.goType(sig.Returns)))
	if sig.Returns.Kind == spec.Int {
		b.WriteString("\t\treturn int(out), nil\n")
	} else {
		b.WriteString("\t\treturn out, nil\n")
	}
	b.WriteString("\t}, nil\n}\n")
	return b.String()
}

func (e *emitter) recordsFile() string {
	// Converters may need other records; resolve until nothing new is added.
	done := map[string]bool{}
	var out strings.Builder
	for changed := true; changed; {
		changed = false
		for _, r := range e.s.Types {
			if e.records[r.Name] && !done[r.Name] {
				done[r.Name] = true
				changed = true
				for _, f := range r.Fields {
					e.toObject(f.Type, "v."+f.Go)
				}
			}
		}
	}
	for _, r := range e.s.Types {
		if !e.records[r.Name] {
			continue
		}
		lc := camel(r.Name, false)
		fmt.Fprintf(&out, "\n// Keys of the dicts %sToObject builds.\nvar (\n", lc)
		for _, f := range r.Fields {
			fmt.Fprintf(&out, "\t%s = bindrt.NewDictKey(%s)\n", recordKey(r, f), quote(f.Name))
		}
		out.WriteString(")\n")
		out.WriteString(e.recordToObject(r))
		if e.lists[r.Name] {
			fmt.Fprintf(&out, "\nfunc %[1]sListToObject(vs []%[2]s) object.Object {\n\tout := make([]object.Object, len(vs))\n\tfor i, v := range vs {\n\t\tout[i] = %[1]sToObject(v)\n\t}\n\treturn &object.List{Elements: out}\n}\n", lc, r.Go)
		}
	}
	return out.String()
}

// recordToObject is the converter of one record to a dict. A message
// handler converts a record per message, so the dict and the objects of
// the record's str, dict and list[str] fields are allocated together, in
// one piece (blockField says which field goes where). A recurring record
// whose fields can all be compared (cacheable) keeps its dicts: see
// cachedRecord.
func (e *emitter) recordToObject(r *spec.Record) string {
	lc := camel(r.Name, false)
	counts := map[string]int{}
	slot := make([]string, len(r.Fields)) // the field's object in the piece, "" when apart
	for i, f := range r.Fields {
		if group := blockField(f.Type); group != "" {
			slot[i] = fmt.Sprintf("&o.%s[%d]", group, counts[group])
			counts[group]++
		}
	}
	cached := e.recurring[r.Name] && cacheable(r)
	var out strings.Builder
	inBlock := len(counts) > 0 || cached
	if inBlock {
		fmt.Fprintf(&out, "\n// %sObjects is what %sToObject allocates in one piece: the dict and the objects of its fields.\n", lc, lc)
		writePiece(&out, lc+"Objects", counts, blockGroups)
	}
	if cached {
		fmt.Fprintf(&out, "\n// %sFill converts v into o.\nfunc %sFill(o *%sObjects, v %s) {\n", lc, lc, lc, r.Go)
	} else {
		fmt.Fprintf(&out, "\n// %sToObject converts a %s to the dict scripts see.\nfunc %sToObject(v %s) object.Object {\n", lc, r.Go, lc, r.Go)
		if inBlock {
			fmt.Fprintf(&out, "\to := new(%sObjects)\n", lc)
		}
	}
	fmt.Fprintf(&out, "\tpairs := make(map[string]object.DictPair, %d)\n", len(r.Fields))
	for i, f := range r.Fields {
		value := e.toObject(f.Type, "v."+f.Go)
		if slot[i] != "" {
			value = fillObject(f.Type, slot[i], "v."+f.Go)
		}
		fmt.Fprintf(&out, "\t%s.Put(pairs, %s)\n", recordKey(r, f), value)
	}
	switch {
	case cached:
		out.WriteString("\to.dict.Pairs = pairs\n}\n")
		out.WriteString(cachedRecord(r, counts))
	case inBlock:
		out.WriteString("\to.dict.Pairs = pairs\n\treturn &o.dict\n}\n")
	default:
		out.WriteString("\treturn &object.Dict{Pairs: pairs}\n}\n")
	}
	return out.String()
}

// writePiece declares a one-piece allocation: a dict and the arrays of
// groups that counts has objects for.
func writePiece(out *strings.Builder, name string, counts map[string]int, groups []blockGroup) {
	fmt.Fprintf(out, "type %s struct {\n\tdict object.Dict\n", name)
	for _, g := range groups {
		if n := counts[g.name]; n > 0 {
			fmt.Fprintf(out, "\t%s [%d]object.%s\n", g.name, n, g.object)
		}
	}
	out.WriteString("}\n")
}

// cachedRecord is the converter of a record that callbacks receive again
// and again with the same values (the sender of each message): it keeps
// the dicts it built, one per slot of bindrt.CacheSlots picked by the
// record's first str field, each with a private copy of the value it was
// built from, and for an equal value copies the kept dict (see bindrt's
// cache.go). A kept entry is never changed once stored, so converters
// running at once share the cache safely.
func cachedRecord(r *spec.Record, counts map[string]int) string {
	lc, uc := camel(r.Name, false), camel(r.Name, true)
	var out strings.Builder
	fmt.Fprintf(&out, "\n// %sCached is a kept dict of %sToObject and a private copy of the value it was built from.\n", lc, lc)
	fmt.Fprintf(&out, "type %sCached struct {\n\tv %s\n\to %sObjects\n}\n", lc, r.Go, lc)
	fmt.Fprintf(&out, "\n// %sCache holds the dicts %sToObject built last, one per slot.\n", lc, lc)
	fmt.Fprintf(&out, "var %sCache [bindrt.CacheSlots]atomic.Pointer[%sCached]\n", lc, lc)
	copies := map[string]int{"dicts": counts["dicts"], "lists": counts["lists"]}
	mutable := []blockGroup{blockGroups[1], blockGroups[2]}
	fmt.Fprintf(&out, "\n// %sCopies is what copying a kept dict allocates in one piece: the dict and its dicts and lists.\n", lc)
	writePiece(&out, lc+"Copies", copies, mutable)

	key := "\"\""
	for _, f := range r.Fields {
		if f.Type.Kind == spec.Str {
			key = "string(v." + f.Go + ")"
			break
		}
	}
	fmt.Fprintf(&out, "\n// %sToObject converts a %s to the dict scripts see: a copy of the kept dict of an equal value, else a new one.\n", lc, r.Go)
	fmt.Fprintf(&out, "func %sToObject(v %s) object.Object {\n", lc, r.Go)
	fmt.Fprintf(&out, "\tslot := &%sCache[bindrt.CacheSlot(%s)]\n\tc := slot.Load()\n", lc, key)
	fmt.Fprintf(&out, "\tif c == nil || !same%s(&c.v, &v) {\n\t\tc = &%sCached{v: v}\n", uc, lc)
	fmt.Fprintf(&out, "\t\tif !same%s(&c.v, &v) {\n", uc)
	out.WriteString("\t\t\t// v holds what cannot be compared (a list in a dict[str, any]): build it and keep nothing.\n")
	fmt.Fprintf(&out, "\t\t\t%sFill(&c.o, v)\n\t\t\treturn &c.o.dict\n\t\t}\n", lc)
	for _, f := range r.Fields {
		switch f.Type.Kind {
		case spec.Dict:
			fmt.Fprintf(&out, "\t\tc.v.%s = maps.Clone(v.%s)\n", f.Go, f.Go)
		case spec.List:
			fmt.Fprintf(&out, "\t\tc.v.%s = slices.Clone(v.%s)\n", f.Go, f.Go)
		}
	}
	fmt.Fprintf(&out, "\t\t%sFill(&c.o, c.v)\n\t\tslot.Store(c)\n\t}\n", lc)
	fmt.Fprintf(&out, "\to := new(%sCopies)\n\to.dict.Pairs = maps.Clone(c.o.dict.Pairs)\n", lc)
	n := map[string]int{}
	for _, f := range r.Fields {
		switch g := blockField(f.Type); g {
		case "dicts", "lists":
			fn := map[string]string{"dicts": "CopyDict", "lists": "CopyList"}[g]
			fmt.Fprintf(&out, "\t%s.Put(o.dict.Pairs, bindrt.%s(&o.%s[%d], &c.o.%s[%d]))\n", recordKey(r, f), fn, g, n[g], g, n[g])
			n[g]++
		}
	}
	out.WriteString("\treturn &o.dict\n}\n")

	var same []string
	for _, f := range r.Fields {
		a, b := "a."+f.Go, "b."+f.Go
		switch {
		case f.Type.Kind == spec.Float:
			same = append(same, fmt.Sprintf("bindrt.SameFloat(float64(%s), float64(%s))", a, b))
		case f.Type.Kind == spec.List:
			same = append(same, fmt.Sprintf("slices.Equal(%s, %s)", a, b))
		case f.Type.Kind == spec.Dict && f.Type.Elem.Kind == spec.Str:
			same = append(same, fmt.Sprintf("maps.Equal(%s, %s)", a, b))
		case f.Type.Kind == spec.Dict:
			same = append(same, fmt.Sprintf("bindrt.SameAnyMap(%s, %s)", a, b))
		default:
			same = append(same, a+" == "+b)
		}
	}
	fmt.Fprintf(&out, "\n// same%s reports whether a and b convert to equal dicts that can be copied.\n", uc)
	fmt.Fprintf(&out, "func same%s(a, b *%s) bool {\n\treturn %s\n}\n", uc, r.Go, strings.Join(same, " &&\n\t\t"))
	return out.String()
}

// cacheable reports whether every field of r can be compared by
// cachedRecord: a scalar, a list[str] or a dict of str or any.
func cacheable(r *spec.Record) bool {
	for _, f := range r.Fields {
		switch t := f.Type; t.Kind {
		case spec.Str, spec.Int, spec.Float, spec.Bool:
		case spec.List:
			if t.Elem.Kind != spec.Str {
				return false
			}
		case spec.Dict:
			if t.Elem.Kind != spec.Str && t.Elem.Kind != spec.Any {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// markRecurring records the records a callback parameter of type t holds.
func (e *emitter) markRecurring(t *spec.Type) {
	switch t.Kind {
	case spec.RecordKind:
		if e.recurring[t.Record.Name] {
			return
		}
		e.recurring[t.Record.Name] = true
		for _, f := range t.Record.Fields {
			e.markRecurring(f.Type)
		}
	case spec.List, spec.Dict:
		e.markRecurring(t.Elem)
	case spec.Union:
		for _, a := range t.Alts {
			e.markRecurring(a)
		}
	}
}

// blockGroup is an array of a record's one-piece allocation.
type blockGroup struct{ name, object string }

// blockGroups are the arrays of a record's one-piece allocation, in the
// order they are declared.
var blockGroups = []blockGroup{{"strs", "String"}, {"dicts", "Dict"}, {"lists", "List"}}

// blockField names the array of the one-piece allocation that holds the
// object of a field of type t, or "" when that object is allocated apart.
func blockField(t *spec.Type) string {
	switch {
	case t.Kind == spec.Str:
		return "strs"
	case t.Kind == spec.Dict:
		return "dicts"
	case t.Kind == spec.List && t.Elem.Kind == spec.Str:
		return "lists"
	}
	return ""
}

// fillObject is a Go expression converting expr of type t into the object
// at slot (see blockField) and yielding slot.
func fillObject(t *spec.Type, slot, expr string) string {
	switch {
	case t.Kind == spec.Str:
		return fmt.Sprintf("bindrt.FillString(%s, string(%s))", slot, expr)
	case t.Kind == spec.Dict && t.Elem.Kind == spec.Str:
		return fmt.Sprintf("bindrt.FillStrMap(%s, %s)", slot, expr)
	case t.Kind == spec.Dict:
		return fmt.Sprintf("bindrt.FillAnyMap(%s, %s)", slot, expr)
	}
	return fmt.Sprintf("bindrt.FillStrList(%s, %s)", slot, expr)
}

// recordKey names the prepared dict key of a record field.
func recordKey(r *spec.Record, f *spec.Field) string {
	return camel(r.Name, false) + "Key" + camel(f.Name, true)
}

func (e *emitter) errorsFile() string {
	var b strings.Builder
	b.WriteString("\n// raiseError reports an engine error as the exception its kind maps to.\nfunc raiseError(fn string, err error) object.Object {\n\treturn &object.Exception{ExceptionType: exceptionType(err), Message: fn + \": \" + err.Error()}\n}\n")
	b.WriteString("\n// exceptionType picks the exception class of an engine error; the first match wins.\nfunc exceptionType(err error) string {\n\tswitch {\n")
	for _, m := range e.s.Errors {
		fmt.Fprintf(&b, "\tcase errors.Is(err, %s):\n\t\treturn object.ExceptionType%s\n", m.Go, m.Class)
	}
	b.WriteString("\t}\n\treturn object.ExceptionTypeRuntimeError\n}\n")
	return b.String()
}

// guards break the build when an engine signature no longer matches the spec.
func (e *emitter) guards() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n// This code needs version %d of the runtime; an older or newer bindrt that\n// does not support it fails to compile here.\nconst _ = bindrt.SupportPackageIsVersion%d\n", bindrt.Version, bindrt.Version)
	b.WriteString("\n// Compile-time guards: these fail to build when the Go API drifts from api.yaml.\nvar (\n")
	for _, m := range e.s.Errors {
		fmt.Fprintf(&b, "\t_ error = %s\n", m.Go)
	}
	for _, f := range e.s.Functions {
		if f.OnInterpreter {
			recv := e.s.Library.Interpreter.Go
			fmt.Fprintf(&b, "\t_ %s = %s.%s\n", e.goSig(f, recv), parenthesized(recv), f.Go)
			continue
		}
		fmt.Fprintf(&b, "\t_ %s = %s\n", e.goSig(f, ""), f.Go)
	}
	for _, f := range e.allCallables() {
		for _, a := range f.Attach {
			fmt.Fprintf(&b, "\t_ func(%s) = %s\n", e.goType(f.Returns.Type), a)
		}
	}
	if in := e.s.Library.Interpreter; in != nil {
		fmt.Fprintf(&b, "\t_ func() %s = %s\n", in.Go, in.New)
		if in.Dispatch != "" {
			fmt.Fprintf(&b, "\t_ = %s.%s\n", parenthesized(in.Go), in.Dispatch)
		}
	}
	for _, c := range e.s.Classes {
		recv := parenthesized(c.Go)
		for _, m := range c.Methods {
			if m.GoFunc() {
				fmt.Fprintf(&b, "\t_ %s = %s\n", e.goSig(m, c.Go), m.Go)
				continue
			}
			fmt.Fprintf(&b, "\t_ %s = %s.%s\n", e.goSig(m, c.Go), recv, m.Go)
		}
		if c.Dispatch != "" {
			fmt.Fprintf(&b, "\t_ = %s.%s\n", recv, c.Dispatch)
		}
		if c.CallbackErrors != "" {
			fmt.Fprintf(&b, "\t_ func(%s) = %s.%s\n", c.Go, recv, c.CallbackErrors)
		}
		if c.Cleanup != "" && methodByGo(c, c.Cleanup) == nil {
			fmt.Fprintf(&b, "\t_ = %s.%s\n", recv, c.Cleanup)
		}
	}
	b.WriteString(")\n")
	return b.String()
}

// parenthesized wraps a pointer type for use as a method expression's receiver.
func parenthesized(goType string) string {
	if strings.HasPrefix(goType, "*") {
		return "(" + goType + ")"
	}
	return goType
}

func (e *emitter) goSig(f *spec.Function, recv string) string {
	var ps []string
	if recv != "" {
		ps = append(ps, recv)
	}
	if f.Context {
		// A method expression takes the receiver first; a function
		// standing for a method (GoFunc) takes the context first.
		if f.GoFunc() {
			ps = append([]string{"context.Context"}, ps...)
		} else {
			ps = append(ps, "context.Context")
		}
	}
	if f.Config != "" {
		ps = append(ps, f.Config)
	} else {
		for _, p := range f.Params {
			ps = append(ps, e.paramGoType(p))
		}
	}
	var rs []string
	rt := f.Returns.Type
	if rt.Kind != spec.None {
		rs = append(rs, e.goType(rt))
		if rt.Optional {
			rs = append(rs, "bool")
		}
	}
	if f.ReturnsError() {
		rs = append(rs, "error")
	}
	s := "func(" + strings.Join(ps, ", ") + ")"
	switch len(rs) {
	case 0:
	case 1:
		s += " " + rs[0]
	default:
		s += " (" + strings.Join(rs, ", ") + ")"
	}
	return s
}
