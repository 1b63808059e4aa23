package credhelper_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// helperEnv is an isolated environment for helper runs: its own HOME,
// DOCKER_CONFIG and TMPDIR, no AWS configuration files, no IMDS, and only
// the variables a test sets.
type helperEnv struct {
	t            *testing.T
	home         string
	dockerConfig string
	tmp          string
	vars         map[string]string
}

var runDirName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func newHelperEnv(t *testing.T) *helperEnv {
	t.Helper()
	integration(t)
	// Short names: the agent's socket lives under TMPDIR, and a unix
	// socket path has room for about 100 bytes.
	name := runDirName.ReplaceAllString(t.Name(), "_")
	if len(name) > 16 {
		name = name[:16]
	}
	base, err := os.MkdirTemp(suite.root, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	e := &helperEnv{
		t:            t,
		home:         filepath.Join(base, "home"),
		dockerConfig: filepath.Join(base, "home", ".docker"),
		tmp:          filepath.Join(base, "tmp"),
	}
	for _, d := range []string{e.home, e.dockerConfig, e.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	suite.mu.Lock()
	suite.dirs = append(suite.dirs, e.home, e.tmp)
	suite.mu.Unlock()
	e.vars = map[string]string{
		"PATH":                        "/usr/local/bin:/usr/bin:/bin",
		"HOME":                        e.home,
		"DOCKER_CONFIG":               e.dockerConfig,
		"TMPDIR":                      e.tmp,
		"AWS_CONFIG_FILE":             "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_REGION":                  "us-east-1",
	}
	// The memory agent is on by default, as for users: a get may start
	// one, and it outlives the run. Stop it with the test.
	t.Cleanup(func() {
		if e.vars[envAgent] != "off" {
			e.run(t, "agent stop", "")
		}
	})
	return e
}

const envAgent = "DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT"

// direct turns the memory agent off: the test proves what one invocation
// does against AWS, and counts its calls, which an agent's cache would
// answer instead.
func (e *helperEnv) direct() *helperEnv {
	return e.set(envAgent, "off")
}

func (e *helperEnv) set(kv ...string) *helperEnv {
	for i := 0; i+1 < len(kv); i += 2 {
		e.vars[kv[i]] = kv[i+1]
	}
	return e
}

func (e *helperEnv) unset(keys ...string) *helperEnv {
	for _, k := range keys {
		delete(e.vars, k)
	}
	return e
}

// awsKey makes the SDK's environment provider use a static key.
func (e *helperEnv) awsKey(id, secretKey string) *helperEnv {
	secret(secretKey)
	return e.set("AWS_ACCESS_KEY_ID", id, "AWS_SECRET_ACCESS_KEY", secretKey)
}

// endpoints points every AWS service the helper may call at url.
func (e *helperEnv) endpoints(url string) *helperEnv {
	return e.set(
		"AWS_ENDPOINT_URL_SECRETS_MANAGER", url,
		"AWS_ENDPOINT_URL_ECR", url,
		"AWS_ENDPOINT_URL_ECR_PUBLIC", url,
		"AWS_ENDPOINT_URL_STS", url,
	)
}

// configFile writes the helper's config file in DOCKER_CONFIG.
func (e *helperEnv) configFile(v any) {
	e.t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dockerConfig, "docker-credential-secretsmanager.json"), data, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// result is one helper run.
type result struct {
	stdout, stderr string
	code           int
}

// answer is the get verb's JSON answer.
type answer struct {
	ServerURL, Username, Secret string
}

// runTimeout only keeps a broken helper from hanging the suite; no test
// asserts how long a run takes.
const runTimeout = 60 * time.Second

// run executes the helper with a verb ("get", "agent stop") and stdin.
func (e *helperEnv) run(t *testing.T, verb, stdin string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.bin, strings.Fields(verb)...)
	cmd.Dir = e.tmp
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s %q did not exit within %s (killed)", filepath.Base(suite.bin), verb, stdin, runTimeout)
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running the helper: %v", err)
		}
		r.code = exitErr.ExitCode()
	}
	suite.mu.Lock()
	suite.outputs = append(suite.outputs, captured{what: t.Name() + " stderr", data: r.stderr})
	if r.code != 0 {
		suite.outputs = append(suite.outputs, captured{what: t.Name() + " error output", data: r.stdout})
	}
	suite.mu.Unlock()
	return r
}

// get runs the get verb and decodes a successful answer.
func (e *helperEnv) get(t *testing.T, serverURL string) (answer, result) {
	t.Helper()
	r := e.run(t, "get", serverURL+"\n")
	var a answer
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &a); err != nil {
			t.Fatalf("get %s: stdout is not the protocol's JSON: %v", serverURL, err)
		}
	}
	return a, r
}

// mustGet runs get, requires success with the wanted user and secret and
// an empty stderr (logging is off by default).
func (e *helperEnv) mustGet(t *testing.T, serverURL, wantUser, wantSecret string) {
	t.Helper()
	a, r := e.get(t, serverURL)
	if r.code != 0 {
		t.Fatalf("get %s: exit %d: %s%s", serverURL, r.code, r.stdout, r.stderr)
	}
	if a.Username != wantUser || a.Secret != wantSecret {
		t.Errorf("get %s: got user %q and a secret of %d bytes, want user %q and the stored secret", serverURL, a.Username, len(a.Secret), wantUser)
	}
	if a.ServerURL != serverURL {
		t.Errorf("get %s: ServerURL = %q", serverURL, a.ServerURL)
	}
	if r.stderr != "" {
		t.Errorf("get %s: stderr not empty: %q", serverURL, r.stderr)
	}
}

// mustFail runs get, requires exit 1 with one line on stdout that contains
// every wanted fragment, and returns that line.
func (e *helperEnv) mustFail(t *testing.T, serverURL string, want ...string) string {
	t.Helper()
	_, r := e.get(t, serverURL)
	if r.code != 1 {
		t.Fatalf("get %s: exit %d, want 1; stdout %q", serverURL, r.code, r.stdout)
	}
	line := strings.TrimSuffix(r.stdout, "\n")
	t.Logf("get %s: %s", serverURL, line)
	if strings.Contains(line, "\n") {
		t.Errorf("get %s: error is not one line: %q", serverURL, r.stdout)
	}
	if line == notFound {
		t.Fatalf("get %s: a managed registry answered not-found", serverURL)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("get %s: error lacks %q: %s", serverURL, w, line)
		}
	}
	return line
}

// notFound is the only answer Docker clients treat as "go on anonymously".
const notFound = "credentials not found in native keychain"
