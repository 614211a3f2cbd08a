package golang

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/scriptling-contrib/gossip/gen/spec"
)

// builtinName is the Go function implementing a callable.
func builtinName(f *spec.Function) string {
	if f.Class != nil {
		return "call" + f.Class.Name + camel(f.Name, true)
	}
	return "call" + camel(f.Name, true)
}

// methodName is the Go function implementing a method on a known instance.
func methodName(f *spec.Function) string {
	return camel(f.Class.Name, false) + camel(f.Name, true) + "Method"
}

// helpConst is the Go constant holding a callable's help() text.
func helpConst(f *spec.Function) string {
	if f.Class != nil {
		return camel(f.Class.Name, false) + camel(f.Name, true) + "Help"
	}
	return camel(f.Name, false) + "Help"
}

func paramsVar(f *spec.Function) string {
	if f.Class != nil {
		return camel(f.Class.Name, false) + camel(f.Name, true) + "Params"
	}
	return camel(f.Name, false) + "Params"
}

// builtin emits the parameter table and the Go function behind one callable.
func (e *emitter) builtin(f *spec.Function) string {
	var b strings.Builder
	pv := paramsVar(f)
	if len(f.Params) > 0 {
		fmt.Fprintf(&b, "\n// %s lists the parameters of %s in positional order.\nvar %s = []string{", pv, f.Owner(), pv)
		for i, p := range f.Params {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(p.Name))
		}
		b.WriteString("}\n")
	}
	c := f.Class
	if c != nil {
		isCleanup := c.Cleanup != "" && c.Cleanup == f.Go
		instVar := "_"
		if isCleanup {
			instVar = "inst"
		}
		fmt.Fprintf(&b, "\n// %s implements %s called through the class, with the instance first.\n", builtinName(f), e.scriptName(f))
		fmt.Fprintf(&b, "func (in *interpreter) %s(ctx context.Context, kwargs object.Kwargs, args ...object.Object) object.Object {\n", builtinName(f))
		fmt.Fprintf(&b, "\tinst, self, exc := bindrt.NativeSelf[%s](%s, %s, args)\n\tif exc != nil {\n\t\treturn exc\n\t}\n", c.Go, quote(f.Owner()), quote(c.Name))
		fmt.Fprintf(&b, "\treturn in.%s(ctx, inst, self, kwargs, args[1:])\n}\n", methodName(f))
		fmt.Fprintf(&b, "\n// %s implements %s on inst, whose Go value is self.\n", methodName(f), e.scriptName(f))
		fmt.Fprintf(&b, "func (in *interpreter) %s(ctx context.Context, %s *object.Instance, self %s, kwargs object.Kwargs, args []object.Object) object.Object {\n", methodName(f), instVar, c.Go)
		fmt.Fprintf(&b, "\tconst fn = %s\n", quote(f.Owner()))
		e.dispatch(&b)
		if c.Dispatch != "" {
			fmt.Fprintf(&b, "\t// Run queued event handlers on the script's goroutine first.\n\tself.%s()\n", c.Dispatch)
		}
	} else {
		fmt.Fprintf(&b, "\n// %s implements %s.\n", builtinName(f), e.scriptName(f))
		fmt.Fprintf(&b, "func (in *interpreter) %s(ctx context.Context, kwargs object.Kwargs, args ...object.Object) object.Object {\n", builtinName(f))
		fmt.Fprintf(&b, "\tconst fn = %s\n", quote(f.Owner()))
		e.dispatch(&b)
	}
	if len(f.Params) > 0 {
		fmt.Fprintf(&b, "\tif exc := bindrt.CheckArgs(fn, %s, %d, %d, args, kwargs.Kwargs); exc != nil {\n\t\treturn exc\n\t}\n", pv, f.MaxPositional(), f.RequiredCount())
	} else {
		b.WriteString("\tif exc := bindrt.CheckArgs(fn, nil, 0, 0, args, kwargs.Kwargs); exc != nil {\n\t\treturn exc\n\t}\n")
	}
	var callArgs []string
	if f.Config != "" {
		fmt.Fprintf(&b, "\tvar cfg %s\n", f.Config)
		callArgs = []string{"cfg"}
		if f.ConfigLogger != "" {
			fmt.Fprintf(&b, "\tcfg.%s = in.logger\n", f.ConfigLogger)
		}
		if f.ConfigInterpreter != "" {
			fmt.Fprintf(&b, "\tcfg.%s = in.shared\n", f.ConfigInterpreter)
		}
	}
	for i, p := range f.Params {
		target := local(p.Name)
		if f.Config != "" {
			target = "cfg." + p.Go
		} else {
			b.WriteString(e.declareParam(p, target))
			callArgs = append(callArgs, target)
		}
		b.WriteString(e.parseParam(f, p, i, pv, target))
	}
	b.WriteString(e.call(f, callArgs))
	b.WriteString("}\n")
	return b.String()
}

