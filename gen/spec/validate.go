package spec

import (
	"fmt"
	"go/parser"
	"math"
	"strings"
	"time"
)

// validate runs the semantic checks that need the whole spec.
func validate(r *reader, s *Spec) {
	v := &validator{r: r, s: s, records: map[string]*Record{}, classes: map[string]*Class{}, imports: map[string]bool{}}
	v.run()
}

type validator struct {
	r       *reader
	s       *Spec
	records map[string]*Record
	classes map[string]*Class
	imports map[string]bool
}

func (v *validator) errf(at Pos, format string, args ...any) { v.r.errf(at, format, args...) }

func (v *validator) run() {
	s := v.s
	lib := s.Library
	for _, part := range strings.Split(lib.Name, ".") {
		if !isIdent(part) {
			v.errf(Pos{1, 1}, "library.name %q must be a dotted name", lib.Name)
			break
		}
	}
	if lib.Package != "" && !isIdent(lib.Package) {
		v.errf(Pos{1, 1}, "library.package %q is not a Go package name", lib.Package)
	}
	for _, im := range lib.Imports {
		v.imports[im.Alias] = true
	}
	if in := lib.Interpreter; in != nil {
		v.goName(in.Pos, strings.TrimPrefix(in.Go, "*"), "library.interpreter.go")
		v.goName(in.Pos, in.New, "library.interpreter.new")
		if in.Dispatch != "" && !isIdent(in.Dispatch) {
			v.errf(in.Pos, "library.interpreter.dispatch %q must be a Go method name", in.Dispatch)
		}
	}
	for _, e := range s.Errors {
		v.goName(e.Pos, e.Go, "errors.go")
		if e.Class != "" && !knownException(e.Class) {
			v.errf(e.Pos, "errors: unknown exception class %q", e.Class)
		}
	}
	names := map[string]Pos{}
	dup := func(kind, name string, at Pos) {
		if name == "" {
			return
		}
		if prev, ok := names[kind+" "+name]; ok {
			v.errf(at, "duplicate %s %q (first defined at line %d)", kind, name, prev.Line)
			return
		}
		names[kind+" "+name] = at
	}
	for _, c := range s.Constants {
		dup("constant", c.Name, c.Pos)
	}
	for _, rec := range s.Types {
		dup("type", rec.Name, rec.Pos)
		v.records[rec.Name] = rec
		v.goName(rec.Pos, rec.Go, "types.go")
	}
	for _, c := range s.Classes {
		dup("type", c.Name, c.Pos)
		dup("class", c.Name, c.Pos)
		v.classes[c.Name] = c
		v.goName(c.Pos, strings.TrimPrefix(c.Go, "*"), "classes.go")
	}
	for _, rec := range s.Types {
		fields := map[string]Pos{}
		for _, f := range rec.Fields {
			if prev, ok := fields[f.Name]; ok {
				v.errf(f.Pos, "duplicate field %q in type %s (first defined at line %d)", f.Name, rec.Name, prev.Line)
			}
			fields[f.Name] = f.Pos
			if !isIdent(f.Go) && f.Go != "" {
				v.errf(f.Pos, "field %s: go %q is not a Go field name", f.Name, f.Go)
			}
			if v.resolve(f.Pos, fmt.Sprintf("type %s: field %s", rec.Name, f.Name), f.Type) && f.Type != nil && !fieldType(f.Type) {
				v.errf(f.Pos, "field %s: type %s is not supported in a record (use str, int, float, bool, any, list[str], dict[str, any], dict[str, str], a record or a list of records)", f.Name, f.Type.Expr)
			}
		}
	}
	for _, f := range s.Functions {
		dup("function", f.Name, f.Pos)
		if f.OnInterpreter {
			if f.Go != "" && !isIdent(f.Go) {
				v.errf(f.Pos, "%s: go %q must be a method name of the interpreter's value (on_interpreter)", f.Owner(), f.Go)
			}
		} else {
			v.goName(f.Pos, f.Go, f.Owner()+": go")
		}
		v.function(f)
	}
	for _, c := range s.Classes {
		methods := map[string]Pos{}
		for _, m := range c.Methods {
			if prev, ok := methods[m.Name]; ok {
				v.errf(m.Pos, "duplicate method %q in class %s (first defined at line %d)", m.Name, c.Name, prev.Line)
			}
			methods[m.Name] = m.Pos
			if m.Config != "" {
				v.errf(m.Pos, "method %s: config is only supported on module functions", m.Name)
			}
			if m.OnInterpreter {
				v.errf(m.Pos, "method %s: on_interpreter is only supported on module functions", m.Name)
			}
			if m.GoFunc() {
				v.goName(m.Pos, m.Go, c.Name+"."+m.Owner()+": go")
			} else if m.Go != "" && !isIdent(m.Go) {
				v.errf(m.Pos, "method %s: go %q must be a Go method name or a qualified Go function such as pkg.Name", m.Name, m.Go)
			}
			v.function(m)
		}
		if c.Dispatch != "" && !isIdent(c.Dispatch) {
			v.errf(c.Pos, "class %s: dispatch %q must be a Go method name", c.Name, c.Dispatch)
		}
		if c.Cleanup != "" && !isIdent(c.Cleanup) {
			v.errf(c.Pos, "class %s: cleanup %q must be a Go method name", c.Name, c.Cleanup)
		}
		if c.CallbackErrors != "" && !isIdent(c.CallbackErrors) {
			v.errf(c.Pos, "class %s: callback_errors %q must be a Go method name", c.Name, c.CallbackErrors)
		}
	}
	v.differences()
}

