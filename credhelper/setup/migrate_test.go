package setup

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

func smClient(motoURL string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(motoURL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// helperGet runs the helper's own get, as Docker would.
func helperGet(t *testing.T, serverURL string) (user, pass string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = credhelper.Run([]string{"get"}, strings.NewReader(serverURL), &out, &errOut, os.Getenv, "test")
	if code != 0 {
		return "", "", code
	}
	var c struct{ Username, Secret string }
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		t.Fatalf("get answered %q: %v", out.String(), err)
	}
	return c.Username, c.Secret, code
}

// grepDir fails the test if any file under dir contains one of values.
func grepDir(t *testing.T, dir string, values ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range values {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("%s contains a password", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrate(t *testing.T) {
	moto := motoServer(t)
	dc := isolate(t, moto)
	pwHub, pwGHCR, pwLocal := randomSecret(t), randomSecret(t), randomSecret(t)
	pwECR, pwKeep := randomSecret(t), randomSecret(t) // an expired ECR token; a login shadowed by a mapping
	path := filepath.Join(dc, "config.json")
	input := `{
	"auths": {
		"https://index.docker.io/v1/": {"auth": "` + basicAuth("hubuser", pwHub) + `", "email": "me@example.com"},
		"ghcr.io": {"auth": "` + basicAuth("octocat", pwGHCR) + `"},
		"127.0.0.1:5000": {"auth": "` + basicAuth("local", pwLocal) + `"},
		"123456789012.dkr.ecr.us-east-1.amazonaws.com": {"auth": "` + basicAuth("AWS", pwECR) + `"},
		"keep.example.com": {"auth": "` + basicAuth("kim", pwKeep) + `"},
		"quay.io": {}
	},
	"psFormat": "table {{.ID}}",
	"x-unknown": [1, {"a": "b"}]
}
`
	writeFile(t, path, input, 0o600)
	helperFile := filepath.Join(dc, credhelper.ConfigFileName)
	createSecret(t, moto, "keep/me", userPass("kim", "pw-kept-in-secrets-manager"))
	writeFile(t, helperFile, `{"ecrPublic":false,"registries":{"keep.example.com":{"secret":"keep/me"}}}`, 0o640)
	t.Setenv(credhelper.EnvRegistries, "")

	stdout, stderr, code := runConfigure(t, os.Getenv, "--migrate", "--prefix", "ci/docker/")
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, stdout, stderr)
	}
	all := stdout + stderr
	for _, pw := range []string{pwHub, pwGHCR, pwLocal, pwECR, pwKeep} {
		if strings.Contains(all, pw) {
			t.Errorf("configure printed a password:\n%s", all)
		}
	}
	grepDir(t, filepath.Dir(dc), pwHub, pwGHCR, pwLocal, pwECR, pwKeep)

	// config.json: routed to the helper, no password, everything else kept.
	var got map[string]json.RawMessage
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if string(got["credsStore"]) != `"secretsmanager"` || string(got["psFormat"]) != `"table {{.ID}}"` || string(got["x-unknown"]) == "" {
		t.Errorf("config.json after migrate:\n%s", data)
	}
	var auths map[string]map[string]string
	if err := json.Unmarshal(got["auths"], &auths); err != nil {
		t.Fatal(err)
	}
	if len(auths) != 6 || auths["https://index.docker.io/v1/"]["email"] != "me@example.com" {
		t.Errorf("auths after migrate: %v", auths)
	}
	for key, a := range auths {
		if a["auth"] != "" {
			t.Errorf("auths[%q] still has its auth", key)
		}
	}
	if !strings.Contains(stdout, "keep.example.com: already served by secretsmanager:keep/me; get resolves it") ||
		!strings.Contains(stdout, "123456789012.dkr.ecr.us-east-1.amazonaws.com: already served by ecr:") {
		t.Errorf("stdout does not report the registries already served:\n%s", stdout)
	}

	// The helper's config file keeps its other fields and entries; the
	// migrated registry's entry is replaced whole.
	var hc struct {
		ECRPublic  *bool                        `json:"ecrPublic"`
		Registries map[string]map[string]string `json:"registries"`
	}
	hdata, _ := os.ReadFile(helperFile)
	if err := json.Unmarshal(hdata, &hc); err != nil {
		t.Fatal(err)
	}
	if hc.ECRPublic == nil || *hc.ECRPublic || hc.Registries["keep.example.com"]["secret"] != "keep/me" || len(hc.Registries) != 4 ||
		len(hc.Registries["ghcr.io"]) != 1 || !strings.Contains(hc.Registries["ghcr.io"]["secret"], ":secret:ci/docker/ghcr.io-") {
		t.Errorf("helper config after migrate:\n%s", hdata)
	}
	if fi, err := os.Stat(helperFile); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("helper config mode changed: %v", err)
	}

	// The secrets exist, tagged with their registry.
	sm := smClient(moto)
	for reg, name := range map[string]string{"docker.io": "ci/docker/docker.io", "ghcr.io": "ci/docker/ghcr.io", "127.0.0.1:5000": "ci/docker/127.0.0.1_5000"} {
		d, err := sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
		if err != nil {
			t.Errorf("secret %s: %v", name, err)
			continue
		}
		tagged := false
		for _, tg := range d.Tags {
			tagged = tagged || (aws.ToString(tg.Key) == RegistryTag && aws.ToString(tg.Value) == reg)
		}
		if !tagged {
			t.Errorf("secret %s is not tagged %s=%s: %v", name, RegistryTag, reg, d.Tags)
		}
	}

	// get resolves every migrated registry to its old login.
	for url, want := range map[string][2]string{
		"https://index.docker.io/v1/": {"hubuser", pwHub},
		"ghcr.io":                     {"octocat", pwGHCR},
		"127.0.0.1:5000":              {"local", pwLocal},
		"keep.example.com":            {"kim", "pw-kept-in-secrets-manager"},
		"123456789012.dkr.ecr.us-east-1.amazonaws.com": {"AWS", "123456789012-auth-token"},
	} {
		u, p, code := helperGet(t, url)
		if code != 0 || u != want[0] || p != want[1] {
			t.Errorf("get %s: exit %d, user %q, password matches: %v", url, code, u, p == want[1])
		}
	}

	// The backup keeps the old routing but not the migrated passwords.
	backup, err := os.ReadFile(path + ".bak")
	if err != nil || !bytes.Contains(backup, []byte("me@example.com")) {
		t.Errorf("backup: %v\n%s", err, backup)
	}

	// Another machine (a fresh Docker config) with a newer plaintext login
	// for ghcr.io updates the secret this helper tagged for ghcr.io.
	dc2 := filepath.Join(t.TempDir(), ".docker")
	if err := os.MkdirAll(dc2, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dc2)
	pwNew := randomSecret(t)
	writeFile(t, filepath.Join(dc2, "config.json"), `{"auths":{"ghcr.io":{"auth":"`+basicAuth("octocat", pwNew)+`"}}}`, 0o600)
	if stdout, stderr, code := runConfigure(t, os.Getenv, "--migrate", "--prefix", "ci/docker/"); code != 0 {
		t.Fatalf("second machine: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, p, code := helperGet(t, "ghcr.io"); code != 0 || p != pwNew {
		t.Errorf("second machine: get ghcr.io: exit %d, new password: %v", code, p == pwNew)
	}
	grepDir(t, dc2, pwNew)
	grepDir(t, filepath.Dir(dc), pwHub, pwGHCR, pwLocal, pwNew)
}

// TestMigrateFailureLeavesConfig makes the second of two logins fail to
// store (a secret of that name exists without this helper's tag) and the
// verification fail (an env mapping points elsewhere): config.json and
// the helper's config file must stay as they were.
func TestMigrateFailureLeavesConfig(t *testing.T) {
	moto := motoServer(t)
	tests := []struct {
		name    string
		prepare func(t *testing.T)
		wantErr string
	}{
		{
			name: "secret name taken midway",
			prepare: func(t *testing.T) {
				createSecret(t, moto, "mig/b.example.com", userPass("someone", "else"))
			},
			wantErr: `a secret named "mig/b.example.com" exists and is not tagged`,
		},
		{
			name: "a registry already mapped does not resolve",
			prepare: func(t *testing.T) {
				t.Setenv(credhelper.EnvRegistries, "b.example.com=missing/secret")
			},
			wantErr: "get would fail for b.example.com",
		},
		{
			name: "Secrets Manager unreachable",
			prepare: func(t *testing.T) {
				t.Setenv("AWS_ENDPOINT_URL", "http://"+closedAddr(t))
			},
			wantErr: "storing the login for a.example.com",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := isolate(t, moto)
			prefix := "mig/"
			if i > 0 {
				prefix = "mig" + string(rune('0'+i)) + "/"
			}
			pwA, pwB := randomSecret(t), randomSecret(t)
			input := `{"auths":{"a.example.com":{"auth":"` + basicAuth("alice", pwA) + `"},"b.example.com":{"auth":"` + basicAuth("bob", pwB) + `"}},"credsStore":"desktop"}`
			path := filepath.Join(dc, "config.json")
			writeFile(t, path, input, 0o600)
			helperFile := filepath.Join(dc, credhelper.ConfigFileName)
			helperInput := `{"registries":{"keep.example.com":{"secret":"keep/me"}}}`
			writeFile(t, helperFile, helperInput, 0o600)
			tt.prepare(t)

			stdout, stderr, code := runConfigure(t, os.Getenv, "--migrate", "--prefix", prefix)
			if code != 1 || !strings.Contains(stderr, tt.wantErr) || !strings.Contains(stderr, "left untouched") {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tt.wantErr)
			}
			if strings.Contains(stdout+stderr, pwA) || strings.Contains(stdout+stderr, pwB) {
				t.Errorf("a password was printed:\n%s%s", stdout, stderr)
			}
			if got, _ := os.ReadFile(path); string(got) != input {
				t.Errorf("config.json changed:\n%s", got)
			}
			if got, _ := os.ReadFile(helperFile); string(got) != helperInput {
				t.Errorf("the helper's config file changed:\n%s", got)
			}
			entries, _ := os.ReadDir(dc)
			for _, e := range entries {
				switch e.Name() {
				case "config.json", "config.json.lock", credhelper.ConfigFileName:
				default:
					t.Errorf("file left behind: %s", e.Name())
				}
			}
		})
	}
}

