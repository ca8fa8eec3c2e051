package api

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Limits the server enforces on ingest (agents should batch below them).
const (
	// DefaultMaxBatchBytes is the default request body limit of
	// POST /api/v1/ingest (413 above it).
	DefaultMaxBatchBytes = 64 << 20
	// MaxItems is the most items one batch may carry.
	MaxItems = 5000
	// MaxLabels bounds the labels of one object; MaxLabelBytes a key or value.
	MaxLabels     = 512
	MaxLabelBytes = 4096
	// MaxPackages bounds the packages of one SBOM.
	MaxPackages = 200000
)

// FieldError is a validation failure naming the field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

var (
	reImageID     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	reContainerID = regexp.MustCompile(`^[0-9a-f]{64}$`)
	reToken       = regexp.MustCompile(`^[A-Za-z0-9._:@/-]{1,128}$`)
)

// ValidImageID reports whether id is "sha256:" + 64 lower-case hex digits.
func ValidImageID(id string) bool { return reImageID.MatchString(id) }

// ValidContainerID reports whether id is 64 lower-case hex digits.
func ValidContainerID(id string) bool { return reContainerID.MatchString(id) }

// ValidName reports whether s is usable as a host name, agent id, stream
// id or token name: 1–128 of [A-Za-z0-9._:@/-].
func ValidName(s string) bool { return reToken.MatchString(s) }

// Validate checks a batch and names the first offending field.
func (b *Batch) Validate() error {
	if !ValidName(b.AgentID) {
		return fieldErr("agentID", "must be 1-128 characters of [A-Za-z0-9._:@/-]")
	}
	if !ValidName(b.Stream) {
		return fieldErr("stream", "must be 1-128 characters of [A-Za-z0-9._:@/-]")
	}
	if b.Host != "" && !ValidName(b.Host) {
		return fieldErr("host", "must be 1-128 characters of [A-Za-z0-9._:@/-]")
	}
	if len(b.Items) > MaxItems {
		return fieldErr("items", "%d items, at most %d per batch", len(b.Items), MaxItems)
	}
	var prev uint64
	for i := range b.Items {
		it := &b.Items[i]
		f := fmt.Sprintf("items[%d]", i)
		if it.Seq == 0 {
			return fieldErr(f+".seq", "must be > 0")
		}
		if it.Seq <= prev {
			return fieldErr(f+".seq", "%d not greater than the previous item's %d", it.Seq, prev)
		}
		prev = it.Seq
		if err := it.validate(f, b.Host); err != nil {
			return err
		}
	}
	return nil
}

