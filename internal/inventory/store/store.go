// Package store keeps the inventory server's model: hosts, containers (kept
// after they exit, until retention), images, layers shared across images,
// packages deduplicated across images and hosts, per-package vulnerability
// findings with first-seen/resolved times, other findings per subject,
// agents, hashed tokens and the audit log.
//
// Two backends share one implementation over database/sql: SQLite
// (modernc.org/sqlite, pure Go, WAL, one file) and PostgreSQL (pgx). Both
// have versioned migrations under migrations/ applied by Open.
//
// It imports the standard library, the two drivers, internal/sbom,
// internal/inventory/api, internal/inventory/selector and
// internal/vuln/version; never the server or the matcher.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/selector"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// ErrNotFound is returned when a looked-up object does not exist.
var ErrNotFound = errors.New("not found")

// Store is what the server needs from storage.
type Store interface {
	// Ingest stores a batch in one transaction (see api.Batch for the
	// idempotence rules). match, when non-nil, is called inside the
	// transaction with the package records new to the store and returns
	// their vulnerability findings (PackageID = Pkg.Key).
	Ingest(ctx context.Context, b *api.Batch, now time.Time, match MatchFunc) (api.IngestResponse, error)

	Enroll(ctx context.Context, tokenID string, r api.EnrollRequest, now time.Time) (api.Agent, error)
	// AgentToken returns the id of the token an agent enrolled with.
	AgentToken(ctx context.Context, agentID string) (string, error)
	Agents(ctx context.Context) ([]api.Agent, error)

	CreateToken(ctx context.Context, t TokenRecord) error
	TokenByHash(ctx context.Context, hash string) (TokenRecord, error)
	Tokens(ctx context.Context) ([]api.Token, error)
	RevokeToken(ctx context.Context, id string, now time.Time) error
	// TouchTokens records when tokens were last used (a later time than
	// the stored one wins).
	TouchTokens(ctx context.Context, used map[string]time.Time) error
	CountTokens(ctx context.Context, kind string) (int, error)

	Audit(ctx context.Context, e api.AuditEntry) error
	AuditLog(ctx context.Context, limit int, before int64) ([]api.AuditEntry, error)

	Host(ctx context.Context, name string) (*api.Host, error)
	Hosts(ctx context.Context, q Query) (*api.HostList, error)
	HostSBOM(ctx context.Context, name string) ([]byte, error)
	Container(ctx context.Context, id string) (*api.Container, error)
	Containers(ctx context.Context, q Query) (*api.ContainerList, error)
	Image(ctx context.Context, id string, withConfig bool) (*api.Image, error)
	Images(ctx context.Context, q Query) (*api.ImageList, error)
	// ImageSBOM returns the stored SBOM as JSON.
	ImageSBOM(ctx context.Context, id string) ([]byte, error)
	ImagePackages(ctx context.Context, id string) (*api.PackageList, error)
	HostPackages(ctx context.Context, name string) (*api.PackageList, error)
	Layer(ctx context.Context, diffID string) (*api.LayerInfo, error)
	Packages(ctx context.Context, q Query) (*api.PackageList, error)
	Findings(ctx context.Context, subjectKind, id string, all bool) (*api.FindingList, error)
	Posture(ctx context.Context, subjectKind, id string) (*api.Posture, error)
	Impact(ctx context.Context, vulnID string, q Query) (*api.Impact, error)

	// AllPackages calls fn with every stored package record.
	AllPackages(ctx context.Context, fn func(Pkg) error) error
	// ApplyMatch replaces the vulnerability findings of the packages that
	// have an entry in found (keyed by package key; a nil entry means "no
	// findings"): findings not stored yet are recorded as new at now, open
	// ones absent from found are resolved at now, changed ones updated.
	// Packages without an entry are left alone. It returns what changed.
	ApplyMatch(ctx context.Context, found map[string][]sbom.Finding, now time.Time) (MatchDiff, error)
	// PackageUsers lists up to limit images and hosts holding a package.
	PackageUsers(ctx context.Context, pkey string, limit int) (images, hosts []string, err error)
	// PruneContainers deletes containers destroyed before cutoff.
	PruneContainers(ctx context.Context, cutoff time.Time) (int, error)
	// Optimize refreshes the query planner's statistics.
	Optimize(ctx context.Context) error

	Ping(ctx context.Context) error
	Close() error
	// Backend is "sqlite" or "postgres".
	Backend() string
}

// MatchFunc matches package records; see Store.Ingest.
type MatchFunc func(pkgs []Pkg) (map[string][]sbom.Finding, error)

// Pkg is a stored package record: the fields matching depends on.
type Pkg struct {
	Key           string
	Type          sbom.Type
	Name          string
	Version       string
	PURL          string
	Distro        string // "id:versionID" for OS packages
	SourceName    string
	SourceVersion string
	Arch          string
	Group         string // Maven groupId
	Owned         bool   // installed by an OS package
}

// MatchDiff says what ApplyMatch changed.
type MatchDiff struct {
	New      []sbom.Finding // PackageID is the package key
	Resolved []sbom.Finding
	Open     int
}

// TokenRecord is a stored token: the secret itself is never stored, only
// the hex SHA-256 of it.
type TokenRecord struct {
	ID        string
	Kind      string
	Name      string
	Hash      string
	AgentID   string
	Created   time.Time
	CreatedBy string
	Revoked   *time.Time
}

// Query is a parsed api.Filter.
type Query struct {
	api.Filter
	Selector selector.Selector
	// VersionMatch, when set, keeps only packages whose version it accepts
	// (the Filter.Version range in the package's ecosystem).
	VersionMatch func(p Pkg) bool
}

// Limits of queries.
const (
	DefaultLimit = 100
	MaxLimit     = 5000
)

func (q *Query) limit() int {
	switch {
	case q.Limit <= 0:
		return DefaultLimit
	case q.Limit > MaxLimit:
		return MaxLimit
	}
	return q.Limit
}
