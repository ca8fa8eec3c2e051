package queue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func open(t *testing.T, path string, opts Options) *Queue {
	t.Helper()
	q, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func items(kind string, class Class, n int, from int) []Item {
	out := make([]Item, n)
	for i := range out {
		out[i] = Item{Kind: kind, Class: class, Payload: fmt.Appendf(nil, "%s-%d", kind, from+i)}
	}
	return out
}

func TestAppendPeekAckReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := items("event", ClassEvent, 5, 0)
	if err := q.Append(in, map[string][]byte{"cursor": []byte("42")}); err != nil {
		t.Fatal(err)
	}
	for i, it := range in {
		if it.Seq != uint64(i+1) {
			t.Fatalf("item %d got seq %d", i, it.Seq)
		}
	}
	got, err := q.Peek(3, 1<<20)
	if err != nil || len(got) != 3 || string(got[2].Payload) != "event-2" || got[2].Seq != 3 || got[2].Class != ClassEvent || got[2].Kind != "event" {
		t.Fatalf("peek: %v %+v", err, got)
	}
	if err := q.Ack(1, 2, 3); err != nil {
		t.Fatal(err)
	}
	q.Close()

	q = open(t, path, Options{})
	if st := q.Stats(); st.Items != 2 || st.NextSeq != 6 {
		t.Fatalf("after reopen: %+v", st)
	}
	if v, _ := q.Get("cursor"); string(v) != "42" {
		t.Fatalf("state %q", v)
	}
	// Sequence numbers keep growing even once the queue is empty.
	if err := q.Ack(4, 5); err != nil {
		t.Fatal(err)
	}
	more := items("event", ClassEvent, 1, 5)
	if err := q.Append(more, nil); err != nil {
		t.Fatal(err)
	}
	if more[0].Seq != 6 {
		t.Fatalf("seq after emptying: %d, want 6", more[0].Seq)
	}
	select {
	case <-q.Ready():
	default:
		t.Fatal("no ready signal after append")
	}
}

// TestFullDropsInOrder fills a bounded queue: superseded items go first,
// then bulk, then state, and events last; each drop is logged and counted.
func TestFullDropsInOrder(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	var dropped []string
	path := filepath.Join(t.TempDir(), "q.db")
	q := open(t, path, Options{
		MaxItems: 6,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		OnDrop: func(it Item) {
			mu.Lock()
			dropped = append(dropped, it.Kind+":"+it.Key)
			mu.Unlock()
		},
	})
	seed := []Item{
		{Kind: "event", Class: ClassEvent, Key: "", Payload: []byte("e1")},
		{Kind: "container", Class: ClassState, Key: "c1", Payload: []byte("s1")},
		{Kind: "image", Class: ClassBulk, Key: "img1", Payload: []byte("b1")},
		{Kind: "container", Class: ClassState, Key: "c1", Payload: []byte("s1b")}, // supersedes seq 2
		{Kind: "event", Class: ClassEvent, Key: "", Payload: []byte("e2")},
		{Kind: "container", Class: ClassState, Key: "c2", Payload: []byte("s2")},
	}
	if err := q.Append(seed, nil); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"e1", "b1", "s1b", "e2", "s2"}, // superseded s1 first
		{"e1", "s1b", "e2", "s2"},       // then bulk
		{"e1", "e2", "s2"},              // then the oldest state
		{"e1", "e2"},                    // state again
		{"e2"},                          // events last, oldest first
	}
	for round, w := range want {
		if err := q.Append([]Item{{Kind: "event", Class: ClassEvent, Payload: fmt.Appendf(nil, "n%d", round)}}, nil); err != nil {
			t.Fatal(err)
		}
		got, _ := q.Peek(100, 1<<20)
		var ps []string
		for _, it := range got {
			if !strings.HasPrefix(string(it.Payload), "n") {
				ps = append(ps, string(it.Payload))
			}
		}
		if strings.Join(ps, ",") != strings.Join(w, ",") {
			t.Fatalf("round %d: old items left %v, want %v", round, ps, w)
		}
		if len(got) != 6 {
			t.Fatalf("round %d: %d items, want the bound 6", round, len(got))
		}
	}
	if st := q.Stats(); st.Dropped != 5 {
		t.Fatalf("dropped %d, want 5", st.Dropped)
	}
	out := logs.String()
	if strings.Count(out, "agent queue full: dropped item") != 5 || !strings.Contains(out, "reason=\"superseded by a newer container\"") {
		t.Fatalf("drops not logged one by one:\n%s", out)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		n := len(dropped)
		mu.Unlock()
		if n == 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	if len(dropped) != 5 || dropped[1] != "image:img1" {
		t.Fatalf("OnDrop calls %v", dropped)
	}
	mu.Unlock()
}

