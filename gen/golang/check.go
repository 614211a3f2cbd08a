package golang

import (
	"fmt"
	"go/token"
	"go/types"
	"strings"

	"github.com/scriptling-contrib/gossip/gen/spec"
)

// Check compares the Go names of a spec with the Go packages it imports,
// loaded by l: every go: name must exist and have the Go type the generated
// code will use it with. Problems are reported at the spec entry they come
// from, like the spec's own; the generated compile-time guards remain as a
// second line of defence.
func Check(s *spec.Spec, l *Loader) error {
	c := &checker{s: s, e: &emitter{s: s}, scope: types.NewPackage("gen/check", "check")}
	paths := append([]string(nil), checkStd...)
	for _, im := range s.Library.Imports {
		paths = append(paths, im.Path)
	}
	pkgs, errs := l.load(paths)
	for _, p := range checkStd {
		if errs[p] != nil {
			return fmt.Errorf("loading %s: %v", p, errs[p])
		}
		c.declare(pkgs[p].Name(), pkgs[p])
	}
	c.pkgs = map[string]*types.Package{}
	for _, im := range s.Library.Imports {
		if err := errs[im.Path]; err != nil {
			c.errf(im.Pos, "library.imports: %s: package %s %v", im.Alias, im.Path, err)
			continue
		}
		c.pkgs[im.Alias] = pkgs[im.Path]
		c.declare(im.Alias, pkgs[im.Path])
	}
	if len(c.problems) > 0 {
		// Without every package, every name of a missing one would be reported too.
		return c.problems.Sorted()
	}
	c.run()
	if len(c.problems) > 0 {
		return c.problems.Sorted()
	}
	return nil
}

type checker struct {
	s        *spec.Spec
	e        *emitter
	scope    *types.Package // resolves the Go type expressions the generator writes
	pkgs     map[string]*types.Package
	problems spec.Errors
}

func (c *checker) errf(at spec.Pos, format string, args ...any) {
	c.problems = append(c.problems, spec.Problem{File: c.s.Path, Pos: at, Msg: fmt.Sprintf(format, args...)})
}

// declare makes alias name pkg in the scope Go type expressions are resolved in.
func (c *checker) declare(alias string, pkg *types.Package) {
	c.scope.Scope().Insert(types.NewPkgName(token.NoPos, c.scope, alias, pkg))
}

// typeOf resolves a Go type expression as the generated code writes it,
// such as "func(engine.Node) (any, error)"; nil when it names something
// that does not exist (reported where that name is defined).
func (c *checker) typeOf(expr string) types.Type {
	tv, err := types.Eval(token.NewFileSet(), c.scope, token.NoPos, expr)
	if err != nil || !tv.IsType() {
		return nil
	}
	return tv.Type
}

// qualifier writes types the way api.yaml does: by import alias.
func (c *checker) qualifier(p *types.Package) string {
	for alias, pkg := range c.pkgs {
		if pkg == p {
			return alias
		}
	}
	return p.Name()
}

func (c *checker) str(t types.Type) string { return types.TypeString(t, c.qualifier) }

// lookup finds the package-level object a qualified name "alias.Name"
// refers to; nil and a message saying why when there is none.
func (c *checker) lookup(name string) (types.Object, string) {
	alias, ident, _ := strings.Cut(name, ".")
	pkg := c.pkgs[alias]
	if pkg == nil {
		return nil, fmt.Sprintf("%s: no package %s in library.imports", name, alias)
	}
	if obj := pkg.Scope().Lookup(ident); obj != nil && obj.Exported() {
		return obj, ""
	}
	return nil, fmt.Sprintf("%s is not declared in package %s%s", name, pkg.Path(), suggest(ident, pkg.Scope().Names()))
}

