// Package api is the contract between Bulkhead's inventory server and
// everything that talks to it: the node agent (`bulkhead agent`), the query
// CLI (`bulkhead query`), load generators and third-party clients.
//
// It holds the JSON wire types of the REST API under /api/v1/ and a small Go
// client for it. The server (internal/inventory/server) decodes exactly these
// types; the OpenAPI document served at /api/v1/openapi.json describes the
// same shapes. Changing a field's meaning is a breaking change: add fields,
// never repurpose them.
//
// # Ingest
//
// Agents push observations with POST /api/v1/ingest as a [Batch] of [Item]s.
// Delivery is at-least-once: every item carries a sequence number that is
// strictly increasing per (AgentID, Stream). The server stores a batch in one
// transaction and answers with [IngestResponse].AckSeq, the highest sequence
// number it has durably stored for that stream; the agent may then drop
// every queued item with Seq <= AckSeq. Items with Seq <= the stored
// high-water mark are skipped as duplicates, and every write is keyed by its
// natural key (host name, container id, image id, finding key), so re-sending
// the same observation is harmless even across streams.
//
// Container observations are snapshots: lifecycle timestamps are never
// cleared by a later snapshot that lacks them, and the state of the snapshot
// with the latest ObservedAt wins, so out-of-order delivery converges.
//
// # Authentication
//
// Every route except /healthz, /readyz and /metrics needs
// "Authorization: Bearer TOKEN". Admin tokens (people) may use every route;
// agent tokens may only enroll, ingest, and read images (to skip images the
// server already has). Errors are JSON [Error] bodies.
//
// This package imports the standard library and internal/sbom only.
package api

