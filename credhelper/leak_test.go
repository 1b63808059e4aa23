package credhelper_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
	"github.com/credhelpers/docker-credential-secretsmanager/internal/fakeaws"
)

// findLeaks searches every file under the suite's HOME, DOCKER_CONFIG
// (inside HOME) and TMPDIR directories, and every captured stderr and
// error output, for every secret value the suite used. TestMain runs it
// after all tests.
func findLeaks() []string {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	secrets := make([]string, 0, len(suite.secrets))
	for s := range suite.secrets {
		secrets = append(secrets, s)
	}
	sort.Strings(secrets)
	return scanForSecrets(suite.dirs, suite.outputs, secrets)
}

// scanForSecrets reports each (place, secret) hit, naming the secret by a
// prefix only so that the report itself does not leak it.
func scanForSecrets(dirs []string, outputs []captured, secrets []string) []string {
	var hits []string
	check := func(where string, data []byte) {
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				hits = append(hits, fmt.Sprintf("%s contains the secret %.4s…", where, s))
			}
		}
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			check("the name "+path, []byte(path))
			if d.Type().IsRegular() {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				check(path, data)
			}
			return nil
		})
		if err != nil {
			hits = append(hits, fmt.Sprintf("cannot search %s: %v", dir, err))
		}
	}
	for _, o := range outputs {
		check(o.what, []byte(o.data))
	}
	return hits
}

