package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/rematch"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/selector"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// smallBody bounds non-ingest request bodies.
const smallBody = 1 << 20

func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	var b api.Batch
	if code, msg := decode(w, r, s.o.MaxBodyBytes, &b); code != 0 {
		writeError(w, code, msg, "")
		return
	}
	if err := b.Validate(); err != nil {
		s.fail(w, r, "ingest", err)
		return
	}
	p := principalOf(r.Context())
	if code, msg := s.checkAgent(r, p, b.AgentID); code != 0 {
		writeError(w, code, msg, "agentID")
		return
	}
	var match store.MatchFunc
	if s.o.Engine != nil {
		match = s.o.Engine.MatchFunc()
	}
	resp, err := s.st.Ingest(r.Context(), &b, s.now(), match)
	if err != nil {
		s.fail(w, r, "ingest", err)
		return
	}
	s.metrics.batches.Inc()
	s.metrics.duplicates.Add(float64(resp.Duplicates))
	counts := map[string]int{}
	for _, it := range b.Items {
		counts[it.Type]++
	}
	if resp.Accepted > 0 {
		for t, n := range counts {
			s.metrics.items.WithLabelValues(t).Add(float64(n))
		}
		s.audit(r, "ingest", b.AgentID, fmt.Sprintf("stream %s: %d items stored, %d duplicates, ack %d", b.Stream, resp.Accepted, resp.Duplicates, resp.AckSeq))
	}
	writeJSON(w, http.StatusOK, resp)
}

// checkAgent makes sure an agent writes only as itself: an agent token
// must be the one the agent enrolled with; a certificate's CN must be the
// agent id. Admin tokens may write as any agent.
func (s *Server) checkAgent(r *http.Request, p *Principal, agentID string) (int, string) {
	if p.Kind == api.TokenAdmin {
		return 0, ""
	}
	if p.CertCN != "" {
		if p.CertCN != agentID {
			return http.StatusForbidden, "client certificate is for agent " + p.CertCN
		}
		return 0, ""
	}
	tok, ok := s.agents.get(agentID)
	if !ok {
		t, err := s.st.AgentToken(r.Context(), agentID)
		if errors.Is(err, store.ErrNotFound) {
			return http.StatusForbidden, "agent " + agentID + " is not enrolled: POST " + api.Prefix + "/agents/enroll first"
		}
		if err != nil {
			return http.StatusServiceUnavailable, "store unavailable"
		}
		tok = t
		s.agents.put(agentID, tok)
	}
	if tok != p.TokenID {
		return http.StatusForbidden, "agent " + agentID + " is enrolled with another token"
	}
	return 0, ""
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var req api.EnrollRequest
	if code, msg := decode(w, r, smallBody, &req); code != 0 {
		writeError(w, code, msg, "")
		return
	}
	if !api.ValidName(req.Hostname) {
		writeError(w, http.StatusBadRequest, "must be 1-128 characters of [A-Za-z0-9._:@/-]", "hostname")
		return
	}
	if req.AgentID != "" && !api.ValidName(req.AgentID) {
		writeError(w, http.StatusBadRequest, "must be 1-128 characters of [A-Za-z0-9._:@/-]", "agentID")
		return
	}
	if len(req.Version) > 128 {
		writeError(w, http.StatusBadRequest, "longer than 128 bytes", "version")
		return
	}
	p := principalOf(r.Context())
	if p.CertCN != "" {
		if req.AgentID == "" {
			req.AgentID = p.CertCN
		}
		if req.AgentID != p.CertCN {
			writeError(w, http.StatusForbidden, "client certificate is for agent "+p.CertCN, "agentID")
			return
		}
	}
	a, err := s.st.Enroll(r.Context(), p.TokenID, req, s.now())
	if err != nil {
		s.fail(w, r, "enroll", err)
		return
	}
	s.agents.put(a.ID, p.TokenID)
	s.audit(r, "agent.enroll", a.ID, "host "+req.Hostname+" version "+req.Version)
	writeJSON(w, http.StatusOK, api.EnrollResponse{AgentID: a.ID, ServerVersion: s.o.Version, MaxBatchBytes: s.o.MaxBodyBytes,
		HasAdvisoryDB: s.o.Engine != nil && s.o.Engine.Loaded()})
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	a, err := s.st.Agents(r.Context())
	if err != nil {
		s.fail(w, r, "agents", err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// parseQuery turns URL parameters into a store query, naming the
// offending parameter on error.
func parseQuery(r *http.Request) (store.Query, *api.FieldError) {
	v := r.URL.Query()
	var q store.Query
	for _, p := range []struct {
		name string
		dst  *string
	}{{"selector", &q.Filter.Selector}, {"image", &q.Image}, {"tag", &q.Tag}, {"host", &q.Host}, {"state", &q.State},
		{"package", &q.Package}, {"name", &q.Package}, {"version", &q.Version}, {"severity", &q.Severity}} {
		if x := v.Get(p.name); x != "" {
			if len(x) > maxParam && p.name != "selector" {
				return q, &api.FieldError{Field: p.name, Msg: fmt.Sprintf("longer than %d bytes", maxParam)}
			}
			*p.dst = x
		}
	}
	if q.Filter.Selector != "" {
		sel, err := selector.Parse(q.Filter.Selector)
		if err != nil {
			return q, &api.FieldError{Field: "selector", Msg: err.Error()}
		}
		q.Selector = sel
	}
	if q.State != "" && q.State != "active" && q.State != "all" && !slices.Contains(api.ContainerStates, q.State) {
		return q, &api.FieldError{Field: "state", Msg: fmt.Sprintf("%q is not one of %s, active, all", q.State, strings.Join(api.ContainerStates, ", "))}
	}
	if q.Severity != "" {
		q.Severity = strings.ToLower(q.Severity)
		if sbom.SeverityRank(q.Severity) < 1 {
			return q, &api.FieldError{Field: "severity", Msg: "want critical, high, medium or low"}
		}
	}
	if q.Version != "" {
		if q.Package == "" {
			return q, &api.FieldError{Field: "version", Msg: "needs package"}
		}
		vm, err := store.ParseVersionRange(q.Version)
		if err != nil {
			return q, &api.FieldError{Field: "version", Msg: err.Error()}
		}
		q.VersionMatch = vm
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		x := v.Get(p.name)
		if x == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			d, derr := time.ParseDuration(x)
			if derr != nil || d < 0 {
				return q, &api.FieldError{Field: p.name, Msg: "want an RFC 3339 time or a duration before now (24h)"}
			}
			t = time.Now().Add(-d)
		}
		*p.dst = t
	}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"limit", &q.Limit, store.MaxLimit}, {"offset", &q.Offset, 1 << 30}} {
		x := v.Get(p.name)
		if x == "" {
			continue
		}
		n, err := strconv.Atoi(x)
		if err != nil || n < 0 || n > p.max {
			return q, &api.FieldError{Field: p.name, Msg: fmt.Sprintf("want an integer in [0, %d]", p.max)}
		}
		*p.dst = n
	}
	return q, nil
}