func TestTooLarge(t *testing.T) {
	q := open(t, filepath.Join(t.TempDir(), "q.db"), Options{MaxBytes: 1000})
	err := q.Append([]Item{{Kind: "image", Class: ClassBulk, Payload: make([]byte, 2000)}}, nil)
	if err == nil || !strings.Contains(err.Error(), "2") {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
}

// fakeServer records delivered items; it fails while down is set and
// rejects payloads starting with "poison".
type fakeServer struct {
	mu       sync.Mutex
	seen     map[uint64]string
	order    []uint64
	requests atomic.Int64
	down     atomic.Bool
	srv      *httptest.Server
}

type wireItem struct {
	Seq     uint64 `json:"seq"`
	Kind    string `json:"kind"`
	Payload []byte `json:"payload"`
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{seen: map[uint64]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if f.down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		var batch []wireItem
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		together := 0
		for _, it := range batch {
			if strings.HasPrefix(string(it.Payload), "pair") {
				together++
			}
		}
		if together > 1 {
			// A server bug: these two items fail together, never alone.
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		for _, it := range batch {
			if strings.HasPrefix(string(it.Payload), "poison") {
				http.Error(w, "item "+strconv.FormatUint(it.Seq, 10)+" is invalid", http.StatusBadRequest)
				return
			}
		}
		f.mu.Lock()
		for _, it := range batch {
			if _, dup := f.seen[it.Seq]; !dup {
				f.order = append(f.order, it.Seq)
			}
			f.seen[it.Seq] = string(it.Payload)
		}
		f.mu.Unlock()
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// httpSink posts a JSON array of items, as a real sink posts a batch.
type httpSink struct{ url string }

func (s httpSink) Send(ctx context.Context, items []Item) error {
	batch := make([]wireItem, len(items))
	for i, it := range items {
		batch[i] = wireItem{Seq: it.Seq, Kind: it.Kind, Payload: it.Payload}
	}
	b, _ := json.Marshal(batch)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(b))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		return fmt.Errorf("%s: %w", strings.TrimSpace(string(msg)), ErrRejected)
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable:
		return fmt.Errorf("server: %s: %w", resp.Status, ErrServer)
	case resp.StatusCode >= 300:
		return fmt.Errorf("server: %s", resp.Status)
	}
	return nil
}

func (f *fakeServer) check(t *testing.T, want map[uint64]string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for seq, p := range want {
		if got, ok := f.seen[seq]; !ok {
			t.Errorf("seq %d (%s) never delivered", seq, p)
		} else if got != p {
			t.Errorf("seq %d: delivered %q, want %q", seq, got, p)
		}
	}
	if len(f.seen) != len(want) {
		t.Errorf("server has %d distinct items, want %d", len(f.seen), len(want))
	}
	for i := 1; i < len(f.order); i++ {
		if f.order[i] <= f.order[i-1] {
			t.Fatalf("first deliveries out of order: %d after %d", f.order[i], f.order[i-1])
		}
	}
}

// TestDeliverOutageRecovers appends items while the server is down, then
// brings it back: every item arrives once the server is up, in order.
func TestDeliverOutageRecovers(t *testing.T) {
	f := newFakeServer(t)
	var logs bytes.Buffer
	q := open(t, filepath.Join(t.TempDir(), "q.db"), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan DeliveryStats, 1)
	f.down.Store(true)
	go func() {
		st, _ := q.Deliver(ctx, httpSink{f.srv.URL}, DeliverOptions{
			BatchItems: 50, MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)),
		})
		done <- st
	}()
	want := map[uint64]string{}
	for i := range 20 {
		batch := items("event", ClassEvent, 25, i*25)
		if err := q.Append(batch, nil); err != nil {
			t.Fatal(err)
		}
		for _, it := range batch {
			want[it.Seq] = string(it.Payload)
		}
		if i == 10 {
			time.Sleep(100 * time.Millisecond)
			if n := f.requests.Load(); n < 3 {
				t.Fatalf("only %d attempts while down: not retrying", n)
			}
			f.down.Store(false)
		}
	}
	waitEmpty(t, q)
	cancel()
	st := <-done
	f.check(t, want)
	if st.Failures == 0 || st.Items < len(want) {
		t.Errorf("stats %+v", st)
	}
	out := logs.String()
	if !strings.Contains(out, "cannot deliver to the server") || !strings.Contains(out, "server reachable again") {
		t.Errorf("outage not logged:\n%s", out)
	}
}