import (
	"encoding/json"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Version is the API version in the URL prefix.
const Version = "v1"

// Prefix is the path every API route starts with.
const Prefix = "/api/v1"

// Host is one node running an agent.
type Host struct {
	// Name is the host's name as the agent reports it (unique key).
	Name         string            `json:"name"`
	OS           string            `json:"os,omitempty"`     // e.g. "Debian GNU/Linux 12 (bookworm)"
	Kernel       string            `json:"kernel,omitempty"` // uname -r
	Arch         string            `json:"arch,omitempty"`
	AgentID      string            `json:"agentID,omitempty"`
	AgentVersion string            `json:"agentVersion,omitempty"`
	Engine       string            `json:"engine,omitempty"` // container engine and version, e.g. "docker 20.10.24"
	Labels       map[string]string `json:"labels,omitempty"`
	// Set by the server.
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
	// Scanned is when the host's own root filesystem SBOM was last stored.
	Scanned *time.Time `json:"scanned,omitempty"`
}

// Container states, as Docker names them, plus "destroyed" once the
// container has been removed (its record is kept until retention expires).
const (
	StateCreated    = "created"
	StateRunning    = "running"
	StatePaused     = "paused"
	StateRestarting = "restarting"
	StateExited     = "exited"
	StateDead       = "dead"
	StateRemoving   = "removing"
	StateDestroyed  = "destroyed"
)

// ContainerStates lists the valid Container.State values.
var ContainerStates = []string{StateCreated, StateRunning, StatePaused, StateRestarting, StateExited, StateDead, StateRemoving, StateDestroyed}

// Mount is one mount of a container.
type Mount struct {
	Type        string `json:"type"` // bind, volume, tmpfs, npipe
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination"`
	RW          bool   `json:"rw"`
}

// Network is one network a container is attached to.
type Network struct {
	Name string `json:"name"`
	IP   string `json:"ip,omitempty"`
	IPv6 string `json:"ipv6,omitempty"`
	MAC  string `json:"mac,omitempty"`
}

// Port is one published or exposed port.
type Port struct {
	ContainerPort uint16 `json:"containerPort"`
	Protocol      string `json:"protocol"` // tcp, udp, sctp
	HostIP        string `json:"hostIP,omitempty"`
	HostPort      uint16 `json:"hostPort,omitempty"`
}

// Container is one container on one host, kept after it exits and after it
// is destroyed until the server's retention expires.
type Container struct {
	// ID is the full 64-hex container id (unique key).
	ID   string `json:"id"`
	Name string `json:"name"` // without the leading "/"
	Host string `json:"host"`
	// ImageID is the image's config digest ("sha256:…"), the key of Image.
	ImageID string `json:"imageID"`
	// ImageRef is the reference the container was started from ("nginx:1.25").
	ImageRef    string            `json:"imageRef,omitempty"`
	RepoTags    []string          `json:"repoTags,omitempty"`
	RepoDigests []string          `json:"repoDigests,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	State       string            `json:"state"` // one of ContainerStates
	// Lifecycle; nil when not (yet) observed.
	Created   *time.Time `json:"created,omitempty"`
	Started   *time.Time `json:"started,omitempty"`
	Finished  *time.Time `json:"finished,omitempty"`
	Destroyed *time.Time `json:"destroyed,omitempty"`
	ExitCode  *int       `json:"exitCode,omitempty"`

	Command      []string  `json:"command,omitempty"` // entrypoint + args as run
	User         string    `json:"user,omitempty"`
	Privileged   bool      `json:"privileged"`
	CapAdd       []string  `json:"capAdd,omitempty"`
	CapDrop      []string  `json:"capDrop,omitempty"`
	Mounts       []Mount   `json:"mounts,omitempty"`
	Networks     []Network `json:"networks,omitempty"`
	Ports        []Port    `json:"ports,omitempty"`
	RestartCount int       `json:"restartCount"`
	// ObservedAt is when the agent took this snapshot; the state of the
	// latest snapshot wins. Zero means the item's Time.
	ObservedAt time.Time `json:"observedAt,omitzero"`
	// Set by the server.
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
}

// Layer is one image layer, bottom first. Layers are stored once and shared
// across images.
type Layer struct {
	DiffID string `json:"diffID"` // sha256 of the uncompressed tar
	Size   int64  `json:"size,omitempty"`
}

// Image is one image, keyed by its config digest.
type Image struct {
	// ID is the config digest ("sha256:" + 64 hex).
	ID           string            `json:"id"`
	RepoTags     []string          `json:"repoTags,omitempty"`
	RepoDigests  []string          `json:"repoDigests,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	OS           string            `json:"os,omitempty"`
	Architecture string            `json:"architecture,omitempty"`
	// Config is the image config JSON as the engine returns it (bounded by
	// the request size limit).
	Config json.RawMessage `json:"config,omitempty"`
	Layers []Layer         `json:"layers,omitempty"`
	// SBOM is the image's inventory. Packages are stored normalised; the
	// server re-matches them whenever its advisory database changes.
	SBOM *sbom.SBOM `json:"sbom,omitempty"`
	// Findings are the agent's own findings for the image (Kind
	// "vulnerability" or "misconfig"). A server with an advisory database
	// (`bulkhead server --db`) computes vulnerability findings itself and
	// ignores the agent's.
	Findings []sbom.Finding `json:"findings,omitempty"`
	// Set by the server.
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
	// Packages is the number of packages in the stored SBOM; HasSBOM says
	// one is stored (an image may be known from an item without one).
	Packages int  `json:"packages,omitempty"`
	HasSBOM  bool `json:"hasSBOM,omitempty"`
}

// Finding kinds (sbom.Finding.Kind).
const (
	KindVulnerability = "vulnerability"
	KindMisconfig     = "misconfig"
	KindRuntime       = "runtime"
)

// Subject kinds a finding can be attached to.
const (
	SubjectImage     = "image"
	SubjectHost      = "host"
	SubjectContainer = "container"
)

// FindingsReport is a set of findings of one kind about one subject (e.g.
// the compliance checks of an image, or the vulnerabilities of a host).
type FindingsReport struct {
	SubjectKind string `json:"subjectKind"` // image, host, container
	SubjectID   string `json:"subjectID"`   // image id, host name, container id
	Kind        string `json:"kind"`        // vulnerability, misconfig, runtime
	// Findings are upserted by (subject, kind, ID, PackageID, first
	// location). When Complete is set, open findings of this subject and
	// kind that are absent from the report are marked resolved.
	Findings []sbom.Finding `json:"findings"`
	Complete bool           `json:"complete,omitempty"`
}

// Alert is one runtime alert (Falco JSON alert shape, with the container it
// concerns). It is stored as a runtime finding of the container, counted per
// rule.
type Alert struct {
	Time        time.Time      `json:"time"`
	Rule        string         `json:"rule"`
	Priority    string         `json:"priority"`
	Output      string         `json:"output"`
	Source      string         `json:"source,omitempty"`
	Tags        []string       `json:"tags,omitempty"`
	ContainerID string         `json:"containerID,omitempty"`
	Fields      map[string]any `json:"output_fields,omitempty"`
}

// Item types.
const (
	ItemHost      = "host"
	ItemContainer = "container"
	ItemImage     = "image"
	ItemHostSBOM  = "host-sbom"
	ItemFindings  = "findings"
	ItemAlert     = "alert"
)

// Item is one observation. Exactly the payload field named by Type is set.
type Item struct {
	// Seq is strictly increasing per (Batch.AgentID, Batch.Stream) and
	// never reused; it makes redelivery idempotent.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Type string    `json:"type"`

	Host      *Host           `json:"host,omitempty"`
	Container *Container      `json:"container,omitempty"`
	Image     *Image          `json:"image,omitempty"`
	HostSBOM  *sbom.SBOM      `json:"hostSBOM,omitempty"` // the sending host's root filesystem
	Findings  *FindingsReport `json:"findings,omitempty"`
	Alert     *Alert          `json:"alert,omitempty"`
}

// Batch is the body of POST /api/v1/ingest.
type Batch struct {
	// AgentID is the id the agent enrolled with.
	AgentID string `json:"agentID"`
	// Stream identifies the agent's queue instance (a random id persisted
	// with the on-disk queue). A new queue starts a new stream at Seq 1.
	Stream string `json:"stream"`
	// Host is the sending host's name; container and host-sbom items
	// without a host are attributed to it.
	Host  string `json:"host"`
	Items []Item `json:"items"`
}

// IngestResponse answers POST /api/v1/ingest.
type IngestResponse struct {
	// AckSeq is the highest Seq stored for (AgentID, Stream): the agent may
	// drop every item with Seq <= AckSeq.
	AckSeq     uint64 `json:"ackSeq"`
	Accepted   int    `json:"accepted"`
	Duplicates int    `json:"duplicates"`
}

// EnrollRequest is the body of POST /api/v1/agents/enroll.
type EnrollRequest struct {
	// AgentID is the agent's persisted id; empty on first enrollment (the
	// server derives one from the token).
	AgentID  string `json:"agentID,omitempty"`
	Hostname string `json:"hostname"`
	Version  string `json:"version,omitempty"`
}

// EnrollResponse answers POST /api/v1/agents/enroll.
type EnrollResponse struct {
	AgentID       string `json:"agentID"`
	ServerVersion string `json:"serverVersion"`
	// MaxBatchBytes is the largest ingest body the server accepts.
	MaxBatchBytes int64 `json:"maxBatchBytes"`
	// HasAdvisoryDB says the server matches SBOMs itself, so agents may
	// send SBOMs without vulnerability findings.
	HasAdvisoryDB bool `json:"hasAdvisoryDB"`
}

// Agent is an enrolled agent.
type Agent struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	Version   string    `json:"version,omitempty"`
	TokenName string    `json:"tokenName,omitempty"`
	Enrolled  time.Time `json:"enrolled"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
}

// Token kinds.
const (
	TokenAdmin = "admin"
	TokenAgent = "agent"
)

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Kind string `json:"kind"` // admin or agent
	Name string `json:"name"`
}

// Token describes an issued token. Secret is only set in the response to
// its creation and is never stored or shown again.
type Token struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Name      string     `json:"name"`
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"createdBy,omitempty"`
	Revoked   *time.Time `json:"revoked,omitempty"`
	LastUsed  *time.Time `json:"lastUsed,omitempty"`
	Secret    string     `json:"secret,omitempty"`
}

// AuditEntry is one audit log record: who did what, when.
type AuditEntry struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`  // "token:NAME" or "cert:CN"
	Action string    `json:"action"` // e.g. "ingest", "token.create", "db.import"
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Error is the body of every 4xx/5xx response.
type Error struct {
	Error string `json:"error"`
	// Field names the offending request field or parameter, when one is
	// to blame (e.g. "items[3].container.id", "selector").
	Field string `json:"field,omitempty"`
}