// differences checks the differences entries and attaches each to the
// callables it names, so help() and the reference can point to it.
func (v *validator) differences() {
	callables := map[string]*Function{}
	for _, f := range v.s.Functions {
		callables[f.Name] = f
	}
	for _, c := range v.s.Classes {
		for _, m := range c.Methods {
			callables[c.Name+"."+m.Name] = m
		}
	}
	titles := map[string]Pos{}
	for i, d := range v.s.Differences {
		what := fmt.Sprintf("differences[%d]", i)
		if d.Title != "" {
			if d.Anchor() == "" {
				v.errf(d.Pos, "%s: title %q needs a letter or digit (it becomes a heading anchor)", what, d.Title)
			} else if prev, ok := titles[d.Anchor()]; ok {
				v.errf(d.Pos, "%s: title %q has the same anchor as the difference at line %d", what, d.Title, prev.Line)
			} else {
				titles[d.Anchor()] = d.Pos
			}
		}
		seen := map[string]bool{}
		for j, name := range d.Affects {
			at := d.affectsPos[j]
			f, ok := callables[name]
			switch {
			case !ok:
				v.errf(at, "%s.affects[%d]: %q is not a function or a method (write name or Class.method)", what, j, name)
			case seen[name]:
				v.errf(at, "%s.affects[%d]: %q is listed twice", what, j, name)
			default:
				f.Differences = append(f.Differences, d)
			}
			seen[name] = true
		}
	}
}

// goName checks a qualified Go name "alias.Name" against library.imports.
func (v *validator) goName(at Pos, name, what string) {
	if name == "" {
		return
	}
	alias, ident, ok := strings.Cut(name, ".")
	if !ok || !isIdent(alias) || !isIdent(ident) {
		v.errf(at, "%s %q must be a qualified Go name such as pkg.Name", what, name)
		return
	}
	if !v.imports[alias] {
		v.errf(at, "%s %q uses package %q, which is not in library.imports", what, name, alias)
	}
}

