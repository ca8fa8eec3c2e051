// Package catalogers is the one explicit list of Bulkhead's catalogers.
// Adding an ecosystem means adding it here; nothing registers itself.
package catalogers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bulkhead-sec/bulkhead/internal/catalog"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/apk"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/dotnet"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/dpkg"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/golang"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/java"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/javascript"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/osrelease"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/php"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/python"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/rpm"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/ruby"
	"github.com/bulkhead-sec/bulkhead/internal/catalog/rust"
)

// Default returns every cataloger, OS databases first.
func Default() []catalog.Cataloger {
	return []catalog.Cataloger{
		osrelease.New(),
		dpkg.New(),
		apk.New(),
		rpm.New(),
		golang.New(),
		golang.NewModFile(),
		rust.NewBinary(),
		rust.NewLock(),
		javascript.NewLock(),
		javascript.NewPackage(),
		python.NewInstalled(),
		python.NewLock(),
		java.New(),
		ruby.NewGemfileLock(),
		ruby.NewGemspec(),
		php.NewLock(),
		php.NewInstalled(),
		dotnet.NewDeps(),
		dotnet.NewPackagesLock(),
	}
}

// Select filters the default list: each expression is a cataloger name or a
// substring of one ("dpkg", "python"); a leading "-" removes matches. With
// only removals, the rest of the default list stays.
func Select(all []catalog.Cataloger, exprs []string) ([]catalog.Cataloger, error) {
	if len(exprs) == 0 {
		return all, nil
	}
	var add, remove []string
	for _, e := range exprs {
		for _, x := range strings.Split(e, ",") {
			x = strings.TrimSpace(x)
			if x == "" {
				continue
			}
			if r, ok := strings.CutPrefix(x, "-"); ok {
				remove = append(remove, r)
			} else {
				add = append(add, strings.TrimPrefix(x, "+"))
			}
		}
	}
	match := func(c catalog.Cataloger, xs []string) bool {
		return slices.ContainsFunc(xs, func(x string) bool { return strings.Contains(c.Name(), x) })
	}
	var out []catalog.Cataloger
	for _, c := range all {
		if len(add) > 0 && !match(c, add) && c.Name() != "os-release" {
			continue
		}
		if match(c, remove) {
			continue
		}
		out = append(out, c)
	}
	if len(out) == 0 || (len(out) == 1 && out[0].Name() == "os-release") {
		names := make([]string, len(all))
		for i, c := range all {
			names[i] = c.Name()
		}
		return nil, fmt.Errorf("no cataloger matches %q; known: %s", strings.Join(exprs, ","), strings.Join(names, ", "))
	}
	return out, nil
}