func (it *Item) validate(f, host string) error {
	set := 0
	for _, p := range []bool{it.Host != nil, it.Container != nil, it.Image != nil, it.HostSBOM != nil, it.Findings != nil, it.Alert != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return fieldErr(f, "exactly one payload must be set, found %d", set)
	}
	switch it.Type {
	case ItemHost:
		if it.Host == nil {
			return fieldErr(f+".host", "required for type host")
		}
		if !ValidName(it.Host.Name) {
			return fieldErr(f+".host.name", "must be 1-128 characters of [A-Za-z0-9._:@/-]")
		}
		return validLabels(f+".host.labels", it.Host.Labels)
	case ItemContainer:
		c := it.Container
		if c == nil {
			return fieldErr(f+".container", "required for type container")
		}
		if !ValidContainerID(c.ID) {
			return fieldErr(f+".container.id", "must be 64 lower-case hex digits")
		}
		if c.ImageID != "" && !ValidImageID(c.ImageID) {
			return fieldErr(f+".container.imageID", "must be sha256:<64 hex>")
		}
		if c.Host == "" && host == "" {
			return fieldErr(f+".container.host", "required (or batch host)")
		}
		if c.Host != "" && !ValidName(c.Host) {
			return fieldErr(f+".container.host", "must be 1-128 characters of [A-Za-z0-9._:@/-]")
		}
		if !slices.Contains(ContainerStates, c.State) {
			return fieldErr(f+".container.state", "%q is not one of %s", c.State, strings.Join(ContainerStates, ", "))
		}
		if len(c.Name) > 256 {
			return fieldErr(f+".container.name", "longer than 256 bytes")
		}
		return validLabels(f+".container.labels", c.Labels)
	case ItemImage:
		im := it.Image
		if im == nil {
			return fieldErr(f+".image", "required for type image")
		}
		if !ValidImageID(im.ID) {
			return fieldErr(f+".image.id", "must be sha256:<64 hex>")
		}
		for j, l := range im.Layers {
			if !ValidImageID(l.DiffID) {
				return fieldErr(fmt.Sprintf("%s.image.layers[%d].diffID", f, j), "must be sha256:<64 hex>")
			}
		}
		if im.SBOM != nil && len(im.SBOM.Packages) > MaxPackages {
			return fieldErr(f+".image.sbom.packages", "%d packages, at most %d", len(im.SBOM.Packages), MaxPackages)
		}
		return validLabels(f+".image.labels", im.Labels)
	case ItemHostSBOM:
		if it.HostSBOM == nil {
			return fieldErr(f+".hostSBOM", "required for type host-sbom")
		}
		if host == "" {
			return fieldErr("host", "required with host-sbom items")
		}
		if len(it.HostSBOM.Packages) > MaxPackages {
			return fieldErr(f+".hostSBOM.packages", "%d packages, at most %d", len(it.HostSBOM.Packages), MaxPackages)
		}
	case ItemFindings:
		r := it.Findings
		if r == nil {
			return fieldErr(f+".findings", "required for type findings")
		}
		switch r.SubjectKind {
		case SubjectImage:
			if !ValidImageID(r.SubjectID) {
				return fieldErr(f+".findings.subjectID", "must be sha256:<64 hex> for an image")
			}
		case SubjectContainer:
			if !ValidContainerID(r.SubjectID) {
				return fieldErr(f+".findings.subjectID", "must be 64 hex digits for a container")
			}
		case SubjectHost:
			if !ValidName(r.SubjectID) {
				return fieldErr(f+".findings.subjectID", "must be a host name")
			}
		default:
			return fieldErr(f+".findings.subjectKind", "%q is not image, host or container", r.SubjectKind)
		}
		switch r.Kind {
		case KindVulnerability, KindMisconfig, KindRuntime:
		default:
			return fieldErr(f+".findings.kind", "%q is not vulnerability, misconfig or runtime", r.Kind)
		}
		for j, fd := range r.Findings {
			if fd.ID == "" || len(fd.ID) > 256 {
				return fieldErr(fmt.Sprintf("%s.findings.findings[%d].id", f, j), "must be 1-256 bytes")
			}
		}
	case ItemAlert:
		a := it.Alert
		if a == nil {
			return fieldErr(f+".alert", "required for type alert")
		}
		if a.Rule == "" || len(a.Rule) > 512 {
			return fieldErr(f+".alert.rule", "must be 1-512 bytes")
		}
		if a.ContainerID != "" && !ValidContainerID(a.ContainerID) {
			return fieldErr(f+".alert.containerID", "must be 64 hex digits")
		}
	default:
		return fieldErr(f+".type", "%q is not one of host, container, image, host-sbom, findings, alert", it.Type)
	}
	return nil
}

func validLabels(f string, m map[string]string) error {
	if len(m) > MaxLabels {
		return fieldErr(f, "%d labels, at most %d", len(m), MaxLabels)
	}
	for k, v := range m {
		if k == "" || len(k) > MaxLabelBytes || len(v) > MaxLabelBytes {
			return fieldErr(f, "label %.40q: key must be 1-%d bytes and value at most %d", k, MaxLabelBytes, MaxLabelBytes)
		}
	}
	return nil
}
