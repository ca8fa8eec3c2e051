//go:build linux && amd64

package sensor

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bulkhead-sec/bulkhead/internal/runtime/rules"
	"github.com/bulkhead-sec/bulkhead/internal/runtime/ruleset"
)

// builtinPlan opens the sensor as `bulkhead sensor` does with the built-in
// ruleset (same syscalls, same open prefixes), tracing this process too.
func builtinSensor(tb testing.TB) (*Sensor, *rules.Engine) {
	tb.Helper()
	rs, err := rules.Load([]rules.Source{ruleset.Builtin()})
	if err != nil {
		tb.Fatal(err)
	}
	eng := rules.NewEngine(rs)
	var types []string
	for _, r := range eng.Rules() {
		types = append(types, r.EventTypes...)
	}
	attach, _ := Interest(types, false)
	s, err := Open(Options{Syscalls: attach, OpenPrefixes: ruleset.OpenPrefixes(), IncludeSelf: true})
	if err != nil {
		tb.Fatal(err)
	}
	return s, eng
}

// builtinPipeline opens the built-in sensor and runs the whole pipeline
// (enrichment, rules on every CPU) on it until the sensor is closed; done
// receives Run's result.
func builtinPipeline(tb testing.TB) (*Sensor, *Stats, chan error) {
	s, eng := builtinSensor(tb)
	st := new(Stats)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), s, NewEnricher(NewContainers(nil, nil), "bench"), eng, 0, nil, st)
	}()
	return s, st, done
}

// drain reads and discards records until the sensor is closed.
func drain(s *Sensor, n *atomic.Uint64) {
	for {
		if _, err := s.Read(); err != nil {
			return
		}
		n.Add(1)
	}
}

