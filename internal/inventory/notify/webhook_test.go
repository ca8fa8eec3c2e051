package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func TestWebhookSignsAndRetries(t *testing.T) {
	secret := []byte("s3cret")
	var mu sync.Mutex
	var got []api.Event
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // first attempt fails
			return
		}
		if !Verify(secret, body, r.Header.Get(api.SignatureHeader)) {
			t.Errorf("bad signature %q", r.Header.Get(api.SignatureHeader))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev api.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Error(err)
		}
		got = append(got, ev)
	}))
	defer srv.Close()
	results := make(chan error, 2)
	w := New(Options{URL: srv.URL, Secret: secret, Backoff: 10 * time.Millisecond, OnResult: func(_ api.Event, err error) { results <- err }})
	w.Send(api.Event{ID: "1", Type: api.EventFindingNew, Finding: sbom.Finding{ID: "CVE-1"}},
		api.Event{ID: "2", Type: api.EventFindingResolved, Finding: sbom.Finding{ID: "CVE-2"}})
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Finding.ID != "CVE-1" || got[1].Type != api.EventFindingResolved || calls != 3 {
		t.Fatalf("got %+v after %d calls", got, calls)
	}
	if Verify([]byte("other"), []byte("x"), Sign(secret, []byte("x"))) {
		t.Fatal("wrong secret verified")
	}
}

func TestWebhookGivesUpOn4xx(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	res := make(chan error, 1)
	w := New(Options{URL: srv.URL, Backoff: time.Millisecond, OnResult: func(_ api.Event, err error) { res <- err }})
	w.Send(api.Event{ID: "1"})
	if err := <-res; err == nil || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	w.Close(context.Background())
	if w.Send(api.Event{ID: "2"}) != 1 || w.Dropped() != 1 {
		t.Fatal("send after close not counted as dropped")
	}
}
