package spec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Load reads, parses and validates the spec at path. On failure the error is
// an Errors value whose messages are "file:line:col: message", where file is
// the base name of path.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(filepath.Base(path), data)
}

// Parse parses and validates spec text; file names the source in messages.
func Parse(file string, data []byte) (*Spec, error) {
	r := &reader{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, Errors{{File: file, Pos: yamlErrorPos(err), Msg: fmt.Sprintf("invalid YAML: %v", err)}}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: file, Pos: Pos{1, 1}, Msg: "empty spec"}}
	}
	s := &Spec{Path: file}
	r.spec(s, doc.Content[0])
	validate(r, s)
	if len(r.errs) > 0 {
		return nil, r.errs.sorted()
	}
	return s, nil
}

func (r *reader) spec(s *Spec, root *yaml.Node) {
	f, _, ok := r.fields(root, "spec", "library", "errors", "constants", "types", "functions", "classes", "differences")
	if !ok {
		return
	}
	if n, ok := f["library"]; ok {
		r.library(&s.Library, n)
	} else {
		r.errf(posOf(root), "spec: missing key \"library\"")
	}
	if n, ok := f["errors"]; ok {
		items, _ := r.seq(n, "errors")
		for i, it := range items {
			what := fmt.Sprintf("errors[%d]", i)
			ef, _, ok := r.fields(it, what, "go", "class")
			if !ok {
				continue
			}
			m := ErrorMapping{Pos: posOf(it)}
			m.Go = r.required(ef, it, what, "go")
			m.Class = r.required(ef, it, what, "class")
			s.Errors = append(s.Errors, m)
		}
	}
	s.Constants = readSeq(r, f, "constants", r.constant)
	s.Types = readSeq(r, f, "types", r.record)
	s.Functions = readSeq(r, f, "functions", r.function)
	s.Classes = readSeq(r, f, "classes", r.class)
	s.Differences = readSeq(r, f, "differences", r.difference)
}

// difference reads one entry of differences; validation resolves affects.
func (r *reader) difference(n *yaml.Node, what string) *Difference {
	f, _, ok := r.fields(n, what, "title", "affects", "reference", "this_library", "why")
	if !ok {
		return nil
	}
	d := &Difference{Pos: posOf(n)}
	d.Title = r.required(f, n, what, "title")
	d.Reference = r.required(f, n, what, "reference")
	d.ThisLibrary = r.required(f, n, what, "this_library")
	d.Why = r.required(f, n, what, "why")
	if an, ok := f["affects"]; ok {
		items, _ := r.seq(an, what+".affects")
		for i, it := range items {
			if v, ok := r.str(it, fmt.Sprintf("%s.affects[%d]", what, i)); ok {
				d.Affects = append(d.Affects, v)
				d.affectsPos = append(d.affectsPos, posOf(it))
			}
		}
	}
	return d
}

// readSeq reads the sequence under key with read, one item at a time,
// keeping the items that parsed; read reports its own problems.
func readSeq[T any](r *reader, f map[string]*yaml.Node, key string, read func(*yaml.Node, string) *T) []*T {
	n, ok := f[key]
	if !ok {
		return nil
	}
	items, _ := r.seq(n, key)
	var out []*T
	for i, it := range items {
		if v := read(it, fmt.Sprintf("%s[%d]", key, i)); v != nil {
			out = append(out, v)
		}
	}
	return out
}

// required returns the string under key, reporting it when missing.
func (r *reader) required(f map[string]*yaml.Node, at *yaml.Node, what, key string) string {
	n, ok := f[key]
	if !ok {
		r.errf(posOf(at), "%s: missing key %q", what, key)
		return ""
	}
	v, _ := r.str(n, what+"."+key)
	if v == "" && deref(n).Tag == "!!str" {
		r.errf(posOf(n), "%s.%s must not be empty", what, key)
	}
	return v
}

func (r *reader) optional(f map[string]*yaml.Node, what, key string) string {
	n, ok := f[key]
	if !ok {
		return ""
	}
	v, _ := r.str(n, what+"."+key)
	return v
}

