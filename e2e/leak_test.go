package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// scenarioLeakScan searches every file the suite wrote (the test HOME,
// every DOCKER_CONFIG, TMPDIR, the pass store, registry and moto logs, the
// helper's log and every client's captured output) for every secret value
// and its base64 user:password form. The helper's own get answers are
// never written: clients read them from a pipe.
func (s *suite) scenarioLeakScan(t *testing.T) {
	needles := map[string][]byte{}
	for i, v := range s.secrets {
		needles[fmt.Sprintf("secret #%d", i)] = []byte(v)
	}
	for _, r := range []registry{s.private, s.ecr, s.login} {
		needles["auth of "+r.host] = []byte(base64.StdEncoding.EncodeToString([]byte(r.user + ":" + r.password)))
	}
	files, configs := 0, 0
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for name, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s appears in %s", name, p)
			}
		}
		if d.Name() == "config.json" {
			configs++
			checkNoAuth(t, p, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	passStore := filepath.Join(s.home, ".password-store")
	if !fileExists(passStore) {
		t.Errorf("no pass store at %s: the login scenario did not run", passStore)
	}
	if configs < 5 || files < 50 {
		t.Errorf("scanned %d files, %d config.json: too few for the scenarios that ran", files, configs)
	}
	if !fileExists(filepath.Join(s.logs, "helper.log")) || readFile(t, filepath.Join(s.logs, "helper.log")) == "" {
		t.Errorf("the helper's debug log is empty: %s had nothing to scan", credhelper.EnvLogFile)
	}
	t.Logf("scanned %d files (%d config.json) for %d secret values", files, configs, len(needles))
}

// checkNoAuth fails if a Docker config holds credentials.
func checkNoAuth(t *testing.T, path string, b []byte) {
	t.Helper()
	var cfg struct {
		Auths map[string]map[string]any `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	for host, entry := range cfg.Auths {
		for _, k := range []string{"auth", "password", "identitytoken", "registrytoken"} {
			if v, ok := entry[k]; ok && v != "" {
				t.Errorf("%s: auths[%q] holds %q", path, host, k)
			}
		}
	}
}
