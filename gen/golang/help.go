package golang

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/scriptling-contrib/gossip/gen/spec"
)

// PyValue renders a spec value the way a script would write it.
func PyValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case string:
		return strconv.Quote(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = PyValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = strconv.Quote(k) + ": " + PyValue(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// Signature renders "name(a, b=1, *, c=None)".
func Signature(f *spec.Function) string {
	var parts []string
	star := false
	for _, p := range f.Params {
		if p.KeywordOnly && !star {
			parts = append(parts, "*")
			star = true
		}
		s := p.Name
		if p.HasDefault {
			s += "=" + PyValue(p.Default)
		}
		parts = append(parts, s)
	}
	return f.Name + "(" + strings.Join(parts, ", ") + ")"
}

// TypeText is the type shown to script authors.
func TypeText(t *spec.Type, nullable bool) string {
	s := t.Expr
	if t.Optional {
		s = strings.TrimSuffix(s, "?") + " or None"
	}
	if nullable {
		s += " or None"
	}
	return s
}

// ParamText is one parameter's description with its constraints and default.
func ParamText(p *spec.Param) string {
	text := strings.TrimSpace(p.Doc)
	if p.KeywordOnly {
		text += " (keyword-only)"
	}
	if p.HasDefault {
		text += " (default: " + PyValue(p.Default) + ")"
	}
	return text
}

// HelpText renders a callable's help() text in the house style.
func HelpText(f *spec.Function) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s - %s\n", Signature(f), f.Summary)
	if doc := strings.TrimSpace(f.Doc); doc != "" {
		b.WriteString("\n" + doc + "\n")
	}
	if len(f.Params) > 0 {
		b.WriteString("\nParameters:\n")
		for _, p := range f.Params {
			fmt.Fprintf(&b, "  %s (%s): %s\n", p.Name, TypeText(p.Type, p.Nullable), ParamText(p))
		}
	}
	b.WriteString("\nReturns:\n")
	if f.Returns.Type.Kind == spec.None {
		b.WriteString("  None\n")
	} else {
		line := "  " + TypeText(f.Returns.Type, false)
		if f.Returns.Doc != "" {
			line += ": " + f.Returns.Doc
		}
		b.WriteString(line + "\n")
	}
	if len(f.Raises) > 0 {
		b.WriteString("\nRaises:\n")
		for _, r := range f.Raises {
			fmt.Fprintf(&b, "  %s: %s\n", r.Class, r.When)
		}
	}
	if len(f.Differences) > 0 {
		b.WriteString("\nDiffers from the reference:\n")
		for _, d := range f.Differences {
			fmt.Fprintf(&b, "  %s\n", d.Title)
			for _, line := range wrap(strings.Fields(d.ThisLibrary), 72) {
				b.WriteString("    " + line + "\n")
			}
		}
	}
	if len(f.Examples) > 0 {
		b.WriteString("\nExample:\n")
		for i, ex := range f.Examples {
			if i > 0 {
				b.WriteString("\n")
			}
			for _, line := range strings.Split(strings.TrimRight(ex, "\n"), "\n") {
				if line == "" {
					b.WriteString("\n")
				} else {
					b.WriteString("  " + line + "\n")
				}
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// LibraryHelp is the library's description for help().
func LibraryHelp(s *spec.Spec) string {
	text := s.Library.Summary
	if d := strings.TrimSpace(s.Library.Description); d != "" {
		text += "\n\n" + d
	}
	return text
}

// ClassHelp is a class's help text: its doc and a one-line list of methods.
func ClassHelp(c *spec.Class) string {
	var b strings.Builder
	b.WriteString(c.Name + " - " + c.Doc + "\n\nMethods:\n")
	for _, m := range c.Methods {
		fmt.Fprintf(&b, "  %s - %s\n", Signature(m), m.Summary)
	}
	return strings.TrimRight(b.String(), "\n")
}

// wrap joins words into lines of at most width characters (a longer word
// gets a line of its own).
func wrap(words []string, width int) []string {
	var lines []string
	line := ""
	for _, w := range words {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
