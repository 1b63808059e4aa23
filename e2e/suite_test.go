// Package e2e proves the helper across the wire: real registries (the
// distribution registry), moto for Secrets Manager and ECR, and the real
// clients users run (the docker CLI and Engine, BuildKit, the legacy
// builder, crane, skopeo, oras, docker-credential-pass).
//
// Run it with `cd e2e && go test -count=1 -timeout 15m ./...` after
// scripts/deps.sh. A missing tool or Engine fails the suite; nothing skips.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
	"github.com/credhelpers/docker-credential-secretsmanager/internal/testserver"
)

const (
	helperName = "docker-credential-secretsmanager"
	// motoAccount is moto's default account; its ECR token is
	// base64("AWS:<account>-auth-token").
	motoAccount  = "123456789012"
	motoECRToken = motoAccount + "-auth-token"
	ecrHost      = motoAccount + ".dkr.ecr.us-east-1.amazonaws.com"
	awsRegion    = "us-east-1"
	// The secrets stored in (emulated) Secrets Manager.
	secretPrivate = "e2e/private"
	secretWrong   = "e2e/wrong-password"
	secretMissing = "e2e/does-not-exist"
	secretLogin   = "e2e/login-registry"
)

// registry is one distribution registry the suite runs.
type registry struct {
	host     string // 127.0.0.1:PORT
	user     string // empty: anonymous access
	password string
}

// suite holds what every scenario shares: the servers, the tools, the
// isolated directories and the secret values the leak scan looks for.
type suite struct {
	id   string // unique per run: keeps repositories and Engine tags apart
	root string // everything the suite writes lives under it
	bin  string // the PATH directory holding the helper
	home string // the test HOME
	tmp  string // the test TMPDIR
	logs string // server logs and every command's output
	gpg  string // GNUPGHOME

	tools map[string]string

	motoURL  string
	private  registry // htpasswd, mapped to a Secrets Manager secret
	ecr      registry // user AWS with moto's ECR token, mapped with ecr:
	anon     registry // no auth: unmanaged, anonymous
	login    registry // htpasswd, used unmanaged through docker login + pass
	baseRepo string   // repository of the base image on every registry
	baseText map[string]string
	digests  map[string]string // registry host → base image digest

	secrets []string // every secret value: none may leak
	images  []string // Engine image references to remove at the end
	seq     int
}

// requiredTools are looked up once; a missing one fails the suite.
var requiredTools = []string{
	"go", "docker", "docker-registry", "moto_server", "crane", "oras", "skopeo",
	"gpg", "gpgconf", "pass", "docker-credential-pass", "aws",
}

func newSuite(t *testing.T) *suite {
	t.Helper()
	root, err := os.MkdirTemp("", "e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("E2E_KEEP") != "" {
			t.Logf("E2E_KEEP: leaving %s", root)
			return
		}
		if err := os.RemoveAll(root); err != nil {
			t.Errorf("removing %s: %v", root, err)
		}
	})
	s := &suite{
		id:       randomHex(t, 4),
		root:     root,
		bin:      filepath.Join(root, "bin"),
		home:     filepath.Join(root, "home"),
		tmp:      filepath.Join(root, "tmp"),
		logs:     filepath.Join(root, "logs"),
		gpg:      filepath.Join(root, "gnupg"),
		tools:    map[string]string{},
		baseText: map[string]string{},
		digests:  map[string]string{},
	}
	s.baseRepo = "e2e-" + s.id + "/base"
	for _, d := range []string{s.bin, s.home, s.tmp, s.logs, s.gpg} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s.findTools(t)
	s.buildHelper(t)
	t.Cleanup(func() { s.stopHelperProcesses(t) })
	s.startMoto(t)
	s.private = s.startRegistry(t, "registry-private", "e2e-user", randomHex(t, 16))
	s.ecr = s.startRegistry(t, "registry-ecr", "AWS", motoECRToken)
	s.anon = s.startRegistry(t, "registry-anon", "", "")
	s.login = s.startRegistry(t, "registry-login", "login-user", randomHex(t, 16))
	s.secrets = append(s.secrets, s.private.password, motoECRToken, s.login.password)

	wrong := randomHex(t, 16)
	s.secrets = append(s.secrets, wrong)
	s.createSecret(t, secretPrivate, map[string]string{"username": s.private.user, "password": s.private.password})
	s.createSecret(t, secretWrong, map[string]string{"username": s.private.user, "password": wrong})
	s.createSecret(t, secretLogin, map[string]string{"username": s.login.user, "password": s.login.password})
	for _, r := range []registry{s.private, s.ecr, s.anon, s.login} {
		s.pushBase(t, r)
	}
	t.Cleanup(func() { s.removeImages(t) })
	return s
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func (s *suite) findTools(t *testing.T) {
	t.Helper()
	gopathBin := ""
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopathBin = filepath.Join(strings.TrimSpace(string(out)), "bin")
	}
	var missing []string
	for _, name := range requiredTools {
		p, err := exec.LookPath(name)
		if err != nil && gopathBin != "" {
			if cand := filepath.Join(gopathBin, name); isExecutable(cand) {
				p, err = cand, nil
			}
		}
		if err != nil {
			missing = append(missing, name)
			continue
		}
		s.tools[name] = p
	}
	if len(missing) > 0 {
		t.Fatalf("missing tools: %s; install them with scripts/deps.sh (make deps)", strings.Join(missing, ", "))
	}
	out, err := exec.Command(s.tools["docker"], "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		t.Fatalf("the Docker Engine is not reachable (%v): %s\nthe suite needs a running Engine; see scripts/deps.sh", err, out)
	}
	if out, err := exec.Command(s.tools["docker"], "buildx", "version").CombinedOutput(); err != nil {
		t.Fatalf("the buildx CLI plugin is missing (%v): %s\ninstall it with scripts/deps.sh", err, out)
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// buildHelper builds the helper once and puts it on the test PATH.
func (s *suite) buildHelper(t *testing.T) {
	t.Helper()
	dst := filepath.Join(s.bin, helperName)
	cmd := exec.Command(s.tools["go"], "build", "-trimpath", "-ldflags", "-X main.version=e2e", "-o", dst, "./cmd/"+helperName)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v\n%s", err, out)
	}
	out := s.must(t, s.env(""), "", dst, "version")
	if !strings.Contains(out, helperName) || !strings.Contains(out, "e2e") {
		t.Fatalf("version = %q, want the helper's name and the stamped version e2e", out)
	}
}

