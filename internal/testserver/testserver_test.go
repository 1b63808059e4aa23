package testserver

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMotoAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto_server")
	}
	url := Moto(t, Options{}, "INITIAL_NO_AUTH_ACTION_COUNT=5")
	if code := get(t, url+"/moto-api/", "", ""); code != http.StatusOK {
		t.Fatalf("GET /moto-api/: %d", code)
	}
}

func TestRegistryAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts docker-registry")
	}
	const pass = "pw-testserver-7f3a9c"
	dir := t.TempDir()
	host := Registry(t, RegistryOptions{Dir: dir, User: "alice", Password: pass})
	for _, c := range []struct {
		user, pass string
		want       int
	}{{"", "", http.StatusUnauthorized}, {"alice", "wrong", http.StatusUnauthorized}, {"alice", pass, http.StatusOK}} {
		if code := get(t, "http://"+host+"/v2/", c.user, c.pass); code != c.want {
			t.Errorf("GET /v2/ as %q: %d, want %d", c.user, code, c.want)
		}
	}
	entry, err := os.ReadFile(filepath.Join(dir, "htpasswd"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(entry), "alice:$2y$") || strings.Contains(string(entry), pass) {
		t.Errorf("htpasswd entry is not a bcrypt hash of the password: %q", entry)
	}
}

func TestRegistryAnonymous(t *testing.T) {
	if testing.Short() {
		t.Skip("starts docker-registry")
	}
	host := Registry(t, RegistryOptions{})
	if code := get(t, "http://"+host+"/v2/", "", ""); code != http.StatusOK {
		t.Fatalf("GET /v2/ without auth: %d", code)
	}
}

// get is the status of a GET of url, with Basic auth when user is set.
func get(t *testing.T, url, user, pass string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestWaitHTTPSeesExit(t *testing.T) {
	p, err := Launch(Options{Name: "false", LogDir: t.TempDir()}, "sh", "-c", "echo going away; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	err = p.Await("http://127.0.0.1:1/", 0)
	if err == nil || !strings.Contains(err.Error(), "exited before answering") || !strings.Contains(err.Error(), "going away") {
		t.Errorf("Await on an exited server: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop after exit: %v", err)
	}
}
