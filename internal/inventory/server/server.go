// Package server is the inventory server's HTTP API (/api/v1/, described by
// the embedded OpenAPI document), with health, readiness and Prometheus
// metrics. Every route but /healthz and /readyz needs a bearer token (or,
// for agent routes, a verified client certificate); writes are audit-logged
// in the store.
//
// It imports net/http, prometheus/client_golang and the inventory packages
// (api, store, selector, rematch).
package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/rematch"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
)

//go:embed openapi.json
var openapiDoc []byte

// OpenAPI returns the embedded OpenAPI 3 document.
func OpenAPI() []byte { return openapiDoc }

// Options configure a Server.
type Options struct {
	Store store.Store
	// Engine matches SBOMs against the advisory database; nil when the
	// server has none (then agents' own findings are stored).
	Engine *rematch.Engine
	Logger *slog.Logger
	// Registry receives the metrics (a new one when nil).
	Registry *prometheus.Registry
	// MaxBodyBytes bounds ingest bodies (default api.DefaultMaxBatchBytes);
	// MaxImportBytes advisory uploads (default 1 GiB); other bodies 1 MiB.
	MaxBodyBytes   int64
	MaxImportBytes int64
	Version        string
	// TokenCacheTTL is how long a token lookup is reused (default 10 s).
	TokenCacheTTL time.Duration
	Now           func() time.Time
}

// Route is one registered route.
type Route struct {
	Method  string
	Path    string // Go 1.22 pattern path, e.g. /api/v1/images/{id}
	Access  Access
	handler http.HandlerFunc
}

// Server serves the API.
type Server struct {
	o       Options
	st      store.Store
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []Route
	tokens  *tokenCache
	metrics *metrics
	now     func() time.Time
	agents  *agentCache
	use     tokenUse
}

// tokenUse collects when tokens were used, written to the store at most
// once a minute (and before tokens are listed) instead of on every
// request: with thousands of agents a write per request would compete
// with ingest for SQLite's single writer.
type tokenUse struct {
	mu      sync.Mutex
	m       map[string]time.Time
	flushed time.Time
}

// markUsed notes a token's use at now.
func (s *Server) markUsed(id string, now time.Time) {
	s.use.mu.Lock()
	if s.use.m == nil {
		s.use.m = map[string]time.Time{}
	}
	s.use.m[id] = now
	due := now.Sub(s.use.flushed) >= time.Minute
	if due {
		s.use.flushed = now
	}
	s.use.mu.Unlock()
	if due {
		go s.flushTokenUse(context.WithoutCancel(context.Background()))
	}
}

// flushTokenUse writes the collected uses; on failure they are kept for
// the next flush.
func (s *Server) flushTokenUse(ctx context.Context) {
	s.use.mu.Lock()
	m := s.use.m
	s.use.m = nil
	s.use.mu.Unlock()
	if len(m) == 0 {
		return
	}
	if err := s.st.TouchTokens(ctx, m); err != nil {
		s.log.Warn("recording token use failed", "err", err)
		s.use.mu.Lock()
		for id, t := range m {
			if s.use.m == nil {
				s.use.m = map[string]time.Time{}
			}
			if t.After(s.use.m[id]) {
				s.use.m[id] = t
			}
		}
		s.use.mu.Unlock()
	}
}

// New builds a server.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("server: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = api.DefaultMaxBatchBytes
	}
	if o.MaxImportBytes <= 0 {
		o.MaxImportBytes = 1 << 30
	}
	if o.TokenCacheTTL <= 0 {
		o.TokenCacheTTL = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	s := &Server{o: o, st: o.Store, log: o.Logger, mux: http.NewServeMux(), now: o.Now,
		tokens: &tokenCache{m: map[string]tokenEntry{}, ttl: o.TokenCacheTTL}, agents: &agentCache{m: map[string]string{}}}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.routes = s.routeTable()
	for i := range s.routes {
		rt := &s.routes[i]
		pattern := rt.Method + " " + rt.Path
		s.mux.Handle(pattern, s.instrument(rt.Path, s.guard(rt.Access, rt.handler)))
	}
	// Unknown paths get a JSON 404 (after auth, so that route existence
	// is not probed without a token).
	s.mux.Handle("/", s.guard(Agent, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path, "")
	}))
	return s, nil
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Routes lists the registered routes.
func (s *Server) Routes() []Route { return s.routes }