// TestLeakScannerFindsPlantedSecrets proves the scanner itself: a search
// that cannot find anything would make the suite's leak check pass
// vacuously.
func TestLeakScannerFindsPlantedSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "b", "cache.json"), []byte(`{"token":"planted-secret-1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	hits := scanForSecrets([]string{dir}, []captured{{what: "stderr", data: "oops planted-secret-2"}},
		[]string{"planted-secret-1", "planted-secret-2", "absent-secret"})
	if len(hits) != 2 {
		t.Fatalf("got %d hits, want 2: %q", len(hits), hits)
	}
	for _, h := range hits {
		if strings.Contains(h, "planted-secret") {
			t.Errorf("the report repeats the secret: %s", h)
		}
	}
}

// TestLogFileIsPrivateAndClean runs successful and failing gets against
// every source at debug level with a log file: the file is mode 0600, even
// if it existed with a wider mode, it logs the runs, and it holds no
// secret.
func TestLogFileIsPrivateAndClean(t *testing.T) {
	integration(t)
	fake := fakeaws.New()
	key := fakeaws.Credentials{AccessKeyID: "AKIALOGTEST000000001", SecretAccessKey: randomValue(t, "log-key-")}
	fake.AddKey(key)
	pass := randomValue(t, "log-pw-")
	fake.SetSecret("log/dockerhub", jsonString(t, map[string]string{"username": "logan", "password": pass}))
	fake.SetSecret("log/broken", jsonString(t, map[string]string{"username": "logan", "passwd": randomValue(t, "log-broken-")}))
	ecrPass := randomValue(t, "log-ecr-")
	fake.SetECRToken(ecrPass, time.Now().Add(12*time.Hour))
	l := fakeaws.Listen(fake)
	t.Cleanup(l.Close)

	for _, tc := range []struct {
		name string
		mode os.FileMode // of a log file that exists before the run; 0: none
	}{{"new-file", 0}, {"existing-0644-file", 0o644}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newHelperEnv(t).direct().awsKey(key.AccessKeyID, key.SecretAccessKey).endpoints(l.URL)
			logFile := filepath.Join(e.tmp, "helper.log")
			if tc.mode != 0 {
				if err := os.WriteFile(logFile, nil, tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(logFile, tc.mode); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_LOG", "debug", "DOCKER_CREDENTIAL_SECRETSMANAGER_LOG_FILE", logFile,
				"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "docker.io=log/dockerhub,broken.example.com=log/broken,gone.example.com=log/missing")

			e.mustGet(t, "https://index.docker.io/v1/", "logan", pass)
			e.mustGet(t, fakeaws.Account+".dkr.ecr.us-east-1.amazonaws.com", "AWS", ecrPass)
			e.mustGet(t, "public.ecr.aws", "AWS", ecrPass)
			e.mustFail(t, "broken.example.com", "'password'")
			e.mustFail(t, "gone.example.com", "ResourceNotFoundException")

			info, err := os.Stat(logFile)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("log file mode %v, want 0600", info.Mode().Perm())
			}
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"docker.io", "public.ecr.aws", "broken.example.com", "ResourceNotFoundException", "expires="} {
				if !bytes.Contains(data, []byte(want)) {
					t.Errorf("the log does not mention %q:\n%s", want, data)
				}
			}
			suite.mu.Lock()
			secrets := make([]string, 0, len(suite.secrets))
			for s := range suite.secrets {
				secrets = append(secrets, s)
			}
			suite.mu.Unlock()
			for _, hit := range scanForSecrets(nil, []captured{{what: "the log file", data: string(data)}}, secrets) {
				t.Error(hit)
			}
		})
	}
}

// TestLeakThroughAgent runs gets and a docker login through the memory
// agent, which users get by default: the agent holds secrets in memory
// only, so its directory under TMPDIR, its status output and the log file
// it shares must hold none of them. TestMain's leak check searches the
// directory after the suite.
func TestLeakThroughAgent(t *testing.T) {
	fake, e, _ := startFake(t)
	pass := randomValue(t, "agent-pw-")
	fake.SetSecret("agent/dockerhub", jsonString(t, map[string]string{"username": "dora", "password": pass}))
	ecrPass := randomValue(t, "agent-ecr-")
	fake.SetECRToken(ecrPass, time.Now().Add(12*time.Hour))
	logFile := filepath.Join(e.tmp, "helper.log")
	e.set(envAgent, "on",
		"DOCKER_CREDENTIAL_SECRETSMANAGER_LOG", "debug", "DOCKER_CREDENTIAL_SECRETSMANAGER_LOG_FILE", logFile,
		"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "docker.io=agent/dockerhub")

	e.mustGet(t, "https://index.docker.io/v1/", "dora", pass) // starts the agent
	waitForAgent(t, e)
	// The agent's directory is in TMPDIR unless TMPDIR is too deep for a
	// socket path; wherever it is, the leak check searches it.
	agentDir := credhelper.AgentDir(func(k string) string { return e.vars[k] })
	if _, err := os.Stat(agentDir); err != nil {
		t.Fatalf("the agent's directory: %v", err)
	}
	if !strings.HasPrefix(agentDir, e.tmp+string(filepath.Separator)) {
		suite.mu.Lock()
		suite.dirs = append(suite.dirs, agentDir)
		suite.outside = append(suite.outside, agentDir)
		suite.mu.Unlock()
	}
	const gets = 3
	for range gets {
		e.mustGet(t, "https://index.docker.io/v1/", "dora", pass)
		e.mustGet(t, ecrHost, "AWS", ecrPass)
	}
	// The agent leads one get to AWS and serves the rest; under load a
	// client may give up on it and resolve directly, so only "none served"
	// is a failure.
	if n := fake.Count(fakeaws.OpGetSecretValue); n >= gets+1 {
		t.Errorf("%d GetSecretValue calls for %d gets: the agent served none of them", n, gets+1)
	}

	// An unmanaged login (docker login) is kept in the agent's memory.
	loginPass := randomValue(t, "agent-login-")
	if r := e.run(t, "store", jsonString(t, map[string]string{"ServerURL": "registry.example.com", "Username": "lou", "Secret": loginPass})); r.code != 0 {
		t.Fatalf("store: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	e.mustGet(t, "registry.example.com", "lou", loginPass)

	status := e.run(t, "agent status", "")
	if status.code != 0 || !strings.Contains(status.stdout, "docker.io") {
		t.Errorf("agent status: exit %d: %s", status.code, status.stdout)
	}
	capture(t.Name()+" agent status", status.stdout)

	info, err := os.Stat(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, want 0600", info.Mode().Perm())
	}
}

// waitForAgent waits until the agent a get started answers status.
func waitForAgent(t *testing.T, e *helperEnv) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := e.run(t, "agent status", "")
		if r.code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not come up: %s%s", r.stdout, r.stderr)
		}
	}
}