// TestDeliverRejectedItem isolates one invalid item in a batch: it is
// dropped with an error line and everything else is delivered in order.
func TestDeliverRejectedItem(t *testing.T) {
	f := newFakeServer(t)
	var logs bytes.Buffer
	q := open(t, filepath.Join(t.TempDir(), "q.db"), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	batch := items("event", ClassEvent, 40, 0)
	batch[17].Payload = []byte("poison")
	if err := q.Append(batch, nil); err != nil {
		t.Fatal(err)
	}
	st, err := q.Deliver(context.Background(), httpSink{f.srv.URL}, DeliverOptions{StopWhenEmpty: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]string{}
	for i, it := range batch {
		if i != 17 {
			want[it.Seq] = string(it.Payload)
		}
	}
	f.check(t, want)
	if st.Rejected != 1 || q.Stats().Dropped != 1 {
		t.Errorf("stats %+v, queue %+v", st, q.Stats())
	}
	if !strings.Contains(logs.String(), "seq=18") || !strings.Contains(logs.String(), "item 18 is invalid") {
		t.Errorf("rejection not logged with its seq and the server's reason:\n%s", logs.String())
	}
}

// TestDeliverSplitsOnServerError: a server that fails (500) on a batch
// holding two particular items gets them in smaller batches; nothing is
// dropped and order is kept.
func TestDeliverSplitsOnServerError(t *testing.T) {
	f := newFakeServer(t)
	q := open(t, filepath.Join(t.TempDir(), "q.db"), Options{})
	batch := items("event", ClassEvent, 30, 0)
	batch[4].Payload, batch[21].Payload = []byte("pair-a"), []byte("pair-b")
	if err := q.Append(batch, nil); err != nil {
		t.Fatal(err)
	}
	st, err := q.Deliver(context.Background(), httpSink{f.srv.URL}, DeliverOptions{StopWhenEmpty: true, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]string{}
	for _, it := range batch {
		want[it.Seq] = string(it.Payload)
	}
	f.check(t, want)
	if st.Rejected != 0 || q.Stats().Dropped != 0 || st.Failures < splitAfter {
		t.Errorf("stats %+v, queue %+v", st, q.Stats())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func waitEmpty(t *testing.T, q *Queue) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for q.Stats().Items > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained: %+v", q.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCrashRestart kills a process (SIGKILL) that appends and delivers to a
// flaky server, reopens its queue file and finishes delivery: every item the
// child reported as appended reaches the server exactly as written.
func TestCrashRestart(t *testing.T) {
	if os.Getenv("QUEUE_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	f := newFakeServer(t)
	path := filepath.Join(t.TempDir(), "q.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRestart$")
	cmd.Env = append(os.Environ(), "QUEUE_CRASH_CHILD=1", "QUEUE_PATH="+path, "QUEUE_URL="+f.srv.URL)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Flap the server while the child works, then kill it mid-flight.
	want := map[uint64]string{}
	sc := bufio.NewScanner(out)
	lines := 0
	for sc.Scan() {
		seq, payload, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(seq, 10, 64)
		want[n] = payload
		lines++
		if lines%300 == 0 {
			f.down.Store(!f.down.Load())
		}
		if lines == 3000 {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	cmd.Wait()
	f.down.Store(false)
	f.mu.Lock()
	before := len(f.seen)
	f.mu.Unlock()
	if before == 0 || before >= len(want) {
		t.Logf("server had %d of %d items at the crash (the test wants some but not all)", before, len(want))
	}

	q := open(t, path, Options{})
	if _, err := q.Deliver(context.Background(), httpSink{f.srv.URL}, DeliverOptions{StopWhenEmpty: true, MinBackoff: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// The child may have appended a few more items after its last report.
	f.mu.Lock()
	for seq, p := range f.seen {
		if _, ok := want[seq]; !ok {
			want[seq] = p
		}
	}
	f.mu.Unlock()
	f.check(t, want)
	t.Logf("%d items appended before SIGKILL, %d delivered before it, all %d delivered after restart", len(want), before, len(f.seen))
	more := items("event", ClassEvent, 1, 0)
	q.Append(more, nil)
	var maxSeq uint64
	for s := range want {
		maxSeq = max(maxSeq, s)
	}
	if more[0].Seq <= maxSeq {
		t.Errorf("seq %d reused after restart (had %d)", more[0].Seq, maxSeq)
	}
}

func crashChild() {
	q, err := Open(os.Getenv("QUEUE_PATH"), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go q.Deliver(context.Background(), httpSink{os.Getenv("QUEUE_URL")}, DeliverOptions{BatchItems: 64, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		batch := items("event", ClassEvent, 1+i%3, i*3)
		if err := q.Append(batch, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		// Reported only once durable.
		for _, it := range batch {
			fmt.Fprintf(w, "%d %s\n", it.Seq, it.Payload)
		}
		w.Flush()
	}
}