func (e *emitter) scriptName(f *spec.Function) string {
	if f.Class != nil {
		return f.Class.Name + "." + f.Name + "()"
	}
	return e.s.Library.Name + "." + f.Name + "()"
}

// defaultExpr is the Go expression of p's default, if it has one.
func (e *emitter) defaultExpr(p *spec.Param) (string, bool) {
	switch {
	case p.HasDefault && p.Default != nil:
		return e.goLiteral(p.Type, p.Default), true
	case p.HasDefault && p.None != "":
		return e.paramGoType(p) + "(" + p.None + ")", true
	}
	return "", false
}

// declareParam declares the local variable of a parameter, starting at
// its default when it has one, in the form a person would write: x :=
// "str", x := 3, x := time.Duration(5), or var x any = int64(1) for an
// interface.
func (e *emitter) declareParam(p *spec.Param, target string) string {
	goType := e.paramGoType(p)
	expr, ok := e.defaultExpr(p)
	switch {
	case !ok:
		return fmt.Sprintf("\tvar %s %s\n", target, goType)
	case goType == "any":
		return fmt.Sprintf("\tvar %s any = %s\n", target, expr)
	case goType == "string" && p.Type.Kind == spec.Str, goType == "bool" && p.Type.Kind == spec.Bool,
		goType == "int" && p.Type.Kind == spec.Int,
		goType == "float64" && p.Type.Kind == spec.Float && strings.ContainsAny(expr, ".eE"),
		strings.HasPrefix(expr, goType+"("), strings.HasPrefix(expr, goType+"{"):
		return fmt.Sprintf("\t%s := %s\n", target, expr)
	}
	return fmt.Sprintf("\t%s := %s(%s)\n", target, goType, expr)
}

// parseParam emits the conversion of argument i into target. A config
// field starts at its default here; a local variable did in declareParam.
func (e *emitter) parseParam(f *spec.Function, p *spec.Param, i int, pv, target string) string {
	var b strings.Builder
	if expr, ok := e.defaultExpr(p); ok && f.Config != "" {
		fmt.Fprintf(&b, "\t%s = %s\n", target, expr)
	}
	fmt.Fprintf(&b, "\tif v := bindrt.Arg(%s, %d, args, kwargs.Kwargs); v != nil {\n", pv, i)
	indent := "\t\t"
	if p.Nullable {
		b.WriteString("\t\tif bindrt.IsNone(v) {\n")
		if p.None != "" {
			fmt.Fprintf(&b, "\t\t\t%s = %s(%s)\n", target, e.paramGoType(p), p.None)
		} else {
			fmt.Fprintf(&b, "\t\t\t%s = %s\n", target, zero(e.paramGoType(p)))
		}
		b.WriteString("\t\t} else {\n")
		indent = "\t\t\t"
	}
	b.WriteString(e.convert(f, p, target, indent))
	if p.Nullable {
		b.WriteString("\t\t}\n")
	}
	b.WriteString("\t}\n")
	return b.String()
}

func zero(goType string) string {
	switch goType {
	case "string":
		return `""`
	case "int", "float64", "time.Duration", "int64":
		return "0"
	case "bool":
		return "false"
	}
	return "nil"
}

