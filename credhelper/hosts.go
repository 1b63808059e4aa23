package credhelper

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// DockerHub is the canonical registry name for Docker Hub. Every spelling a
// client may use (https://index.docker.io/v1/, registry-1.docker.io, …)
// normalises to it.
const DockerHub = "docker.io"

// DockerHubServerURL is the key the Docker CLI, BuildKit and crane use for
// Docker Hub (in credHelpers, auths and list): list answers it so that
// clients which call list and then get (the legacy builder) find Docker
// Hub under the name they look for.
const DockerHubServerURL = "https://index.docker.io/v1/"

var dockerHubAliases = map[string]bool{
	"docker.io":               true,
	"index.docker.io":         true,
	"registry-1.docker.io":    true,
	"registry.hub.docker.com": true,
}

// validHost reports whether s (lower case) is a registry host with an
// optional port, or a bracketed IPv6 address with an optional port. It is
// hand-written rather than a regexp because every get runs it and a
// package-level regexp is compiled at every process start.
func validHost(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 2 {
			return false
		}
		for _, r := range s[1:end] {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == ':' || r == '.') {
				return false
			}
		}
		host, port = "", s[end+1:]
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i:]
	}
	if port != "" {
		digits := strings.TrimPrefix(port, ":")
		if len(digits) == len(port) || digits == "" || len(digits) > 5 {
			return false
		}
		for _, r := range digits {
			if r < '0' || r > '9' {
				return false
			}
		}
	}
	if host == "" {
		return strings.HasPrefix(s, "[")
	}
	for i, r := range host {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
		case (r == '.' || r == '-') && i > 0 && i < len(host)-1:
		default:
			return false
		}
	}
	return true
}

// NormalizeRegistry turns whatever a client passes as a server URL into the
// registry name the configuration is keyed by: lower case, no scheme, no
// path (so repository-scoped keys such as host/repo map to host), no
// trailing slash or dot, and every Docker Hub spelling mapped to docker.io.
func NormalizeRegistry(serverURL string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(serverURL))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", fmt.Errorf("server URL %q names no registry host", serverURL)
	}
	if !validHost(s) {
		return "", fmt.Errorf("server URL %q is not a registry host (want host, host:port or a URL)", serverURL)
	}
	host := s
	if h, port, ok := strings.Cut(s, ":"); ok && !strings.HasPrefix(s, "[") {
		host = h
		if port == "443" {
			s = h
		}
	}
	if dockerHubAliases[host] {
		return DockerHub, nil
	}
	return s, nil
}

// ECRRegistry describes a private Amazon ECR registry host.
type ECRRegistry struct {
	Host      string
	Account   string
	Region    string
	FIPS      bool
	DualStack bool
}

// ecrHost matches every partition's private ECR host, including the FIPS
// (dkr.ecr-fips) and dual-stack (dkr-ecr) forms.
var ecrHost = lazyRegexp(`^([0-9]{12})\.dkr([.-])ecr(-fips)?\.([a-z0-9][a-z0-9-]*)\.` +
	`(amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|on\.aws|on\.amazonwebservices\.com\.cn|` +
	`sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$`)

// ParseECRHost reports whether host (already normalised, an optional port
// is ignored) is a private ECR registry and, if so, its account and region.
func ParseECRHost(host string) (ECRRegistry, bool) {
	h, _, _ := strings.Cut(host, ":")
	if !strings.Contains(h, ".dkr") {
		return ECRRegistry{}, false // the common case, without the regexp
	}
	m := ecrHost().FindStringSubmatch(h)
	if m == nil {
		return ECRRegistry{}, false
	}
	return ECRRegistry{
		Host:      h,
		Account:   m[1],
		Region:    m[4],
		FIPS:      m[3] != "",
		DualStack: m[2] == "-",
	}, true
}

// ecrPublicRegion is the only region that serves ecr-public:GetAuthorizationToken.
const ecrPublicRegion = "us-east-1"

// IsECRPublicHost reports whether host is Amazon ECR Public.
func IsECRPublicHost(host string) bool {
	h, _, _ := strings.Cut(host, ":")
	return h == "public.ecr.aws" || h == "ecr-public.aws.com"
}

// pattern is a configured registry name: an exact host[:port] or a
// wildcard *.domain[:port] that matches any host under domain.
type pattern struct {
	raw      string
	wildcard bool
	suffix   string // ".domain[:port]" for wildcards
}

func parsePattern(s string) (pattern, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		norm, err := NormalizeRegistry(rest)
		if err != nil || norm == DockerHub || !strings.Contains(strings.Split(norm, ":")[0], ".") {
			return pattern{}, fmt.Errorf("wildcard %q must be *.domain with a dotted domain", s)
		}
		return pattern{raw: "*." + norm, wildcard: true, suffix: "." + norm}, nil
	}
	if strings.Contains(s, "*") {
		return pattern{}, fmt.Errorf("registry %q: a wildcard is only allowed as a leading *. label", s)
	}
	norm, err := NormalizeRegistry(s)
	if err != nil {
		return pattern{}, err
	}
	return pattern{raw: norm}, nil
}

// matches reports whether the normalised registry falls under a wildcard.
// The port is part of the name: *.example.com matches a.example.com but
// not a.example.com:5000.
func (p pattern) matches(registry string) bool {
	if !p.wildcard {
		return p.raw == registry
	}
	if !strings.HasSuffix(registry, p.suffix) || len(registry) == len(p.suffix) {
		return false
	}
	// The port must belong to the suffix, not to the label before it.
	return !strings.Contains(registry[:len(registry)-len(p.suffix)], ":")
}

// lazyRegexp compiles a regexp on first use instead of at process start.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