// query parses the request's filters, answering 400 on error.
func (s *Server) query(w http.ResponseWriter, r *http.Request) (store.Query, bool) {
	q, fe := parseQuery(r)
	if fe != nil {
		writeError(w, http.StatusBadRequest, fe.Msg, fe.Field)
		return q, false
	}
	return q, true
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	q, ok := s.query(w, r)
	if !ok {
		return
	}
	l, err := s.st.Images(r.Context(), q)
	if err != nil {
		s.fail(w, r, "images", err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) getImage(w http.ResponseWriter, r *http.Request) {
	id, ok := imageIDParam(w, r)
	if !ok {
		return
	}
	// Agents only learn whether the server has the image's SBOM (404
	// when it has none, so that the agent scans it).
	p := principalOf(r.Context())
	if p.Kind != api.TokenAdmin || r.URL.Query().Get("fields") == "id" {
		im, err := s.st.Image(r.Context(), id, false)
		if err != nil {
			s.fail(w, r, "image", err)
			return
		}
		if !im.HasSBOM {
			writeError(w, http.StatusNotFound, "image known but its SBOM is not stored", "")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": id})
		return
	}
	im, err := s.st.Image(r.Context(), id, true)
	if err != nil {
		s.fail(w, r, "image", err)
		return
	}
	writeJSON(w, http.StatusOK, im)
}

func (s *Server) rawJSON(w http.ResponseWriter, r *http.Request, op string, get func() ([]byte, error)) {
	b, err := get()
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *Server) imageSBOM(w http.ResponseWriter, r *http.Request) {
	if id, ok := imageIDParam(w, r); ok {
		s.rawJSON(w, r, "image.sbom", func() ([]byte, error) { return s.st.ImageSBOM(r.Context(), id) })
	}
}

func (s *Server) imagePackages(w http.ResponseWriter, r *http.Request) {
	if id, ok := imageIDParam(w, r); ok {
		respond(s, w, r, "image.packages", func() (*api.PackageList, error) { return s.st.ImagePackages(r.Context(), id) })
	}
}

func (s *Server) imageFindings(w http.ResponseWriter, r *http.Request) {
	if id, ok := imageIDParam(w, r); ok {
		respond(s, w, r, "image.findings", func() (*api.FindingList, error) {
			return s.st.Findings(r.Context(), api.SubjectImage, id, boolParam(r, "all"))
		})
	}
}

func (s *Server) imageContainers(w http.ResponseWriter, r *http.Request) {
	id, ok := imageIDParam(w, r)
	if !ok {
		return
	}
	q, ok := s.query(w, r)
	if !ok {
		return
	}
	if _, err := s.st.Image(r.Context(), id, false); err != nil {
		s.fail(w, r, "image", err)
		return
	}
	q.Image = id
	respond(s, w, r, "image.containers", func() (*api.ContainerList, error) { return s.st.Containers(r.Context(), q) })
}

func (s *Server) imagePosture(w http.ResponseWriter, r *http.Request) {
	if id, ok := imageIDParam(w, r); ok {
		respond(s, w, r, "image.posture", func() (*api.Posture, error) { return s.st.Posture(r.Context(), api.SubjectImage, id) })
	}
}

func (s *Server) getLayer(w http.ResponseWriter, r *http.Request) {
	if id, ok := pathParam(w, r, "diffID", api.ValidImageID, "want sha256:<64 hex>"); ok {
		respond(s, w, r, "layer", func() (*api.LayerInfo, error) { return s.st.Layer(r.Context(), id) })
	}
}

func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) {
	if q, ok := s.query(w, r); ok {
		respond(s, w, r, "containers", func() (*api.ContainerList, error) { return s.st.Containers(r.Context(), q) })
	}
}

func (s *Server) getContainer(w http.ResponseWriter, r *http.Request) {
	if id, ok := pathParam(w, r, "id", api.ValidContainerID, "want 64 hex digits"); ok {
		respond(s, w, r, "container", func() (*api.Container, error) { return s.st.Container(r.Context(), id) })
	}
}

func (s *Server) containerFindings(w http.ResponseWriter, r *http.Request) {
	if id, ok := pathParam(w, r, "id", api.ValidContainerID, "want 64 hex digits"); ok {
		respond(s, w, r, "container.findings", func() (*api.FindingList, error) {
			return s.st.Findings(r.Context(), api.SubjectContainer, id, boolParam(r, "all"))
		})
	}
}

func hostParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	return pathParam(w, r, "name", api.ValidName, "want 1-128 characters of [A-Za-z0-9._:@/-]")
}

func (s *Server) listHosts(w http.ResponseWriter, r *http.Request) {
	if q, ok := s.query(w, r); ok {
		respond(s, w, r, "hosts", func() (*api.HostList, error) { return s.st.Hosts(r.Context(), q) })
	}
}

func (s *Server) getHost(w http.ResponseWriter, r *http.Request) {
	if name, ok := hostParam(w, r); ok {
		respond(s, w, r, "host", func() (*api.Host, error) { return s.st.Host(r.Context(), name) })
	}
}

func (s *Server) hostContainers(w http.ResponseWriter, r *http.Request) {
	name, ok := hostParam(w, r)
	if !ok {
		return
	}
	q, ok := s.query(w, r)
	if !ok {
		return
	}
	if _, err := s.st.Host(r.Context(), name); err != nil {
		s.fail(w, r, "host", err)
		return
	}
	q.Host = name
	respond(s, w, r, "host.containers", func() (*api.ContainerList, error) { return s.st.Containers(r.Context(), q) })
}

func (s *Server) hostPackages(w http.ResponseWriter, r *http.Request) {
	if name, ok := hostParam(w, r); ok {
		respond(s, w, r, "host.packages", func() (*api.PackageList, error) { return s.st.HostPackages(r.Context(), name) })
	}
}

func (s *Server) hostSBOM(w http.ResponseWriter, r *http.Request) {
	if name, ok := hostParam(w, r); ok {
		s.rawJSON(w, r, "host.sbom", func() ([]byte, error) { return s.st.HostSBOM(r.Context(), name) })
	}
}

func (s *Server) hostFindings(w http.ResponseWriter, r *http.Request) {
	if name, ok := hostParam(w, r); ok {
		respond(s, w, r, "host.findings", func() (*api.FindingList, error) {
			return s.st.Findings(r.Context(), api.SubjectHost, name, boolParam(r, "all"))
		})
	}
}

func (s *Server) hostPosture(w http.ResponseWriter, r *http.Request) {
	if name, ok := hostParam(w, r); ok {
		respond(s, w, r, "host.posture", func() (*api.Posture, error) { return s.st.Posture(r.Context(), api.SubjectHost, name) })
	}
}

func (s *Server) listPackages(w http.ResponseWriter, r *http.Request) {
	q, ok := s.query(w, r)
	if !ok {
		return
	}
	if q.Package == "" {
		writeError(w, http.StatusBadRequest, "required: the package name", "name")
		return
	}
	respond(s, w, r, "packages", func() (*api.PackageList, error) { return s.st.Packages(r.Context(), q) })
}

func (s *Server) impact(w http.ResponseWriter, r *http.Request) {
	id, ok := pathParam(w, r, "id", func(v string) bool { return len(v) <= 256 && !strings.ContainsAny(v, " \t\n/") }, "want a vulnerability id (CVE-…, GHSA-…)")
	if !ok {
		return
	}
	if q, ok := s.query(w, r); ok {
		respond(s, w, r, "impact", func() (*api.Impact, error) { return s.st.Impact(r.Context(), id, q) })
	}
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req api.TokenRequest
	if code, msg := decode(w, r, smallBody, &req); code != 0 {
		writeError(w, code, msg, "")
		return
	}
	if req.Kind != api.TokenAdmin && req.Kind != api.TokenAgent {
		writeError(w, http.StatusBadRequest, "want admin or agent", "kind")
		return
	}
	if !api.ValidName(req.Name) {
		writeError(w, http.StatusBadRequest, "must be 1-128 characters of [A-Za-z0-9._:@/-]", "name")
		return
	}
	secret, hash := NewToken()
	p := principalOf(r.Context())
	rec := store.TokenRecord{ID: newID(), Kind: req.Kind, Name: req.Name, Hash: hash, Created: s.now().UTC(), CreatedBy: p.Actor()}
	if err := s.st.CreateToken(r.Context(), rec); err != nil {
		s.fail(w, r, "token.create", err)
		return
	}
	s.audit(r, "token.create", rec.ID, req.Kind+" token "+req.Name)
	writeJSON(w, http.StatusCreated, api.Token{ID: rec.ID, Kind: rec.Kind, Name: rec.Name, Created: rec.Created, CreatedBy: rec.CreatedBy, Secret: secret})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	s.flushTokenUse(r.Context())
	t, err := s.st.Tokens(r.Context())
	if err != nil {
		s.fail(w, r, "tokens", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, ok := pathParam(w, r, "id", api.ValidName, "want a token id")
	if !ok {
		return
	}
	if err := s.st.RevokeToken(r.Context(), id, s.now()); err != nil {
		s.fail(w, r, "token.revoke", err)
		return
	}
	s.tokens.clear()
	s.audit(r, "token.revoke", id, "")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	limit, before := 0, int64(0)
	if x := r.URL.Query().Get("limit"); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 || n > store.MaxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("want an integer in [1, %d]", store.MaxLimit), "limit")
			return
		}
		limit = n
	}
	if x := r.URL.Query().Get("before"); x != "" {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "want an audit entry id", "before")
			return
		}
		before = n
	}
	l, err := s.st.AuditLog(r.Context(), limit, before)
	if err != nil {
		s.fail(w, r, "audit", err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) dbImport(w http.ResponseWriter, r *http.Request) {
	if s.o.Engine == nil {
		writeError(w, http.StatusConflict, "the server runs without an advisory database (--db)", "")
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" && !slices.Contains(rematchFormats(), format) {
		writeError(w, http.StatusBadRequest, "want one of "+strings.Join(rematchFormats(), ", "), "format")
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.o.MaxImportBytes)
	start := time.Now()
	resp, err := s.o.Engine.Import(r.Context(), format, body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("upload larger than %d bytes", s.o.MaxImportBytes), "body")
			return
		}
		s.fail(w, r, "db.import", err)
		return
	}
	if resp.Rematch != nil {
		s.metrics.rematch.Observe(time.Since(start).Seconds())
		s.metrics.findings.WithLabelValues("new").Add(float64(resp.Rematch.New))
		s.metrics.findings.WithLabelValues("resolved").Add(float64(resp.Rematch.Resolved))
	}
	s.audit(r, "db.import", resp.Format, fmt.Sprintf("source %s: %d added, %d updated", resp.Source, resp.Added, resp.Updated))
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) dbStatus(w http.ResponseWriter, r *http.Request) {
	if s.o.Engine == nil {
		writeJSON(w, http.StatusOK, api.DBStatus{})
		return
	}
	writeJSON(w, http.StatusOK, s.o.Engine.Status())
}

// respond writes get's result or its error.
func respond[T any](s *Server, w http.ResponseWriter, r *http.Request, op string, get func() (T, error)) {
	v, err := get()
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func rematchFormats() []string { return rematch.Formats }
