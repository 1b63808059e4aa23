package setup

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// want is one row doctor must print.
type want struct {
	check, subject string
	status         Status
	detail         string // a substring of the detail
	fix            string // a substring of the fix
}

func runDoctor(t *testing.T, args ...string) (Report, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Doctor(append([]string{"--json"}, args...), &out, &errOut, os.Getenv)
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("doctor --json printed no JSON report: %v\n%s\nstderr: %s", err, out.String(), errOut.String())
	}
	var table bytes.Buffer
	if c := Doctor(args, &table, &errOut, os.Getenv); c != code {
		t.Errorf("table run exited %d, JSON run %d", c, code)
	}
	return rep, out.String() + table.String() + errOut.String(), code
}

func findRow(rep Report, check, subject string) (Row, bool) {
	for _, r := range rep.Rows {
		if r.Check == check && strings.Contains(r.Subject, subject) {
			return r, true
		}
	}
	return Row{}, false
}

func checkRows(t *testing.T, rep Report, wants []want) {
	t.Helper()
	for _, w := range wants {
		r, ok := findRow(rep, w.check, w.subject)
		if !ok {
			t.Errorf("no %q row for %q in %+v", w.check, w.subject, rep.Rows)
			continue
		}
		if r.Status != w.status || !strings.Contains(r.Detail, w.detail) || !strings.Contains(r.Fix, w.fix) {
			t.Errorf("%s %s: got %s %q (fix %q), want %s with %q (fix %q)", w.check, w.subject, r.Status, r.Detail, r.Fix, w.status, w.detail, w.fix)
		}
	}
}