func TestPrintPolicy(t *testing.T) {
	moto := motoServer(t)
	dc := isolate(t, moto)
	writeFile(t, filepath.Join(dc, credhelper.ConfigFileName), `{"registries":{
		"docker.io":{"secret":"ci/dockerhub"},
		"ghcr.io":{"secret":"arn:aws:secretsmanager:eu-west-1:111122223333:secret:ghcr-AbCdEf"},
		"quay.io":{"secret":"quay","region":"eu-central-1","roleArn":"arn:aws:iam::111122223333:role/registry-reader"},
		"mirror.example.com":{"secret":"ecr:123456789012.dkr.ecr.us-west-2.amazonaws.com"},
		"public.ecr.aws":{}
	}}`, 0o600)
	stdout, stderr, code := runConfigure(t, os.Getenv, "--print-policy")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p Policy
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("not a policy: %v\n%s", err, stdout)
	}
	want := Policy{Version: "2012-10-17", Statement: []Statement{
		{Sid: "ReadRegistrySecrets", Effect: "Allow", Action: []string{"secretsmanager:GetSecretValue"}, Resource: []string{
			"arn:aws:secretsmanager:eu-west-1:111122223333:secret:ghcr-AbCdEf",
			"arn:aws:secretsmanager:us-east-1:123456789012:secret:ci/dockerhub-??????",
		}},
		{Sid: "ECRAuthorizationToken", Effect: "Allow", Action: []string{"ecr:GetAuthorizationToken"}, Resource: []string{"*"}},
		{Sid: "ECRPublicAuthorizationToken", Effect: "Allow", Action: []string{"ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"}, Resource: []string{"*"}},
		{Sid: "AssumeRegistryRoles", Effect: "Allow", Action: []string{"sts:AssumeRole"}, Resource: []string{"arn:aws:iam::111122223333:role/registry-reader"}},
	}}
	gotJSON, _ := json.Marshal(p)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("policy:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
	if !strings.Contains(stderr, "the role arn:aws:iam::111122223333:role/registry-reader needs secretsmanager:GetSecretValue on arn:aws:secretsmanager:eu-central-1:123456789012:secret:quay-??????") {
		t.Errorf("stderr does not name the role's permission: %s", stderr)
	}
}

