package setup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// EnvDockerHubRegistry overrides Docker Hub's registry endpoint
// (registry-1.docker.io) for doctor's checks, as host[:port] or a URL;
// tests point it at a local stand-in. The token service is whatever the
// registry's challenge names, as for any registry.
const EnvDockerHubRegistry = "DOCKER_CREDENTIAL_SECRETSMANAGER_DOCKERHUB_REGISTRY"

const dockerHubRegistry = "registry-1.docker.io"

// rateLimitRepo is the repository Docker provides for reading the pull
// allowance: a HEAD of its manifest does not count as a pull.
const rateLimitRepo = "ratelimitpreview/test"

// registryEndpoint names the registry to contact for a normalised
// registry: Docker Hub's API host (or its override) for docker.io. An
// http:// override is plain HTTP; go-containerregistry already tries
// plain HTTP after HTTPS for loopback and private addresses.
func registryEndpoint(reg string, getenv func(string) string) (name.Registry, error) {
	host := reg
	if reg == credhelper.DockerHub {
		host = dockerHubRegistry
		if v := getenv(EnvDockerHubRegistry); v != "" {
			host = v
		}
	}
	var opts []name.Option
	if rest, ok := strings.CutPrefix(host, "http://"); ok {
		host, opts = rest, []name.Option{name.Insecure}
	}
	return name.NewRegistry(strings.TrimSuffix(strings.TrimPrefix(host, "https://"), "/"), opts...)
}

func authenticator(c credhelper.Credential) authn.Authenticator {
	if c.Username == "<token>" {
		return authn.FromConfig(authn.AuthConfig{IdentityToken: c.Secret})
	}
	return &authn.Basic{Username: c.Username, Password: c.Secret}
}

func httpTransport() http.RoundTripper {
	return http.DefaultTransport.(*http.Transport).Clone()
}

