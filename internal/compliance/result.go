package compliance

import (
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Status is the outcome of one check on one resource.
type Status string

const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	StatusWarn Status = "warn"
	StatusInfo Status = "info"
	// StatusManual: the control cannot be decided from the files; a
	// person has to look (a check with no expression).
	StatusManual Status = "manual"
	// StatusNotApplicable: no resource the check applies to was found, or
	// its expression returned null for the resource.
	StatusNotApplicable Status = "not-applicable"
	// StatusError: a file could not be parsed or an expression failed at
	// run time. The scan goes on; the error is reported where it happened.
	StatusError Status = "error"
)

// Result is one check's outcome on one resource; a resource with several
// violations of one check yields one Result per violation.
type Result struct {
	CheckID   string `json:"checkID,omitempty"`
	Title     string `json:"title,omitempty"`
	Severity  string `json:"severity,omitempty"`
	Benchmark string `json:"benchmark,omitempty"`
	Status    Status `json:"status"`
	Message   string `json:"message,omitempty"`

	// Evidence.
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Path is the field path the violation points at, e.g.
	// "spec.template.spec.containers[0].securityContext.privileged", or
	// "stages[1].instructions[3]" in a Dockerfile.
	Path string `json:"path,omitempty"`
	// Source is the chart template a Helm-rendered manifest came from (its
	// "# Source:" comment).
	Source string `json:"source,omitempty"`
	// ResourceID is a container or image id.
	ResourceID string `json:"resourceID,omitempty"`
	// Target is what was scanned: "docker:<daemon host>", "image:<ref>".
	Target string `json:"target,omitempty"`
	// Evidence is the exact value or setting that decided the result:
	// "HostConfig.Privileged=true", "icc=true (default; not set in
	// /etc/docker/daemon.json or flags)", "mode 0644 owner 0:0".
	Evidence string `json:"evidence,omitempty"`
	// Layer is the image layer (DiffID) a file was found in; Deleted says
	// an upper layer removed it (it is still in the image's history).
	Layer   string `json:"layer,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`

	Remediation string `json:"remediation,omitempty"`
}

// Failed reports whether the result counts against the target (fail or
// warn).
func (r Result) Failed() bool { return r.Status == StatusFail || r.Status == StatusWarn }

// Finding converts a failed or warned result to the shared finding shape
// with Kind "misconfig". The fields that only make sense for packages stay
// empty.
func (r Result) Finding() sbom.Finding {
	loc := r.File
	if r.Path != "" {
		loc += "#" + r.Path
	}
	return sbom.Finding{
		ID:          r.CheckID,
		Kind:        "misconfig",
		PackageName: r.Kind + "/" + r.Name,
		Locations:   []sbom.Location{{Path: loc}},
		Severity:    r.Severity,
		Summary:     r.Message,
		Sources:     []string{r.Benchmark},
		Ecosystem:   r.Kind,
		MatchedName: r.Name,
		Rule:        r.CheckID,
		Suppressed:  "",
	}
}
