package report

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Table writes a plain-text report for people: a header with the target,
// distro and counts, then one block per vulnerable package (worst first)
// with one row per vulnerability, then a footer with what was suppressed.
type Table struct{}

// Encode writes r to w as a table.
func (Table) Encode(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("table: nil report")
	}
	doc := r.doc()
	ew := &errWriter{w: w}
	sum := summarize(r.Findings)

	fmt.Fprintln(ew, tableHeader(doc))
	fmt.Fprintln(ew, countsLine(sum))
	if r.DBStatus != "" {
		fmt.Fprintf(ew, "Database: %s\n", clean(r.DBStatus))
	}

	groups := groupByPackage(r.Findings)
	if len(groups) == 0 {
		fmt.Fprintf(ew, "\nNo vulnerabilities found.\n")
	} else {
		var buf bytes.Buffer
		tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tINSTALLED\tTYPE\tVULNERABILITY\tSEVERITY\tFIXED IN\t")
		for _, g := range groups {
			for i, f := range g.findings {
				name, ver, typ := "", "", ""
				if i == 0 {
					name, ver, typ = clean(f.PackageName), clean(f.InstalledVersion), clean(string(f.PackageType))
				}
				kev := ""
				if f.KEV {
					kev = "KEV"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
					name, ver, typ, clean(f.ID), severity(f), clean(fixedIn(f)), kev)
			}
		}
		tw.Flush()
		fmt.Fprintln(ew)
		// The KEV column is written for every row so that tabwriter
		// aligns the whole table; trim the padding it leaves behind.
		for line := range strings.Lines(buf.String()) {
			fmt.Fprintln(ew, strings.TrimRight(line, " \n"))
		}
	}

	if sum.Suppressed > 0 {
		fmt.Fprintf(ew, "\n%s\n", suppressedLine(r.Findings))
	}
	if n := len(doc.Unknowns); n > 0 {
		noun := "files"
		if n == 1 {
			noun = "file"
		}
		fmt.Fprintf(ew, "\n%d %s could not be read; packages in them were not checked (see 'bulkhead sbom').\n", n, noun)
	}
	if ew.err != nil {
		return fmt.Errorf("table: %w", ew.err)
	}
	return nil
}

func tableHeader(doc *sbom.SBOM) string {
	target := cmp.Or(doc.Source.Input, "(unnamed)")
	if doc.Source.Kind != "" {
		target = doc.Source.Kind + ":" + target
	}
	distro := "unknown"
	if d := doc.Distro; d != nil {
		distro = cmp.Or(d.PrettyName, strings.TrimSpace(cmp.Or(d.Name, d.ID)+" "+d.VersionID))
	}
	n := len(doc.Packages)
	noun := "packages"
	if n == 1 {
		noun = "package"
	}
	return fmt.Sprintf("Target: %s   Distro: %s   %d %s", clean(target), clean(distro), n, noun)
}

func countsLine(s Summary) string {
	parts := make([]string, 0, len(sbom.SeverityLevels))
	for _, l := range sbom.SeverityLevels {
		parts = append(parts, fmt.Sprintf("%s %d", l, s.bySeverity(l)))
	}
	return fmt.Sprintf("Vulnerabilities: %d (%s); %d fixable, %d known exploited (KEV)",
		s.Total(), strings.Join(parts, ", "), s.Fixable, s.KEV)
}

// suppressedLine says how many findings were suppressed and why, e.g.
// "3 suppressed: 2 by VEX, 1 by ignore file".
func suppressedLine(fs []sbom.Finding) string {
	counts := map[string]int{}
	total := 0
	for _, f := range fs {
		if f.Suppressed != "" {
			counts[suppressedBy(f.Suppressed)]++
			total++
		}
	}
	var parts []string
	for _, k := range []string{byVEX, byIgnore, byOther} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d by %s", counts[k], k))
		}
	}
	return fmt.Sprintf("%d suppressed: %s", total, strings.Join(parts, ", "))
}

type pkgGroup struct {
	key      string
	findings []sbom.Finding // sorted, worst first
}

// groupByPackage groups the unsuppressed findings by package, packages
// ordered by their worst finding (then known exploited first, then name).
func groupByPackage(fs []sbom.Finding) []pkgGroup {
	idx := map[string]int{}
	var groups []pkgGroup
	for _, f := range sorted(fs) {
		if f.Suppressed != "" {
			continue
		}
		k := packageKey(f)
		i, ok := idx[k]
		if !ok {
			i = len(groups)
			idx[k] = i
			groups = append(groups, pkgGroup{key: k})
		}
		groups[i].findings = append(groups[i].findings, f)
	}
	anyKEV := func(g pkgGroup) bool {
		return slices.ContainsFunc(g.findings, func(f sbom.Finding) bool { return f.KEV })
	}
	slices.SortStableFunc(groups, func(a, b pkgGroup) int {
		fa, fb := a.findings[0], b.findings[0]
		ka, kb := 0, 0
		if anyKEV(a) {
			ka = 1
		}
		if anyKEV(b) {
			kb = 1
		}
		return cmp.Or(
			-cmp.Compare(sbom.SeverityRank(severity(fa)), sbom.SeverityRank(severity(fb))),
			-cmp.Compare(ka, kb),
			cmp.Compare(strings.ToLower(fa.PackageName), strings.ToLower(fb.PackageName)),
			cmp.Compare(fa.PackageName, fb.PackageName),
			cmp.Compare(fa.InstalledVersion, fb.InstalledVersion),
			cmp.Compare(a.key, b.key),
		)
	})
	return groups
}

// packageKey identifies the package a finding is on: its ID, or what
// identifies a package when a finding comes without one.
func packageKey(f sbom.Finding) string {
	if f.PackageID != "" {
		return f.PackageID
	}
	return strings.Join([]string{string(f.PackageType), f.PackageName, f.InstalledVersion, firstPath(f)}, "\x00")
}