func (r *reader) library(l *Library, n *yaml.Node) {
	f, _, ok := r.fields(n, "library", "name", "package", "imports", "summary", "description", "notes", "examples", "docs", "setup", "interpreter")
	if !ok {
		return
	}
	l.Name = r.required(f, n, "library", "name")
	l.Package = r.required(f, n, "library", "package")
	l.Summary = r.required(f, n, "library", "summary")
	l.Description = r.optional(f, "library", "description")
	l.Setup = r.optional(f, "library", "setup")
	if in, ok := f["imports"]; ok {
		_, order, ok := r.fields(in, "library.imports", r.anyKeys(in)...)
		if ok {
			for _, e := range order {
				p, _ := r.str(e.val, "library.imports."+e.key.Value)
				l.Imports = append(l.Imports, Import{Alias: e.key.Value, Path: p, Pos: posOf(e.key)})
				if !isIdent(e.key.Value) {
					r.errf(posOf(e.key), "library.imports: %q is not a valid Go package alias", e.key.Value)
				}
			}
		}
	}
	if nn, ok := f["notes"]; ok {
		l.Notes = r.strList(nn, "library.notes")
	}
	if in, ok := f["interpreter"]; ok {
		inf, _, ok := r.fields(in, "library.interpreter", "go", "new", "dispatch")
		if ok {
			l.Interpreter = &Interpreter{
				Go:       r.required(inf, in, "library.interpreter", "go"),
				New:      r.required(inf, in, "library.interpreter", "new"),
				Dispatch: r.optional(inf, "library.interpreter", "dispatch"),
				Pos:      posOf(in),
			}
		}
	}
	if ex, ok := f["examples"]; ok {
		items, _ := r.seq(ex, "library.examples")
		for i, it := range items {
			what := fmt.Sprintf("library.examples[%d]", i)
			ef, _, ok := r.fields(it, what, "title", "code")
			if !ok {
				continue
			}
			l.Examples = append(l.Examples, Example{Title: r.required(ef, it, what, "title"), Code: r.required(ef, it, what, "code")})
		}
	}
	if d, ok := f["docs"]; ok {
		df, _, ok := r.fields(d, "library.docs", "title", "link_title", "weight", "links")
		if ok {
			if ln, ok := df["links"]; ok {
				items, _ := r.seq(ln, "library.docs.links")
				for i, it := range items {
					what := fmt.Sprintf("library.docs.links[%d]", i)
					lf, _, ok := r.fields(it, what, "title", "path", "doc")
					if !ok {
						continue
					}
					l.Docs.Links = append(l.Docs.Links, Link{
						Title: r.required(lf, it, what, "title"),
						Path:  r.required(lf, it, what, "path"),
						Doc:   r.optional(lf, what, "doc"),
					})
				}
			}
			l.Docs.Title = r.optional(df, "library.docs", "title")
			l.Docs.LinkTitle = r.optional(df, "library.docs", "link_title")
			if w, ok := df["weight"]; ok {
				v, _ := r.integer(w, "library.docs.weight")
				l.Docs.Weight = int(v)
			}
		}
	}
}

// anyKeys lists the keys of a mapping node, for maps whose keys are free.
func (r *reader) anyKeys(n *yaml.Node) []string {
	n = deref(n)
	var keys []string
	if n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			keys = append(keys, n.Content[i].Value)
		}
	}
	return keys
}

func (r *reader) typeExpr(n *yaml.Node, what string) *Type {
	s, ok := r.str(n, what)
	if !ok {
		return nil
	}
	t, err := ParseType(s)
	if err != nil {
		r.errf(posOf(deref(n)), "%s: %v", what, err)
		return nil
	}
	return t
}

func (r *reader) constant(n *yaml.Node, what string) *Constant {
	f, _, ok := r.fields(n, what, "name", "type", "value", "doc")
	if !ok {
		return nil
	}
	c := &Constant{Pos: posOf(n)}
	c.Name = r.required(f, n, what, "name")
	c.Doc = r.required(f, n, what, "doc")
	if tn, ok := f["type"]; ok {
		c.Type = r.typeExpr(tn, what+".type")
		if c.Type != nil && !c.Type.IsScalar() {
			r.errf(posOf(tn), "%s.type must be str, int, float or bool, got %s", what, c.Type.Expr)
			c.Type = nil
		}
	} else {
		r.errf(posOf(n), "%s: missing key \"type\"", what)
	}
	if vn, ok := f["value"]; ok {
		c.Value, _ = r.value(vn, what+".value")
		if c.Type != nil {
			if msg := fitsScalar(c.Type, c.Value); msg != "" {
				r.errf(posOf(vn), "%s.value %s", what, msg)
			}
		}
	} else {
		r.errf(posOf(n), "%s: missing key \"value\"", what)
	}
	return c
}

