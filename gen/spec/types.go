// Package spec loads and validates an api.yaml library description.
//
// Load returns a fully validated *Spec or an *Errors value listing every
// problem found, each with the file position it refers to.
package spec

import (
	"strings"
	"unicode"
)

// Pos is a position in the spec file (1-based).
type Pos struct {
	Line int
	Col  int
}

// Spec is a whole library description.
type Spec struct {
	Path      string
	Library   Library
	Errors    []ErrorMapping
	Constants []*Constant
	Types     []*Record
	Functions []*Function
	Classes   []*Class
	// Differences records where the library deliberately departs from the
	// reference it implements, in file order.
	Differences []*Difference
}

// Difference is one deliberate departure from the reference: what the
// reference says, what this library does, why, and the callables it affects.
type Difference struct {
	Title       string
	Reference   string
	ThisLibrary string
	Why         string
	// Affects names callables as written in the spec: "create" for a module
	// function, "Cluster.join" for a method; validation resolves them.
	Affects    []string
	affectsPos []Pos
	Pos        Pos
}

// Library describes the module itself.
type Library struct {
	Name        string
	Package     string
	Imports     []Import
	Summary     string
	Description string
	Notes       []string
	Examples    []Example
	Docs        Docs
	Setup       string
	// Interpreter, when set, is a value made for each interpreter the
	// library is registered with, shared by every call from that
	// interpreter's scripts.
	Interpreter *Interpreter
}

// Interpreter describes the per-interpreter value.
type Interpreter struct {
	Go       string // its Go type, such as "*engine.Pump"
	New      string // the Go function that makes one: func() <Go>
	Dispatch string // method called at the start of every call into the library
	Pos      Pos
}

// Import is one Go import used by Go names in the spec.
type Import struct {
	Alias string
	Path  string
	Pos   Pos
}

// Example is a titled code example.
type Example struct {
	Title string
	Code  string
}

// Docs holds the front matter of the generated reference and the pages it
// links to.
type Docs struct {
	Title     string
	LinkTitle string
	Weight    int
	Links     []Link
}

// Link is a related page listed under "See also" in the reference: a path
// relative to the reference (another markdown page, say) or a URL.
type Link struct {
	Title string
	Path  string
	Doc   string
}

// ErrorMapping maps a Go error value to a Scriptling exception class.
type ErrorMapping struct {
	Go    string
	Class string
	Pos   Pos
}

// Constant is a module-level constant.
type Constant struct {
	Name  string
	Type  *Type
	Value any // bool, int64, float64 or string
	Doc   string
	Pos   Pos
}

// Record is a Go struct returned to scripts as a dict.
type Record struct {
	Name   string
	Go     string
	Doc    string
	Fields []*Field
	Pos    Pos
}

// Field is one record field.
type Field struct {
	Name string
	Type *Type
	Go   string
	Doc  string
	Pos  Pos
}

// Class is a Go type exposed as a Scriptling class.
type Class struct {
	Name     string
	Go       string
	Doc      string
	Dispatch string
	Cleanup  string
	// CallbackErrors names a method (no arguments) called on the instance
	// each time a script callback registered through one of its methods
	// raises, so the Go side can count failures nobody else sees.
	CallbackErrors string
	Methods        []*Function
	Pos            Pos
}

// Function is a module function or a class method.
type Function struct {
	Name   string
	Go     string
	Config string
	// ConfigLogger names the config struct field (a *slog.Logger) that gets
	// the logger passed to Register, so the Go side logs where the host does.
	ConfigLogger string
	// Context marks a Go callee whose first parameter is a
	// context.Context: the binding passes the script's context, so a
	// deadline or cancel of the evaluation ends the call, and reports it as
	// Scriptling's own timeout or cancellation error.
	Context bool
	// ConfigInterpreter names the config struct field that gets the
	// interpreter's value (library.interpreter).
	ConfigInterpreter string
	// OnInterpreter makes Go a method of the interpreter's value.
	OnInterpreter bool
	// Attach lists Go functions (qualified names) the result is passed to
	// before the script sees it: what every value the callable makes must
	// have set up, such as a feature built on the Go package that every
	// node must run. Each takes the result's Go type and returns nothing.
	Attach   []string
	Summary  string
	Doc      string
	Params   []*Param
	Returns  Returns
	Raises   []Raise
	Examples []string
	Class    *Class // nil for module functions
	// Differences are the spec's differences that name this callable in
	// their affects list, in spec order (set by validation).
	Differences []*Difference
	Pos         Pos
}

// Returns describes a callable's result.
type Returns struct {
	Type *Type
	Doc  string
}

