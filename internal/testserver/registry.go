package testserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RegistryOptions configure Registry.
type RegistryOptions struct {
	Options
	// Dir holds the registry's config, htpasswd file and storage;
	// t.TempDir() when empty. Suites that search for secrets pass one
	// they search.
	Dir string
	// User, when set, is the one user of htpasswd (bcrypt) auth, with
	// Password.
	User, Password string
}

// Registry runs Debian's distribution registry (docker-registry serve)
// on a free port of 127.0.0.1 with filesystem storage and, when User is
// set, htpasswd auth; it returns host:port once /v2/ answers (401 with
// auth, 200 without) and stops the registry when the test ends.
//
// The htpasswd entry is made by `htpasswd -niB`, which reads the password
// from stdin: it never appears in a command line.
func Registry(t testing.TB, opts RegistryOptions) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry not found on PATH: install it with scripts/deps.sh (Debian package docker-registry)")
	}
	if opts.Name == "" {
		opts.Name = "registry"
	}
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	config := fmt.Sprintf(`version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: %q}
  delete: {enabled: true}
http: {addr: %q, secret: %q}
`, filepath.Join(dir, "data"), host, hex.EncodeToString(secret))
	want := http.StatusOK
	if opts.User != "" {
		path := filepath.Join(dir, "htpasswd")
		writeHtpasswd(t, path, opts.User, opts.Password)
		config += fmt.Sprintf("auth:\n  htpasswd: {realm: %q, path: %q}\n", opts.Name, path)
		want = http.StatusUnauthorized
	}
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := Start(t, opts.Options, bin, "serve", configPath)
	p.WaitHTTP(t, "http://"+host+"/v2/", want)
	return host
}

// writeHtpasswd writes a bcrypt htpasswd entry for user, the password on
// htpasswd's stdin.
func writeHtpasswd(t testing.TB, path, user, password string) {
	t.Helper()
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Fatal("htpasswd not found on PATH: install it with scripts/deps.sh (Debian package apache2-utils)")
	}
	cmd := exec.Command(bin, "-niB", user)
	cmd.Stdin = strings.NewReader(password + "\n")
	entry, err := cmd.Output()
	if err != nil {
		t.Fatalf("htpasswd -niB %s: %v", user, err)
	}
	if err := os.WriteFile(path, entry, 0o600); err != nil {
		t.Fatal(err)
	}
}
