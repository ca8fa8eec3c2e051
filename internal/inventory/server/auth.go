package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/store"
)

// Access levels of routes.
type Access int

// Access levels.
const (
	Public Access = iota // no token (health only)
	Agent                // agent or admin tokens, or a verified client certificate
	Admin                // admin tokens only
)

func (a Access) String() string {
	return [...]string{"public", "agent", "admin"}[a]
}

// TokenPrefix starts every token Bulkhead issues (so secret scanners can
// recognise them).
const TokenPrefix = "bh_"

// NewToken returns a new random 256-bit token and its stored hash.
func NewToken() (secret, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashToken(secret)
}

// HashToken is how tokens are stored: hex SHA-256 of the secret.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SeedAdminToken stores secret (BULKHEAD_ADMIN_TOKEN) as an admin token
// named "bootstrap" unless it is stored already. The secret is never logged.
func SeedAdminToken(ctx context.Context, st store.Store, secret string, now time.Time) (created bool, err error) {
	if len(secret) < 16 {
		return false, errors.New("BULKHEAD_ADMIN_TOKEN must be at least 16 characters")
	}
	h := HashToken(secret)
	if _, err := st.TokenByHash(ctx, h); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	err = st.CreateToken(ctx, store.TokenRecord{ID: newID(), Kind: api.TokenAdmin, Name: "bootstrap", Hash: h, Created: now, CreatedBy: "env:BULKHEAD_ADMIN_TOKEN"})
	if err != nil {
		return false, err
	}
	return true, st.Audit(ctx, api.AuditEntry{Time: now, Actor: "env:BULKHEAD_ADMIN_TOKEN", Action: "token.seed", Target: "bootstrap"})
}

// Principal is who is calling.
type Principal struct {
	Kind    string // admin or agent
	Name    string
	TokenID string
	// CertCN is set when a verified client certificate authenticated the
	// caller (an agent); its agent id is the CN.
	CertCN string
}

// Actor names the principal in the audit log.
func (p *Principal) Actor() string {
	if p.CertCN != "" {
		return "cert:" + p.CertCN
	}
	return "token:" + p.Name + "#" + p.TokenID
}

type ctxKey struct{}

func principalOf(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// tokenCache keeps recent token lookups for a short time so that agents
// pushing often do not cost a store read per request. Revocation through
// this server clears it at once; through another server it takes effect
// within the TTL.
type tokenCache struct {
	mu  sync.Mutex
	m   map[string]tokenEntry
	ttl time.Duration
}

type tokenEntry struct {
	rec     store.TokenRecord
	ok      bool
	expires time.Time
}

func (c *tokenCache) get(h string, now time.Time) (tokenEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	if !ok || now.After(e.expires) {
		return tokenEntry{}, false
	}
	return e, true
}

func (c *tokenCache) put(h string, e tokenEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 100000 {
		clear(c.m)
	}
	c.m[h] = e
}

func (c *tokenCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// authenticate resolves the request's principal, or an error status.
func (s *Server) authenticate(r *http.Request) (*Principal, int, string) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
			if api.ValidName(cn) {
				return &Principal{Kind: api.TokenAgent, Name: cn, CertCN: cn}, 0, ""
			}
			return nil, http.StatusUnauthorized, "client certificate common name is not a valid agent id"
		}
		return nil, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer TOKEN)"
	}
	scheme, secret, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" || len(secret) > 512 {
		return nil, http.StatusUnauthorized, "malformed Authorization header: want Bearer TOKEN"
	}
	h := HashToken(strings.TrimSpace(secret))
	now := s.now()
	e, hit := s.tokens.get(h, now)
	if !hit {
		rec, err := s.st.TokenByHash(r.Context(), h)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e = tokenEntry{ok: false}
		case err != nil:
			s.metrics.storeErrors.WithLabelValues("token").Inc()
			return nil, http.StatusServiceUnavailable, "token store unavailable"
		default:
			e = tokenEntry{rec: rec, ok: true}
		}
		e.expires = now.Add(s.tokens.ttl)
		s.tokens.put(h, e)
	}
	// The lookup is by hash; compare the whole hash in constant time too.
	if !e.ok || subtle.ConstantTimeCompare([]byte(e.rec.Hash), []byte(h)) != 1 {
		return nil, http.StatusUnauthorized, "invalid token"
	}
	if e.rec.Revoked != nil {
		return nil, http.StatusUnauthorized, "token revoked"
	}
	s.markUsed(e.rec.ID, now)
	return &Principal{Kind: e.rec.Kind, Name: e.rec.Name, TokenID: e.rec.ID}, 0, ""
}

// guard wraps a handler with the route's access check.
func (s *Server) guard(a Access, h http.HandlerFunc) http.HandlerFunc {
	if a == Public {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		p, code, msg := s.authenticate(r)
		if p == nil {
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="bulkhead"`)
			}
			writeError(w, code, msg, "")
			return
		}
		if a == Admin && p.Kind != api.TokenAdmin {
			writeError(w, http.StatusForbidden, "this route needs an admin token", "")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	}
}
