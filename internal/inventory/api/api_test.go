package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const cid = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const iid = "sha256:" + cid

func TestBatchValidate(t *testing.T) {
	ok := func() Batch {
		return Batch{AgentID: "a1", Stream: "s1", Host: "h1", Items: []Item{
			{Seq: 1, Type: ItemContainer, Container: &Container{ID: cid, ImageID: iid, State: StateRunning}},
			{Seq: 2, Type: ItemImage, Image: &Image{ID: iid}},
		}}
	}
	tests := []struct {
		name  string
		edit  func(*Batch)
		field string
	}{
		{"valid", func(*Batch) {}, ""},
		{"no agent", func(b *Batch) { b.AgentID = "" }, "agentID"},
		{"bad stream", func(b *Batch) { b.Stream = "a b" }, "stream"},
		{"zero seq", func(b *Batch) { b.Items[0].Seq = 0 }, "items[0].seq"},
		{"seq not increasing", func(b *Batch) { b.Items[1].Seq = 1 }, "items[1].seq"},
		{"bad container id", func(b *Batch) { b.Items[0].Container.ID = "abc" }, "items[0].container.id"},
		{"bad state", func(b *Batch) { b.Items[0].Container.State = "zombie" }, "items[0].container.state"},
		{"bad image id", func(b *Batch) { b.Items[1].Image.ID = "sha256:xyz" }, "items[1].image.id"},
		{"two payloads", func(b *Batch) { b.Items[1].Host = &Host{Name: "h"} }, "items[1]"},
		{"unknown type", func(b *Batch) { b.Items[1].Type = "x" }, "items[1].type"},
		{"no host", func(b *Batch) { b.Host = "" }, "items[0].container.host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ok()
			tt.edit(&b)
			err := b.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("got %v, want error on field %s", err, tt.field)
			}
		})
	}
}

func TestClientIngestAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(Error{Error: "bad token"})
			return
		}
		switch r.URL.Path {
		case "/api/v1/ingest":
			var b Batch
			json.NewDecoder(r.Body).Decode(&b)
			json.NewEncoder(w).Encode(IngestResponse{AckSeq: b.Items[len(b.Items)-1].Seq, Accepted: len(b.Items)})
		case "/api/v1/images/" + iid:
			w.Write([]byte(`{"id":"` + iid + `"}`))
		default:
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(Error{Error: "not found"})
		}
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL+"/api/v1/", "tok")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := c.Ingest(ctx, Batch{AgentID: "a", Stream: "s", Items: []Item{{Seq: 7}}})
	if err != nil || r.AckSeq != 7 || r.Accepted != 1 {
		t.Fatalf("ingest: %+v %v", r, err)
	}
	if has, err := c.HasImage(ctx, iid); err != nil || !has {
		t.Fatalf("HasImage(stored) = %v, %v", has, err)
	}
	if has, err := c.HasImage(ctx, "sha256:"+strings.Repeat("f", 64)); err != nil || has {
		t.Fatalf("HasImage(missing) = %v, %v", has, err)
	}
	bad, _ := NewClient(srv.URL, "nope")
	_, err = bad.Ingest(ctx, Batch{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 401 || se.Message != "bad token" || Retryable(err) {
		t.Fatalf("bad token: %v", err)
	}
	if !Retryable(&StatusError{Code: 503}) || !Retryable(errors.New("connection refused")) {
		t.Fatal("5xx and network errors must be retryable")
	}
	if _, err := NewClient("ftp://x", ""); err == nil {
		t.Fatal("ftp URL accepted")
	}
}
