package netlab

import (
	"fmt"
	"testing"
	"time"
)

// deliveryPlan is how long each fault of TestReliableDelivery lasts. Every
// fault outlasts every timeout it crosses: send_to's 1 s, suspicion to
// dead (about 2 s at the lab's timings), the 5 s ceiling of the
// retransmission timeout and the 200 ms the receiver waits on a full queue.
// The stop stays under memberlist's GossipToTheDeadTime (30 s in the lan
// profile): a node dead for longer is removed, and removal fails the
// sender's window (reported, but no longer a flap that loses nothing).
type deliveryPlan struct {
	steady, loss, stop, partition, busy, afterRestart time.Duration
	lossPercent                                       int
}

func deliveryPlanFor() deliveryPlan {
	p := deliveryPlan{steady: 5 * time.Second, loss: 20 * time.Second, stop: 20 * time.Second,
		partition: 20 * time.Second, busy: 15 * time.Second, afterRestart: 5 * time.Second, lossPercent: 15}
	if fullScale() {
		p.loss, p.stop, p.partition, p.busy, p.afterRestart = time.Minute, 25*time.Second, 40*time.Second, 30*time.Second, 15*time.Second
	}
	return p
}

// deliveryPhase is one stretch of the scenario, from its fault's start to
// the next phase's start.
type deliveryPhase struct {
	name      string
	start     time.Time
	healed    time.Time     // the fault's end
	recovered time.Duration // from healed until everything sent before it was handled
}

// deliveryScenario is the lab and what its sender and receiver printed.
type deliveryScenario struct {
	l            *Lab
	tx, rx       *Host
	bystanders   []*Host
	txLog, rxLog *deliveryLog
	rxRun        int // the receiver's current run
	phases       []*deliveryPhase
}

func (s *deliveryScenario) begin(name string) *deliveryPhase {
	p := &deliveryPhase{name: name, start: time.Now()}
	s.phases = append(s.phases, p)
	return p
}

// hold lets the scenario run for d, failing early if a process ends.
func (s *deliveryScenario) hold(d time.Duration, what string) {
	s.l.t.Helper()
	start := time.Now()
	s.l.waitFor(d+time.Minute, what, func() bool { return time.Since(start) >= d })
}

// recover ends p's fault now and waits until the sender has moved on past
// it and the receiver has handled every number whose send started before
// it: nothing sent during a fault may be lost.
func (s *deliveryScenario) recover(p *deliveryPhase) {
	s.l.t.Helper()
	p.healed = time.Now()
	p.recovered = s.l.waitFor(time.Minute, "everything sent before the end of "+p.name+" to be handled", func() bool {
		moved, before := s.txLog.sentSince(p.healed)
		return moved && s.rxLog.maxHandled(s.rxRun) >= before
	})
	s.l.t.Logf("%s: everything sent before its end handled %v after it", p.name, p.recovered.Round(time.Millisecond))
}

// sawPeer reports whether a sender status between from and to showed the
// receiver in state.
func (s *deliveryScenario) sawPeer(state string, from, to time.Time) bool {
	s.txLog.update()
	for _, st := range s.txLog.statuses {
		if st.Peer == state && !st.At().Before(from) && !st.At().After(to) {
			return true
		}
	}
	return false
}

