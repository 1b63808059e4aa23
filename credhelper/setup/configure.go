package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

const configureUsage = `Usage: docker-credential-secretsmanager configure [--dry-run] [--migrate [--prefix P] [--region R]] [registry ...]
       docker-credential-secretsmanager configure --print-policy

Makes the Docker config use this helper: credsStore, or credHelpers for the
registries given; every other field is kept, the previous file is kept as
config.json.bak. --dry-run shows the diff. --migrate moves plaintext logins
to Secrets Manager (secrets named P<registry>, default prefix
docker-credential-secretsmanager/) once get resolves them. --print-policy
prints the least-privilege IAM policy for the current mapping. See docs/doctor.md.
`

// DefaultSecretPrefix starts the names of secrets configure --migrate creates.
const DefaultSecretPrefix = "docker-credential-secretsmanager/"

// RegistryTag is the tag configure --migrate puts on the secrets it
// creates; its value is the registry. An existing secret is only updated
// when it carries this tag for the same registry.
const RegistryTag = "docker-credential-secretsmanager:registry"

type configureOptions struct {
	registries []string // credHelpers mode when not empty
	dryRun     bool
	migrate    bool
	prefix     string
	region     string
}

// Configure runs the configure command and returns its exit code.
func Configure(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	opts := configureOptions{prefix: DefaultSecretPrefix}
	var printPolicy bool
	pos, err := parseArgs(args, []flagDef{
		{name: "dry-run", b: &opts.dryRun}, {name: "migrate", b: &opts.migrate}, {name: "print-policy", b: &printPolicy},
		{name: "prefix", s: &opts.prefix}, {name: "region", s: &opts.region},
	})
	if err != nil {
		if errors.Is(err, errHelp) {
			fmt.Fprint(stdout, configureUsage)
			return 0
		}
		fmt.Fprintf(stderr, "%s configure: %v\n%s", credhelper.Name, err, configureUsage)
		return 2
	}
	for _, r := range pos {
		reg, err := credhelper.NormalizeRegistry(r)
		if err != nil {
			fmt.Fprintf(stderr, "%s configure: %v\n", credhelper.Name, err)
			return 2
		}
		opts.registries = append(opts.registries, reg)
	}
	ctx := context.Background()
	if printPolicy {
		return printPolicyCmd(ctx, stdout, stderr, getenv)
	}
	if err := configure(ctx, opts, stdout, stderr, getenv); err != nil {
		fmt.Fprintf(stderr, "%s configure: %v\n", credhelper.Name, err)
		return 1
	}
	return 0
}

// route makes the Docker config send registries to the helper. It
// reports what it changed, for the user.
func route(obj *object, registries []string) ([]string, error) {
	var notes []string
	if len(registries) == 0 {
		var prev string
		if raw, ok := obj.get("credsStore"); ok {
			_ = json.Unmarshal(raw, &prev)
		}
		if prev == HelperName {
			return nil, nil
		}
		obj.set("credsStore", json.RawMessage(`"`+HelperName+`"`))
		notes = append(notes, "credsStore: "+HelperName)
		if prev != "" {
			notes = append(notes, fmt.Sprintf("the previous credsStore %q no longer receives logins: set %s=%s (or \"fallback\" in the helper's config file) to keep its credentials for registries this helper does not manage",
				prev, credhelper.EnvFallback, prev))
		}
		return notes, nil
	}
	helpers, err := obj.child("credHelpers")
	if err != nil {
		return nil, err
	}
	for _, reg := range registries {
		key := authKey(reg)
		if raw, ok := helpers.get(key); ok && string(raw) == `"`+HelperName+`"` {
			continue
		}
		helpers.set(key, json.RawMessage(`"`+HelperName+`"`))
		notes = append(notes, "credHelpers: "+key+" → "+HelperName)
	}
	if len(notes) > 0 {
		if err := obj.setChild("credHelpers", helpers); err != nil {
			return nil, err
		}
	}
	return notes, nil
}