func TestDoctor(t *testing.T) {
	moto := motoServer(t)

	type setup struct {
		env        map[string]string
		dockerJSON string
		args       []string
	}
	tests := []struct {
		name     string
		prepare  func(t *testing.T, dc string) setup
		wantCode int
		want     []want
	}{
		{
			name: "healthy: secret, registry accepts, docker hub allowance",
			prepare: func(t *testing.T, dc string) setup {
				pw, hubPW := randomSecret(t), randomSecret(t)
				reg := basicRegistry(t, "alice", pw)
				hub := newHubStandIn(t, "hubuser", hubPW)
				createSecret(t, moto, "healthy/reg", userPass("alice", pw))
				createSecret(t, moto, "healthy/hub", userPass("hubuser", hubPW))
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": reg + "=healthy/reg,docker.io=healthy/hub", EnvDockerHubRegistry: hub.Host},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
					args:       []string{"--registry-check"},
				}
			},
			wantCode: 0,
			want: []want{
				{check: checkIdentity, subject: "arn:aws", status: StatusOK, detail: "account 123456789012, region us-east-1"},
				{check: checkConfig, status: StatusOK, detail: "2 registries, 0 wildcards from DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES"},
				{check: checkDocker, status: StatusOK, detail: "credsStore: secretsmanager"},
				{check: checkAgent, status: StatusInfo, detail: "disabled"},
				{check: checkRegistry, subject: "127.0.0.1", status: StatusOK, detail: "secret:healthy/reg"},
				{check: checkAccepts, subject: "127.0.0.1", status: StatusOK, detail: "accepts"},
				{check: checkRegistry, subject: "docker.io", status: StatusOK, detail: "user hubuser"},
				{check: checkAccepts, subject: "docker.io", status: StatusOK, detail: "accepts"},
				{check: checkHubLimit, subject: "account hubuser", status: StatusOK, detail: "187 of 200 pulls left per 6h (counted for 6c3b4a2e-account-uuid)"},
				{check: checkHubLimit, subject: "anonymous", status: StatusOK, detail: "76 of 100 pulls left"},
			},
		},
		{
			name: "ECR registry",
			prepare: func(t *testing.T, dc string) setup {
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "mirror.example.com=ecr:123456789012.dkr.ecr.us-east-1.amazonaws.com"},
					dockerJSON: `{"credHelpers":{"mirror.example.com":"secretsmanager"}}`,
				}
			},
			wantCode: 0,
			want: []want{
				{check: checkRegistry, subject: "mirror.example.com", status: StatusOK, detail: "resolves (user AWS), from ecr:123456789012.dkr.ecr.us-east-1.amazonaws.com"},
			},
		},
		{
			name: "missing secret",
			prepare: func(t *testing.T, dc string) setup {
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "ghcr.io=missing/secret"},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkRegistry, subject: "ghcr.io", status: StatusFail, detail: "ResourceNotFoundException", fix: `create the secret "missing/secret"`},
			},
		},
		{
			name: "secret without a password key",
			prepare: func(t *testing.T, dc string) setup {
				createSecret(t, moto, "nokey/reg", `{"username":"u"}`)
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "ghcr.io=nokey/reg"},
					dockerJSON: `{"credHelpers":{"ghcr.io":"secretsmanager"}}`,
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkDocker, status: StatusOK, detail: "credHelpers"},
				{check: checkRegistry, subject: "ghcr.io", status: StatusFail, detail: "no 'password', 'accessToken', 'secret' key"},
			},
		},
		{
			name: "registry rejects the credentials (basic and token exchange)",
			prepare: func(t *testing.T, dc string) setup {
				reg := basicRegistry(t, "alice", randomSecret(t))
				hub := newHubStandIn(t, "hubuser", randomSecret(t))
				createSecret(t, moto, "stale/reg", userPass("alice", "old-password-1"))
				createSecret(t, moto, "stale/hub", userPass("hubuser", "old-password-2"))
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": reg + "=stale/reg,docker.io=stale/hub", EnvDockerHubRegistry: hub.Host},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
					args:       []string{"--registry-check"},
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkRegistry, subject: "127.0.0.1", status: StatusOK, detail: "resolves"},
				{check: checkAccepts, subject: "127.0.0.1", status: StatusFail, detail: "rejected (HTTP 401)", fix: "update the secret"},
				{check: checkAccepts, subject: "docker.io", status: StatusFail, detail: "rejected (HTTP 401) by the token exchange"},
				{check: checkHubLimit, subject: "account", status: StatusFail, detail: "rejected (HTTP 401)"},
				{check: checkHubLimit, subject: "anonymous", status: StatusOK, detail: "76 of 100"},
			},
		},
		{
			name: "registry unreachable",
			prepare: func(t *testing.T, dc string) setup {
				addr := closedAddr(t)
				createSecret(t, moto, "down/reg", userPass("bob", randomSecret(t)))
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": addr + "=down/reg"},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
					args:       []string{"--registry-check"},
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkAccepts, subject: "127.0.0.1", status: StatusFail, detail: "unreachable", fix: "check the network"},
			},
		},
		{
			name: "registry never answers",
			prepare: func(t *testing.T, dc string) setup {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
				t.Cleanup(srv.Close)
				createSecret(t, moto, "hang/reg", userPass("hal", randomSecret(t)))
				return setup{
					env: map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": strings.TrimPrefix(srv.URL, "http://") + "=hang/reg",
						"DOCKER_CREDENTIAL_SECRETSMANAGER_TIMEOUT": "2s"},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
					args:       []string{"--registry-check"},
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkRegistry, subject: "127.0.0.1", status: StatusOK},
				{check: checkAccepts, subject: "127.0.0.1", status: StatusFail, detail: "unreachable: no answer within 2s", fix: "DOCKER_CREDENTIAL_SECRETSMANAGER_TIMEOUT"},
			},
		},
		{
			name: "docker hub allowance used up for the account, anonymous too",
			prepare: func(t *testing.T, dc string) setup {
				hubPW := randomSecret(t)
				hub := newHubStandIn(t, "hubuser", hubPW)
				hub.setLimit("account", &[2]int{200, 0})
				hub.setLimit("anonymous", &[2]int{100, 0})
				createSecret(t, moto, "empty/hub", userPass("hubuser", hubPW))
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "docker.io=empty/hub", EnvDockerHubRegistry: hub.Host},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkHubLimit, subject: "account hubuser", status: StatusFail, detail: "0 of 200 pulls left", fix: "toomanyrequests"},
				{check: checkHubLimit, subject: "anonymous", status: StatusWarn, detail: "0 of 100", fix: "mapped account is used"},
			},
		},
		{
			name: "docker hub paid account: no limit headers",
			prepare: func(t *testing.T, dc string) setup {
				hubPW := randomSecret(t)
				hub := newHubStandIn(t, "paid", hubPW)
				hub.setLimit("account", nil)
				createSecret(t, moto, "paid/hub", userPass("paid", hubPW))
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "docker.io=paid/hub", EnvDockerHubRegistry: "http://" + hub.Host},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
				}
			},
			wantCode: 0,
			want: []want{
				{check: checkHubLimit, subject: "account paid", status: StatusOK, detail: "no pull limit reported"},
			},
		},
		{
			name: "docker hub unreachable",
			prepare: func(t *testing.T, dc string) setup {
				createSecret(t, moto, "nohub/hub", userPass("someone", randomSecret(t)))
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "docker.io=nohub/hub", EnvDockerHubRegistry: closedAddr(t)},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkHubLimit, subject: "account someone", status: StatusFail, detail: "unreachable"},
				{check: checkHubLimit, subject: "anonymous", status: StatusWarn, detail: "unreachable"},
			},
		},
		{
			name: "docker config does not route, plaintext logins",
			prepare: func(t *testing.T, dc string) setup {
				createSecret(t, moto, "route/reg", userPass("carol", randomSecret(t)))
				auth := base64.StdEncoding.EncodeToString([]byte("dave:plaintext-pw-123"))
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "registry.example.com=route/reg"},
					dockerJSON: `{"credsStore":"desktop","auths":{"old.example.com":{"auth":"` + auth + `"},"registry.example.com":{}}}`,
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkDocker, status: StatusFail, detail: "registry.example.com (credsStore is docker-credential-desktop)", fix: "configure"},
				{check: checkPlaintext, status: StatusWarn, detail: "old.example.com", fix: "configure --migrate"},
				{check: checkRegistry, subject: "registry.example.com", status: StatusOK},
			},
		},
		{
			name: "DOCKER_AUTH_CONFIG with a login",
			prepare: func(t *testing.T, dc string) setup {
				createSecret(t, moto, "dac/reg", userPass("dan", randomSecret(t)))
				return setup{
					env: map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "ghcr.io=dac/reg",
						"DOCKER_AUTH_CONFIG": `{"auths":{"ghcr.io":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("dan:plaintext-pw-123")) + `"}}}`},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
				}
			},
			wantCode: 0,
			want: []want{
				{check: checkPlaintext, subject: "DOCKER_AUTH_CONFIG", status: StatusWarn, detail: "logins for ghcr.io: Docker uses them before this helper", fix: "unset DOCKER_AUTH_CONFIG"},
			},
		},
		{
			name: "DOCKER_AUTH_CONFIG not JSON",
			prepare: func(t *testing.T, dc string) setup {
				return setup{env: map[string]string{"DOCKER_AUTH_CONFIG": `{"auths":`}, dockerJSON: `{"credsStore":"secretsmanager"}`}
			},
			wantCode: 1,
			want: []want{
				{check: checkPlaintext, subject: "DOCKER_AUTH_CONFIG", status: StatusFail, detail: "not valid JSON"},
			},
		},
		{
			name: "unmanaged argument and a wildcard",
			prepare: func(t *testing.T, dc string) setup {
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "*.example.com=wild/secret"},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
					args:       []string{"quay.io"},
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkRegistry, subject: "quay.io", status: StatusFail, detail: "not managed", fix: "map it"},
			},
		},
		{
			name: "broken configuration file",
			prepare: func(t *testing.T, dc string) setup {
				writeFile(t, filepath.Join(dc, "docker-credential-secretsmanager.json"), `{"registries":{"ghcr.io":{"secret":"x"}},"bogus":1}`, 0o600)
				return setup{dockerJSON: `{"credsStore":"secretsmanager"}`}
			},
			wantCode: 1,
			want: []want{
				{check: checkConfig, subject: "docker-credential-secretsmanager.json", status: StatusFail, detail: `unknown field "bogus"`},
			},
		},
		{
			name: "config.json is not JSON",
			prepare: func(t *testing.T, dc string) setup {
				createSecret(t, moto, "nojson/reg", userPass("erin", randomSecret(t)))
				return setup{
					env:        map[string]string{"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "ghcr.io=nojson/reg"},
					dockerJSON: `{"credsStore":`,
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkDocker, subject: "config.json", status: StatusFail, detail: "not valid JSON"},
			},
		},
		{
			name: "no AWS credentials",
			prepare: func(t *testing.T, dc string) setup {
				return setup{
					env:        map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES": "ghcr.io=any/secret"},
					dockerJSON: `{"credsStore":"secretsmanager"}`,
				}
			},
			wantCode: 1,
			want: []want{
				{check: checkIdentity, status: StatusFail, detail: "sts:GetCallerIdentity failed", fix: "no AWS credentials"},
				{check: checkRegistry, subject: "ghcr.io", status: StatusFail, detail: "NoCredentials"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := isolate(t, moto)
			s := tt.prepare(t, dc)
			for k, v := range s.env {
				t.Setenv(k, v)
			}
			if s.dockerJSON != "" {
				writeFile(t, filepath.Join(dc, "config.json"), s.dockerJSON, 0o600)
			}
			rep, all, code := runDoctor(t, s.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\n%s", code, tt.wantCode, all)
			}
			if rep.Healthy != (tt.wantCode == 0) {
				t.Errorf("healthy %v with exit code %d", rep.Healthy, code)
			}
			checkRows(t, rep, tt.want)
			for _, leak := range []string{"pw-", "plaintext-pw-123", "old-password"} {
				if strings.Contains(all, leak) {
					t.Errorf("doctor output contains a secret value (%q):\n%s", leak, all)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", all)
			}
		})
	}
}

// TestDoctorSecretVersion checks that the row names the secret's ARN and
// the version actually read.
func TestDoctorSecretVersion(t *testing.T) {
	moto := motoServer(t)
	dc := isolate(t, moto)
	arn := createSecret(t, moto, "versioned/reg", userPass("frank", randomSecret(t)))
	t.Setenv("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "ghcr.io=versioned/reg")
	writeFile(t, filepath.Join(dc, "config.json"), `{"credsStore":"secretsmanager"}`, 0o600)
	rep, all, code := runDoctor(t)
	r, ok := findRow(rep, checkRegistry, "ghcr.io")
	if !ok || code != 0 {
		t.Fatalf("exit %d, rows:\n%s", code, all)
	}
	if r.Source != "secretsmanager:"+arn || r.VersionID == "" || !strings.Contains(r.Detail, r.VersionID) {
		t.Errorf("source %q version %q detail %q; want the ARN %s and a version id", r.Source, r.VersionID, r.Detail, arn)
	}
	if !strings.Contains(all, fmt.Sprintf("version %s", r.VersionID)) {
		t.Errorf("the table does not show the version:\n%s", all)
	}
}

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		in        string
		n, window int
		ok        bool
	}{
		{"100;w=21600", 100, 21600, true},
		{"76", 76, 0, true},
		{" 5 ; w=60", 5, 60, true},
		{"", 0, 0, false},
		{"many", 0, 0, false},
	}
	for _, tt := range tests {
		n, w, ok := parseRateLimit(tt.in)
		if n != tt.n || w != tt.window || ok != tt.ok {
			t.Errorf("parseRateLimit(%q) = %d, %d, %v; want %d, %d, %v", tt.in, n, w, ok, tt.n, tt.window, tt.ok)
		}
	}
}

