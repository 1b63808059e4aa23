package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// secretNameFor turns a registry into a secret name: Secrets Manager
// allows letters, digits and /_+=.@- only, so a port's colon becomes _.
func secretNameFor(prefix, registry string) string {
	return prefix + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+=.@-", r) {
			return r
		}
		return '_'
	}, registry)
}

// migrate moves the plaintext logins of dc into Secrets Manager and the
// helper's config file, and removes them from next (the config.json to
// be written). It changes nothing on disk unless every login was stored
// and get resolves every one of them to the same credentials.
func migrate(ctx context.Context, opts configureOptions, dc *dockerConfig, next *object, stdout, stderr io.Writer, getenv func(string) string) ([]plainAuth, error) {
	plain := dc.plaintext()
	if len(plain) == 0 {
		fmt.Fprintf(stdout, "%s: no plaintext logins to migrate\n", dc.Path)
		return nil, nil
	}
	for _, p := range plain {
		if p.Err != nil {
			return nil, errorf("%s: auths entry %q: %v; nothing was changed", dc.Path, p.Key, p.Err)
		}
	}
	cfg := credhelper.LoadConfig(getenv)
	if cfg.Err != nil {
		return nil, errorf("%v; fix it before migrating (nothing was changed)", cfg.Err)
	}
	helperPath := cfg.File
	helper, err := readDockerConfig(helperPath) // same rules: a JSON object, kept field by field
	if err != nil {
		return nil, err
	}
	helperObj := helper.obj

	// A registry the helper already serves (a mapping, or an ECR host whose
	// plaintext token expires anyway) keeps its source: its plaintext login
	// is only removed, once get resolves it.
	m := &credhelper.Managed{Config: cfg}
	names := make([]string, len(plain))
	toStore := 0
	for i, p := range plain {
		if r, ok := m.Route(p.Registry); ok {
			plain[i].Route = r.String()
			continue
		}
		names[i] = secretNameFor(opts.prefix, p.Registry)
		toStore++
	}
	if opts.dryRun {
		for i, p := range plain {
			if p.Route != "" {
				fmt.Fprintf(stdout, "would check that get resolves %s (already served by %s) and remove its plaintext entry\n", p.Key, p.Route)
				continue
			}
			fmt.Fprintf(stdout, "would store the login for %s in secret %q (tag %s=%s), map %s to it in %s, check that get resolves it, and remove the plaintext entry\n",
				p.Key, names[i], RegistryTag, p.Registry, p.Registry, helperPath)
		}
		return plain, dropAuth(next, plain)
	}
	if toStore == 0 {
		if err := verifyResolution(ctx, plain, getenv); err != nil {
			return nil, errorf("%w; %s was left untouched", err, dc.Path)
		}
		for _, p := range plain {
			fmt.Fprintf(stdout, "%s: already served by %s; get resolves it\n", p.Key, p.Route)
		}
		return plain, dropAuth(next, plain)
	}
	if err := os.MkdirAll(filepath.Dir(helperPath), 0o700); err != nil {
		return nil, err
	}

	awsCfg, err := credhelper.NewAWSClients(slog.New(slog.DiscardHandler)).Config(ctx, credhelper.Identity{Region: opts.region})
	if err != nil {
		return nil, errorf("%w (nothing was changed)", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("no AWS region: pass --region or set AWS_REGION (nothing was changed)")
	}
	client := secretsmanager.NewFromConfig(awsCfg)

	registries, err := helperObj.child("registries")
	if err != nil {
		return nil, errorf("%s: %w (nothing was changed)", helperPath, err)
	}
	var stored []string
	abort := func(err error) ([]plainAuth, error) {
		if len(stored) > 0 {
			fmt.Fprintf(stderr, "%s configure: secrets written before the failure (no configuration refers to them yet): %s\n",
				credhelper.Name, strings.Join(stored, ", "))
		}
		return nil, errorf("%w; %s was left untouched", err, dc.Path)
	}
	for i, p := range plain {
		if p.Route != "" {
			continue
		}
		value, err := json.Marshal(map[string]string{"username": p.Username, "password": p.Password})
		if err != nil {
			return abort(err)
		}
		arn, err := putSecret(ctx, client, names[i], p.Registry, string(value))
		if err != nil {
			return abort(errorf("storing the login for %s in secret %q: %s", p.Key, names[i], describeAWSError(err)))
		}
		stored = append(stored, names[i])
		// The registry is not mapped (else it would be served already), so
		// its entry is new: it names only the secret, written with this
		// run's identity.
		entry, _ := json.Marshal(map[string]string{"secret": arn})
		registries.set(p.Registry, entry)
	}
	if err := helperObj.setChild("registries", registries); err != nil {
		return abort(err)
	}
	data, err := helperObj.marshal()
	if err != nil {
		return abort(err)
	}
	// get is checked against the new file before it replaces the old one.
	verifyPath := helperPath + ".verify"
	defer func() { _ = os.Remove(verifyPath) }()
	if err := writeAtomic(verifyPath, data, 0o600); err != nil {
		return abort(err)
	}
	withNewFile := func(k string) string {
		if k == credhelper.EnvConfig {
			return verifyPath
		}
		return getenv(k)
	}
	if err := verifyResolution(ctx, plain, withNewFile); err != nil {
		return abort(err)
	}
	if helper.Exists {
		if err := writeAtomic(helperPath+".bak", helper.Data, helper.Mode); err != nil {
			return abort(errorf("backing up %s: %w", helperPath, err))
		}
	}
	if err := writeAtomic(helperPath, data, helper.Mode); err != nil {
		return abort(errorf("writing %s: %w", helperPath, err))
	}
	for i, p := range plain {
		if p.Route != "" {
			fmt.Fprintf(stdout, "%s: already served by %s; get resolves it\n", p.Key, p.Route)
			continue
		}
		fmt.Fprintf(stdout, "%s: stored in secret %q and mapped in %s; get resolves it\n", p.Key, names[i], helperPath)
	}
	return plain, dropAuth(next, plain)
}

// putSecret creates the secret, or updates it when it exists and carries
// this helper's tag for the same registry; it returns the secret's ARN.
func putSecret(ctx context.Context, c secretWriter, name, registry, value string) (string, error) {
	created, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		Description:  aws.String("Docker registry login for " + registry + " (docker-credential-secretsmanager)"),
		SecretString: aws.String(value),
		Tags:         []types.Tag{{Key: aws.String(RegistryTag), Value: aws.String(registry)}},
	})
	if err == nil {
		return aws.ToString(created.ARN), nil
	}
	var exists *types.ResourceExistsException
	if !errors.As(err, &exists) {
		return "", err
	}
	described, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		return "", err
	}
	tagged := false
	for _, t := range described.Tags {
		tagged = tagged || (aws.ToString(t.Key) == RegistryTag && aws.ToString(t.Value) == registry)
	}
	if !tagged {
		return "", errorf("a secret named %q exists and is not tagged %s=%s: choose another --prefix, or tag it to let configure update it", name, RegistryTag, registry)
	}
	arn := aws.ToString(described.ARN)
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(value)}); err != nil {
		return "", err
	}
	return arn, nil
}

// verifyResolution runs the helper's own get for every registry with the
// configuration getenv leads to, and compares the answer with the
// plaintext login (in memory) for registries whose login was stored.
func verifyResolution(ctx context.Context, plain []plainAuth, getenv func(string) string) error {
	cfg := credhelper.LoadConfig(getenv)
	if cfg.Err != nil {
		return errorf("the new helper configuration does not load: %v", cfg.Err)
	}
	m := &credhelper.Managed{Config: cfg, Clients: credhelper.NewAWSClients(slog.New(slog.DiscardHandler))}
	for _, p := range plain {
		cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		c, err := m.Lookup(cctx, credhelper.Request{ServerURL: p.Key, Registry: p.Registry})
		cancel()
		switch {
		case credhelper.IsNotFound(err):
			return errorf("get would not resolve %s after the migration", p.Key)
		case err != nil:
			return errorf("get would fail for %s after the migration: %v", p.Key, err)
		case p.Route == "" && (c.Username != p.Username || c.Secret != p.Password):
			return errorf("get resolves %s to other credentials than its plaintext login (does %s map it to another secret?)", p.Key, credhelper.EnvRegistries)
		}
	}
	return nil
}
