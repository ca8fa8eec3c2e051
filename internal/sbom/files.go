package sbom

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
)

// FileScope says which files a FileListing holds.
type FileScope string

// The scopes of a file listing.
const (
	// FilesExecutable lists regular files with any execute bit set, and
	// every symbolic link (a link's target may be executable). A file
	// without an execute bit cannot be executed before something in the
	// container changes its mode, so for drift this scope loses nothing.
	FilesExecutable FileScope = "executable"
	// FilesAll lists every regular file and symbolic link.
	FilesAll FileScope = "all"
)

// FileType is the kind of a listed file.
type FileType string

// The kinds of listed files. Directories, devices and FIFOs are not listed.
const (
	FileRegular FileType = "file"
	FileSymlink FileType = "symlink"
)

// FileMode is a file's Unix permission bits, including setuid, setgid and
// sticky (at most 07777). It is written in JSON as an octal string, "0755".
type FileMode uint32

// Executable reports whether any execute bit is set.
func (m FileMode) Executable() bool { return m&0o111 != 0 }

// String returns the mode in octal with a leading zero, at least four digits.
func (m FileMode) String() string {
	s := strconv.FormatUint(uint64(m), 8)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

// MarshalJSON writes the mode as an octal string.
func (m FileMode) MarshalJSON() ([]byte, error) {
	if m > 0o7777 {
		return nil, errors.New("file mode: more than permission bits")
	}
	return []byte(`"` + m.String() + `"`), nil
}

// UnmarshalJSON reads an octal string of at most 07777.
func (m *FileMode) UnmarshalJSON(b []byte) error {
	if len(b) < 3 || len(b) > 7 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New(`file mode: want an octal string such as "0755"`)
	}
	v, err := strconv.ParseUint(string(b[1:len(b)-1]), 8, 32)
	if err != nil || v > 0o7777 {
		return errors.New(`file mode: want an octal string of at most "7777"`)
	}
	*m = FileMode(v)
	return nil
}

// File is one file of an image's final filesystem.
type File struct {
	// Path is absolute and "/"-separated.
	Path string   `json:"path"`
	Type FileType `json:"type"`
	Mode FileMode `json:"mode"`
	// Size is the regular file's size in bytes.
	Size int64 `json:"size,omitempty"`
	// LinkTarget is a symbolic link's target, as stored (relative targets
	// are relative to the link's directory).
	LinkTarget string `json:"linkTarget,omitempty"`
	// Layer is the DiffID of the layer holding the file's final content.
	Layer string `json:"layer,omitempty"`
}

// FileListing is an image's files after whiteouts: the filesystem a
// container starts from.
type FileListing struct {
	Scope FileScope `json:"scope"`
	// Complete is true when every file of the scope is listed: no layer was
	// corrupt, no entry was skipped and the listing was not truncated. Only
	// a complete listing can tell that a file was not in the image.
	Complete bool `json:"complete"`
	// Truncated is true when the listing hit its size bound.
	Truncated bool `json:"truncated,omitempty"`
	// Gaps say why the listing is not complete.
	Gaps []string `json:"gaps,omitempty"`
	// Files are sorted by path.
	Files []File `json:"files"`
}

// SortFiles orders files by path (then type) so that documents are
// deterministic.
func SortFiles(fs []File) {
	slices.SortFunc(fs, func(a, b File) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Type, b.Type))
	})
}
