package python

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// prefixDepth is how far above site-packages an installation's prefix
// lies: <prefix>/lib/python3.X/site-packages (Debian:
// <prefix>/lib/python3/dist-packages). pip records scripts and data files
// relative to site-packages ("../../../bin/flask"); they are kept when they
// resolve inside the prefix, and dropped when they climb out of it.
const prefixDepth = 3

// parseRecord reads a dist-info RECORD (CSV: path,hash,size) and returns
// the installed files as absolute paths. Relative paths are relative to
// sitePackages.
func parseRecord(r io.Reader, sitePackages string) ([]string, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	limit := ancestor(sitePackages, prefixDepth)
	var files []string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("RECORD: %w", err)
		}
		if len(rec) == 0 {
			continue
		}
		if f, ok := resolve(sitePackages, limit, rec[0]); ok {
			files = append(files, f)
		}
	}
	return files, nil
}

// parseInstalledFiles reads an egg-info installed-files.txt: one path per
// line, relative to the egg-info directory.
func parseInstalledFiles(r io.Reader, eggInfo string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16*1024), maxLine)
	limit := ancestor(eggInfo, prefixDepth+1)
	var files []string
	for sc.Scan() {
		if f, ok := resolve(eggInfo, limit, strings.TrimRight(sc.Text(), "\r")); ok {
			files = append(files, f)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("installed-files.txt: %w", err)
	}
	return files, nil
}

// resolve makes rel absolute against dir and keeps it only if it stays
// inside limit.
func resolve(dir, limit, rel string) (string, bool) {
	rel = strings.TrimSpace(rel)
	if rel == "" || strings.ContainsAny(rel, "\x00\\") {
		return "", false
	}
	var p string
	if strings.HasPrefix(rel, "/") {
		p = path.Clean(rel)
	} else {
		p = path.Join(dir, rel)
		if limit != "/" && p != limit && !strings.HasPrefix(p, limit+"/") {
			return "", false
		}
		// path.Join stops at "/": a rel that climbs above it escapes too.
		if depth(dir)-upCount(path.Clean(rel)) < 0 {
			return "", false
		}
	}
	if p == "/" {
		return "", false
	}
	return p, true
}

// ancestor returns the directory n levels above dir ("/" at most).
func ancestor(dir string, n int) string {
	for ; n > 0 && dir != "/"; n-- {
		dir = dirOf(dir)
	}
	return dir
}

func depth(dir string) int {
	if dir == "/" {
		return 0
	}
	return strings.Count(dir, "/")
}

// upCount counts the leading ".." elements of a cleaned relative path.
func upCount(rel string) int {
	n := 0
	for rel == ".." || strings.HasPrefix(rel, "../") {
		n++
		rel = strings.TrimPrefix(strings.TrimPrefix(rel, ".."), "/")
	}
	return n
}