// suggest names the declared name closest to a misspelt one, if one is close.
func suggest(name string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if !token.IsExported(n) {
			continue
		}
		if d := distance(strings.ToLower(name), strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// distance is the Levenshtein distance between two strings.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// typeName resolves the Go type of a record, class or config ("engine.Item",
// "*engine.Cluster"), reporting at at when it does not exist.
func (c *checker) typeName(at spec.Pos, what, expr string) types.Type {
	name := strings.TrimPrefix(expr, "*")
	obj, why := c.lookup(name)
	if obj == nil {
		c.errf(at, "%s: go: %s", what, why)
		return nil
	}
	if _, ok := obj.(*types.TypeName); !ok {
		c.errf(at, "%s: go: %s is not a type", what, name)
		return nil
	}
	return c.typeOf(expr)
}

func (c *checker) run() {
	errType := types.Universe.Lookup("error").Type()
	for i, m := range c.s.Errors {
		what := fmt.Sprintf("errors[%d]", i)
		obj, why := c.lookup(m.Go)
		switch {
		case obj == nil:
			c.errf(m.Pos, "%s: go: %s", what, why)
		case !isVar(obj):
			c.errf(m.Pos, "%s: go: %s is not a variable", what, m.Go)
		case !types.AssignableTo(obj.Type(), errType):
			c.errf(m.Pos, "%s: go: %s is a %s, not an error", what, m.Go, c.str(obj.Type()))
		}
	}
	for _, r := range c.s.Types {
		c.record(r)
	}
	var inType types.Type
	if in := c.s.Library.Interpreter; in != nil {
		inType = c.typeName(in.Pos, "library.interpreter", in.Go)
		if inType != nil {
			c.function(in.Pos, "library.interpreter: new", in.New, nil, []slot{{typ: in.Go, what: "the interpreter value"}})
			if in.Dispatch != "" {
				c.method(in.Pos, "library.interpreter: dispatch", inType, in.Dispatch, nil, nil)
			}
		}
	}
	for _, f := range c.s.Functions {
		params, results := c.slots(f)
		if f.OnInterpreter {
			if inType != nil {
				c.method(f.Pos, f.Owner(), inType, f.Go, params, results)
			}
			continue
		}
		c.function(f.Pos, f.Owner(), f.Go, params, results)
		c.attach(f, f.Owner())
	}
	for _, cl := range c.s.Classes {
		t := c.typeName(cl.Pos, "class "+cl.Name, cl.Go)
		if t == nil {
			continue
		}
		for _, m := range cl.Methods {
			params, results := c.slots(m)
			if m.GoFunc() {
				self := slot{typ: cl.Go, what: "the instance (a function standing for a method takes it first)"}
				at := 0
				if m.Context {
					at = 1
				}
				params = append(params[:at], append([]slot{self}, params[at:]...)...)
				c.function(m.Pos, cl.Name+"."+m.Owner(), m.Go, params, results)
				c.attach(m, cl.Name+"."+m.Owner())
				continue
			}
			c.method(m.Pos, cl.Name+"."+m.Owner(), t, m.Go, params, results)
			c.attach(m, cl.Name+"."+m.Owner())
		}
		for _, extra := range []struct{ key, name string }{{"dispatch", cl.Dispatch}, {"callback_errors", cl.CallbackErrors}, {"cleanup", cl.Cleanup}} {
			if extra.name != "" && (extra.key != "cleanup" || methodByGo(cl, cl.Cleanup) == nil) {
				c.method(cl.Pos, "class "+cl.Name+": "+extra.key, t, extra.name, nil, nil)
			}
		}
	}
}

// attach checks the functions a callable's result is passed to.
func (c *checker) attach(f *spec.Function, what string) {
	for _, a := range f.Attach {
		c.function(f.Pos, what+": attach", a, []slot{{typ: c.e.goType(f.Returns.Type), what: "the result (" + f.Returns.Type.Expr + ")"}}, nil)
	}
}

func isVar(obj types.Object) bool {
	_, ok := obj.(*types.Var)
	return ok
}

// slot is one parameter or result of a Go function as the generated code
// calls it: its Go type expression, what it is in api.yaml terms, and where.
type slot struct {
	typ   string
	what  string
	param *spec.Param // nil for slots that are not script parameters
}

// slots lists the Go parameters and results a callable is called with.
func (c *checker) slots(f *spec.Function) (params, results []slot) {
	if f.Context {
		params = append(params, slot{typ: "context.Context", what: "the context (context: true)"})
	}
	if f.Config != "" {
		params = append(params, slot{typ: f.Config, what: "the config " + f.Config})
		c.config(f)
	} else {
		for _, p := range f.Params {
			params = append(params, slot{typ: c.e.paramGoType(p), what: "parameter " + p.Name + " (" + p.Type.Expr + ")", param: p})
		}
	}
	if rt := f.Returns.Type; rt.Kind != spec.None {
		results = append(results, slot{typ: c.e.goType(rt), what: "the result (" + rt.Expr + ")"})
		if rt.Optional {
			results = append(results, slot{typ: "bool", what: "the found flag of " + rt.Expr})
		}
	}
	if f.ReturnsError() {
		results = append(results, slot{typ: "error", what: "the error (errors: or context: given)"})
	}
	return params, results
}

// function checks a package-level function against the slots it is called with.
func (c *checker) function(at spec.Pos, what, name string, params, results []slot) {
	obj, why := c.lookup(name)
	if obj == nil {
		c.errf(at, "%s: go: %s", what, why)
		return
	}
	fn, ok := obj.(*types.Func)
	if !ok {
		c.errf(at, "%s: go: %s is not a function", what, name)
		return
	}
	c.signature(at, what, name, fn.Type().(*types.Signature), params, results)
}

// method checks a method of recv; params and results nil check only that it exists.
func (c *checker) method(at spec.Pos, what string, recv types.Type, name string, params, results []slot) {
	sel := types.NewMethodSet(recv).Lookup(nil, name)
	if sel == nil {
		var names []string
		ms := types.NewMethodSet(recv)
		for i := range ms.Len() {
			names = append(names, ms.At(i).Obj().Name())
		}
		c.errf(at, "%s: go: %s has no method %s%s", what, c.str(recv), name, suggest(name, names))
		return
	}
	if params == nil && results == nil {
		return
	}
	full := "(" + c.str(recv) + ")." + name
	c.signature(at, what, full, sel.Obj().Type().(*types.Signature), params, results)
}

// signature compares a Go signature with the slots, naming the first
// parameter or result that does not fit.
func (c *checker) signature(at spec.Pos, what, name string, sig *types.Signature, params, results []slot) {
	declared := strings.TrimPrefix(types.TypeString(sig, c.qualifier), "func")
	if sig.Variadic() {
		c.errf(at, "%s: %s is variadic: func%s", what, name, declared)
		return
	}
	if sig.Params().Len() != len(params) {
		c.errf(at, "%s: %s takes %s, api.yaml calls it with %d (%s): it is func%s", what, name, count(sig.Params().Len(), "parameter"), len(params), slotTypes(params), declared)
		return
	}
	if sig.Results().Len() != len(results) {
		c.errf(at, "%s: %s returns %s, api.yaml needs %d (%s): it is func%s", what, name, count(sig.Results().Len(), "result"), len(results), slotTypes(results), declared)
		return
	}
	for i, p := range params {
		want := c.typeOf(p.typ)
		got := sig.Params().At(i).Type()
		if want != nil && !types.Identical(want, got) {
			pos := at
			if p.param != nil {
				pos = p.param.Pos
			}
			c.errf(pos, "%s: %s: needs Go type %s, %s takes %s", what, p.what, p.typ, name, c.str(got))
		}
	}
	for i, r := range results {
		want := c.typeOf(r.typ)
		got := sig.Results().At(i).Type()
		if want != nil && !types.Identical(want, got) {
			c.errf(at, "%s: %s: needs Go type %s, %s returns %s", what, r.what, r.typ, name, c.str(got))
		}
	}
}

// count is "1 result", "2 results".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func slotTypes(slots []slot) string {
	if len(slots) == 0 {
		return "none"
	}
	var ts []string
	for _, s := range slots {
		ts = append(ts, s.typ)
	}
	return strings.Join(ts, ", ")
}

// config checks the fields a function's parameters, logger and interpreter set.
func (c *checker) config(f *spec.Function) {
	t := c.typeName(f.Pos, f.Owner()+": config", f.Config)
	if t == nil {
		return
	}
	if _, ok := t.Underlying().(*types.Struct); !ok {
		c.errf(f.Pos, "%s: config: %s is not a struct", f.Owner(), f.Config)
		return
	}
	field := func(at spec.Pos, name, wantExpr, what string) {
		obj, _, _ := types.LookupFieldOrMethod(t, true, nil, name)
		v, ok := obj.(*types.Var)
		if !ok || !v.IsField() {
			c.errf(at, "%s: %s: %s has no field %s", f.Owner(), what, f.Config, name)
			return
		}
		if want := c.typeOf(wantExpr); want != nil && !types.AssignableTo(want, v.Type()) {
			c.errf(at, "%s: %s: needs a field of Go type %s, %s.%s is %s", f.Owner(), what, wantExpr, f.Config, name, c.str(v.Type()))
		}
	}
	for _, p := range f.Params {
		if p.Go != "" {
			field(p.Pos, p.Go, c.e.paramGoType(p), "parameter "+p.Name+" ("+p.Type.Expr+")")
		}
	}
	if f.ConfigLogger != "" {
		field(f.Pos, f.ConfigLogger, "*slog.Logger", "config_logger")
	}
	if in := c.s.Library.Interpreter; f.ConfigInterpreter != "" && in != nil {
		field(f.Pos, f.ConfigInterpreter, in.Go, "config_interpreter")
	}
}

// record checks that a record's Go struct has each field, of a type the
// generated converter accepts.
func (c *checker) record(r *spec.Record) {
	t := c.typeName(r.Pos, "type "+r.Name, r.Go)
	if t == nil {
		return
	}
	for _, f := range r.Fields {
		obj, _, _ := types.LookupFieldOrMethod(t, false, nil, f.Go)
		v, ok := obj.(*types.Var)
		if !ok || !v.IsField() {
			c.errf(f.Pos, "type %s: field %s: %s has no field %s", r.Name, f.Name, r.Go, f.Go)
			continue
		}
		wantExpr := c.e.goType(f.Type)
		want := c.typeOf(wantExpr)
		if want == nil {
			continue
		}
		fits := types.AssignableTo(v.Type(), want)
		if b, ok := v.Type().Underlying().(*types.Basic); ok {
			// The converter converts: a named string or number type will do.
			switch f.Type.Kind {
			case spec.Str:
				fits = b.Info()&types.IsString != 0
			case spec.Int:
				fits = b.Info()&types.IsInteger != 0
			case spec.Float:
				fits = b.Info()&(types.IsInteger|types.IsFloat) != 0
			}
		}
		if !fits {
			c.errf(f.Pos, "type %s: field %s (%s): needs Go type %s, %s.%s is %s", r.Name, f.Name, f.Type.Expr, wantExpr, r.Go, f.Go, c.str(v.Type()))
		}
	}
}
