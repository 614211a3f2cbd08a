package netlab

import (
	"encoding/json"
	"time"
)

// Timings are the create() parameters the lab shortens so that scenarios fit
// in CI; they are passed as strings ("300ms") the way a script would.
type Timings struct {
	Probe         string
	ProbeTimeout  string
	Gossip        string
	SuspicionMult int
	PushPull      string
}

// labTimings are the defaults: failure detection in about a second on this
// bridge, while tolerating a probe that waits a few hundred milliseconds
// behind a CPU burner.
var labTimings = Timings{
	Probe:         "300ms",
	ProbeTimeout:  "150ms",
	Gossip:        "100ms",
	SuspicionMult: 4,
	PushPull:      "10s",
}

// ElectionConfig is a leader election's create_leader_election() settings.
type ElectionConfig struct {
	CheckInterval  time.Duration
	LeaderTimeout  time.Duration
	MinClusterSize int
}

// labElection leases for one second, renewed four times a second.
var labElection = ElectionConfig{
	CheckInterval:  250 * time.Millisecond,
	LeaderTimeout:  time.Second,
	MinClusterSize: 1,
}

// forgetWindow is how long the election keeps counting an unreachable node
// toward the majority, as engine/election.go defines it.
func (e ElectionConfig) forgetWindow() time.Duration {
	return max(time.Minute, 20*e.LeaderTimeout)
}

// NodeConfig is everything node.py reads from its argument.
type NodeConfig struct {
	Bind     string
	Seeds    []string
	Timings  Timings
	Election *ElectionConfig // nil: no election
	// Interval between status lines, in seconds.
	Interval float64
}

// scriptArg renders c (for the host named id, with its control file) as
// node.py's JSON argument.
func (c NodeConfig) scriptArg(id, control string) string {
	arg := map[string]any{
		"id":                     id,
		"bind":                   c.Bind,
		"seeds":                  append([]string{}, c.Seeds...),
		"control":                control,
		"interval":               c.Interval,
		"probe_interval":         c.Timings.Probe,
		"probe_timeout":          c.Timings.ProbeTimeout,
		"gossip_interval":        c.Timings.Gossip,
		"suspicion_mult":         c.Timings.SuspicionMult,
		"push_pull_interval":     c.Timings.PushPull,
		"dead_node_reclaim_time": nil,
		"election":               c.Election != nil,
	}
	if e := c.Election; e != nil {
		arg["check_interval"] = e.CheckInterval.String()
		arg["leader_timeout"] = e.LeaderTimeout.String()
		arg["min_cluster_size"] = e.MinClusterSize
	}
	b, err := json.Marshal(arg)
	if err != nil {
		panic(err) // only plain values above
	}
	return string(b)
}
