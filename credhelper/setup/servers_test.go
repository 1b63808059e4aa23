package setup

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/credhelpers/docker-credential-secretsmanager/internal/testserver"
)

// motoServer starts moto on a free loopback port for the test and stops
// it in cleanup. It skips in -short mode; a missing moto_server fails.
func motoServer(t *testing.T, env ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("moto: integration test")
	}
	return testserver.Moto(t, testserver.Options{}, env...)
}

// isolate gives the test its own HOME, DOCKER_CONFIG and AWS settings
// pointing at moto (when motoURL is set), and returns the Docker config dir.
func isolate(t *testing.T, motoURL string) string {
	t.Helper()
	home := t.TempDir()
	dc := filepath.Join(home, ".docker")
	if err := os.MkdirAll(dc, 0o700); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HOME": home, "DOCKER_CONFIG": dc, "XDG_RUNTIME_DIR": filepath.Join(home, "run"),
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_ENDPOINT_URL": motoURL, "AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
		"AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "", "DOCKER_CREDENTIAL_SECRETSMANAGER_CONFIG": "",
		"DOCKER_CREDENTIAL_SECRETSMANAGER_FALLBACK": "", "DOCKER_CREDENTIAL_SECRETSMANAGER_TIMEOUT": "10s",
		"DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT": "off", "DOCKER_AUTH_CONFIG": "",
		EnvDockerHubRegistry: "",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	return dc
}

// createSecret stores a secret in moto and returns its ARN.
func createSecret(t *testing.T, motoURL, name, value string) string {
	t.Helper()
	c := secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(motoURL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	out, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatalf("creating secret %s: %v", name, err)
	}
	return aws.ToString(out.ARN)
}

func userPass(user, pass string) string {
	b, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	return string(b)
}

func randomSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

// basicRegistry is a registry that answers /v2/ with a Basic challenge
// and accepts one login, as distribution's htpasswd auth does.
func basicRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// hubStandIn imitates Docker Hub: a registry with a Bearer challenge
// whose realm is its own /token endpoint, and the rate-limit headers on a
// HEAD of ratelimitpreview/test.
type hubStandIn struct {
	Host string
	User string
	Pass string

	mu sync.Mutex
	// limits per kind of caller ("anonymous", "account"): limit and
	// remaining; a nil entry sends no headers (a paid plan).
	limits map[string]*[2]int
	tokens map[string]string // token → kind
	heads  int
}

func newHubStandIn(t *testing.T, user, pass string) *hubStandIn {
	t.Helper()
	h := &hubStandIn{User: user, Pass: pass, tokens: map[string]string{},
		limits: map[string]*[2]int{"anonymous": {100, 76}, "account": {200, 187}}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.Host = strings.TrimPrefix(srv.URL, "http://")
	return h
}

func (h *hubStandIn) setLimit(kind string, v *[2]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.limits[kind] = v
}

func (h *hubStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.URL.Path == "/token" {
		if r.URL.Query().Get("service") != "registry.docker.io" {
			http.Error(w, "bad service", http.StatusBadRequest)
			return
		}
		kind := "anonymous"
		if u, p, ok := r.BasicAuth(); ok {
			if u != h.User || p != h.Pass {
				http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
				return
			}
			kind = "account"
		}
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		tok := base64.RawURLEncoding.EncodeToString(b)
		h.tokens[tok] = kind
		_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": 300})
		return
	}
	kind, ok := h.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="registry.docker.io"`, h.Host))
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return
	}
	switch {
	case r.URL.Path == "/v2/":
		_, _ = w.Write([]byte("{}"))
	case r.Method == http.MethodHead && r.URL.Path == "/v2/ratelimitpreview/test/manifests/latest":
		h.heads++
		if l := h.limits[kind]; l != nil {
			w.Header().Set("ratelimit-limit", fmt.Sprintf("%d;w=21600", l[0]))
			w.Header().Set("ratelimit-remaining", fmt.Sprintf("%d;w=21600", l[1]))
			src := "203.0.113.7"
			if kind == "account" {
				src = "6c3b4a2e-account-uuid"
			}
			w.Header().Set("docker-ratelimit-source", src)
		}
		w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
	default:
		http.NotFound(w, r)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func containsAny(s string, values ...string) bool {
	for _, v := range values {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// buildHelper builds the helper binary into a temp dir. Call it before
// isolate, so that the build uses the user's Go cache.
func buildHelper(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "docker-credential-secretsmanager")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/docker-credential-secretsmanager").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
