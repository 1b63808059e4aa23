package credhelper

import (
	"context"
	"errors"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
)

// Credential is what a source resolved for a registry.
type Credential struct {
	Username string
	Secret   string
	// Expires is when the credential stops being valid (ECR tokens);
	// zero when the source does not say.
	Expires time.Time
	// Source names where it came from, e.g. secretsmanager:<arn>; never a
	// secret value.
	Source string
}

// Request is one lookup: the server URL as the client sent it and the
// registry it normalises to.
type Request struct {
	ServerURL string
	Registry  string
}

// A Source is a place credentials come from. Lookup returns ErrNotFound
// when the source does not serve the registry, so that the resolver asks
// the next one; any other error ends the lookup.
type Source interface {
	Lookup(ctx context.Context, req Request) (Credential, error)
}

// ErrNotFound is the protocol's not-found error. The Docker CLI continues
// anonymously only on exactly this answer, so it is returned for
// registries no source serves and for nothing else.
var ErrNotFound = credentials.NewErrCredentialsNotFound()

// IsNotFound reports whether err is the protocol's not-found answer.
func IsNotFound(err error) bool { return credentials.IsErrCredentialsNotFound(err) }

// Resolver asks its sources in order; the first that serves the registry
// wins, as in go-containerregistry's multi-keychain.
type Resolver []Source

// Lookup implements Source.
func (r Resolver) Lookup(ctx context.Context, req Request) (Credential, error) {
	for _, s := range r {
		c, err := s.Lookup(ctx, req)
		if err == nil {
			return c, nil
		}
		if !IsNotFound(err) {
			return Credential{}, err
		}
	}
	return Credential{}, ErrNotFound
}

// RouteKind says which kind of source manages a registry.
type RouteKind int

// The kinds of managed routes.
const (
	RouteSecret RouteKind = iota + 1
	RouteECR
	RouteECRPublic
)

// Route is the decision, made from configuration alone, of how a managed
// registry is resolved.
type Route struct {
	Kind  RouteKind
	Entry Entry
	// ECR is the ECR registry for RouteECR, the host for RouteECRPublic.
	ECR ECRRegistry
}

// String describes the route for logs, list and notices; never a secret.
func (r Route) String() string {
	switch r.Kind {
	case RouteSecret:
		return "secretsmanager:" + r.Entry.Secret
	case RouteECR:
		return "ecr:" + r.ECR.Host
	case RouteECRPublic:
		return "ecr-public:" + r.ECR.Host
	}
	return ""
}

// Managed is the source for registries the configuration manages:
// mapped registries, ECR hosts and ECR Public.
type Managed struct {
	Config  *Config
	Clients Clients
}

// Route decides, without any network or AWS work, whether a normalised
// registry is managed and how.
func (m *Managed) Route(registry string) (Route, bool) {
	if e, ok := m.Config.lookup(registry); ok {
		if e.ECR != "" {
			if IsECRPublicHost(e.ECR) {
				return Route{Kind: RouteECRPublic, Entry: e, ECR: ECRRegistry{Host: e.ECR, Region: ecrPublicRegion}}, true
			}
			reg, _ := ParseECRHost(e.ECR)
			return Route{Kind: RouteECR, Entry: e, ECR: reg}, true
		}
		return Route{Kind: RouteSecret, Entry: e}, true
	}
	if m.Config.ECR {
		if reg, ok := ParseECRHost(registry); ok {
			return Route{Kind: RouteECR, Entry: Entry{Registry: registry}, ECR: reg}, true
		}
	}
	if m.Config.ECRPublic && IsECRPublicHost(registry) {
		h := registry
		return Route{Kind: RouteECRPublic, Entry: Entry{Registry: registry}, ECR: ECRRegistry{Host: h, Region: ecrPublicRegion}}, true
	}
	return Route{}, false
}

// Lookup implements Source.
func (m *Managed) Lookup(ctx context.Context, req Request) (Credential, error) {
	route, ok := m.Route(req.Registry)
	if !ok {
		return Credential{}, ErrNotFound
	}
	return m.Resolve(ctx, req.Registry, route)
}

// Resolve fetches the credential a route leads to.
func (m *Managed) Resolve(ctx context.Context, registry string, route Route) (Credential, error) {
	timeout := m.Config.Timeout.String()
	var (
		c   Credential
		err error
	)
	switch route.Kind {
	case RouteSecret:
		c, err = secretSource{entry: route.Entry, clients: m.Clients}.resolve(ctx, registry, timeout)
	case RouteECR:
		c, err = ecrSource{reg: route.ECR, entry: route.Entry, clients: m.Clients}.resolve(ctx, registry, timeout)
	case RouteECRPublic:
		c, err = ecrPublicSource{host: route.ECR.Host, entry: route.Entry, clients: m.Clients}.resolve(ctx, registry, timeout)
	default:
		return Credential{}, errors.New("unknown route")
	}
	if err != nil && IsNotFound(err) {
		// A managed registry must never degrade into anonymous access.
		// Err stays nil: wrapping the not-found error would let the
		// resolver (errors.As) treat this failure as not-found again.
		return Credential{}, &ResolveError{Registry: registry, Source: route.String(), Message: "no credentials"}
	}
	return c, err
}