func configure(ctx context.Context, opts configureOptions, stdout, stderr io.Writer, getenv func(string) string) error {
	path := DockerConfigPath(getenv)
	// A symlinked config.json (dotfile managers) is updated where it
	// points, as the Docker CLI does, instead of being replaced by a file.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer func() {
		if err := unlock(); err != nil {
			fmt.Fprintf(stderr, "%s configure: releasing the lock: %v\n", credhelper.Name, err)
		}
	}()
	// Read under the lock, so that concurrent runs each apply their change
	// to the latest file.
	dc, err := readDockerConfig(path)
	if err != nil {
		return err
	}
	next, err := parseObject(mustCompact(dc.obj))
	if err != nil {
		return err
	}
	// Routing first: a config.json it cannot change stops a migration
	// before any secret is written.
	notes, err := route(next, opts.registries)
	if err != nil {
		return errorf("%s: %w; it was left untouched", path, err)
	}
	var migrated []plainAuth
	if opts.migrate {
		if migrated, err = migrate(ctx, opts, dc, next, stdout, stderr, getenv); err != nil {
			return err
		}
		if len(opts.registries) > 0 {
			regs := make([]string, len(migrated))
			for i, m := range migrated {
				regs[i] = m.Registry
			}
			more, err := route(next, regs)
			if err != nil {
				return errorf("%s: %w; it was left untouched", path, err)
			}
			notes = append(notes, more...)
		}
	}
	newData, err := next.marshal()
	if err != nil {
		return err
	}
	oldRender, err := redactedRender(dc.obj)
	if err != nil {
		return err
	}
	newRender, err := redactedRender(next)
	if err != nil {
		return err
	}
	if opts.dryRun {
		if bytes.Equal(oldRender, newRender) {
			fmt.Fprintf(stdout, "%s: already configured, nothing to change\n", path)
			return nil
		}
		fmt.Fprint(stdout, lineDiff(path, path+" (after configure)", string(oldRender), string(newRender)))
		return nil
	}
	if dc.Exists && bytes.Equal(oldRender, newRender) {
		fmt.Fprintf(stdout, "%s: already configured, nothing to change\n", path)
		return nil
	}
	if dc.Exists {
		// The backup never keeps passwords that were just migrated: they
		// live in Secrets Manager now.
		backup := dc.Data
		if len(migrated) > 0 {
			prev, err := parseObject(mustCompact(dc.obj))
			if err != nil {
				return err
			}
			if err := dropAuth(prev, migrated); err != nil {
				return err
			}
			if backup, err = prev.marshal(); err != nil {
				return err
			}
		}
		if err := writeAtomic(path+".bak", backup, dc.Mode); err != nil {
			return errorf("writing the backup: %w (nothing changed)", err)
		}
	}
	if err := writeAtomic(path, newData, dc.Mode); err != nil {
		return errorf("writing %s: %w (it was left untouched)", path, err)
	}
	for _, n := range notes {
		fmt.Fprintf(stdout, "%s: %s\n", path, n)
	}
	for _, m := range migrated {
		fmt.Fprintf(stdout, "%s: removed the plaintext login for %s\n", path, m.Key)
	}
	if dc.Exists {
		fmt.Fprintf(stdout, "previous file kept as %s.bak\n", path)
	}
	if !opts.migrate {
		if p := dc.plaintext(); len(p) > 0 {
			names := make([]string, len(p))
			for i, a := range p {
				names[i] = a.Key
			}
			fmt.Fprintf(stderr, "%s configure: plaintext logins remain for %s: run configure --migrate to move them to Secrets Manager\n",
				credhelper.Name, strings.Join(names, ", "))
		}
	}
	return nil
}

func mustCompact(o *object) []byte {
	b, err := o.compact()
	if err != nil {
		// compact only fails on values parseObject accepted as JSON.
		panic(err)
	}
	return b
}

// dropAuth removes the password of migrated entries, leaving the entry
// (as `docker login` with a helper does: "auths":{"host":{}}).
func dropAuth(obj *object, migrated []plainAuth) error {
	auths, err := obj.child("auths")
	if err != nil {
		return err
	}
	for _, m := range migrated {
		entry, err := auths.child(m.Key)
		if err != nil {
			return err
		}
		entry.del("auth")
		entry.del("username")
		entry.del("password")
		if err := auths.setChild(m.Key, entry); err != nil {
			return err
		}
	}
	return obj.setChild("auths", auths)
}

// redactedRender renders a config for diffs with every credential
// replaced, so that a diff never shows one.
func redactedRender(obj *object) ([]byte, error) {
	c, err := parseObject(mustCompact(obj))
	if err != nil {
		return nil, err
	}
	if _, ok := c.get("auths"); ok {
		auths, err := c.child("auths")
		if err != nil {
			return c.marshal()
		}
		for _, k := range auths.keys {
			entry, err := auths.child(k)
			if err != nil {
				continue
			}
			for _, f := range []string{"auth", "password", "identitytoken", "registrytoken"} {
				if _, ok := entry.get(f); ok {
					entry.set(f, json.RawMessage(`"<redacted>"`))
				}
			}
			if err := auths.setChild(k, entry); err != nil {
				return nil, err
			}
		}
		if err := c.setChild("auths", auths); err != nil {
			return nil, err
		}
	}
	return c.marshal()
}

// writeAtomic replaces path with data: a temp file in the same directory,
// synced, given mode, then renamed over path.
func writeAtomic(path string, data []byte, mode os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Chmod(mode); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// lineDiff is a unified-style diff of two small texts (whole-file
// context), enough to review a config change. Lines end in newlines.
func lineDiff(nameA, nameB, a, b string) string {
	x, y := splitLines(a), splitLines(b)
	n, m := len(x), len(y)
	w := m + 1
	// lcs[i*w+j] is the length of the longest common subsequence of x[i:] and y[j:].
	lcs := make([]int, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	out := "--- " + nameA + "\n+++ " + nameB + "\n"
	for i, j := 0, 0; i < n || j < m; {
		switch {
		case i < n && j < m && x[i] == y[j]:
			out += " " + x[i]
			i, j = i+1, j+1
		case j == m || (i < n && lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
			out += "-" + x[i]
			i++
		default:
			out += "+" + y[j]
			j++
		}
	}
	return out
}

func splitLines(s string) []string {
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
