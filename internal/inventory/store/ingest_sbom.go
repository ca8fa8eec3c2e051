package store

// Ingest of images and host SBOMs: package records shared across images
// and hosts, layers, tags, compressed SBOM documents.

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func gz(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MaxSBOMBytes bounds a stored SBOM's decompressed size when read back.
const MaxSBOMBytes = 512 << 20

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, MaxSBOMBytes))
}

func repoOf(tag string) string {
	// "registry:5000/a/b:tag" → "registry:5000/a/b"
	if i := strings.LastIndexByte(tag, ':'); i > strings.LastIndexByte(tag, '/') {
		return tag[:i]
	}
	return tag
}

func (it *ingestTx) image(im *api.Image) error {
	ctx, tx := it.ctx, it.tx
	var pkgCount int
	var hasSBOM bool
	err := tx.QueryRowContext(ctx, "SELECT packages, sbom IS NOT NULL FROM images WHERE id = $1", im.ID).Scan(&pkgCount, &hasSBOM)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	distro := ""
	if im.SBOM != nil {
		distro = DistroKey(im.SBOM.Distro)
	}
	if !exists {
		_, err = tx.ExecContext(ctx, `INSERT INTO images (id, repo_tags, repo_digests, labels, os, arch, config, distro, first_seen, last_seen)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (id) DO NOTHING`, // another agent's batch may have just added it
			im.ID, jsonText(im.RepoTags), jsonText(im.RepoDigests), jsonText(im.Labels), im.OS, im.Architecture, string(im.Config), distro, it.now)
		if err != nil {
			return err
		}
		var ilrows [][]any
		for i, l := range im.Layers {
			it.layers[l.DiffID] = l.Size
			ilrows = append(ilrows, []any{im.ID, i, l.DiffID})
		}
		if err := bulkInsert(ctx, it.ex, "INSERT INTO image_layers (image_id, idx, diff_id)", "ON CONFLICT DO NOTHING", 3, ilrows); err != nil {
			return err
		}
		var labels [][]any
		for k, v := range im.Labels {
			labels = append(labels, []any{im.ID, k, v})
		}
		if err := bulkInsert(ctx, it.ex, "INSERT INTO image_labels (image_id, key, value)", "ON CONFLICT DO NOTHING", 3, labels); err != nil {
			return err
		}
	} else {
		// Tags move between images; the newest observation's list wins.
		// The change number tells the container index of new tags.
		chg, err := it.change()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE images SET repo_tags = CASE WHEN $2 = '[]' THEN repo_tags ELSE $2 END,
			repo_digests = CASE WHEN $3 = '[]' THEN repo_digests ELSE $3 END, last_seen = $4,
			pkg_chg = CASE WHEN $2 = '[]' THEN pkg_chg ELSE $5 END WHERE id = $1`,
			im.ID, jsonText(im.RepoTags), jsonText(im.RepoDigests), it.now, chg)
		if err != nil {
			return err
		}
	}
	if len(im.RepoTags) > 0 || !exists {
		if _, err := tx.ExecContext(ctx, "DELETE FROM image_tags WHERE image_id = $1", im.ID); err != nil {
			return err
		}
		var rows [][]any
		for _, t := range slices.Compact(slices.Sorted(slices.Values(im.RepoTags))) {
			rows = append(rows, []any{im.ID, t, repoOf(t)})
		}
		if err := bulkInsert(ctx, it.ex, "INSERT INTO image_tags (image_id, tag, repo)", "ON CONFLICT DO NOTHING", 3, rows); err != nil {
			return err
		}
	}
	if im.SBOM != nil && !hasSBOM {
		keys, err := it.storePackages(im.SBOM, "image_packages (image_id, pkey, layer)", im.ID, true)
		if err != nil {
			return err
		}
		blob, err := gz(im.SBOM)
		if err != nil {
			return err
		}
		chg, err := it.change()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE images SET sbom = $1, packages = $2, distro = $3, pkg_chg = $4 WHERE id = $5", blob, len(keys), distro, chg, im.ID); err != nil {
			return err
		}
		if err := it.agentFindings(api.SubjectImage, im.ID, im.Findings, keys); err != nil {
			return err
		}
	} else if len(im.Findings) > 0 {
		if err := it.agentFindings(api.SubjectImage, im.ID, im.Findings, nil); err != nil {
			return err
		}
	}
	return nil
}

// storePackages inserts doc's package records (new ones are remembered for
// matching) and the link rows "INSERT INTO <link> VALUES (owner, pkey[,
// layer])". It returns SBOM package id → package key.
func (it *ingestTx) storePackages(doc *sbom.SBOM, link, owner string, withLayer bool) (map[string]string, error) {
	ctx, tx := it.ctx, it.tx
	keys := make(map[string]string, len(doc.Packages))
	recs := make(map[string]Pkg, len(doc.Packages))
	layer := map[string]string{}
	for i := range doc.Packages {
		p := &doc.Packages[i]
		r := PkgOf(p, doc.Distro)
		keys[p.ID] = r.Key
		recs[r.Key] = r
		if _, ok := layer[r.Key]; !ok {
			layer[r.Key] = p.Layer
		}
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for k := range recs {
			if !yield(k) {
				return
			}
		}
	})
	// Which records are new to the store (to be matched once)?
	existing := map[string]bool{}
	for start := 0; start < len(sorted); start += 500 {
		chunk := sorted[start:min(start+500, len(sorted))]
		args := make([]any, len(chunk))
		for i, k := range chunk {
			args[i] = k
		}
		rows, err := tx.QueryContext(ctx, "SELECT pkey FROM packages WHERE pkey IN ("+placeholders(1, len(chunk))+")", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, err
			}
			existing[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var lrow [][]any
	for _, k := range sorted {
		if !existing[k] {
			it.newPkgs[k] = recs[k]
		}
		if withLayer {
			lrow = append(lrow, []any{owner, k, layer[k]})
		} else {
			lrow = append(lrow, []any{owner, k})
		}
	}
	n := 2
	if withLayer {
		n = 3
	}
	if err := bulkInsert(ctx, it.ex, "INSERT INTO "+link, "ON CONFLICT DO NOTHING", n, lrow); err != nil {
		return nil, err
	}
	return keys, nil
}

// flushShared inserts the batch's new package records and layers.
func (it *ingestTx) flushShared() error {
	var prow [][]any
	for _, k := range slices.Sorted(mapKeys(it.newPkgs)) {
		r := it.newPkgs[k]
		prow = append(prow, []any{k, string(r.Type), r.Name, r.Version, r.PURL, r.Distro, r.SourceName, r.SourceVersion, r.Arch, r.Group, b2i(r.Owned), it.now})
	}
	if err := bulkInsert(it.ctx, it.ex, "INSERT INTO packages (pkey, type, name, version, purl, distro, source_name, source_version, arch, grp, owned, first_seen)",
		"ON CONFLICT (pkey) DO NOTHING", 12, prow); err != nil {
		return err
	}
	var lrows [][]any
	for _, d := range slices.Sorted(mapKeys(it.layers)) {
		lrows = append(lrows, []any{d, it.layers[d]})
	}
	return bulkInsert(it.ctx, it.ex, "INSERT INTO layers (diff_id, size)", "ON CONFLICT (diff_id) DO NOTHING", 2, lrows)
}

func (it *ingestTx) hostSBOM(doc *sbom.SBOM) error {
	if err := it.touchHost(it.host); err != nil {
		return err
	}
	if _, err := it.tx.ExecContext(it.ctx, "DELETE FROM host_packages WHERE host = $1", it.host); err != nil {
		return err
	}
	if _, err := it.storePackages(doc, "host_packages (host, pkey)", it.host, false); err != nil {
		return err
	}
	blob, err := gz(doc)
	if err != nil {
		return err
	}
	chg, err := it.change()
	if err != nil {
		return err
	}
	_, err = it.tx.ExecContext(it.ctx, "UPDATE hosts SET sbom = $1, scanned = $2, distro = $3, pkg_chg = $4 WHERE name = $5", blob, it.now, DistroKey(doc.Distro), chg, it.host)
	return err
}
