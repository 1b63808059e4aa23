package credhelper

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/docker/docker-credential-helpers/credentials"
)

func BenchmarkNormalizeRegistry(b *testing.B) {
	for _, in := range []string{
		"https://index.docker.io/v1/",
		"ghcr.io/owner/repo",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com",
		"http://[::1]:5000/v2/",
	} {
		b.Run(in, func(b *testing.B) {
			for b.Loop() {
				if _, err := NormalizeRegistry(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLoadConfig(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, ConfigFileName)
	data, err := os.ReadFile(unitFixture("full.json"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{
		"DOCKER_CONFIG": dir,
		EnvRegistries:   "docker.io=ci/dockerhub,ghcr.io=ghcr,quay.io=quay,*.internal.example=internal",
		EnvTimeout:      "10s",
	}
	getenv := func(k string) string { return env[k] }
	for b.Loop() {
		if c := LoadConfig(getenv); c.Err != nil {
			b.Fatal(c.Err)
		}
	}
}

// manyEntries is an env value with n exact entries and n/10 wildcards.
func manyEntries(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "registry%d.example.com=secret-%d,", i, i)
	}
	for i := range n / 10 {
		fmt.Fprintf(&sb, "*.zone%d.example.org=wild-%d,", i, i)
	}
	return sb.String()
}

func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{10, 1000} {
		c := LoadConfig(testEnv(b, EnvRegistries, manyEntries(n)))
		if c.Err != nil {
			b.Fatal(c.Err)
		}
		m := &Managed{Config: c}
		for _, reg := range []string{
			fmt.Sprintf("registry%d.example.com", n-1),     // exact, last
			fmt.Sprintf("a.zone%d.example.org", n/10-1),    // wildcard
			"123456789012.dkr.ecr.us-east-1.amazonaws.com", // ECR, no entry
			"unmanaged.example.net",                        // nothing
		} {
			b.Run(fmt.Sprintf("%d/%s", n, reg), func(b *testing.B) {
				for b.Loop() {
					m.Route(reg)
				}
			})
		}
	}
}

func BenchmarkGet(b *testing.B) {
	value := aws.String(`{"username":"bench","password":"bench-pass"}`)
	clients := &fakeClients{secrets: func(context.Context, Identity) (SecretValueGetter, string, error) {
		return secretGetterFunc(func(_ context.Context, in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
			return &secretsmanager.GetSecretValueOutput{SecretString: value, ARN: in.SecretId}, nil
		}), "us-east-1", nil
	}}
	for _, tt := range []struct{ name, url string }{
		{"managed", "https://index.docker.io/v1/"},
		{"unmanaged", "ghcr.io"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			getenv := testEnv(b, EnvRegistries, "docker.io=ci/dockerhub")
			var out bytes.Buffer
			for b.Loop() {
				// One invocation as the binary runs it: config, helper, protocol.
				h := NewHelper(LoadConfig(getenv), clients, io.Discard, slog.New(slog.DiscardHandler))
				out.Reset()
				err := credentials.HandleCommand(h, "get", strings.NewReader(tt.url), &out)
				if (err == nil) != (tt.name == "managed") {
					b.Fatalf("get %s: %v", tt.url, err)
				}
			}
		})
	}
}

func BenchmarkParseSecret(b *testing.B) {
	for _, tt := range []struct{ name, value, registry string }{
		{"username-password", `{"username":"u","password":"p"}`, "docker.io"},
		{"pull-through-cache", `{"username":"u","accessToken":"p"}`, "docker.io"},
		{"docker-config", `{"auths":{"quay.io":{"auth":"` + b64("q:q") + `"},"https://index.docker.io/v1/":{"auth":"` + b64("u:p") + `"}}}`, "docker.io"},
	} {
		value := []byte(tt.value)
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := parseSecret(value, tt.registry, "", ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
