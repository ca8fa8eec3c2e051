// Command churn starts short-lived containers in the local Docker Engine at
// a fixed rate, to load a node agent:
//
//	churn -image bulkhead-bench/busybox:1 -rate 50 -duration 60s -label bulkhead.bench=1
//
// Each container runs `true` (or -cmd) and is removed on exit (AutoRemove),
// so every start also produces create, die and destroy events. It prints
// the rate achieved: the engine, not this program, is usually the limit.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

func main() {
	image := flag.String("image", "", "image to run (required)")
	rate := flag.Float64("rate", 50, "container starts per second")
	dur := flag.Duration("duration", 60*time.Second, "how long to keep starting containers")
	label := flag.String("label", "bulkhead.bench=churn", "label KEY=VALUE put on every container")
	cmd := flag.String("cmd", "true", "command to run in each container")
	workers := flag.Int("workers", 32, "create+start calls in flight at most")
	fake := flag.String("fake-engine", "", "instead of the local engine, serve a simulated Engine API on this unix socket and simulate the containers (-image is then the image id they report)")
	lifetime := flag.Duration("lifetime", 200*time.Millisecond, "with -fake-engine: how long each simulated container runs")
	wait := flag.Duration("wait", 0, "with -fake-engine: serve this long before starting containers (let the agent connect)")
	flag.Parse()
	if *fake != "" {
		k, v, _ := strings.Cut(*label, "=")
		f := &fakeEngine{imageID: *image, label: [2]string{k, v}, containers: map[string]*container.InspectResponse{}, subs: map[chan events.Message]bool{}}
		go func() {
			if err := f.serve(*fake); err != nil {
				fmt.Fprintln(os.Stderr, "churn:", err)
				os.Exit(1)
			}
		}()
		time.Sleep(*wait)
		// Catch up on a busy machine: start as many as the elapsed time
		// calls for, not one per (possibly late) tick.
		t0 := time.Now()
		tick := time.NewTicker(5 * time.Millisecond)
		n := 0
		for time.Since(t0) < *dur {
			<-tick.C
			for due := int(time.Since(t0).Seconds() * *rate); n < due; n++ {
				f.spawn(*lifetime)
			}
		}
		time.Sleep(*lifetime + 100*time.Millisecond)
		el := time.Since(t0).Seconds()
		fmt.Printf("churn: %d simulated containers started in %.1fs (%.1f/s), %d events\n", n, el, float64(n)/el, 4*n)
		return
	}
	if *image == "" {
		fmt.Fprintln(os.Stderr, "churn: -image is required")
		os.Exit(2)
	}
	dc, err := client.New(client.FromEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "churn:", err)
		os.Exit(1)
	}
	defer dc.Close()
	k, v, _ := strings.Cut(*label, "=")
	ctx := context.Background()
	var started, failed atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, *workers)
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / *rate)
	t0 := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	late := 0
	for time.Since(t0) < *dur {
		<-tick.C
		select {
		case sem <- struct{}{}:
		default:
			late++ // all workers busy: this start is skipped, counted
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := dc.ContainerCreate(ctx, client.ContainerCreateOptions{
				Image:      *image,
				Config:     &container.Config{Cmd: strings.Fields(*cmd), Labels: map[string]string{k: v}},
				HostConfig: &container.HostConfig{AutoRemove: true, NetworkMode: "none"},
			})
			if err == nil {
				_, err = dc.ContainerStart(ctx, res.ID, client.ContainerStartOptions{})
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			started.Add(1)
		}()
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	fmt.Printf("churn: %d containers started in %.1fs (%.1f/s, target %.0f/s); %d failed, %d skipped because %d starts were already in flight\n",
		started.Load(), el, float64(started.Load())/el, *rate, failed.Load(), late, *workers)
	if e := firstErr.Load(); e != nil {
		fmt.Printf("churn: first error: %s\n", e)
	}
}