// resolve binds record and class names in t and reports undefined ones,
// prefixed with where; it reports whether every name was defined.
func (v *validator) resolve(at Pos, where string, t *Type) bool {
	ok := true
	walkTypes(t, func(x *Type) {
		if x.Kind != RecordKind || x.Record != nil {
			return
		}
		if rec, ok := v.records[x.Name]; ok {
			x.Record = rec
			return
		}
		if c, ok := v.classes[x.Name]; ok {
			x.Kind = ClassKind
			x.Class = c
			return
		}
		v.errf(at, "%s: undefined type %q", where, x.Name)
		ok = false
	})
	return ok
}

func fieldType(t *Type) bool {
	switch t.Kind {
	case Str, Int, Float, Bool, Any, RecordKind:
		return !t.Optional
	case List:
		return t.Elem.Kind == Str || t.Elem.Kind == RecordKind
	case Dict:
		return true
	}
	return false
}

func (v *validator) function(f *Function) {
	params := map[string]Pos{}
	goFields := map[string]Pos{}
	if f.Config != "" {
		v.goName(f.Pos, f.Config, "config")
	}
	if f.ConfigLogger != "" {
		if f.Config == "" {
			v.errf(f.Pos, "%s: config_logger needs config (the struct whose field it names)", f.Owner())
		} else if !isIdent(f.ConfigLogger) {
			v.errf(f.Pos, "%s: config_logger %q must be a Go field name", f.Owner(), f.ConfigLogger)
		}
	}
	if f.ConfigInterpreter != "" {
		if f.Config == "" {
			v.errf(f.Pos, "%s: config_interpreter needs config (the struct whose field it names)", f.Owner())
		} else if !isIdent(f.ConfigInterpreter) {
			v.errf(f.Pos, "%s: config_interpreter %q must be a Go field name", f.Owner(), f.ConfigInterpreter)
		}
	}
	if (f.ConfigInterpreter != "" || f.OnInterpreter) && v.s.Library.Interpreter == nil {
		v.errf(f.Pos, "%s: config_interpreter and on_interpreter need library.interpreter", f.Owner())
	}
	for _, a := range f.Attach {
		v.goName(f.Pos, a, f.Owner()+": attach")
	}
	if len(f.Attach) > 0 && f.Returns.Type != nil && (f.Returns.Type.Kind == None || f.Returns.Type.Optional) {
		v.errf(f.Pos, "%s: attach needs a result that is always there, got %s", f.Owner(), f.Returns.Type.Expr)
	}
	seenDefault, seenKeywordOnly := false, false
	for _, p := range f.Params {
		if prev, ok := params[p.Name]; ok {
			v.errf(p.Pos, "%s: duplicate parameter %q (first defined at line %d)", f.Owner(), p.Name, prev.Line)
		}
		params[p.Name] = p.Pos
		if p.Name != "" && !isIdent(p.Name) {
			v.errf(p.Pos, "%s: parameter name %q is not an identifier", f.Owner(), p.Name)
		}
		if f.Config != "" {
			if p.Go == "" {
				v.errf(p.Pos, "%s: parameter %s needs go: (the %s field it sets)", f.Owner(), p.Name, f.Config)
			} else if prev, ok := goFields[p.Go]; ok {
				v.errf(p.Pos, "%s: parameter %s sets field %s already set at line %d", f.Owner(), p.Name, p.Go, prev.Line)
			}
			goFields[p.Go] = p.Pos
		}
		if p.Go != "" && !isIdent(p.Go) {
			v.errf(p.Pos, "%s: parameter %s: go %q is not a Go field name", f.Owner(), p.Name, p.Go)
		}
		if p.HasDefault {
			seenDefault = true
		} else if seenDefault {
			v.errf(p.Pos, "%s: required parameter %s follows a parameter with a default", f.Owner(), p.Name)
		}
		if p.KeywordOnly {
			seenKeywordOnly = true
		} else if seenKeywordOnly {
			v.errf(p.Pos, "%s: positional parameter %s follows a keyword-only parameter", f.Owner(), p.Name)
		}
		v.param(f, p)
	}
	t := f.Returns.Type
	if v.resolve(f.Pos, f.Owner()+": returns", t) && t != nil {
		if !returnType(t) {
			v.errf(f.Pos, "%s: unsupported return type %s", f.Owner(), t.Expr)
		}
		if t.Optional && t.Kind == None {
			v.errf(f.Pos, "%s: return type none? is meaningless", f.Owner())
		}
	}
}