func (s *Server) routeTable() []Route {
	p := api.Prefix
	return []Route{
		{"GET", "/healthz", Public, s.healthz},
		{"GET", "/readyz", Public, s.readyz},
		{"GET", "/metrics", Admin, promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{}).ServeHTTP},
		{"GET", p + "/openapi.json", Agent, s.openapi},

		{"POST", p + "/ingest", Agent, s.ingest},
		{"POST", p + "/agents/enroll", Agent, s.enroll},
		{"GET", p + "/agents", Admin, s.listAgents},

		{"GET", p + "/images", Admin, s.listImages},
		{"GET", p + "/images/{id}", Agent, s.getImage},
		{"GET", p + "/images/{id}/sbom", Admin, s.imageSBOM},
		{"GET", p + "/images/{id}/packages", Admin, s.imagePackages},
		{"GET", p + "/images/{id}/findings", Admin, s.imageFindings},
		{"GET", p + "/images/{id}/containers", Admin, s.imageContainers},
		{"GET", p + "/images/{id}/posture", Admin, s.imagePosture},
		{"GET", p + "/layers/{diffID}", Admin, s.getLayer},

		{"GET", p + "/containers", Admin, s.listContainers},
		{"GET", p + "/containers/{id}", Admin, s.getContainer},
		{"GET", p + "/containers/{id}/findings", Admin, s.containerFindings},

		{"GET", p + "/hosts", Admin, s.listHosts},
		{"GET", p + "/hosts/{name}", Admin, s.getHost},
		{"GET", p + "/hosts/{name}/containers", Admin, s.hostContainers},
		{"GET", p + "/hosts/{name}/packages", Admin, s.hostPackages},
		{"GET", p + "/hosts/{name}/sbom", Admin, s.hostSBOM},
		{"GET", p + "/hosts/{name}/findings", Admin, s.hostFindings},
		{"GET", p + "/hosts/{name}/posture", Admin, s.hostPosture},

		{"GET", p + "/packages", Admin, s.listPackages},
		{"GET", p + "/vulnerabilities/{id}/impact", Admin, s.impact},

		{"POST", p + "/tokens", Admin, s.createToken},
		{"GET", p + "/tokens", Admin, s.listTokens},
		{"DELETE", p + "/tokens/{id}", Admin, s.revokeToken},
		{"GET", p + "/audit", Admin, s.auditLog},

		{"POST", p + "/db/import", Admin, s.dbImport},
		{"GET", p + "/db/status", Admin, s.dbStatus},
	}
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg, field string) {
	writeJSON(w, code, api.Error{Error: msg, Field: field})
}

// fail maps a store or engine error to a response.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	var fe *api.FieldError
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found", "")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err.Error(), "")
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Msg, fe.Field)
	case errors.Is(err, rematch.ErrFormat):
		writeError(w, http.StatusBadRequest, err.Error(), "body")
	case r.Context().Err() != nil:
		writeError(w, http.StatusServiceUnavailable, "request canceled", "")
	default:
		s.metrics.storeErrors.WithLabelValues(op).Inc()
		s.log.Error("request failed", "op", op, "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error ("+op+")", "")
	}
}

func (s *Server) audit(r *http.Request, action, target, detail string) {
	p := principalOf(r.Context())
	actor := "anonymous"
	if p != nil {
		actor = p.Actor()
	}
	if err := s.st.Audit(r.Context(), api.AuditEntry{Time: s.now(), Actor: actor, Action: action, Target: target, Detail: detail}); err != nil {
		s.metrics.storeErrors.WithLabelValues("audit").Inc()
		s.log.Error("audit log write failed", "action", action, "err", err)
	}
}

// decode reads a bounded JSON body into v.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) (int, string) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", limit)
		case errors.As(err, &ute):
			return http.StatusBadRequest, fmt.Sprintf("field %s: expected %s, got %s", ute.Field, ute.Type, ute.Value)
		}
		return http.StatusBadRequest, "invalid JSON body: " + err.Error()
	}
	return 0, ""
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.o.Version})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.st.Ping(r.Context()); err != nil {
		s.metrics.storeErrors.WithLabelValues("ping").Inc()
		writeError(w, http.StatusServiceUnavailable, "store not reachable", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "store": s.st.Backend()})
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiDoc)
}

// Limits of parameters.
const maxParam = 512

func pathParam(w http.ResponseWriter, r *http.Request, name string, valid func(string) bool, what string) (string, bool) {
	v := r.PathValue(name)
	if v == "" || len(v) > maxParam || (valid != nil && !valid(v)) {
		writeError(w, http.StatusBadRequest, "invalid "+name+": "+what, name)
		return "", false
	}
	return v, true
}

func imageIDParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	return pathParam(w, r, "id", api.ValidImageID, "want sha256:<64 hex>")
}

func boolParam(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

// agentCache remembers which token each agent enrolled with.
type agentCache struct {
	m map[string]string
	// guarded by mu
	mu sync.Mutex
}

func (c *agentCache) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[id]
	return t, ok
}

func (c *agentCache) put(id, tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 200000 {
		clear(c.m)
	}
	c.m[id] = tok
}
