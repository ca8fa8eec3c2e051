package rematch_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/rematch"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
	"github.com/bulkhead-sec/bulkhead/internal/vuln/advisory"
	vstore "github.com/bulkhead-sec/bulkhead/internal/vuln/store"
)

func adv(id, pkg, fixed string) advisory.Advisory {
	return advisory.Advisory{ID: id, Modified: time.Unix(1, 0), Affected: []advisory.Affected{{Ecosystem: "npm", Package: pkg,
		Ranges: []advisory.Range{{Type: "SEMVER", Events: []advisory.Event{{Introduced: "0"}, {Fixed: fixed}}}}}}}
}

func writeDB(t *testing.T, path string, advs ...advisory.Advisory) {
	tmp := path + ".new"
	os.Remove(tmp)
	db, err := vstore.Open(tmp, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Import("test", "test", advs); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestWatchRematchesOnFileChange replaces the database file (as `bulkhead
// db update` does) and expects the watcher to record the new finding, then
// a resolved one when the advisory disappears.
func TestWatchRematchesOnFileChange(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "inv.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dbPath := filepath.Join(t.TempDir(), "vuln.db")
	writeDB(t, dbPath, adv("GHSA-1", "left-pad", "1.3.0"))
	var mu sync.Mutex
	var events []api.Event
	eng, err := rematch.New(st, rematch.Options{DBPath: dbPath, Notify: func(evs []api.Event) {
		mu.Lock()
		events = append(events, evs...)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	p := sbom.Package{Name: "lodash", Version: "4.17.20", Type: sbom.TypeNPM}
	sbom.AssignID(&p)
	img := &api.Image{ID: "sha256:" + fmtHex(1), SBOM: &sbom.SBOM{Packages: []sbom.Package{p}}}
	b := &api.Batch{AgentID: "a", Stream: "s", Host: "h", Items: []api.Item{{Seq: 1, Type: api.ItemImage, Image: img}}}
	if _, err := st.Ingest(ctx, b, time.Now(), eng.MatchFunc()); err != nil {
		t.Fatal(err)
	}
	go eng.Watch(ctx, 20*time.Millisecond)
	wait := func(what string, cond func(*api.FindingList) bool) {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			fl, err := st.Findings(ctx, api.SubjectImage, img.ID, true)
			if err != nil {
				t.Fatal(err)
			}
			if cond(fl) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	time.Sleep(50 * time.Millisecond)
	writeDB(t, dbPath, adv("GHSA-1", "left-pad", "1.3.0"), adv("GHSA-2", "lodash", "4.17.21"))
	wait("the new finding", func(fl *api.FindingList) bool { return fl.Total == 1 && fl.Items[0].Resolved == nil })
	time.Sleep(50 * time.Millisecond)
	writeDB(t, dbPath, adv("GHSA-1", "left-pad", "1.3.0"))
	wait("the resolved finding", func(fl *api.FindingList) bool { return fl.Total == 1 && fl.Items[0].Resolved != nil })
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0].Type != api.EventFindingNew || events[1].Type != api.EventFindingResolved || events[0].Images[0] != img.ID {
		t.Fatalf("events %+v", events)
	}
	if st := eng.Status(); !st.Loaded || st.LastRematch == nil || st.Checked == nil {
		t.Fatalf("status %+v", st)
	}
}

func fmtHex(n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 64)
	for i := range b {
		b[i] = '0'
	}
	b[63] = hex[n%16]
	return string(b)
}
