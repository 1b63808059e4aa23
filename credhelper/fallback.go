package credhelper

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
)

// A Store keeps credentials for registries this helper does not manage
// (what `docker login` stores). The fallback helper is one; the memory
// agent is another.
type Store interface {
	Source
	Name() string
	Store(ctx context.Context, c *credentials.Credentials) error
	Erase(ctx context.Context, serverURL string) error
	List(ctx context.Context) (map[string]string, error)
}

// Fallback is another credential helper, docker-credential-<name>, that
// receives what this helper does not manage.
type Fallback struct {
	name    string
	program client.ProgramFunc
}

// NewFallback returns the fallback helper docker-credential-<name>.
func NewFallback(name string) *Fallback {
	return &Fallback{name: name, program: client.NewShellProgramFunc("docker-credential-" + name)}
}

// Name implements Store.
func (f *Fallback) Name() string { return "docker-credential-" + f.name }

func (f *Fallback) wrap(verb string, err error) error {
	if err == nil || IsNotFound(err) {
		return err
	}
	// The client package flattens the helper's answer and exec's error
	// into text ("… - err: …, out: `…`"), so match on that text too.
	if strings.Contains(err.Error(), "out: `"+ErrNotFound.Error()+"`") {
		return ErrNotFound
	}
	if errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), exec.ErrNotFound.Error()) {
		return fmt.Errorf("%s: fallback helper %s is not installed (not in PATH): install it or change %s", Name, f.Name(), EnvFallback)
	}
	return fmt.Errorf("%s: fallback helper %s %s failed: %w", Name, f.Name(), verb, err)
}

// Lookup implements Source by asking the fallback helper.
func (f *Fallback) Lookup(_ context.Context, req Request) (Credential, error) {
	c, err := client.Get(f.program, req.ServerURL)
	if err != nil {
		return Credential{}, f.wrap("get", err)
	}
	return Credential{Username: c.Username, Secret: c.Secret, Source: f.Name()}, nil
}

// Store implements Store.
func (f *Fallback) Store(_ context.Context, c *credentials.Credentials) error {
	return f.wrap("store", client.Store(f.program, c))
}

// Erase implements Store.
func (f *Fallback) Erase(_ context.Context, serverURL string) error {
	return f.wrap("erase", client.Erase(f.program, serverURL))
}

// List implements Store.
func (f *Fallback) List(_ context.Context) (map[string]string, error) {
	m, err := client.List(f.program)
	return m, f.wrap("list", err)
}