func (r *reader) record(n *yaml.Node, what string) *Record {
	f, _, ok := r.fields(n, what, "name", "go", "doc", "fields")
	if !ok {
		return nil
	}
	rec := &Record{Pos: posOf(n)}
	rec.Name = r.required(f, n, what, "name")
	rec.Go = r.required(f, n, what, "go")
	rec.Doc = r.required(f, n, what, "doc")
	fn, ok := f["fields"]
	if !ok {
		r.errf(posOf(n), "%s: missing key \"fields\"", what)
		return rec
	}
	items, _ := r.seq(fn, what+".fields")
	for i, it := range items {
		fw := fmt.Sprintf("%s.fields[%d]", what, i)
		ff, _, ok := r.fields(it, fw, "name", "type", "go", "doc")
		if !ok {
			continue
		}
		fd := &Field{Pos: posOf(it)}
		fd.Name = r.required(ff, it, fw, "name")
		fd.Go = r.required(ff, it, fw, "go")
		fd.Doc = r.required(ff, it, fw, "doc")
		if tn, ok := ff["type"]; ok {
			fd.Type = r.typeExpr(tn, fw+".type")
		} else {
			r.errf(posOf(it), "%s: missing key \"type\"", fw)
		}
		rec.Fields = append(rec.Fields, fd)
	}
	return rec
}

func (r *reader) class(n *yaml.Node, what string) *Class {
	f, _, ok := r.fields(n, what, "name", "go", "doc", "dispatch", "cleanup", "callback_errors", "methods")
	if !ok {
		return nil
	}
	c := &Class{Pos: posOf(n)}
	c.Name = r.required(f, n, what, "name")
	c.Go = r.required(f, n, what, "go")
	c.Doc = r.required(f, n, what, "doc")
	c.Dispatch = r.optional(f, what, "dispatch")
	c.Cleanup = r.optional(f, what, "cleanup")
	c.CallbackErrors = r.optional(f, what, "callback_errors")
	if mn, ok := f["methods"]; ok {
		items, _ := r.seq(mn, what+".methods")
		for i, it := range items {
			if m := r.function(it, fmt.Sprintf("%s.methods[%d]", what, i)); m != nil {
				m.Class = c
				c.Methods = append(c.Methods, m)
			}
		}
	}
	return c
}

func (r *reader) function(n *yaml.Node, what string) *Function {
	f, _, ok := r.fields(n, what, "name", "go", "context", "on_interpreter", "config", "config_logger", "config_interpreter", "attach", "summary", "doc", "params", "returns", "errors", "examples")
	if !ok {
		return nil
	}
	fn := &Function{Pos: posOf(n)}
	fn.Name = r.required(f, n, what, "name")
	fn.Go = r.required(f, n, what, "go")
	fn.Summary = r.required(f, n, what, "summary")
	fn.Config = r.optional(f, what, "config")
	fn.ConfigLogger = r.optional(f, what, "config_logger")
	if v, ok := f["context"]; ok {
		fn.Context = r.boolean(v, what+".context")
	}
	if v, ok := f["on_interpreter"]; ok {
		fn.OnInterpreter = r.boolean(v, what+".on_interpreter")
	}
	fn.ConfigInterpreter = r.optional(f, what, "config_interpreter")
	if an, ok := f["attach"]; ok {
		fn.Attach = r.strList(an, what+".attach")
	}
	fn.Doc = r.optional(f, what, "doc")
	if pn, ok := f["params"]; ok {
		items, _ := r.seq(pn, what+".params")
		for i, it := range items {
			if p := r.param(it, fmt.Sprintf("%s.params[%d]", what, i)); p != nil {
				fn.Params = append(fn.Params, p)
			}
		}
	}
	if rn, ok := f["returns"]; ok {
		rf, _, ok := r.fields(rn, what+".returns", "type", "doc")
		if ok {
			if tn, ok := rf["type"]; ok {
				fn.Returns.Type = r.typeExpr(tn, what+".returns.type")
			} else {
				r.errf(posOf(deref(rn)), "%s.returns: missing key \"type\"", what)
			}
			fn.Returns.Doc = r.optional(rf, what+".returns", "doc")
		}
	}
	if fn.Returns.Type == nil {
		fn.Returns.Type = &Type{Kind: None, Expr: "none"}
	}
	if en, ok := f["errors"]; ok {
		items, _ := r.seq(en, what+".errors")
		for i, it := range items {
			ew := fmt.Sprintf("%s.errors[%d]", what, i)
			ef, _, ok := r.fields(it, ew, "class", "when")
			if !ok {
				continue
			}
			cls := r.required(ef, it, ew, "class")
			if cls != "" && !knownException(cls) {
				r.errf(posOf(ef["class"]), "%s.class: unknown exception class %q", ew, cls)
			}
			fn.Raises = append(fn.Raises, Raise{Class: cls, When: r.required(ef, it, ew, "when")})
		}
	}
	if xn, ok := f["examples"]; ok {
		fn.Examples = r.strList(xn, what+".examples")
	}
	return fn
}

