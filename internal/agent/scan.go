package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/agent/queue"
	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// retryFailedScan is how long an image whose scan failed is left alone.
const retryFailedScan = 10 * time.Minute

// wantImage asks for an image to be scanned unless it was sent, is known to
// the server, is waiting, or failed recently.
func (a *Agent) wantImage(id string) {
	if !api.ValidImageID(id) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen[id] || a.pending[id] {
		return
	}
	if t, ok := a.failed[id]; ok && time.Since(t) < retryFailedScan {
		return
	}
	select {
	case a.scanQ <- id:
		a.pending[id] = true
	default:
		// Full: the image is asked for again with its container's next
		// event or the next listing.
	}
}

// localMatch says whether the agent matches vulnerabilities itself: only
// with a local database, and only when the server does not (or has not
// said yet).
func (a *Agent) localMatch() bool {
	return a.cfg.Matcher != nil && a.serverDB.Load() != 1
}

// scanImages scans wanted images one at a time (scans are CPU and I/O
// heavy; the machine runs workloads).
func (a *Agent) scanImages(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-a.scanQ:
			err := a.scanImage(ctx, id)
			a.mu.Lock()
			delete(a.pending, id)
			if err != nil {
				a.failed[id] = time.Now()
			} else {
				delete(a.failed, id)
			}
			a.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				a.log.Warn("image scan failed; retrying later", "image", id, "err", err, "retry_after", retryFailedScan.String())
			}
		}
	}
}

func (a *Agent) scanImage(ctx context.Context, id string) error {
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	has, err := a.cfg.Server.HasImage(hctx, id)
	cancel()
	if err == nil && has {
		a.log.Debug("server already has image; not scanning", "image", id)
		return a.markSeen(id, "server")
	}
	if err != nil {
		a.log.Debug("cannot ask the server about an image; scanning it anyway", "image", id, "err", err)
	}
	start := time.Now()
	doc, err := a.cfg.Scanner.ScanImage(ctx, id)
	if err != nil {
		return err
	}
	img := api.Image{
		ID:           id,
		RepoTags:     doc.Source.RepoTags,
		RepoDigests:  doc.Source.RepoDigests,
		Labels:       doc.Source.Labels,
		OS:           doc.Source.OS,
		Architecture: doc.Source.Architecture,
		SBOM:         doc,
	}
	for _, l := range doc.Source.Layers {
		img.Layers = append(img.Layers, api.Layer{DiffID: l.DiffID, Size: l.Size})
	}
	if res, err := a.cfg.Docker.ImageInspect(ctx, id); err == nil && res.Config != nil {
		if raw, err := json.Marshal(res.Config); err == nil {
			img.Config = raw
		}
	}
	if a.localMatch() {
		fs, err := a.cfg.Matcher.Match(doc)
		if err != nil {
			a.log.Warn("local vulnerability matching failed; sending the SBOM without findings", "image", id, "err", err)
		} else {
			img.Findings = fs
		}
	}
	err = a.enqueueOne(api.Item{Time: time.Now().UTC(), Type: api.ItemImage, Image: &img}, queue.ClassBulk, id,
		map[string][]byte{prefixImage + id: []byte("sent")})
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.seen[id] = true
	a.imagesSent++
	a.mu.Unlock()
	a.log.Info("image scanned", "image", id, "tags", doc.Source.RepoTags, "packages", len(doc.Packages),
		"findings", len(img.Findings), "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

func (a *Agent) markSeen(id, how string) error {
	if err := a.q.Set(prefixImage+id, []byte(how)); err != nil {
		return err
	}
	a.mu.Lock()
	a.seen[id] = true
	a.mu.Unlock()
	return nil
}

// scanHostLoop scans the host's root filesystem on start and every
// ScanInterval.
func (a *Agent) scanHostLoop(ctx context.Context) error {
	for {
		if err := a.scanHost(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("host scan failed", "root", a.cfg.HostRoot, "err", err)
		}
		if a.cfg.ScanInterval <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.cfg.ScanInterval):
		}
	}
}

func (a *Agent) scanHost(ctx context.Context) error {
	start := time.Now()
	doc, err := a.cfg.Scanner.ScanHost(ctx)
	if err != nil {
		return err
	}
	doc.Source.Input = a.host.Name
	now := time.Now().UTC()
	items := []api.Item{{Time: now, Type: api.ItemHostSBOM, HostSBOM: doc}}
	classes := []queue.Class{queue.ClassBulk}
	keys := []string{"host-sbom"}
	var findings []sbom.Finding
	if a.localMatch() {
		if findings, err = a.cfg.Matcher.Match(doc); err != nil {
			a.log.Warn("local vulnerability matching of the host failed", "err", err)
		} else {
			items = append(items, api.Item{Time: now, Type: api.ItemFindings, Findings: &api.FindingsReport{
				SubjectKind: api.SubjectHost, SubjectID: a.host.Name, Kind: api.KindVulnerability, Findings: nonNil(findings), Complete: true,
			}})
			classes = append(classes, queue.ClassBulk)
			keys = append(keys, "host-vulnerabilities")
		}
	}
	if err := a.enqueue(items, classes, keys, nil); err != nil {
		return err
	}
	a.mu.Lock()
	a.hostScans++
	a.mu.Unlock()
	a.log.Info("host scanned", "root", a.cfg.HostRoot, "packages", len(doc.Packages), "findings", len(findings),
		"took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

func nonNil(f []sbom.Finding) []sbom.Finding {
	if f == nil {
		return []sbom.Finding{}
	}
	return f
}