// TestReliableDelivery: a sender script sends numbered reliable messages
// with send_to (1 s timeout, 200 a second at most) to a receiver script
// through loss on TCP and UDP, a SIGSTOP that has the receiver declared
// dead and alive again, a two-way partition between the two, a receiver
// script that stops calling the library, and a SIGKILL and restart of the
// receiver; two bystanders keep the cluster. Every number the sender saw
// confirmed is handled exactly once, no number twice, in increasing order
// within one receiver run; every number not handled was reported to the
// sender (unconfirmed or failed, and counted in reliable_failed), and
// only at the restart; nothing crashes.
func TestReliableDelivery(t *testing.T) {
	plan := deliveryPlanFor()
	l := newLab(t, 4)
	s := &deliveryScenario{l: l, tx: l.Hosts[0], rx: l.Hosts[1], bystanders: l.Hosts[2:], rxRun: 1}
	s.txLog, s.rxLog = &deliveryLog{h: s.tx}, &deliveryLog{h: s.rx}
	startCluster(l, s.bystanders, func(h *Host) NodeConfig { return nodeConfig(h, s.bystanders[:1]) }, time.Minute)
	s.rx.startDelivery("receiver", s.bystanders, 1, "")
	s.tx.startDelivery("sender", s.bystanders, 1, s.rx.Name)
	waitConverged(l, s.bystanders, l.Hosts, time.Minute)
	began := time.Now()
	l.waitFor(time.Minute, "the receiver to handle 100 messages", func() bool { return s.rxLog.maxHandled(1) >= 99 })

	s.begin("steady")
	s.hold(plan.steady, "a steady stretch")

	p := s.begin(fmt.Sprintf("loss %d%%", plan.lossPercent))
	s.rx.SetLoss(plan.lossPercent, plan.lossPercent, true)
	s.hold(plan.loss, "the loss to last")
	l.Heal()
	s.recover(p)

	p = s.begin("SIGSTOP")
	s.rx.Pause()
	s.hold(plan.stop, "the receiver to stay stopped")
	flapped := s.sawPeer("dead", p.start, time.Now())
	s.rx.Resume()
	s.recover(p)
	if !flapped {
		t.Errorf("the sender never saw the receiver dead during its %v stop: no dead→alive flap was tested", plan.stop)
	}

	p = s.begin("partition")
	l.Partition([]*Host{s.tx}, []*Host{s.rx})
	s.hold(plan.partition, "the partition to last")
	partitionView := "alive throughout (indirect probes through the bystanders)"
	if s.sawPeer("dead", p.start, time.Now()) {
		partitionView = "dead at some point"
	} else if s.sawPeer("suspect", p.start, time.Now()) {
		partitionView = "suspect at some point"
	}
	l.Heal()
	s.recover(p)

	p = s.begin("busy receiver")
	s.rx.writeControl(map[string]any{"sleep": plan.busy.Seconds(), "run": s.rxRun})
	l.waitFor(time.Minute, "the receiver's script to start sleeping", func() bool {
		st, ok := s.rxLog.last()
		return ok && st.Busy > 0
	})
	s.hold(plan.busy, "the receiver's script to sleep")
	s.recover(p)
	pushedBack := 0
	for _, o := range s.txLog.outcomes {
		if o.O == "unconfirmed" && !o.At().Before(p.start) && o.At().Before(p.healed) {
			pushedBack++
		}
	}
	if pushedBack == 0 {
		t.Errorf("no send timed out while the receiver's script slept %v: flow control never pushed back", plan.busy)
	}

	p = s.begin("kill and restart")
	st, _ := s.txLog.last()
	failedBefore := st.Stats["reliable_failed"]
	killAt := time.Now()
	s.rx.Kill()
	l.waitFor(time.Minute, "the sender to see the killed receiver dead", func() bool {
		return s.sawPeer("dead", killAt, time.Now())
	})
	s.rxRun = 2
	s.rx.startDelivery("receiver", s.bystanders, 2, "")
	p.healed = time.Now()
	p.recovered = l.waitFor(time.Minute, "the restarted receiver to handle a message", func() bool {
		return s.rxLog.maxHandled(2) >= 0
	})
	s.hold(plan.afterRestart, "traffic to the restarted receiver")

	s.tx.writeControl(map[string]any{"stop": true})
	l.waitFor(time.Minute, "the sender to stop with nothing unacknowledged", func() bool {
		st, ok := s.txLog.last()
		return ok && !st.Sending && st.Stats["reliable_unacked"] == 0
	})
	lastSent := -1
	for _, o := range s.txLog.outcomes {
		if o.O != "failed" {
			lastSent = max(lastSent, *o.N)
		}
	}
	l.waitFor(30*time.Second, "the receiver to handle the last number sent", func() bool {
		return s.rxLog.maxHandled(2) >= lastSent
	})
	final, _ := s.txLog.last()
	elapsed := time.Since(began)

	s.rxLog.update()
	v := judgeDelivery(s.txLog.outcomes, s.rxLog.handled, killAt)
	for _, problem := range v.problems {
		t.Error(problem)
	}
	for r := 1; r <= 2; r++ {
		if st, ok := s.rxLog.lastOfRun(r); ok && (st.Dups != 0 || st.Disord != 0 || len(st.Gaps) != 0) {
			t.Errorf("receiver run %d reported %d duplicates, %d order violations, gaps %v", r, st.Dups, st.Disord, st.Gaps)
		}
	}
	if failedBefore != 0 {
		t.Errorf("%d reliable messages failed before the receiver restarted (loss, a dead→alive flap shorter than memberlist's 30 s before removal, a partition and a busy script must fail nothing)", failedBefore)
	}
	failedAtRestart := final.Stats["reliable_failed"] - failedBefore
	if int64(v.reportedLost) > failedAtRestart {
		t.Errorf("%d numbers reported to the sender were never handled, but only %d messages failed (stats()[\"reliable_failed\"])", v.reportedLost, failedAtRestart)
	}
	for _, h := range l.Hosts {
		if ended, err := h.Exited(); ended {
			t.Errorf("%s ended: %v", h.Name, err)
		}
	}

	figures := phaseFigures(s.phases, s.txLog)
	worst, slowest, timeouts := figures[0], figures[0], figures[0]
	for _, f := range figures {
		t.Logf("%-17s sends started %4d: confirmed %4d, unconfirmed %3d, failed %2d; retries: not sent %4d, not alive %5d; longest confirmed send %v; recovered %v after the fault",
			f.phase.name, f.sends, f.confirmed, f.unconfirmed, f.failed, f.notSent, f.notAlive,
			f.longest.Round(time.Millisecond), f.phase.recovered.Round(time.Millisecond))
		if f.longest > worst.longest {
			worst = f
		}
		if f.phase.recovered > slowest.phase.recovered {
			slowest = f
		}
		if f.unconfirmed*timeouts.sends > timeouts.unconfirmed*f.sends {
			timeouts = f // the highest share of sends that timed out
		}
	}
	rx1, _ := s.rxLog.lastOfRun(1)
	rx2, _ := s.rxLog.lastOfRun(2)
	t.Logf("engine counters: sender reliable_sent %d, reliable_retransmits %d, reliable_failed %d; receiver duplicates dropped: run 1 %d, run 2 %d",
		final.Stats["reliable_sent"], final.Stats["reliable_retransmits"], final.Stats["reliable_failed"],
		rx1.Stats["reliable_duplicates"], rx2.Stats["reliable_duplicates"])
	t.Logf("during the partition the sender saw the receiver %s; %d sends timed out unconfirmed while the receiver's script slept", partitionView, pushedBack)
	t.Logf("SUMMARY delivery: %d numbers sent in %v through %d%% loss, a %v SIGSTOP (dead→alive), a %v partition, a %v busy script and a SIGKILL+restart: "+
		"%d confirmed, %d unconfirmed, %d failed (retried %d not sent, %d not alive); handled exactly once %d; duplicates %d; order violations %d; "+
		"lost unreported %d; lost and reported at the restart %d (reliable_failed %d); confirmed but lost in the killed receiver's queue %d; "+
		"longest confirmed send %v (%s); most sends unconfirmed: %s (%d of %d); slowest recovery: %s; everything sent handled after: loss %v, stop %v, partition %v, busy %v; restart to first delivery %v",
		len(s.txLog.outcomes), elapsed.Round(time.Second), plan.lossPercent, plan.stop, plan.partition, plan.busy,
		v.confirmed, v.unconfirmed, v.failed, final.Counts["not_sent"], final.Counts["not_alive"], v.handledOnce, v.duplicates, v.disorder,
		v.lostUnreported, v.reportedLost, failedAtRestart, v.lostInQueue,
		worst.longest.Round(time.Millisecond), worst.phase.name, timeouts.phase.name, timeouts.unconfirmed, timeouts.sends, slowest.phase.name,
		s.phases[1].recovered.Round(time.Millisecond), s.phases[2].recovered.Round(time.Millisecond),
		s.phases[3].recovered.Round(time.Millisecond), s.phases[4].recovered.Round(time.Millisecond),
		s.phases[5].recovered.Round(time.Millisecond))
}
