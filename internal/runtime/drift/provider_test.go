package drift

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func id(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

// fakeScanner serves testdata documents by image id and counts scans.
type fakeScanner struct {
	t     *testing.T
	docs  map[string]string // image id → testdata file
	calls atomic.Int32
	gate  chan struct{} // when set, scans wait for it
	err   error
}

func (s *fakeScanner) Scan(ctx context.Context, imageID string) (*sbom.SBOM, error) {
	s.calls.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	name, ok := s.docs[imageID]
	if !ok {
		return nil, errors.New("no such image")
	}
	doc := loadDoc(s.t, name)
	doc.Source.ImageID = imageID
	return doc, nil
}

func TestProviderSources(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.json", "8888888888888888888888888888888888888888888888888888888888888888.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "sboms", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The sha256: spelling, with an incomplete listing.
	b, err := os.ReadFile(filepath.Join("testdata", "incomplete.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id('c')+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sc := &fakeScanner{t: t, docs: map[string]string{id('c'): "debian-all.json", id('d'): "debian-exec.json"}}
	p, err := NewProvider(WithSBOMDir(dir), WithSBOMFile(filepath.Join("testdata", "debian-all.json")), WithScanner(sc))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, image, exe   string
		drift, known, fail bool
		scans              int32 // scanner calls so far
	}{
		{"dir, bare hex name", id('a'), "/bin/sh", false, true, false, 0},
		{"dir, drift", id('a'), "/tmp/dropped", true, true, false, 0},
		{"id without sha256:", strings.Repeat("a", 64), "/tmp/dropped", true, true, false, 0},
		{"pinned file", id('b'), "/etc/passwd", true, true, false, 0},
		{"pinned file, in image", id('b'), "/usr/bin/ls", false, true, false, 0},
		{"incomplete SBOM in dir: scanned instead", id('c'), "/tmp/dropped", true, true, false, 1},
		{"not in dir: scanned", id('d'), "/bin/ls", false, true, false, 2},
		{"cached: not scanned again", id('d'), "/tmp/x", true, true, false, 2},
		{"SBOM for another image", id('f'), "/bin/ls", false, false, true, 3},
		{"invalid SBOM in dir", id('8'), "/bin/ls", false, false, true, 4},
		{"unknown image", id('7'), "/bin/ls", false, false, true, 5},
		{"bad id", "sha256:../../etc", "/bin/ls", false, false, true, 5},
	} {
		drift, known, err := p.Drift(ctx, tc.image, tc.exe)
		if drift != tc.drift || known != tc.known || (err != nil) != tc.fail {
			t.Errorf("%s: drift %v known %v err %v; want %v %v fail=%v", tc.name, drift, known, err, tc.drift, tc.known, tc.fail)
		}
		if n := sc.calls.Load(); n != tc.scans {
			t.Errorf("%s: %d scans, want %d", tc.name, n, tc.scans)
		}
	}
}

func TestProviderWithoutScanner(t *testing.T) {
	p, err := NewProvider(WithSBOMDir(filepath.Join("testdata", "sboms")))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := p.Index(context.Background(), id('1'))
	if err != nil || ix.Known() || !strings.Contains(ix.Reason(), "no scanner") {
		t.Fatalf("index %+v err %v: want unknown, no scanner", ix, err)
	}
	if _, err := NewProvider(WithSBOMDir(filepath.Join("testdata", "nonexistent"))); err == nil {
		t.Error("a missing SBOM directory was accepted")
	}
	if _, err := NewProvider(WithSBOMFile(filepath.Join("testdata", "sboms", "8888888888888888888888888888888888888888888888888888888888888888.json"))); err == nil {
		t.Error("an invalid SBOM file was accepted")
	}
}

// TestProviderLRU: at most capacity indexes are kept, least recently used
// evicted first.
func TestProviderLRU(t *testing.T) {
	sc := &fakeScanner{t: t, docs: map[string]string{}}
	for _, c := range "123" {
		sc.docs[id(byte(c))] = "debian-exec.json"
	}
	p, err := NewProvider(WithScanner(sc), WithCapacity(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := func(c byte) {
		t.Helper()
		if _, err := p.Index(ctx, id(c)); err != nil {
			t.Fatal(err)
		}
	}
	get('1')
	get('2')
	get('1') // 1 is now most recent
	get('3') // evicts 2
	if n := sc.calls.Load(); n != 3 {
		t.Fatalf("%d scans, want 3", n)
	}
	get('1')
	get('3')
	if n := sc.calls.Load(); n != 3 {
		t.Fatalf("cached images rescanned: %d scans", n)
	}
	get('2')
	if n := sc.calls.Load(); n != 4 {
		t.Fatalf("evicted image not rescanned: %d scans", n)
	}
	if p.lru.Len() != 2 || len(p.byID) != 2 {
		t.Fatalf("cache holds %d/%d entries over a capacity of 2", p.lru.Len(), len(p.byID))
	}
}

// TestProviderConcurrentAndNonBlocking: many callers share one scan; a
// caller whose ctx ends first gets an error while the scan goes on and
// fills the cache; Peek never waits.
func TestProviderConcurrentAndNonBlocking(t *testing.T) {
	sc := &fakeScanner{t: t, docs: map[string]string{id('1'): "debian-exec.json"}, gate: make(chan struct{})}
	p, err := NewProvider(WithScanner(sc))
	if err != nil {
		t.Fatal(err)
	}
	if _, known := p.Peek(id('1'), "/tmp/dropped"); known {
		t.Fatal("Peek answered before the index was loaded")
	}
	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, _, err := p.Drift(short, id('1'), "/tmp/dropped"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the caller's deadline", err)
	}
	var wg sync.WaitGroup
	results := make([]bool, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, k, err := p.Drift(context.Background(), id('1'), "/tmp/dropped")
			results[i] = d && k && err == nil
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(sc.gate)
	wg.Wait()
	for i, ok := range results {
		if !ok {
			t.Errorf("caller %d did not get drift", i)
		}
	}
	if n := sc.calls.Load(); n != 1 {
		t.Fatalf("%d scans for one image, want 1", n)
	}
	if d, known := p.Peek(id('1'), "/tmp/dropped"); !d || !known {
		t.Fatal("Peek does not answer from the cache")
	}
}

// TestProviderRetry: a failed load is remembered for the retry period,
// then tried again.
func TestProviderRetry(t *testing.T) {
	now := time.Unix(1000, 0)
	sc := &fakeScanner{t: t, docs: map[string]string{id('1'): "debian-exec.json"}, err: errors.New("daemon down")}
	p, err := NewProvider(WithScanner(sc), WithRetry(time.Minute), withClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if _, _, err := p.Drift(ctx, id('1'), "/bin/ls"); err == nil || !strings.Contains(err.Error(), "daemon down") {
			t.Fatalf("got %v", err)
		}
	}
	if n := sc.calls.Load(); n != 1 {
		t.Fatalf("%d scans within the retry period, want 1", n)
	}
	sc.err = nil
	now = now.Add(61 * time.Second)
	if d, k, err := p.Drift(ctx, id('1'), "/bin/ls"); d || !k || err != nil {
		t.Fatalf("after the retry period: drift %v known %v err %v", d, k, err)
	}
	if n := sc.calls.Load(); n != 2 {
		t.Fatalf("%d scans, want 2", n)
	}
}