func returnType(t *Type) bool {
	switch t.Kind {
	case Str, Int, Float, Bool, Any, None, RecordKind, ClassKind, Dict:
		return true
	case List:
		return t.Elem.Kind == Str || t.Elem.Kind == RecordKind || t.Elem.Kind == Any
	}
	return false
}

func paramType(t *Type) bool {
	switch t.Kind {
	case Str, Int, Float, Bool, Any, Duration, Callable, ClassKind, Dict:
		return true
	case List:
		return t.Elem.Kind == Str || t.Elem.Kind == Any
	case Union:
		return true
	}
	return false
}

func (v *validator) param(f *Function, p *Param) {
	where := fmt.Sprintf("%s: parameter %s", f.Owner(), p.Name)
	t := p.Type
	if t == nil {
		return
	}
	if !v.resolve(p.Pos, where, t) {
		return
	}
	if t.Optional {
		v.errf(p.Pos, "%s: %s is only allowed in returns; use nullable: true", where, t.Expr)
		return
	}
	if !paramType(t) {
		v.errf(p.Pos, "%s: type %s is not supported for parameters", where, t.Expr)
		return
	}
	if t.Kind == Callable && p.Signature == nil {
		v.errf(p.Pos, "%s: callable parameters need a signature", where)
	}
	if t.Kind != Callable && p.Signature != nil {
		v.errf(p.Pos, "%s: signature is only allowed on callable parameters", where)
	}
	if p.Signature != nil {
		for i, sp := range p.Signature.Params {
			if !sp.Optional && i > p.Signature.Required() {
				v.errf(p.Pos, "%s: signature parameter %s is required but follows an optional one", where, sp.Name)
			}
			if v.resolve(p.Pos, where+": signature parameter "+sp.Name, sp.Type) && sp.Type != nil && (!fieldType(sp.Type) && sp.Type.Kind != ClassKind) {
				v.errf(p.Pos, "%s: signature parameter %s has unsupported type %s", where, sp.Name, sp.Type.Expr)
			}
		}
		if rt := p.Signature.Returns; rt != nil {
			switch rt.Kind {
			case Any, Str, Int, Float, Bool, None:
			default:
				v.errf(p.Pos, "%s: signature returns must be any, str, int, float, bool or none", where)
			}
			if rt.Optional {
				v.errf(p.Pos, "%s: signature returns cannot be optional", where)
			}
		}
	}
	if p.None != "" {
		if !p.Nullable {
			v.errf(p.Pos, "%s: none: requires nullable: true", where)
		}
		if _, err := parser.ParseExpr(p.None); err != nil {
			v.errf(p.Pos, "%s: none: %q is not a Go expression", where, p.None)
		}
	}
	c := p.Constraints
	numeric := t.Kind == Int || t.Kind == Float || t.Kind == Duration
	if (c.Min != nil || c.Max != nil) && !numeric {
		v.errf(p.Pos, "%s: min/max only apply to int, float and duration, not %s", where, t.Expr)
	}
	if t.Kind == Int {
		for _, b := range []*float64{c.Min, c.Max} {
			if b != nil && *b != math.Trunc(*b) {
				v.errf(p.Pos, "%s: min/max of an int must be whole numbers", where)
			}
		}
	}
	if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
		v.errf(p.Pos, "%s: min %v is greater than max %v", where, *c.Min, *c.Max)
	}
	if len(c.Lengths) > 0 && t.Kind != Str {
		v.errf(p.Pos, "%s: lengths only apply to str, not %s", where, t.Expr)
	}
	if len(c.Choices) > 0 {
		switch t.Kind {
		case Str, Int:
			for _, ch := range c.Choices {
				if msg := fitsScalar(t, ch); msg != "" {
					v.errf(p.Pos, "%s: choice %v %s", where, ch, msg)
				}
			}
		default:
			v.errf(p.Pos, "%s: choices only apply to str and int, not %s", where, t.Expr)
		}
	}
	if p.HasDefault {
		if msg := v.defaultFits(p); msg != "" {
			v.errf(p.Pos, "%s: default %s", where, msg)
		}
	}
}

