package java

import (
	"bytes"
	"strings"
)

// pomProperties is what Maven writes to
// META-INF/maven/<groupId>/<artifactId>/pom.properties.
type pomProperties struct {
	path                         string
	groupID, artifactID, version string
}

// parsePomProperties reads the Java properties format ("key=value",
// "key: value", # and ! comments). When groupId or artifactId are missing
// they are taken from the entry's path.
func parsePomProperties(name string, data []byte) (pomProperties, bool) {
	p := pomProperties{path: name}
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := bytes.IndexAny(line, "=:")
		if i < 0 {
			continue
		}
		key := string(bytes.TrimSpace(line[:i]))
		val := strings.TrimSpace(strings.ReplaceAll(string(line[i+1:]), `\:`, ":"))
		switch key {
		case "groupId":
			p.groupID = val
		case "artifactId":
			p.artifactID = val
		case "version":
			p.version = val
		}
	}
	// META-INF/maven/<group>/<artifact>/pom.properties
	if parts := strings.Split(name, "/"); len(parts) == 5 {
		if p.groupID == "" {
			p.groupID = parts[2]
		}
		if p.artifactID == "" {
			p.artifactID = parts[3]
		}
	}
	return p, p.artifactID != ""
}
