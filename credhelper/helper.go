package credhelper

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
)

// Helper implements the credential-helper protocol (credentials.Helper)
// over the configured sources.
type Helper struct {
	config  *Config
	managed *Managed
	store   Store    // nil when nothing receives unmanaged logins
	chain   Resolver // what get asks, in order
	stderr  io.Writer
	log     *slog.Logger
	now     func() time.Time
}

// NewHelper builds the helper from a loaded configuration. clients is
// only used when a managed registry is asked for.
func NewHelper(cfg *Config, clients Clients, stderr io.Writer, log *slog.Logger) *Helper {
	h := &Helper{
		config:  cfg,
		managed: &Managed{Config: cfg, Clients: clients},
		stderr:  stderr,
		log:     log,
		now:     time.Now,
	}
	h.chain = Resolver{h.managed}
	if cfg.Fallback != "" {
		h.store = NewFallback(cfg.Fallback)
		h.chain = append(h.chain, h.store)
	}
	return h
}

var _ credentials.Helper = (*Helper)(nil)

// Get implements credentials.Helper.
func (h *Helper) Get(serverURL string) (string, string, error) {
	if h.config.Err != nil {
		fmt.Fprintln(h.stderr, h.config.Err) // see the failed-get case below
		return "", "", h.config.Err
	}
	registry, err := NormalizeRegistry(serverURL)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.config.Timeout)
	defer cancel()
	start := h.now()
	c, err := h.chain.Lookup(ctx, Request{ServerURL: serverURL, Registry: registry})
	took := h.now().Sub(start)
	switch {
	case IsNotFound(err):
		h.log.Debug("get: not managed", "registry", registry)
		return "", "", err
	case err != nil:
		h.log.Info("get failed", "registry", registry, "took", took, "error", err.Error())
		// docker pull and docker push drop a failed get's stdout and go on
		// anonymously ("no basic auth credentials"); stderr reaches the user.
		fmt.Fprintln(h.stderr, err)
		return "", "", err
	}
	attrs := []any{"registry", registry, "source", c.Source, "took", took}
	if !c.Expires.IsZero() {
		attrs = append(attrs, "expires", c.Expires.UTC().Format(time.RFC3339))
	}
	h.log.Info("get", attrs...)
	return c.Username, c.Secret, nil
}

// Add implements credentials.Helper (the store verb, run by docker login).
// A managed registry's login succeeds without being stored: the managed
// source wins, and existing `docker login` lines keep working.
func (h *Helper) Add(c *credentials.Credentials) error {
	if h.config.Err != nil {
		return h.config.Err
	}
	registry, err := NormalizeRegistry(c.ServerURL)
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	if route, ok := h.managed.Route(registry); ok {
		fmt.Fprintf(h.stderr, "%s: %s is managed by %s; the login was not stored, pulls and pushes use %s\n", Name, registry, Name, route)
		h.log.Info("store: managed, not stored", "registry", registry, "source", route.String())
		return nil
	}
	if h.store == nil {
		return fmt.Errorf("%s: cannot store the login for %s: it is not a managed registry and no fallback helper is configured; "+
			"map it to a secret in %s, or set %s to a credential helper (e.g. pass for docker-credential-pass)",
			Name, registry, EnvRegistries, EnvFallback)
	}
	h.log.Info("store: handed to fallback", "registry", registry, "fallback", h.store.Name())
	ctx, cancel := context.WithTimeout(context.Background(), h.config.Timeout)
	defer cancel()
	return h.store.Store(ctx, c)
}

// Delete implements credentials.Helper (the erase verb, run by docker
// logout). It never fails for a registry it does not know.
func (h *Helper) Delete(serverURL string) error {
	registry, err := NormalizeRegistry(serverURL)
	if err == nil && h.config.Err == nil {
		if _, ok := h.managed.Route(registry); ok {
			h.log.Info("erase: managed, nothing stored", "registry", registry)
			return nil
		}
	}
	if h.store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.config.Timeout)
	defer cancel()
	if err := h.store.Erase(ctx, serverURL); err != nil && !IsNotFound(err) {
		return err
	}
	return nil
}

// List implements credentials.Helper. It answers the mapped non-wildcard
// registries, merged with the fallback's list; it makes no AWS call and
// never fails, because the legacy builder drops every credential when
// list fails.
func (h *Helper) List() (map[string]string, error) {
	out := map[string]string{}
	if h.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), h.config.Timeout)
		defer cancel()
		m, err := h.store.List(ctx)
		if err != nil {
			fmt.Fprintf(h.stderr, "%s: list: %v (continuing without its entries)\n", Name, err)
		}
		maps.Copy(out, m)
	}
	if h.config.Err != nil {
		fmt.Fprintf(h.stderr, "%s: list: %v\n", Name, h.config.Err)
	}
	for _, e := range h.config.Entries {
		if e.Wildcard() {
			continue
		}
		route, ok := h.managed.Route(e.Registry)
		if !ok {
			continue
		}
		key := e.Registry
		if key == DockerHub {
			key = DockerHubServerURL
		}
		out[key] = route.String()
	}
	return out, nil
}