// convert emits the checks and conversion of v into target.
func (e *emitter) convert(f *spec.Function, p *spec.Param, target, ind string) string {
	var b strings.Builder
	name := quote(p.Name)
	ret := ind + "if exc != nil {\n" + ind + "\treturn exc\n" + ind + "}\n"
	t := p.Type
	cons := p.Constraints
	switch t.Kind {
	case spec.Str:
		fmt.Fprintf(&b, "%sgot, exc := bindrt.ArgStr(fn, %s, v)\n%s", ind, name, ret)
		if len(cons.Lengths) > 0 {
			var conds, texts []string
			for _, n := range cons.Lengths {
				conds = append(conds, "len(got) != "+strconv.Itoa(n))
				texts = append(texts, strconv.Itoa(n))
			}
			fmt.Fprintf(&b, "%sif %s {\n%s\treturn bindrt.ValueError(\"%%s: %%s must be %s bytes, got %%d\", fn, %s, len(got))\n%s}\n",
				ind, strings.Join(conds, " && "), ind, orList(texts), name, ind)
		}
		if len(cons.Choices) > 0 {
			var conds, texts []string
			for _, c := range cons.Choices {
				conds = append(conds, "got != "+quote(c.(string)))
				texts = append(texts, quote(c.(string)))
			}
			fmt.Fprintf(&b, "%sif %s {\n%s\treturn bindrt.ValueError(\"%%s: %%s must be one of %s, got %%q\", fn, %s, got)\n%s}\n",
				ind, strings.Join(conds, " && "), ind, strings.ReplaceAll(strings.Join(texts, ", "), `"`, `\"`), name, ind)
		}
		fmt.Fprintf(&b, "%s%s = got\n", ind, target)
	case spec.Int:
		fmt.Fprintf(&b, "%sgot, exc := bindrt.ArgInt(fn, %s, v)\n%s", ind, name, ret)
		b.WriteString(e.bounds(cons, ind, name, "got", "%d", ""))
		if len(cons.Choices) > 0 {
			var conds, texts []string
			for _, c := range cons.Choices {
				conds = append(conds, fmt.Sprintf("got != %d", c.(int64)))
				texts = append(texts, fmt.Sprint(c))
			}
			fmt.Fprintf(&b, "%sif %s {\n%s\treturn bindrt.ValueError(\"%%s: %%s must be one of %s, got %%d\", fn, %s, got)\n%s}\n",
				ind, strings.Join(conds, " && "), ind, strings.Join(texts, ", "), name, ind)
		}
		fmt.Fprintf(&b, "%s%s = int(got)\n", ind, target)
	case spec.Float:
		fmt.Fprintf(&b, "%sgot, exc := bindrt.ArgFloat(fn, %s, v)\n%s", ind, name, ret)
		b.WriteString(e.bounds(cons, ind, name, "got", "%v", ""))
		fmt.Fprintf(&b, "%s%s = got\n", ind, target)
	case spec.Bool:
		fmt.Fprintf(&b, "%sgot, exc := bindrt.ArgBool(fn, %s, v)\n%s%s%s = got\n", ind, name, ret, ind, target)
	case spec.Duration:
		fmt.Fprintf(&b, "%sgot, exc := bindrt.ArgDuration(fn, %s, v)\n%s", ind, name, ret)
		b.WriteString(e.bounds(cons, ind, name, "got", "%v", ".Seconds()"))
		fmt.Fprintf(&b, "%s%s = got\n", ind, target)
	case spec.Any:
		fmt.Fprintf(&b, "%sgot, exc := bindrt.ArgAny(fn, %s, v)\n%s%s%s = got\n", ind, name, ret, ind, target)
	case spec.List:
		helper := "bindrt.ArgStrList"
		if t.Elem.Kind == spec.Any {
			helper = "bindrt.ArgAnyList"
		}
		fmt.Fprintf(&b, "%sgot, exc := %s(fn, %s, v)\n%s%s%s = got\n", ind, helper, name, ret, ind, target)
	case spec.Dict:
		helper := "bindrt.ArgAnyDict"
		if t.Elem.Kind == spec.Str {
			helper = "bindrt.ArgStrDict"
		}
		fmt.Fprintf(&b, "%sgot, exc := %s(fn, %s, v)\n%s%s%s = got\n", ind, helper, name, ret, ind, target)
	case spec.Union:
		if t.IsStrOrStrList() {
			fmt.Fprintf(&b, "%sgot, exc := bindrt.ArgStrOrList(fn, %s, v)\n%s%s%s = got\n", ind, name, ret, ind, target)
			break
		}
		var flags, names []string
		for _, a := range t.Alts {
			flags = append(flags, "bindrt.Accept"+camel(a.Expr, true))
			names = append(names, a.Expr)
		}
		fmt.Fprintf(&b, "%sgot, exc := bindrt.ArgScalar(fn, %s, v, %s, %s)\n%s%s%s = got\n", ind, name, strings.Join(flags, "|"), quote(orList(names)), ret, ind, target)
	case spec.Callable:
		// Failures of callbacks registered on a class instance are reported
		// to the instance when the class names a callback_errors method.
		onError := "nil"
		if f.Class != nil && f.Class.CallbackErrors != "" {
			onError = "self." + f.Class.CallbackErrors
		}
		fmt.Fprintf(&b, "%sgot, exc := in.%s(ctx, fn, v, %s)\n%s%s%s = got\n", ind, callbackName(f, p), onError, ret, ind, target)
	case spec.ClassKind:
		fmt.Fprintf(&b, "%sgot, exc := bindrt.Native[%s](fn, %s, %s, v)\n%s%s%s = got\n", ind, t.Class.Go, name, quote(t.Class.Name), ret, ind, target)
	}
	return b.String()
}

