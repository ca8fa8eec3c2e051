package sbom

import (
	"crypto/sha256"
	"encoding/hex"
)

// AssignID sets p.ID from the fields that identify a package at a place:
// type, name, version, arch and primary location path. Two scans of the same
// target give the same IDs.
func AssignID(p *Package) {
	h := sha256.New()
	for _, s := range []string{string(p.Type), p.Name, p.Version, p.Arch, firstPath(*p)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	p.ID = hex.EncodeToString(h.Sum(nil)[:8])
}
