package golang

import (
	"go/token"
	"strings"
	"unicode"
)

// camel turns snake_case into camelCase (upper selects CamelCase).
func camel(s string, upper bool) string {
	var b strings.Builder
	next := upper
	for _, r := range s {
		if r == '_' || r == '.' || r == '-' {
			next = true
			continue
		}
		if next {
			b.WriteRune(unicode.ToUpper(r))
			next = false
		} else {
			b.WriteRune(r)
		}
	}
	out := b.String()
	if !upper && out != "" {
		out = strings.ToLower(out[:1]) + out[1:]
	}
	return out
}

// reserved are identifiers the generated builtins already use.
var reserved = map[string]bool{
	"ctx": true, "kwargs": true, "args": true, "fn": true, "self": true, "inst": true,
	"exc": true, "text": true, "res": true, "out": true, "v": true, "err": true, "result": true, "ok": true, "cfg": true, "c": true, "got": true,
	"bindrt": true, "any": true, "string": true, "int": true, "bool": true, "error": true,
}

// local returns a safe Go local variable name for a script parameter.
func local(name string) string {
	id := camel(name, false)
	if token.IsKeyword(id) || reserved[id] {
		return id + "Arg"
	}
	return id
}