// bounds emits the min/max checks of a numeric argument held in v.
func (e *emitter) bounds(c spec.Constraints, ind, name, v, verb, conv string) string {
	var b strings.Builder
	unit := ""
	if conv != "" {
		unit = " seconds"
	}
	check := func(bound *float64, op, word string) {
		if bound == nil {
			return
		}
		lit := num(*bound)
		cmp := v + " " + op + " " + lit
		if conv != "" {
			cmp = v + " " + op + " " + strconv.FormatInt(int64(*bound*1e9), 10)
		}
		fmt.Fprintf(&b, "%sif %s {\n%s\treturn bindrt.ValueError(\"%%s: %%s must be %s %s%s, got %s\", fn, %s, %s%s)\n%s}\n",
			ind, cmp, ind, word, lit, unit, verb, name, v, conv, ind)
	}
	check(c.Min, "<", ">=")
	check(c.Max, ">", "<=")
	return b.String()
}

func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// call emits the Go call and the conversion of its results.
func (e *emitter) call(f *spec.Function, args []string) string {
	var b strings.Builder
	callee := f.Go
	switch {
	case f.GoFunc():
		args = append([]string{"self"}, args...)
	case f.Class != nil:
		callee = "self." + f.Go
	case f.OnInterpreter:
		callee = "in.shared." + f.Go
	}
	if f.Context {
		args = append([]string{"ctx"}, args...)
	}
	expr := callee + "(" + strings.Join(args, ", ") + ")"
	rt := f.Returns.Type
	var results []string
	if rt.Kind != spec.None {
		results = append(results, "result")
		if rt.Optional {
			results = append(results, "ok")
		}
	}
	if f.ReturnsError() {
		e.needsErr = true
		results = append(results, "err")
	}
	if len(results) == 0 {
		b.WriteString("\t" + expr + "\n")
	} else {
		fmt.Fprintf(&b, "\t%s := %s\n", strings.Join(results, ", "), expr)
	}
	switch {
	case f.Context:
		b.WriteString("\tif err != nil {\n\t\tif exc := bindrt.ContextError(ctx); exc != nil {\n\t\t\treturn exc\n\t\t}\n\t\treturn raiseError(fn, err)\n\t}\n")
	case f.HasErrors():
		b.WriteString("\tif err != nil {\n\t\treturn raiseError(fn, err)\n\t}\n")
	}
	if f.Class != nil && f.Class.Cleanup != "" && f.Class.Cleanup == f.Go {
		fmt.Fprintf(&b, "\t// Stopped by the script: nothing is left for the runtime reset to clean up.\n\tin.live%s.Forget(inst)\n", f.Class.Name)
	}
	if rt.Optional {
		b.WriteString("\tif !ok {\n\t\treturn bindrt.None\n\t}\n")
	}
	for _, a := range f.Attach {
		fmt.Fprintf(&b, "\t%s(result)\n", a)
	}
	if rt.Kind == spec.None {
		b.WriteString("\treturn bindrt.None\n")
	} else {
		fmt.Fprintf(&b, "\treturn %s\n", e.toObject(rt, "result"))
	}
	return b.String()
}

// dispatch emits the call of the interpreter's dispatch method, which
// starts every call into the library.
func (e *emitter) dispatch(b *strings.Builder) {
	if in := e.s.Library.Interpreter; in != nil && in.Dispatch != "" {
		fmt.Fprintf(b, "\t// Run the interpreter's queued event handlers on the script's goroutine first.\n\tin.shared.%s()\n", in.Dispatch)
	}
}

func callbackName(f *spec.Function, p *spec.Param) string {
	owner := ""
	if f.Class != nil {
		owner = camel(f.Class.Name, false) + camel(f.Name, true)
	} else {
		owner = camel(f.Name, false)
	}
	return owner + camel(p.Name, true)
}
