package golang

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed runtime.go.tmpl
var runtimeTemplate string

// section is one helper of the runtime template with the helpers it needs.
type section struct {
	name  string
	needs []string
	body  string
}

// parseSections splits the runtime template at its "//section name needs:a,b" lines.
func parseSections(src string) []section {
	var out []section
	for _, chunk := range strings.Split(src, "//section ")[1:] {
		head, body, _ := strings.Cut(chunk, "\n")
		fields := strings.Fields(head)
		s := section{name: fields[0], body: strings.TrimSpace(body) + "\n"}
		for _, f := range fields[1:] {
			if list, ok := strings.CutPrefix(f, "needs:"); ok {
				s.needs = strings.Split(list, ",")
			}
		}
		out = append(out, s)
	}
	return out
}

// runtimeHelpers returns the helpers in used and everything they need, in template order.
func runtimeHelpers(used map[string]bool) (string, error) {
	sections := parseSections(runtimeTemplate)
	byName := map[string]section{}
	for _, s := range sections {
		byName[s.name] = s
	}
	want := map[string]bool{}
	var add func(string) error
	add = func(name string) error {
		if want[name] {
			return nil
		}
		s, ok := byName[name]
		if !ok {
			return fmt.Errorf("runtime helper %q does not exist", name)
		}
		want[name] = true
		for _, n := range s.needs {
			if err := add(n); err != nil {
				return err
			}
		}
		return nil
	}
	for _, s := range sections {
		if used[s.name] {
			if err := add(s.name); err != nil {
				return "", err
			}
		}
	}
	var b strings.Builder
	for _, s := range sections {
		if want[s.name] {
			b.WriteString("\n")
			b.WriteString(s.body)
		}
	}
	return b.String(), nil
}