// BenchmarkSyscallCost times syscalls side by side without the sensor and
// with it (built-in ruleset plan), and reports the in-kernel cost per
// program run from the kernel's BPF run-time statistics:
//   - getppid: a syscall no rule needs (one array lookup in the program);
//   - openat-filtered: an open the prefix filter drops (/tmp);
//   - openat-relative-filtered: "d0/f" below a directory fd in /tmp, as
//     tar opens the files it extracts;
//   - openat-kept: an open that becomes an event (/etc/hostname).
func BenchmarkSyscallCost(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	tmp := b.TempDir() + "/f"
	os.WriteFile(tmp, nil, 0o644)
	// A relative open below a directory fd, as tar extracts: the program
	// resolves the directory's path before the prefix filter drops it.
	deep := b.TempDir() + "/out/d0"
	if err := os.MkdirAll(deep, 0o755); err != nil {
		b.Fatal(err)
	}
	os.WriteFile(deep+"/f", nil, 0o644)
	dirfd, err := unix.Open(deep+"/..", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(dirfd)
	ops := []struct {
		name string
		fn   func()
	}{
		{"getppid", func() { unix.Getppid() }},
		{"openat-filtered", func() {
			fd, err := unix.Openat(unix.AT_FDCWD, tmp, unix.O_RDONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
		}},
		{"openat-relative-filtered", func() {
			fd, err := unix.Openat(dirfd, "d0/f", unix.O_RDONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
		}},
		{"openat-kept", func() {
			fd, err := unix.Openat(unix.AT_FDCWD, "/etc/hostname", unix.O_RDONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
		}},
	}
	for _, op := range ops {
		b.Run(op.name+"/no-sensor", func(b *testing.B) {
			for b.Loop() {
				op.fn()
			}
		})
		b.Run(op.name+"/sensor", func(b *testing.B) {
			statsOn, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
			if err != nil {
				b.Fatal(err)
			}
			defer statsOn.Close()
			s, _ := builtinSensor(b)
			var n atomic.Uint64
			go drain(s, &n)
			before, _ := s.ProgramStats()
			for b.Loop() {
				op.fn()
			}
			after, _ := s.ProgramStats()
			c, _ := s.Counters()
			s.Close()
			for i := range after {
				if after[i].Name != "sys_enter" && after[i].Name != "sys_exit" {
					continue
				}
				runs := after[i].Runs - before[i].Runs
				if runs > 0 {
					ns := float64(after[i].Runtime-before[i].Runtime) / float64(runs)
					b.ReportMetric(ns, after[i].Name+"-ns/run")
				}
			}
			b.ReportMetric(float64(c.Lost), "lost")
			b.ReportMetric(float64(c.FilteredCached)/float64(b.N), "dircache-hits/op")
		})
	}
}

// recordEvents captures enriched real events from the live sensor while a
// workload runs: everything the built-in ruleset's plan traces on this
// machine, plus a shell loop that execs, opens under /etc and connects.
func recordEvents(tb testing.TB, max int) ([]*Event, *rules.Engine) {
	tb.Helper()
	s, eng := builtinSensor(tb)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		exec.CommandContext(ctx, "/bin/sh", "-c",
			`for i in $(seq 2000); do cat /etc/hostname /etc/passwd >/dev/null; ls /etc >/dev/null; done`).Run()
		cancel()
	}()
	en := NewEnricher(NewContainers(nil, nil), "bench")
	var evs []*Event
	for len(evs) < max && ctx.Err() == nil {
		raw, err := s.Read()
		if err != nil {
			break
		}
		evs = append(evs, en.Enrich(raw))
	}
	return evs, eng
}

// BenchmarkEngineRecorded replays recorded real events through the built-in
// ruleset on one goroutine: events/s is per core.
func BenchmarkEngineRecorded(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	evs, eng := recordEvents(b, 50000)
	if len(evs) == 0 {
		b.Fatal("recorded no events")
	}
	b.ResetTimer()
	n := 0
	start := time.Now()
	for b.Loop() {
		eng.Evaluate(evs[n%len(evs)])
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(len(evs)), "recorded")
}

// BenchmarkPipelineLive drives the whole pipeline (kernel → ring buffer →
// enrichment → built-in rules on every CPU) with a tight loop of kept opens
// (/etc/hostname) and reports the event rate it sustained and the kernel's
// lost counter at that rate.
func BenchmarkPipelineLive(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	s, st, done := builtinPipeline(b)
	defer s.Close()
	start := time.Now()
	for b.Loop() {
		fd, err := unix.Openat(unix.AT_FDCWD, "/etc/hostname", unix.O_RDONLY, 0)
		if err == nil {
			unix.Close(fd)
		}
	}
	produced := b.N
	// Let the pipeline catch up, then stop it.
	deadline := time.Now().Add(10 * time.Second)
	for st.Events.Load() < uint64(produced) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	c, _ := s.Counters()
	s.Close()
	<-done
	b.ReportMetric(float64(st.Events.Load())/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(c.Lost), "lost")
}

// BenchmarkPipelineRate drives kept events through the live pipeline (the
// built-in ruleset's plan, enrichment, rules on every CPU) at a fixed rate
// and reports the rate achieved and the kernel's lost counter. Producers are
// threads issuing setresuid(-1, -1, -1): a no-op the built-in ruleset keeps
// (it watches setuid calls) and the cheapest syscall that becomes an event,
// so the producers leave the CPU to the pipeline. b.N is the number of
// events; the target rate is BULKHEAD_BENCH_RATE (default 120,000/s; 0:
// as fast as the producers go). Run with -benchtime 600000x for 5 s at
// 120,000/s.
func BenchmarkPipelineRate(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	rate := 120000
	if v := os.Getenv("BULKHEAD_BENCH_RATE"); v != "" {
		r, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		rate = r
	}
	s, st, done := builtinPipeline(b)
	defer s.Close()
	before, err := s.Counters()
	if err != nil {
		b.Fatal(err)
	}
	producers := runtime.GOMAXPROCS(0)
	total := b.N
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range producers {
		n := total / producers
		if p == 0 {
			n += total % producers
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // setresuid acts on the calling thread only
			defer runtime.UnlockOSThread()
			perThread := float64(rate) / float64(producers)
			t0 := time.Now()
			for i := 0; i < n; i++ {
				if rate > 0 && i%64 == 0 {
					// Pace: event i is due at t0 + i/perThread.
					due := t0.Add(time.Duration(float64(i) / perThread * float64(time.Second)))
					for time.Now().Before(due) {
						if d := time.Until(due); d > 200*time.Microsecond {
							time.Sleep(d)
						}
					}
				}
				unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), ^uintptr(0), ^uintptr(0))
			}
		}()
	}
	wg.Wait()
	produceTime := time.Since(start)
	// The pipeline has evaluated everything once the evaluated count
	// reaches what the kernel produced since the start (other processes'
	// events count on both sides) and the ring is empty.
	deadline := time.Now().Add(30 * time.Second)
	var after Counters
	for time.Now().Before(deadline) {
		after, _ = s.Counters()
		if !s.Pending() && st.Events.Load() >= after.Events-before.Events-(after.Lost-before.Lost) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	drained := time.Since(start)
	b.StopTimer()
	s.Close()
	<-done
	b.ReportMetric(float64(total)/produceTime.Seconds(), "produced/s")
	b.ReportMetric(float64(st.Events.Load())/drained.Seconds(), "evaluated/s")
	b.ReportMetric(float64(after.Lost-before.Lost), "lost")
	b.ReportMetric(float64(drained-produceTime)/float64(time.Millisecond), "drain-ms")
}