// Raise documents one exception a callable may raise.
type Raise struct {
	Class string
	When  string
}

// Param is one callable parameter.
type Param struct {
	Name        string
	Type        *Type
	Doc         string
	HasDefault  bool
	Default     any // nil, bool, int64, float64, string, []any or map[string]any
	Nullable    bool
	None        string
	KeywordOnly bool
	Go          string
	Constraints Constraints
	Signature   *Signature
	Pos         Pos
}

// Required reports whether the parameter has no default.
func (p *Param) Required() bool { return !p.HasDefault }

// Constraints restrict non-None parameter values.
type Constraints struct {
	Min     *float64
	Max     *float64
	Lengths []int
	Choices []any // string or int64
}

// Signature is the shape of a callable parameter.
type Signature struct {
	Params  []SigParam
	Returns *Type // nil: the callable's result is ignored
}

// SigParam is one argument passed to a script callable.
type SigParam struct {
	Name string
	Type *Type
	// Optional arguments are passed only to callables that accept them,
	// so that callables written before the argument was added keep working.
	Optional bool
}

// Required is how many leading parameters every callable is passed.
func (s *Signature) Required() int {
	for i, p := range s.Params {
		if p.Optional {
			return i
		}
	}
	return len(s.Params)
}

// Kind classifies a type expression.
type Kind int

// Type kinds.
const (
	Str Kind = iota + 1
	Int
	Float
	Bool
	Any
	Duration
	Callable
	None
	List
	Dict
	Union
	RecordKind
	ClassKind
)

// Type is a parsed type expression.
type Type struct {
	Kind     Kind
	Expr     string  // the expression as written
	Elem     *Type   // List and Dict values
	Alts     []*Type // Union alternatives
	Name     string  // RecordKind and ClassKind
	Record   *Record
	Class    *Class
	Optional bool // `T?` in returns
}

// IsScalar reports whether t is str, int, float or bool.
func (t *Type) IsScalar() bool {
	switch t.Kind {
	case Str, Int, Float, Bool:
		return true
	}
	return false
}

// IsStrOrStrList reports whether t is the union str|list[str].
func (t *Type) IsStrOrStrList() bool {
	if t.Kind != Union || len(t.Alts) != 2 {
		return false
	}
	a, b := t.Alts[0], t.Alts[1]
	if a.Kind != Str {
		a, b = b, a
	}
	return a.Kind == Str && b.Kind == List && b.Elem.Kind == Str
}

// IsScalarUnion reports whether t is a union of scalars only.
func (t *Type) IsScalarUnion() bool {
	if t.Kind != Union {
		return false
	}
	for _, a := range t.Alts {
		if !a.IsScalar() {
			return false
		}
	}
	return true
}

// Has reports whether a union (or t itself) includes kind k.
func (t *Type) Has(k Kind) bool {
	if t.Kind == k {
		return true
	}
	for _, a := range t.Alts {
		if a.Kind == k {
			return true
		}
	}
	return false
}

// Anchor is the heading id Hugo and GitHub give the difference's title:
// lower case, spaces as dashes, other punctuation dropped.
func (d *Difference) Anchor() string {
	var b []rune
	for _, r := range strings.ToLower(d.Title) {
		switch {
		case r == ' ' || r == '-':
			b = append(b, '-')
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b = append(b, r)
		}
	}
	return string(b)
}

// Owner returns the Scriptling name a callable is reported under: "name()".
func (f *Function) Owner() string { return f.Name + "()" }

// HasErrors reports whether the Go call returns an error last.
func (f *Function) HasErrors() bool { return len(f.Raises) > 0 }

// ReturnsError reports whether the Go call returns an error last: it does
// when errors are documented, and always when it takes a context, since a
// deadline or cancel must be able to end it.
func (f *Function) ReturnsError() bool { return f.HasErrors() || f.Context }

// MaxPositional is the number of parameters accepted positionally.
func (f *Function) MaxPositional() int {
	n := 0
	for _, p := range f.Params {
		if !p.KeywordOnly {
			n++
		}
	}
	return n
}

// RequiredCount is the number of leading required parameters.
func (f *Function) RequiredCount() int {
	n := 0
	for _, p := range f.Params {
		if p.Required() {
			n++
		}
	}
	return n
}

// GoFunc reports whether a class method is implemented by a package-level
// Go function ("pkg.Func") that takes the instance as its first parameter
// (after the context, with context: true) rather than by a method: the
// way a feature package built on the Go type adds a method to it.
func (f *Function) GoFunc() bool {
	return f.Class != nil && strings.Contains(f.Go, ".")
}