// env is the base environment of every client command: isolated HOME,
// TMPDIR and DOCKER_CONFIG, the helper first on PATH, AWS pointed at moto
// with no other credential source, and the helper's debug log enabled so
// that the leak scan reads it.
func (s *suite) env(dockerConfig string) env {
	e := env{
		"PATH":                        s.bin + ":/usr/local/bin:/usr/bin:/bin",
		"HOME":                        s.home,
		"TMPDIR":                      s.tmp,
		"GNUPGHOME":                   s.gpg,
		"LANG":                        "C.UTF-8",
		"AWS_ENDPOINT_URL":            s.motoURL,
		"AWS_ACCESS_KEY_ID":           "testing",
		"AWS_SECRET_ACCESS_KEY":       "testing",
		"AWS_REGION":                  awsRegion,
		"AWS_CONFIG_FILE":             "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
		"AWS_EC2_METADATA_DISABLED":   "true",
		credhelper.EnvLog:             "debug",
		credhelper.EnvLogFile:         filepath.Join(s.logs, "helper.log"),
	}
	if dockerConfig != "" {
		e["DOCKER_CONFIG"] = dockerConfig
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		e["DOCKER_HOST"] = h
	}
	return e
}

// mapping is the helper's registries variable for the given entries
// (host=secret-id pairs).
func mapping(pairs ...string) string {
	var b []string
	for i := 0; i+1 < len(pairs); i += 2 {
		b = append(b, pairs[i]+"="+pairs[i+1])
	}
	return strings.Join(b, ",")
}

// dockerConfig writes a fresh Docker config dir holding config and
// returns its path.
func (s *suite) dockerConfig(t *testing.T, name string, config any) string {
	t.Helper()
	dir := filepath.Join(s.home, "docker-"+name)
	b, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "config.json"), string(b))
	return dir
}

func (s *suite) startMoto(t *testing.T) {
	t.Helper()
	e := env{"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "TMPDIR": s.tmp}
	s.motoURL = testserver.Moto(t, testserver.Options{LogDir: s.logs, Env: e.list()})
}

func (s *suite) createSecret(t *testing.T, name string, value map[string]string) {
	t.Helper()
	b, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	client := secretsmanager.New(secretsmanager.Options{
		Region:       awsRegion,
		BaseEndpoint: aws.String(s.motoURL),
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	if _, err := client.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(string(b)),
	}); err != nil {
		t.Fatalf("creating secret %s in moto: %v", name, err)
	}
}

// startRegistry runs Debian's distribution registry on 127.0.0.1 with
// filesystem storage and, when user is set, htpasswd (bcrypt) auth.
func (s *suite) startRegistry(t *testing.T, name, user, password string) registry {
	t.Helper()
	e := env{"PATH": "/usr/bin:/bin", "HOME": s.home, "TMPDIR": s.tmp}
	host := testserver.Registry(t, testserver.RegistryOptions{
		Options: testserver.Options{Name: name, LogDir: s.logs, Env: e.list()},
		Dir:     filepath.Join(s.root, name), User: user, Password: password,
	})
	return registry{host: host, user: user, password: password}
}

// pushBase pushes the base image (one file, /base.txt, naming the
// registry) with crane through the helper: the setup itself authenticates
// only through Secrets Manager and ECR.
func (s *suite) pushBase(t *testing.T, r registry) {
	t.Helper()
	text := fmt.Sprintf("base image on %s, run %s\n", r.host, s.id)
	layer := filepath.Join(s.tmp, "layer-"+strings.ReplaceAll(r.host, ":", "-")+".tar")
	writeTar(t, layer, map[string]string{"base.txt": text})
	dc := s.dockerConfig(t, "setup", map[string]any{"credsStore": "secretsmanager"})
	e := s.env(dc).with(credhelper.EnvRegistries, mapping(
		s.private.host, secretPrivate,
		s.ecr.host, "ecr:"+ecrHost,
		s.login.host, secretLogin))
	ref := r.host + "/" + s.baseRepo + ":1"
	s.must(t, e, "", s.tools["crane"], "append", "-f", layer, "-t", ref)
	// The Engine wants a platform; docker create wants a command.
	s.must(t, e, "", s.tools["crane"], "mutate", "--set-platform", "linux/"+runtime.GOARCH, "--cmd", "/base.txt", "-t", ref, ref)
	s.digests[r.host] = strings.TrimSpace(s.must(t, e, "", s.tools["crane"], "digest", ref))
	s.baseText[r.host] = text
}

// removeImages removes every image reference the suite put in the Engine.
func (s *suite) removeImages(t *testing.T) {
	for _, ref := range s.images {
		out, err := exec.Command(s.tools["docker"], "rmi", "-f", ref).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "No such image") {
			t.Errorf("removing %s from the Engine: %v: %s", ref, err, out)
		}
	}
}