// accepts asks the registry whether it accepts the credential: the /v2/
// challenge, the token exchange it asks for, and an authenticated /v2/.
func (d *doctor) accepts(ctx context.Context, timeout time.Duration, reg string, cred credhelper.Credential) Row {
	row := Row{Check: checkAccepts, Subject: reg}
	ep, err := registryEndpoint(reg, d.getenv)
	if err != nil {
		row.Status, row.Detail = StatusFail, credhelper.OneLine(err.Error())
		return row
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := authenticatedResponse(ctx, ep, authenticator(cred), nil, http.MethodGet, "/v2/")
	if err != nil {
		return failedContact(row, ep, err, timeout)
	}
	switch status := resp.StatusCode; {
	case status == http.StatusOK:
		row.Status, row.Detail = StatusOK, "the registry accepts the credentials ("+ep.RegistryStr()+")"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		row.Status = StatusFail
		row.Detail = fmt.Sprintf("rejected (HTTP %d): the registry does not accept the resolved credentials", status)
		row.Fix = "update the secret's username/password (or token) to a valid login for " + reg
	default:
		row.Status = StatusFail
		row.Detail = fmt.Sprintf("unexpected answer HTTP %d from %s", status, ep.RegistryStr())
		row.Fix = "check that " + reg + " is a registry (v2 API) and that no proxy rewrites it"
	}
	return row
}

// authenticatedResponse runs go-containerregistry's transport (the ping,
// the challenge and any token exchange) and then one request through it.
func authenticatedResponse(ctx context.Context, reg name.Registry, auth authn.Authenticator, scopes []string, method, path string) (*http.Response, error) {
	tr, err := transport.NewWithContext(ctx, reg, auth, httpTransport(), scopes)
	if err != nil {
		return nil, err
	}
	// The same schemes, in the same order, as the transport's ping.
	schemes := []string{"https"}
	if reg.Scheme() == "http" {
		schemes = append(schemes, "http")
	}
	var resp *http.Response
	for _, scheme := range schemes {
		req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+reg.RegistryStr()+path, nil)
		if err != nil {
			return nil, err
		}
		if method == http.MethodHead {
			req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
		}
		if resp, err = (&http.Client{Transport: tr}).Do(req); err == nil {
			return resp, resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// failedContact turns a transport failure into a row: a rejected token
// exchange, or an unreachable registry.
func failedContact(row Row, reg name.Registry, err error, timeout time.Duration) Row {
	row.Status = StatusFail
	var terr *transport.Error
	var netErr net.Error
	switch {
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden):
		row.Detail = fmt.Sprintf("rejected (HTTP %d) by the token exchange: the credentials are not valid there", terr.StatusCode)
		row.Fix = "update the secret's username/password (or token) to a valid login for " + row.Subject
	case errors.As(err, &terr):
		row.Detail = fmt.Sprintf("the registry answered HTTP %d during authentication", terr.StatusCode)
		row.Fix = "check that " + reg.RegistryStr() + " is a registry (v2 API) and that no proxy rewrites it"
	case errors.Is(err, context.DeadlineExceeded):
		row.Detail = fmt.Sprintf("unreachable: no answer within %s", timeout)
		row.Fix = "check the network and HTTPS_PROXY for " + reg.RegistryStr() + ", or raise " + credhelper.EnvTimeout
	case errors.As(err, &netErr):
		row.Detail = "unreachable: " + credhelper.OneLine(err.Error())
		row.Fix = "check the network, DNS and HTTPS_PROXY for " + reg.RegistryStr()
	default:
		row.Detail = "unreachable: " + credhelper.OneLine(err.Error())
		row.Fix = "check the network, DNS, TLS and HTTPS_PROXY for " + reg.RegistryStr()
	}
	return row
}

// hubLimits reads Docker Hub's pull allowance, anonymous and for the
// mapped account.
func (d *doctor) hubLimits(ctx context.Context, timeout time.Duration, cred *credhelper.Credential) []Row {
	ep, err := registryEndpoint(credhelper.DockerHub, d.getenv)
	if err != nil {
		return []Row{{Check: checkHubLimit, Subject: "docker.io", Status: StatusFail, Detail: credhelper.OneLine(err.Error()), Fix: "fix " + EnvDockerHubRegistry}}
	}
	var rows []Row
	if cred != nil {
		rows = append(rows, d.hubLimit(ctx, timeout, ep, "account "+cred.Username, authenticator(*cred), true))
	}
	// Anonymous pulls only matter when the account is not used.
	return append(rows, d.hubLimit(ctx, timeout, ep, "anonymous (this address)", authn.Anonymous, cred == nil))
}

func (d *doctor) hubLimit(ctx context.Context, timeout time.Duration, reg name.Registry, subject string, auth authn.Authenticator, used bool) Row {
	row := Row{Check: checkHubLimit, Subject: subject}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	scope := "repository:" + rateLimitRepo + ":" + transport.PullScope
	resp, err := authenticatedResponse(ctx, reg, auth, []string{scope}, http.MethodHead, "/v2/"+rateLimitRepo+"/manifests/latest")
	if err != nil {
		row = failedContact(row, reg, err, timeout)
		if !used && row.Status == StatusFail {
			row.Status = StatusWarn
		}
		return row
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		row.Status = StatusFail
		row.Detail = fmt.Sprintf("rejected (HTTP %d): the credentials are not accepted by Docker Hub", resp.StatusCode)
		row.Fix = "update the secret's Docker Hub username and access token"
		return row
	}
	limit, window, okL := parseRateLimit(resp.Header.Get("ratelimit-limit"))
	remaining, _, okR := parseRateLimit(resp.Header.Get("ratelimit-remaining"))
	source := resp.Header.Get("docker-ratelimit-source")
	if !okL || !okR {
		row.Status, row.Detail = StatusOK, "no pull limit reported (a paid plan, or a mirror without limits)"
		if resp.StatusCode != http.StatusOK {
			row.Status, row.Detail = StatusWarn, fmt.Sprintf("HTTP %d and no pull limit reported", resp.StatusCode)
		}
		return row
	}
	row.Limit, row.Remaining, row.Window = &limit, &remaining, window
	row.Detail = fmt.Sprintf("%d of %d pulls left", remaining, limit)
	if window > 0 {
		row.Detail += fmt.Sprintf(" per %gh", float64(window)/3600)
	}
	if source != "" {
		row.Detail += " (counted for " + source + ")"
	}
	switch {
	case remaining > 0:
		row.Status = StatusOK
	case used:
		row.Status = StatusFail
		row.Fix = "pulls fail with toomanyrequests until the window resets: map docker.io to an account with allowance, or use an ECR pull-through cache"
	default:
		row.Status = StatusWarn
		row.Fix = "anonymous pulls from this address fail; the mapped account is used instead"
	}
	return row
}

// parseRateLimit reads "100;w=21600" into 100 and 21600.
func parseRateLimit(v string) (n, window int, ok bool) {
	if v == "" {
		return 0, 0, false
	}
	parts := strings.Split(v, ";")
	n, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil {
		return 0, 0, false
	}
	for _, p := range parts[1:] {
		if w, ok := strings.CutPrefix(strings.TrimSpace(p), "w="); ok {
			window, _ = strconv.Atoi(w)
		}
	}
	return n, window, true
}
