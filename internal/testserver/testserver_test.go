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
	resp, err := http.Get(url + "/moto-api/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /moto-api/: %s", resp.Status)
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
		req, err := http.NewRequest(http.MethodGet, "http://"+host+"/v2/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET /v2/ as %q: %s, want %d", c.user, resp.Status, c.want)
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
	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ without auth: %s", resp.Status)
	}
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