// TestDoctorAgent runs the real memory agent: doctor reports it not
// running, then running and holding nothing, then holding the registry a
// get resolved through it.
func TestDoctorAgent(t *testing.T) {
	moto := motoServer(t)
	bin := buildHelper(t) // before isolate: the build uses the real HOME's cache
	dc := isolate(t, moto)
	run, err := os.MkdirTemp("", "dr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(run) })
	t.Setenv("XDG_RUNTIME_DIR", run)
	t.Setenv(credhelper.EnvAgent, "on")
	pw := randomSecret(t)
	createSecret(t, moto, "agent/reg", userPass("ada", pw))
	t.Setenv("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "ghcr.io=agent/reg")
	writeFile(t, filepath.Join(dc, "config.json"), `{"credsStore":"secretsmanager"}`, 0o600)

	row := func() Row {
		r := agentRow(os.Getenv)
		if strings.Contains(r.Detail, pw) {
			t.Fatalf("the agent row shows a secret: %s", r.Detail)
		}
		return r
	}
	if r := row(); r.Detail != "not running: the next get starts it" {
		t.Errorf("before start: %+v", r)
	}
	agent := exec.Command(bin, "agent")
	agent.Env = os.Environ()
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command(bin, "agent", "stop").Run()
		_ = agent.Process.Kill()
		_ = agent.Wait()
	})
	var r Row
	for range 100 {
		if r = row(); strings.HasPrefix(r.Detail, "running") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(r.Detail, "running: agent pid") || !strings.HasSuffix(r.Detail, "holds nothing") {
		t.Fatalf("started agent: %+v", r)
	}
	get := exec.Command(bin, "get")
	get.Stdin = strings.NewReader("ghcr.io")
	if out, err := get.Output(); err != nil || !strings.Contains(string(out), pw) {
		t.Fatalf("get through the agent failed: %v", err)
	}
	// The get's result reaches the agent asynchronously: poll.
	for range 100 {
		if r = row(); strings.Contains(r.Detail, "holds ghcr.io (cached)") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(r.Detail, "holds ghcr.io (cached)") {
		t.Errorf("after a get: %+v", r)
	}
}

// TestDoctorRejectedKey runs doctor against moto in IAM mode, where an
// unknown access key is refused as on AWS (403, an XML error body).
func TestDoctorRejectedKey(t *testing.T) {
	moto := motoServer(t, "INITIAL_NO_AUTH_ACTION_COUNT=0")
	dc := isolate(t, moto)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
	t.Setenv("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "ghcr.io=some/secret")
	writeFile(t, filepath.Join(dc, "config.json"), `{"credsStore":"secretsmanager"}`, 0o600)
	rep, all, code := runDoctor(t)
	if code != 1 {
		t.Errorf("exit %d:\n%s", code, all)
	}
	checkRows(t, rep, []want{
		{check: checkIdentity, status: StatusFail, detail: "InvalidClientTokenId", fix: "access key is not valid"},
		{check: checkRegistry, subject: "ghcr.io", status: StatusFail, detail: "HTTP 403"},
	})
}