// defaultFits returns why p's default does not suit it, or "".
func (v *validator) defaultFits(p *Param) string {
	d := p.Default
	t := p.Type
	if d == nil {
		if !p.Nullable {
			return "is null but the parameter is not nullable"
		}
		return ""
	}
	switch t.Kind {
	case Str, Int, Float, Bool:
		if msg := fitsScalar(t, d); msg != "" {
			return msg
		}
		return checkConstraints(p, d)
	case Duration:
		switch x := d.(type) {
		case int64, float64:
			return checkConstraints(p, d)
		case string:
			dur, err := time.ParseDuration(x)
			if err != nil {
				return fmt.Sprintf("%q is not a duration", x)
			}
			return checkConstraints(p, dur.Seconds())
		}
		return "must be a number of seconds or a duration string"
	case Any:
		switch d.(type) {
		case bool, int64, float64, string:
			return ""
		}
		return "of an any parameter must be a scalar or null"
	case List:
		l, ok := d.([]any)
		if !ok {
			return "must be a list"
		}
		for _, e := range l {
			if t.Elem.Kind == Str {
				if _, ok := e.(string); !ok {
					return "must be a list of strings"
				}
			}
		}
		return ""
	case Dict:
		m, ok := d.(map[string]any)
		if !ok {
			return "must be a dict"
		}
		if len(m) != 0 {
			return "of a dict parameter must be {} or null"
		}
		return ""
	case Union:
		for _, a := range t.Alts {
			if a.IsScalar() && fitsScalar(a, d) == "" {
				return ""
			}
			if a.Kind == List {
				if _, ok := d.([]any); ok {
					return ""
				}
			}
		}
		return fmt.Sprintf("does not fit %s", t.Expr)
	}
	return fmt.Sprintf("is not supported for %s parameters (only null)", t.Expr)
}

// fitsScalar returns why value is not of scalar type t, or "".
func fitsScalar(t *Type, value any) string {
	ok := false
	switch t.Kind {
	case Str:
		_, ok = value.(string)
	case Int:
		_, ok = value.(int64)
	case Float:
		switch value.(type) {
		case int64, float64:
			ok = true
		}
	case Bool:
		_, ok = value.(bool)
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("does not fit type %s (got %s)", t.Expr, valueKind(value))
}

func valueKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

func checkConstraints(p *Param, d any) string {
	c := p.Constraints
	var num float64
	isNum := false
	switch x := d.(type) {
	case int64:
		num, isNum = float64(x), true
	case float64:
		num, isNum = x, true
	}
	if isNum {
		if c.Min != nil && num < *c.Min {
			return fmt.Sprintf("%v is below min %v", d, *c.Min)
		}
		if c.Max != nil && num > *c.Max {
			return fmt.Sprintf("%v is above max %v", d, *c.Max)
		}
	}
	if s, ok := d.(string); ok && len(c.Lengths) > 0 {
		fits := false
		for _, n := range c.Lengths {
			if len(s) == n {
				fits = true
			}
		}
		if !fits {
			return fmt.Sprintf("%q has a length not in lengths", s)
		}
	}
	if len(c.Choices) > 0 {
		for _, ch := range c.Choices {
			if ch == d {
				return ""
			}
		}
		return fmt.Sprintf("%s is not one of the choices", quoted(d))
	}
	return ""
}

// quoted renders a scalar value for a message, quoting strings.
func quoted(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}
