package pull

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The grammar of image references, as docker/distribution (and so skopeo)
// reads them.
const (
	domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainName      = domainComponent + `(?:\.` + domainComponent + `)*`
	ipv6Host        = `\[[a-fA-F0-9:]+\]`
	domainPart      = `(?:` + domainName + `|` + ipv6Host + `)(?::[0-9]+)?`
	pathComponent   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	tagPart         = `[\w][\w.-]{0,127}`
)

var nameTagRE = regexp.MustCompile(`^((?:` + domainPart + `/)?` + pathComponent + `(?:/` + pathComponent + `)*):(` + tagPart + `)$`)

// nameMax is the longest repository name (domain and path) a reference may
// have.
const nameMax = 255

// normalizeReference gives the repository and tag that skopeo writes for
// docker-archive:FILE:NAME:TAG: NAME:TAG read as a Docker reference, with
// the registry docker.io and its library/ namespace filled in
// ("alpine" is docker.io/library/alpine, "nixos/nix" docker.io/nixos/nix,
// index.docker.io is docker.io). A reference skopeo refuses is refused
// here too, before anything is downloaded.
func normalizeReference(name, tag string) (repo, normTag string, err error) {
	s := name + ":" + tag
	domain, rest := splitDomain(s)
	remote := rest
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		remote = rest[:i]
	}
	if strings.ToLower(remote) != remote {
		return "", "", fmt.Errorf("%q: the repository name must be lowercase", s)
	}
	m := nameTagRE.FindStringSubmatch(domain + "/" + rest)
	if m == nil {
		return "", "", fmt.Errorf("%q is not NAME:TAG as docker reads it (a name of lowercase path components, optionally after a registry; a tag of letters, digits, '_', '.' and '-')", s)
	}
	if len(m[1]) > nameMax {
		return "", "", errors.New("the repository name " + m[1] + " is longer than 255 characters")
	}
	return m[1], m[2], nil
}

// splitDomain separates the registry from the rest of a reference: the
// first component is a registry when it has a '.' or ':' or is
// "localhost"; otherwise the registry is docker.io, whose one-component
// names are in library/.
func splitDomain(s string) (domain, rest string) {
	i := strings.IndexByte(s, '/')
	if i < 0 || (!strings.ContainsAny(s[:i], ".:") && s[:i] != "localhost") {
		domain, rest = "docker.io", s
	} else {
		domain, rest = s[:i], s[i+1:]
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.ContainsRune(rest, '/') {
		rest = "library/" + rest
	}
	return domain, rest
}
