package imagetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/credhelpers/docker-credential-secretsmanager/internal/testserver"
)

// startMoto runs moto_server on a free loopback port and returns its URL.
func (e *env) startMoto() string {
	e.t.Helper()
	return testserver.Moto(e.t, testserver.Options{LogDir: e.dir})
}

// createSecret stores a secret in moto with the SDK.
func (e *env) createSecret(endpoint, name, value string) {
	e.t.Helper()
	c := secretsmanager.New(secretsmanager.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("imagetest", "imagetest", ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}); err != nil {
		e.t.Fatalf("CreateSecret %s: %v", name, err)
	}
}

// startRegistry runs Debian's distribution registry on a free loopback port
// with htpasswd (bcrypt) authentication for one user, and returns host:port.
func (e *env) startRegistry(name, user, pass string) string {
	e.t.Helper()
	host := testserver.Registry(e.t, testserver.RegistryOptions{
		Options: testserver.Options{Name: "registry-" + name, LogDir: e.dir},
		Dir:     filepath.Join(e.dir, "registry-"+name), User: user, Password: pass,
	})
	e.registries = append(e.registries, host)
	e.creds = append(e.creds, [2]string{user, pass})
	return host
}

// wantTags checks, with the registry's own credentials, that repo has tags.
func (e *env) wantTags(host, repo string, tags ...string) {
	e.t.Helper()
	i := slices.Index(e.registries, host)
	req, err := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/tags/list", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(e.creds[i][0], e.creds[i][1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Tags []string }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		e.t.Fatalf("%s/%s tags: %v", host, repo, err)
	}
	for _, tag := range tags {
		if !slices.Contains(list.Tags, tag) {
			e.t.Errorf("%s/%s has tags %v, want %s", host, repo, list.Tags, tag)
		}
	}
}

// runBuildspec runs the image as CodeBuild runs a custom image, with the
// Engine's socket and host networking, the source tree at CODEBUILD_SRC_DIR,
// and the buildspec runner; it fails the test unless the build succeeds.
func (e *env) runBuildspec(t *testing.T, name, image, src, runner, buildspec string, envs ...string) string {
	t.Helper()
	container := "imagetest-" + name + "-" + e.id
	e.containers = append(e.containers, container)
	args := []string{"run", "--name", container, "--network", "host",
		"-v", "/var/run/docker.sock:/var/run/docker.sock",
		"-v", src + ":/codebuild/output/src/repo",
		"-v", runner + ":/codebuild/bin/buildspec-run:ro",
		"-w", "/codebuild/output/src/repo"}
	for _, kv := range envs {
		args = append(args, "-e", kv)
	}
	args = append(args, image, "/codebuild/bin/buildspec-run", buildspec)
	start := time.Now()
	out, err := e.docker(args...)
	t.Logf("%s buildspec ran in %v", name, time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("%s failed: %v\n%s", buildspec, err, tail(out, 60))
	}
	if !strings.Contains(out, "build succeeded") {
		t.Fatalf("%s: no success line:\n%s", buildspec, tail(out, 60))
	}
	return out
}

// needles are the secret values and the encodings they would take in a
// Docker config (base64 user:password) or an ECR answer.
func (e *env) needles() map[string]string {
	n := map[string]string{
		"Docker Hub password":       e.hubPass,
		"private registry password": e.privatePass,
		"ECR token":                 ecrToken,
		"AWS secret access key":     e.awsSecretKey,
		"AWS session token":         e.awsSessionToken,
	}
	for _, c := range e.creds {
		n["base64 "+c[0]+":password"] = base64.StdEncoding.EncodeToString([]byte(c[0] + ":" + c[1]))
	}
	return n
}

func findSecret(data []byte, needles map[string]string) string {
	for what, v := range needles {
		if bytes.Contains(data, []byte(v)) {
			return what
		}
	}
	return ""
}

// scanForSecrets searches the containers' filesystems (what `docker diff`
// lists first, then every file of `docker export`), the files the builds
// wrote or changed in the source tree (the repository's own tests hold
// moto's well-known ECR token), the servers' logs and every captured
// output for the secrets.
func (e *env) scanForSecrets(src string, original map[string]string) {
	e.t.Helper()
	needles := e.needles()
	for _, c := range e.containers {
		diff, err := e.docker("diff", c)
		if err != nil {
			e.t.Errorf("docker diff %s: %v\n%s", c, err, diff)
			continue
		}
		e.t.Logf("docker diff %s: %d paths changed", c, len(strings.Fields(diff))/2)
		changed := map[string]bool{}
		for _, l := range lines(strings.NewReader(diff)) {
			if kind, path, ok := strings.Cut(l, " "); ok && kind != "D" {
				changed[strings.TrimPrefix(path, "/")] = true
			}
		}
		files, changedSeen, sawHelper := 0, 0, false
		cmd := exec.Command("docker", "export", c)
		cmd.Env = e.environ()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			e.t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			e.t.Fatal(err)
		}
		tr := tar.NewReader(stdout)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				e.t.Fatalf("docker export %s: %v", c, err)
			}
			if h.Typeflag != tar.TypeReg {
				continue
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				e.t.Fatal(err)
			}
			files++
			sawHelper = sawHelper || strings.TrimPrefix(h.Name, "/") == "usr/local/bin/docker-credential-secretsmanager"
			if changed[strings.TrimPrefix(h.Name, "/")] {
				changedSeen++
			}
			if what := findSecret(data, needles); what != "" {
				e.t.Errorf("container %s: %s found in /%s", c, what, h.Name)
			}
			if strings.HasSuffix(h.Name, ".docker/config.json") && bytes.Contains(data, []byte(`"auth"`)) {
				e.t.Errorf("container %s: /%s holds an auth value", c, h.Name)
			}
		}
		if err := cmd.Wait(); err != nil {
			e.t.Errorf("docker export %s: %v", c, err)
		}
		if !sawHelper {
			e.t.Errorf("docker export %s: the scan missed the helper (%d files)", c, files)
		}
		e.t.Logf("scanned %d files of %s, %d of them changed by the builds", files, c, changedSeen)
	}
	for _, root := range []string{src, e.dir} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			if strings.HasSuffix(path, "/htpasswd") { // bcrypt hashes, by design
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if sum, ok := original[path]; ok && sum == digest(data) {
				return nil // the repository's file as copied
			}
			if what := findSecret(data, needles); what != "" {
				e.t.Errorf("%s found in %s", what, path)
			}
			return nil
		})
		if err != nil {
			e.t.Errorf("scanning %s: %v", root, err)
		}
	}
	if what := findSecret(e.outputs.Bytes(), needles); what != "" {
		e.t.Errorf("%s found in the captured output of the docker commands", what)
	}
}

// copySource copies the repository's working tree (tracked and untracked,
// not ignored files) to a temp dir that the container mounts as its source,
// and returns the digest of each file copied, by path.
func copySource(t *testing.T, repo string) (string, map[string]string) {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dst := t.TempDir()
	original := map[string]string{}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		fi, err := os.Lstat(filepath.Join(repo, f))
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		data, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		original[filepath.Join(dst, f)] = digest(data)
	}
	return dst, original
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// goBuild builds a static binary of pkg in the module at dir.
func goBuild(t *testing.T, dir, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

func mustOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
