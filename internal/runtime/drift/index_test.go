package drift

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulkhead-sec/bulkhead/internal/format/jsonfmt"
	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

func loadDoc(t testing.TB, name string) *sbom.SBOM {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonfmt.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestInImage(t *testing.T) {
	type want struct{ present, known, drift bool }
	in := want{true, true, false}
	out := want{false, true, true}
	unknown := want{}
	cases := []struct {
		path      string
		exec, all want // answers from the executable-only and the full listing
	}{
		{"/usr/bin/ls", in, in},
		{"/bin/ls", in, in},                          // through /bin → usr/bin
		{"bin/ls", in, in},                           // made absolute
		{"//bin/./ls", in, in},                       // cleaned
		{"/usr/bin/sh", in, in},                      // sh → dash
		{"/bin/sh", in, in},                          // both links
		{"/usr/bin/awk", in, in},                     // absolute link chain through /etc/alternatives
		{"/lib64/ld-linux-x86-64.so.2", in, in},      // /lib64 → usr/lib64, link → /lib/… → /usr/lib/…
		{"/usr/bin/passwd", in, in},                  // setuid
		{"/sbin/nologin", in, in},                    //
		{"/app/entrypoint.sh", in, in},               // upper image layer is still the image
		{"/opt/up/ls", in, in},                       // relative link with ..
		{"/bin/../bin/ls", in, in},                   // .. after a link applies to the target: /usr/bin/.. is /usr, /usr/bin/ls
		{"/bin/../sbin/nologin", in, in},             // /usr/sbin/nologin
		{"/tmp/dropped", out, out},                   // written after start
		{"/usr/bin/dropped", out, out},               //
		{"/bin", out, out},                           // a directory (through a link) is not a file
		{"/", out, out},                              //
		{"/usr/bin/dangling", out, out},              // link to nothing
		{"/etc/passwd", out, want{true, true, true}}, // not executable in the image: drift if executed
		{"/usr/bin/loop1", unknown, unknown},         // link loop
		{"", unknown, unknown},                       //
		{"/usr/bin/x\x00", unknown, unknown},         //
		{"/" + strings.Repeat("a/", 40<<10), unknown, unknown},
	}
	exec, all := NewIndex(loadDoc(t, "debian-exec.json")), NewIndex(loadDoc(t, "debian-all.json"))
	if !exec.Known() || !all.Known() {
		t.Fatalf("complete listings give unknown indexes: %q %q", exec.Reason(), all.Reason())
	}
	for _, tc := range cases {
		for _, v := range []struct {
			ix   *Index
			want want
		}{{exec, tc.exec}, {all, tc.all}} {
			name := tc.path
			if len(name) > 40 {
				name = name[:40] + "…"
			}
			present, known := v.ix.InImage(tc.path)
			drift, dknown := v.ix.Drift(tc.path)
			if present != v.want.present || known != v.want.known || drift != v.want.drift || dknown != known {
				t.Errorf("%s listing, %q: present %v known %v drift %v; want %+v", v.ix.scope, name, present, known, drift, v.want)
			}
		}
	}
}

// TestUnknownListings: anything short of a complete listing answers
// unknown, never drift.
func TestUnknownListings(t *testing.T) {
	for _, tc := range []struct{ file, reason string }{
		{"incomplete.json", "incomplete: a layer is corrupt"},
		{"truncated.json", "truncated"},
		{"packages-only.json", "no file listing"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ix := NewIndex(loadDoc(t, tc.file))
			if ix.Known() || !strings.Contains(ix.Reason(), tc.reason) {
				t.Fatalf("known %v reason %q, want unknown because %q", ix.Known(), ix.Reason(), tc.reason)
			}
			// dash is in the packages' file lists and /tmp/dropped in
			// nothing: both unknown.
			for _, p := range []string{"/usr/bin/dash", "/bin/dash", "/tmp/dropped"} {
				if present, known := ix.InImage(p); present || known {
					t.Errorf("%s: present %v known %v", p, present, known)
				}
				if drift, known := ix.Drift(p); drift || known {
					t.Errorf("%s: drift %v known %v", p, drift, known)
				}
			}
		})
	}
	if _, known := NewIndex(nil).InImage("/x"); known {
		t.Error("nil document answered")
	}
	var nilIx *Index
	if _, known := nilIx.InImage("/x"); known {
		t.Error("nil index answered")
	}
}

// FuzzIndex builds an index from an arbitrary document and looks up an
// arbitrary path: no panic, unknown listings never answer, and a present
// answer names a regular file of the listing.
func FuzzIndex(f *testing.F) {
	for _, name := range []string{"debian-exec.json", "debian-all.json", "incomplete.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "/bin/sh")
		f.Add(b, "/usr/bin/loop1/../x")
	}
	f.Fuzz(func(t *testing.T, doc []byte, p string) {
		d, err := jsonfmt.Decode(strings.NewReader(string(doc)))
		if err != nil {
			return
		}
		ix := NewIndex(d)
		present, known := ix.InImage(p)
		drift, dknown := ix.Drift(p)
		if dknown != known || (known && !present && !drift) {
			t.Fatalf("InImage %v/%v but Drift %v/%v", present, known, drift, dknown)
		}
		fl := d.FileListing
		if known && (fl == nil || !fl.Complete || fl.Truncated) {
			t.Fatal("an incomplete listing answered")
		}
		if present {
			r, ok := ix.resolve(p)
			if e, in := ix.files[r]; !ok || !in || e.symlink {
				t.Fatalf("present, but %q resolves to %q (%v)", p, r, ok)
			}
		}
	})
}

func BenchmarkInImage(b *testing.B) {
	ix := NewIndex(loadDoc(b, "debian-exec.json"))
	for _, p := range []string{"/usr/bin/ls", "/bin/sh", "/lib64/ld-linux-x86-64.so.2", "/tmp/dropped"} {
		b.Run(strings.ReplaceAll(p, "/", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ix.InImage(p)
			}
		})
	}
}