func (r *reader) param(n *yaml.Node, what string) *Param {
	f, _, ok := r.fields(n, what, "name", "type", "doc", "default", "nullable", "none", "keyword_only", "go", "constraints", "signature")
	if !ok {
		return nil
	}
	p := &Param{Pos: posOf(n)}
	p.Name = r.required(f, n, what, "name")
	p.Doc = r.required(f, n, what, "doc")
	p.Go = r.optional(f, what, "go")
	p.None = r.optional(f, what, "none")
	if tn, ok := f["type"]; ok {
		p.Type = r.typeExpr(tn, what+".type")
	} else {
		r.errf(posOf(n), "%s: missing key \"type\"", what)
	}
	if v, ok := f["nullable"]; ok {
		p.Nullable = r.boolean(v, what+".nullable")
	}
	if v, ok := f["keyword_only"]; ok {
		p.KeywordOnly = r.boolean(v, what+".keyword_only")
	}
	if dn, ok := f["default"]; ok {
		p.HasDefault = true
		p.Default, _ = r.value(dn, what+".default")
	}
	if cn, ok := f["constraints"]; ok {
		cf, _, ok := r.fields(cn, what+".constraints", "min", "max", "lengths", "choices")
		if ok {
			if v, ok := cf["min"]; ok {
				if x, ok := r.number(v, what+".constraints.min"); ok {
					p.Constraints.Min = &x
				}
			}
			if v, ok := cf["max"]; ok {
				if x, ok := r.number(v, what+".constraints.max"); ok {
					p.Constraints.Max = &x
				}
			}
			if v, ok := cf["lengths"]; ok {
				items, _ := r.seq(v, what+".constraints.lengths")
				for _, it := range items {
					if x, ok := r.integer(it, what+".constraints.lengths[]"); ok {
						if x < 0 {
							r.errf(posOf(it), "%s.constraints.lengths: lengths must be >= 0", what)
						}
						p.Constraints.Lengths = append(p.Constraints.Lengths, int(x))
					}
				}
			}
			if v, ok := cf["choices"]; ok {
				items, _ := r.seq(v, what+".constraints.choices")
				for _, it := range items {
					x, ok := r.value(it, what+".constraints.choices[]")
					if !ok {
						continue
					}
					switch x.(type) {
					case string, int64:
						p.Constraints.Choices = append(p.Constraints.Choices, x)
					default:
						r.errf(posOf(it), "%s.constraints.choices: choices must be strings or ints", what)
					}
				}
			}
		}
	}
	if sn, ok := f["signature"]; ok {
		sf, _, ok := r.fields(sn, what+".signature", "params", "returns")
		if ok {
			sig := &Signature{}
			if pn, ok := sf["params"]; ok {
				items, _ := r.seq(pn, what+".signature.params")
				for i, it := range items {
					sw := fmt.Sprintf("%s.signature.params[%d]", what, i)
					pf, _, ok := r.fields(it, sw, "name", "type", "optional")
					if !ok {
						continue
					}
					sp := SigParam{Name: r.required(pf, it, sw, "name")}
					if on, ok := pf["optional"]; ok {
						sp.Optional = r.boolean(on, sw+".optional")
					}
					if tn, ok := pf["type"]; ok {
						sp.Type = r.typeExpr(tn, sw+".type")
					} else {
						r.errf(posOf(it), "%s: missing key \"type\"", sw)
					}
					sig.Params = append(sig.Params, sp)
				}
			}
			if rn, ok := sf["returns"]; ok {
				sig.Returns = r.typeExpr(rn, what+".signature.returns")
			}
			p.Signature = sig
		}
	}
	return p
}

var exceptionClasses = []string{
	"Exception", "ValueError", "TypeError", "KeyError", "RuntimeError", "IndexError",
	"AttributeError", "OSError", "NameError", "ZeroDivisionError", "PermissionError",
}

func knownException(name string) bool {
	for _, c := range exceptionClasses {
		if c == name {
			return true
		}
	}
	return false
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlErrorPos extracts the line of a YAML syntax error.
func yamlErrorPos(err error) Pos {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, e := strconv.Atoi(m[1]); e == nil {
			return Pos{Line: n, Col: 1}
		}
	}
	return Pos{Line: 1, Col: 1}
}
