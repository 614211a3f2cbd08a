// Package election elects one leader among the eligible nodes of a
// cluster. It is built on the engine's public API only, the way serf is
// built on memberlist:
//
//   - its claims, votes and resignations travel on three engine feature
//     channels (Cluster.OpenChannel, types 64 to 66), datagrams repeated
//     every check interval, so a loss only delays;
//   - the per-node vote lives with the node (Cluster.Extension): Enable
//     creates it, and New enables the node it runs on. Every node of a
//     cluster that runs elections must be enabled, whether or not it runs
//     one, because every node votes; the Scriptling binding enables each
//     node it creates (api.yaml: create's attach);
//   - the electorate is read from Cluster.Nodes, eligibility from the
//     metadata criteria of package groups (groups.Counted);
//   - events reach the script through Cluster.Post and
//     Cluster.RunHandler, inside Dispatch like every handler.
//
// Eligible nodes are the alive nodes whose metadata matches the election's
// criteria; observers never are. Each node keeps an
// electorate: the eligible nodes it has seen alive
// (electorate.go). A node that leaves gracefully, or stays
// alive but stops matching the criteria, is dropped at once: it announced
// it, and it no longer claims. A node that fails stays, because from inside
// a partition a failed node and an unreachable one look the same. A node
// drops a member not seen alive for the forget window only while it itself
// sees a strict majority of its current electorate alive: a minority side
// can never shrink its electorate into a majority, while the majority side
// recovers from permanent crashes, one forget window at a time. So a
// 2-node electorate that loses one node by a crash has no leader until that
// node comes back or leaves gracefully (the survivor sees 1 of 2), and a
// 50/50 partition has no leader on either side for as long as it lasts.
//
// Terms (claim.go, votes.go). Every claim carries a term.
// A node starting a claim asks for one more than the highest term it has
// seen. Every node (whether or not it runs an election) holds one vote per
// election: it grants it to at most one claimant per term, never for a term
// lower than the highest it has granted, and, as a lease, refuses every
// other claimant until the holder's lease (the claimant's leader timeout
// from the claim's arrival, renewed by each later claim) has run out or the
// holder resigned. Every answer carries the voter's highest term, so a
// claimant learns of newer terms and starts a new claim above them. A
// claimant is leader while the votes acknowledged for claims of its term
// sent within the last leader timeout (its own included) are a strict
// majority of its electorate and at least MinClusterSize. Two majorities of
// one electorate share a voter, and that voter grants a term to one holder
// only: no two nodes lead in the same term. And because a voter's lease
// outlasts the claimant's count of it, no two nodes lead at the same
// instant either: an isolated or paused leader stops being leader by its
// own clock within one leader timeout of its last acknowledged claim,
// before its voters may vote for anyone else. This assumes the nodes'
// clocks run at the same rate (not that they agree); a node restarted with
// the same id has forgotten its votes, so it grants none for one lease
// after the first claim it hears.
//
// Who claims: a node that is eligible, sees a strict majority of its
// electorate alive (and at least MinClusterSize nodes), and does not defer.
// A node that is not leader defers to a leader it hears of, and to a lower
// alive eligible id that claimed within the last leader timeout; at start
// it waits one leader timeout before claiming when it sees a lower id, so
// the lowest id wins a cluster's first election, and when the leader goes
// away it waits one check interval per lower alive id, so the lowest id
// taking part wins a failover too. A leader does not yield to
// a lower id (that would only move leadership after a pause or a heal); it
// steps down when it learns of a newer term than its own. Claims carry the
// term and whether the sender holds a majority; the other nodes take the
// latest leader claim as the leader for one leader timeout, which is what
// HasLeader, GetLeaderID and GetTerm report there.
//
// Limits: electorates that differ between nodes weaken the majority rule. A
// node that joins during a partition knows only the side it joined (and
// the failed nodes memberlist still lists), and a member forgotten by the
// majority side that comes back while the cluster is split another way is
// counted again at once. MinClusterSize set to more than half of all
// eligible nodes keeps the single-leader guarantee in those cases too. Terms
// are kept in memory: when every node restarts, terms start again from 1.
//
// Files: election.go (the Election type, Start, Stop and the queries),
// electorate.go (who counts), claim.go (claiming, counting votes, the
// known leader), votes.go (this node's vote and the channels), events.go
// (OnEvent), wire.go (message encoding).
package election