// TestMigrateRejectedKey runs migrate against moto in IAM mode with an
// unknown key: the XML 403 is reported by code and nothing changes.
func TestMigrateRejectedKey(t *testing.T) {
	moto := motoServer(t, "INITIAL_NO_AUTH_ACTION_COUNT=0")
	dc := isolate(t, moto)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
	path := filepath.Join(dc, "config.json")
	input := `{"auths":{"ghcr.io":{"auth":"` + basicAuth("octocat", randomSecret(t)) + `"}}}`
	writeFile(t, path, input, 0o600)
	_, stderr, code := runConfigure(t, os.Getenv, "--migrate")
	if code != 1 || !strings.Contains(stderr, "InvalidClientTokenId") || !strings.Contains(stderr, "left untouched") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if got, _ := os.ReadFile(path); string(got) != input {
		t.Errorf("config.json changed:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dc, credhelper.ConfigFileName)); err == nil {
		t.Error("the helper's config file was written")
	}
}

// TestMigrateCredHelpers checks that with registries given, migrated
// registries are routed through credHelpers too and credsStore is kept.
func TestMigrateCredHelpers(t *testing.T) {
	moto := motoServer(t)
	dc := isolate(t, moto)
	pw := randomSecret(t)
	path := filepath.Join(dc, "config.json")
	writeFile(t, path, `{"credsStore":"pass","auths":{"ghcr.io":{"auth":"`+basicAuth("octocat", pw)+`"}}}`, 0o600)
	if stdout, stderr, code := runConfigure(t, os.Getenv, "--migrate", "quay.io"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var got struct {
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.CredsStore != "pass" || got.CredHelpers["quay.io"] != HelperName || got.CredHelpers["ghcr.io"] != HelperName {
		t.Errorf("config.json:\n%s", data)
	}
	if u, p, code := helperGet(t, "ghcr.io"); code != 0 || u != "octocat" || p != pw {
		t.Errorf("get ghcr.io: exit %d user %q", code, u)
	}
	grepDir(t, filepath.Dir(dc), pw)
}

// TestMigrateOnlyServed checks a config.json whose only plaintext login is
// an ECR token the helper serves anyway: the login is removed, no secret
// or helper config file is written.
func TestMigrateOnlyServed(t *testing.T) {
	moto := motoServer(t)
	dc := isolate(t, moto)
	token := randomSecret(t)
	path := filepath.Join(dc, "config.json")
	writeFile(t, path, `{"auths":{"123456789012.dkr.ecr.eu-west-1.amazonaws.com":{"auth":"`+basicAuth("AWS", token)+`"}}}`, 0o600)
	stdout, stderr, code := runConfigure(t, os.Getenv, "--migrate")
	if code != 0 || !strings.Contains(stdout, "already served by ecr:123456789012.dkr.ecr.eu-west-1.amazonaws.com; get resolves it") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dc, credhelper.ConfigFileName)); err == nil {
		t.Error("a helper config file was written")
	}
	out, err := smClient(moto).ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{})
	if err != nil || len(out.SecretList) != 0 {
		t.Errorf("secrets were created: %v %v", out, err)
	}
	grepDir(t, dc, token)
}
