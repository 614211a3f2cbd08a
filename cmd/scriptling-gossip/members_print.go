package main

import (
	"encoding/json"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/scriptling-contrib/gossip/engine"
	"github.com/scriptling-contrib/gossip/internal/codec"
)

// The membership table has the columns of the one examples/demo.py prints
// (ID, ADDR, STATE, TAGS, METADATA): cells left-aligned and padded to the
// column's width, two spaces apart, trailing spaces trimmed; tags joined
// by ",", metadata as "key=value" in key order joined by ", ", each value
// as Scriptling's str() writes it.

// writeTable prints nodes as the demo's table.
func writeTable(w io.Writer, nodes []engine.Node) error {
	rows := [][]string{{"ID", "ADDR", "STATE", "TAGS", "METADATA"}}
	for _, n := range nodes {
		rows = append(rows, []string{n.ID, n.Addr, n.State, strings.Join(n.Tags, ","), metadataText(n.Metadata)})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for i, cell := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			line.WriteString(cell)
			line.WriteString(strings.Repeat(" ", widths[i]-len(cell)))
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// metadataText is "k1=v1, k2=v2" in key order.
func metadataText(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + codec.Text(m[k])
	}
	return strings.Join(parts, ", ")
}

// jsonNode is one node of the -json output; the keys are those of the
// library's node dicts.
type jsonNode struct {
	ID         string         `json:"id"`
	Addr       string         `json:"addr"`
	State      string         `json:"state"`
	Tags       []string       `json:"tags"`
	Metadata   map[string]any `json:"metadata"`
	AppVersion string         `json:"app_version"`
	Observer   bool           `json:"observer"`
}

// writeJSON prints nodes as an indented JSON array.
func writeJSON(w io.Writer, nodes []engine.Node) error {
	out := make([]jsonNode, len(nodes))
	for i, n := range nodes {
		out[i] = jsonNode{ID: n.ID, Addr: n.Addr, State: n.State, Tags: n.Tags, Metadata: n.Metadata,
			AppVersion: n.AppVersion, Observer: n.Observer}
		if out[i].Tags == nil {
			out[i].Tags = []string{}
		}
		if out[i].Metadata == nil {
			out[i].Metadata = map[string]any{}
		} else {
			out[i].Metadata = jsonSafe(n.Metadata).(map[string]any)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// jsonSafe returns v with every NaN or infinite float (which JSON cannot
// hold and a peer may well publish) replaced by its text as the table
// writes it ("NaN", "+Inf", "-Inf"). Maps and lists are copied; the node's
// own metadata is left untouched.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return codec.Text(x)
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	}
	return v
}
