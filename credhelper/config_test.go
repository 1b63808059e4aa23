package credhelper

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testEnv returns a getenv over kv that never sees the real environment:
// DOCKER_CONFIG defaults to an empty temp dir so that no user file is read,
// and XDG_RUNTIME_DIR to another so that no running memory agent answers.
func testEnv(t testing.TB, kv ...string) Env {
	t.Helper()
	if len(kv)%2 != 0 {
		t.Fatal("testEnv wants key, value pairs")
	}
	m := map[string]string{"DOCKER_CONFIG": t.TempDir(), "XDG_RUNTIME_DIR": t.TempDir()}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func unitFixture(name string) string { return filepath.Join("testdata", "unit", name) }

// entrySummary is what a test compares of an Entry.
type entrySummary struct {
	Registry, Secret, ECR, Region, Profile, RoleARN, UsernameKey, PasswordKey string
}

func summarize(entries []Entry) map[string]entrySummary {
	m := map[string]entrySummary{}
	for _, e := range entries {
		m[e.Registry] = entrySummary{e.Registry, e.Secret, e.ECR, e.Region, e.Profile, e.RoleARN, e.UsernameKey, e.PasswordKey}
	}
	return m
}

func TestLoadConfigEnvEntries(t *testing.T) {
	tests := []struct {
		name string
		env  string
		want map[string]string // registry → secret (or ecr:host)
	}{
		{"one", "docker.io=dockerhub", map[string]string{"docker.io": "dockerhub"}},
		{"commas", "docker.io=dockerhub,ghcr.io=ghcr", map[string]string{"docker.io": "dockerhub", "ghcr.io": "ghcr"}},
		{"newlines", "docker.io=dockerhub\nghcr.io=ghcr\r\nquay.io=quay\n", map[string]string{"docker.io": "dockerhub", "ghcr.io": "ghcr", "quay.io": "quay"}},
		{"spaces", "  docker.io = dockerhub ,  ghcr.io=ghcr  ", map[string]string{"docker.io": "dockerhub", "ghcr.io": "ghcr"}},
		{"empty items", ",,docker.io=dockerhub,,\n\n", map[string]string{"docker.io": "dockerhub"}},
		{"hub spellings", "https://index.docker.io/v1/=hub", map[string]string{"docker.io": "hub"}},
		{"later wins", "ghcr.io=first,GHCR.IO=second", map[string]string{"ghcr.io": "second"}},
		{"arn", "ghcr.io=arn:aws:secretsmanager:eu-west-1:123456789012:secret:ghcr-AbCdEf",
			map[string]string{"ghcr.io": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ghcr-AbCdEf"}},
		{"ecr mapping", "mirror.example.com=ecr:123456789012.dkr.ecr.eu-west-1.amazonaws.com",
			map[string]string{"mirror.example.com": "ecr:123456789012.dkr.ecr.eu-west-1.amazonaws.com"}},
		{"ecr public mapping", "mirror.example.com=ecr:public.ecr.aws", map[string]string{"mirror.example.com": "ecr:public.ecr.aws"}},
		{"wildcard and port", "*.example.com=wild,127.0.0.1:5000=local", map[string]string{"*.example.com": "wild", "127.0.0.1:5000": "local"}},
		{"secret name characters", "ghcr.io=team/ci_+=.@-x", map[string]string{"ghcr.io": "team/ci_+=.@-x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := LoadConfig(testEnv(t, EnvRegistries, tt.env))
			if c.Err != nil {
				t.Fatalf("LoadConfig: %v", c.Err)
			}
			got := map[string]string{}
			for _, e := range c.Entries {
				v := e.Secret
				if e.ECR != "" {
					v = "ecr:" + e.ECR
				}
				got[e.Registry] = v
				if e.Origin != EnvRegistries {
					t.Errorf("entry %s: Origin = %q, want %q", e.Registry, e.Origin, EnvRegistries)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("entries = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("entry %q = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func TestLoadConfigEnvEntryErrors(t *testing.T) {
	tests := []struct {
		name, env, entry string
	}{
		{"no equals", "docker.io", "docker.io"},
		{"no secret", "ghcr.io=", "ghcr.io="},
		{"bad registry", "bad host=x", "bad host=x"},
		{"bad wildcard", "*.com=x", "*.com=x"},
		{"colon in name", "ghcr.io=team:ci", "ghcr.io=team:ci"},
		{"space in name", "ghcr.io=my secret", "ghcr.io=my secret"},
		{"bad arn", "ghcr.io=arn:aws:s3:::bucket", "ghcr.io=arn:aws:s3:::bucket"},
		{"ecr not ecr", "mirror.example.com=ecr:ghcr.io", "mirror.example.com=ecr:ghcr.io"},
		{"bad one among good", "docker.io=hub,quay.io", "quay.io"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := LoadConfig(testEnv(t, EnvRegistries, tt.env))
			var ce *ConfigError
			if !errors.As(c.Err, &ce) {
				t.Fatalf("Err = %v, want a *ConfigError", c.Err)
			}
			if ce.Where != EnvRegistries || ce.Entry != tt.entry {
				t.Errorf("ConfigError points at %q entry %q, want %q entry %q", ce.Where, ce.Entry, EnvRegistries, tt.entry)
			}
			if !strings.Contains(c.Err.Error(), EnvRegistries) {
				t.Errorf("message %q does not name %s", c.Err, EnvRegistries)
			}
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	c := LoadConfig(testEnv(t, EnvConfig, unitFixture("full.json")))
	if c.Err != nil {
		t.Fatalf("LoadConfig: %v", c.Err)
	}
	got := summarize(c.Entries)
	want := map[string]entrySummary{
		"docker.io": {Registry: "docker.io", Secret: "ci/dockerhub", Region: "eu-west-1", Profile: "ci",
			RoleARN: "arn:aws:iam::210987654321:role/pull", UsernameKey: "user", PasswordKey: "token"},
		"ghcr.io":                   {Registry: "ghcr.io", Secret: "arn:aws:secretsmanager:us-east-2:210987654321:secret:ghcr-AbCdEf"},
		"*.example.com":             {Registry: "*.example.com", Secret: "wild/short"},
		"*.corp.example.com":        {Registry: "*.corp.example.com", Secret: "wild/long"},
		"registry.corp.example.com": {Registry: "registry.corp.example.com", Secret: "exact/registry"},
		"mirror.example.org":        {Registry: "mirror.example.org", ECR: "123456789012.dkr.ecr.us-west-2.amazonaws.com"},
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com": {Registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
			ECR: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Profile: "ecr-profile"},
	}
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("entry %q = %+v, want %+v", k, got[k], w)
		}
	}
	for _, e := range c.Entries {
		if e.Origin != unitFixture("full.json") {
			t.Errorf("entry %s: Origin = %q, want the file", e.Registry, e.Origin)
		}
	}
	if c.ECR || c.ECRPublic {
		t.Errorf("ECR, ECRPublic = %v, %v; want false, false", c.ECR, c.ECRPublic)
	}
	if c.Fallback != "pass" {
		t.Errorf("Fallback = %q, want pass", c.Fallback)
	}
	if c.Timeout != 20*time.Second {
		t.Errorf("Timeout = %v, want 20s", c.Timeout)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c := LoadConfig(testEnv(t))
	if c.Err != nil {
		t.Fatalf("LoadConfig: %v", c.Err)
	}
	if len(c.Entries) != 0 || !c.ECR || !c.ECRPublic || c.Fallback != "" || c.Timeout != DefaultTimeout || c.LogLevel != "" || c.LogFile != "" {
		t.Errorf("defaults = %+v, want no entries, ECR and ECR Public on, no fallback, %v, no logging", c, DefaultTimeout)
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		entry   string
		want    []string // substrings of the message
		never   []string // content that must not be quoted
	}{
		{"invalid JSON", "invalid.json", "", []string{"line 4, column", "invalid.json"}, []string{"s3cr3t-VALUE-in-config", "ghcr"}},
		{"unknown key", "unknown-key.json", "", []string{`unknown field "fallbak"`}, nil},
		{"bad entry", "bad-entry.json", "quay.io", []string{`entry "quay.io"`, "not a secret name or ARN"}, nil},
		{"bad timeout", "bad-timeout.json", "timeout", []string{"positive duration"}, nil},
		{"wrong type", "wrong-type.json", "", []string{`field "ecr"`, "bool"}, []string{`"yes"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := unitFixture(tt.fixture)
			c := LoadConfig(testEnv(t, EnvConfig, path))
			var ce *ConfigError
			if !errors.As(c.Err, &ce) {
				t.Fatalf("Err = %v, want a *ConfigError", c.Err)
			}
			if ce.Where != path || ce.Entry != tt.entry {
				t.Errorf("points at %q entry %q, want %q entry %q", ce.Where, ce.Entry, path, tt.entry)
			}
			msg := c.Err.Error()
			for _, s := range tt.want {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not contain %q", msg, s)
				}
			}
			for _, s := range tt.never {
				if strings.Contains(msg, s) {
					t.Errorf("message %q quotes file content %q", msg, s)
				}
			}
		})
	}
}

func TestLoadConfigEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := LoadConfig(testEnv(t, EnvConfig, path))
	if c.Err == nil || !strings.Contains(c.Err.Error(), "empty JSON") {
		t.Errorf("Err = %v, want a truncated-or-empty error", c.Err)
	}
}

func TestLoadConfigPath(t *testing.T) {
	home := t.TempDir()
	dockerConfig := t.TempDir()
	write := func(dir, secret string) {
		t.Helper()
		data := `{"registries":{"ghcr.io":{"secret":"` + secret + `"}}}`
		if err := os.WriteFile(filepath.Join(dir, ConfigFileName), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(home, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(home, ".docker"), "from-home")
	write(dockerConfig, "from-docker-config")

	tests := []struct {
		name     string
		env      map[string]string
		wantFile string
		want     string
	}{
		{"HOME default", map[string]string{"HOME": home}, filepath.Join(home, ".docker", ConfigFileName), "from-home"},
		{"DOCKER_CONFIG wins", map[string]string{"HOME": home, "DOCKER_CONFIG": dockerConfig}, filepath.Join(dockerConfig, ConfigFileName), "from-docker-config"},
		{"explicit file wins", map[string]string{"HOME": home, "DOCKER_CONFIG": dockerConfig, EnvConfig: unitFixture("full.json")}, unitFixture("full.json"),
			"arn:aws:secretsmanager:us-east-2:210987654321:secret:ghcr-AbCdEf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := LoadConfig(func(k string) string { return tt.env[k] })
			if c.Err != nil {
				t.Fatalf("LoadConfig: %v", c.Err)
			}
			if c.File != tt.wantFile {
				t.Errorf("File = %q, want %q", c.File, tt.wantFile)
			}
			e, ok := c.lookup("ghcr.io")
			if !ok || e.Secret != tt.want {
				t.Errorf("ghcr.io → %q (found %v), want %q", e.Secret, ok, tt.want)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.json")
	t.Run("explicit missing file is an error", func(t *testing.T) {
		c := LoadConfig(testEnv(t, EnvConfig, missing))
		var ce *ConfigError
		if !errors.As(c.Err, &ce) || ce.Where != missing {
			t.Fatalf("Err = %v, want a *ConfigError for %s", c.Err, missing)
		}
	})
	t.Run("default missing file is fine", func(t *testing.T) {
		c := LoadConfig(testEnv(t, EnvRegistries, "ghcr.io=ghcr"))
		if c.Err != nil {
			t.Fatalf("Err = %v, want none", c.Err)
		}
	})
	t.Run("unreadable path is an error", func(t *testing.T) {
		dir := t.TempDir() // a directory is not readable as a file
		c := LoadConfig(testEnv(t, "DOCKER_CONFIG", t.TempDir(), EnvConfig, dir))
		if c.Err == nil || !strings.Contains(c.Err.Error(), "cannot read the config file") {
			t.Errorf("Err = %v, want cannot read", c.Err)
		}
	})
}

func TestLoadConfigEnvOverridesFile(t *testing.T) {
	c := LoadConfig(testEnv(t,
		EnvConfig, unitFixture("full.json"),
		EnvRegistries, "https://index.docker.io/v1/=env/hub,quay.io=env/quay",
		EnvFallback, "osxkeychain",
		EnvECR, "on",
		EnvECRPublic, "1",
		EnvTimeout, "7",
	))
	if c.Err != nil {
		t.Fatalf("LoadConfig: %v", c.Err)
	}
	got := summarize(c.Entries)
	if e := got["docker.io"]; e != (entrySummary{Registry: "docker.io", Secret: "env/hub"}) {
		t.Errorf("docker.io = %+v, want the env entry replacing the file entry with its options", e)
	}
	if got["quay.io"].Secret != "env/quay" || got["ghcr.io"].Secret == "" {
		t.Errorf("entries = %v, want env quay.io added and file ghcr.io kept", got)
	}
	if !c.ECR || !c.ECRPublic || c.Fallback != "osxkeychain" || c.Timeout != 7*time.Second {
		t.Errorf("ECR %v ECRPublic %v Fallback %q Timeout %v; want env values true true osxkeychain 7s", c.ECR, c.ECRPublic, c.Fallback, c.Timeout)
	}
}

func TestConfigLookup(t *testing.T) {
	c := LoadConfig(testEnv(t, EnvConfig, unitFixture("full.json")))
	if c.Err != nil {
		t.Fatalf("LoadConfig: %v", c.Err)
	}
	tests := []struct {
		registry string
		want     string // registry pattern of the entry, "" for none
	}{
		{"registry.corp.example.com", "registry.corp.example.com"}, // exact beats wildcard
		{"other.corp.example.com", "*.corp.example.com"},           // longest wildcard wins
		{"a.b.corp.example.com", "*.corp.example.com"},
		{"www.example.com", "*.example.com"},
		{"corp.example.com", "*.example.com"},
		{"example.com", ""},
		{"www.example.com:5000", ""},
		{"docker.io", "docker.io"},
		{"quay.io", ""},
	}
	for _, tt := range tests {
		t.Run(tt.registry, func(t *testing.T) {
			e, ok := c.lookup(tt.registry)
			if ok != (tt.want != "") || e.Registry != tt.want {
				t.Errorf("lookup(%q) = %q (found %v), want %q", tt.registry, e.Registry, ok, tt.want)
			}
		})
	}
	// The order entries were defined in must not matter.
	for _, env := range []string{
		"*.example.com=short,*.corp.example.com=long,registry.corp.example.com=exact",
		"registry.corp.example.com=exact,*.corp.example.com=long,*.example.com=short",
	} {
		c := LoadConfig(testEnv(t, EnvRegistries, env))
		for reg, want := range map[string]string{"registry.corp.example.com": "exact", "x.corp.example.com": "long", "x.example.com": "short"} {
			if e, _ := c.lookup(reg); e.Secret != want {
				t.Errorf("%s: lookup(%q) = %q, want %q", env, reg, e.Secret, want)
			}
		}
	}
}

func TestLoadConfigSwitches(t *testing.T) {
	tests := []struct {
		ecr, ecrPublic string
		wantECR, wantP bool
		wantErr        string
	}{
		{"", "", true, true, ""},
		{"false", "0", false, false, ""},
		{"OFF", "no", false, false, ""},
		{"true", "yes", true, true, ""},
		{"on", "1", true, true, ""},
		{"maybe", "", true, true, EnvECR},
		{"", "2", true, true, EnvECRPublic},
	}
	for _, tt := range tests {
		t.Run(tt.ecr+"/"+tt.ecrPublic, func(t *testing.T) {
			c := LoadConfig(testEnv(t, EnvECR, tt.ecr, EnvECRPublic, tt.ecrPublic))
			if tt.wantErr != "" {
				var ce *ConfigError
				if !errors.As(c.Err, &ce) || ce.Where != tt.wantErr {
					t.Fatalf("Err = %v, want a ConfigError in %s", c.Err, tt.wantErr)
				}
				return
			}
			if c.Err != nil {
				t.Fatalf("LoadConfig: %v", c.Err)
			}
			if c.ECR != tt.wantECR || c.ECRPublic != tt.wantP {
				t.Errorf("ECR, ECRPublic = %v, %v; want %v, %v", c.ECR, c.ECRPublic, tt.wantECR, tt.wantP)
			}
		})
	}
	t.Run("env overrides file", func(t *testing.T) {
		c := LoadConfig(testEnv(t, EnvConfig, unitFixture("full.json"), EnvECRPublic, "true"))
		if c.ECR || !c.ECRPublic {
			t.Errorf("ECR, ECRPublic = %v, %v; want false (file), true (env)", c.ECR, c.ECRPublic)
		}
	})
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"15s", 15 * time.Second},
		{"1m", time.Minute},
		{"1m30s", 90 * time.Second},
		{"500ms", 500 * time.Millisecond},
		{"20", 20 * time.Second},
		{"2.5", 2500 * time.Millisecond},
		{" 3s ", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDuration(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, in := range []string{"", "0", "-5", "-1s", "0s", "soon", "5 s", "NaN"} {
		t.Run("reject "+in, func(t *testing.T) {
			if got, err := parseDuration(in); err == nil {
				t.Errorf("parseDuration(%q) = %v, want an error", in, got)
			}
		})
	}
	t.Run("env", func(t *testing.T) {
		c := LoadConfig(testEnv(t, EnvTimeout, "soon"))
		var ce *ConfigError
		if !errors.As(c.Err, &ce) || ce.Where != EnvTimeout || c.Timeout != DefaultTimeout {
			t.Errorf("Err = %v, Timeout = %v; want a ConfigError in %s and the default timeout", c.Err, c.Timeout, EnvTimeout)
		}
	})
}

func TestLoadConfigLog(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"", "", false},
		{"off", "", false},
		{"none", "", false},
		{"info", "info", false},
		{"DEBUG", "debug", false},
		{" debug ", "debug", false},
		{"trace", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c := LoadConfig(testEnv(t, EnvLog, tt.in, EnvLogFile, "/tmp/x.log"))
			if (c.Err != nil) != tt.err {
				t.Fatalf("Err = %v, want error %v", c.Err, tt.err)
			}
			if c.LogLevel != tt.want {
				t.Errorf("LogLevel = %q, want %q", c.LogLevel, tt.want)
			}
			if c.LogFile != "/tmp/x.log" {
				t.Errorf("LogFile = %q", c.LogFile)
			}
		})
	}
}

func TestLoadConfigFallbackName(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"pass", true},
		{"osxkeychain", true},
		{"ecr-login", true},
		{"secretsmanager", false}, // itself: a loop
		{"../bin/evil", false},
		{"pass; rm -rf /", false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			c := LoadConfig(testEnv(t, EnvFallback, tt.in))
			if tt.ok && (c.Err != nil || c.Fallback != tt.in) {
				t.Errorf("Fallback = %q, Err = %v; want %q", c.Fallback, c.Err, tt.in)
			}
			if !tt.ok && (c.Err == nil || c.Fallback != "") {
				t.Errorf("Fallback = %q, Err = %v; want an error and no fallback", c.Fallback, c.Err)
			}
		})
	}
}

func TestLoadConfigBrokenKeepsGoodEntries(t *testing.T) {
	// A bad env entry is reported; the file's entries stay for list.
	c := LoadConfig(testEnv(t, EnvConfig, unitFixture("full.json"), EnvRegistries, "quay.io"))
	if c.Err == nil {
		t.Fatal("want a configuration error")
	}
	if _, ok := c.lookup("ghcr.io"); !ok {
		t.Error("the file's ghcr.io entry was dropped")
	}
}
