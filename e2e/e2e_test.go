package e2e

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// TestEndToEnd runs the scenarios in order on one set of servers; the
// leak scan comes last so that it sees everything the others wrote.
func TestEndToEnd(t *testing.T) {
	s := newSuite(t)
	t.Run("1-no-login", s.scenarioNoLogin)
	t.Run("2-failures-visible", s.scenarioFailures)
	t.Run("3-unmanaged-anonymous", s.scenarioAnonymous)
	t.Run("4-docker-login-coexistence", s.scenarioLogin)
	t.Run("6-container-credentials", s.scenarioContainerCredentials)
	t.Run("5-leak-scan", s.scenarioLeakScan)
}

// managedEnv is a client environment with only {"credsStore":
// "secretsmanager"} and the mapping env: the private registry to a
// secret, the ECR-like registry to ECR.
func (s *suite) managedEnv(t *testing.T, name string) env {
	t.Helper()
	dc := s.dockerConfig(t, name, map[string]any{"credsStore": "secretsmanager"})
	return s.env(dc).with(credhelper.EnvRegistries, mapping(
		s.private.host, secretPrivate,
		s.ecr.host, "ecr:"+ecrHost))
}

// envAgent switches the helper's memory agent (on by default).
const envAgent = "DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT"

// noCredentials is what the Engine says when a registry demands a login
// and the client sent none.
const noCredentials = "no basic auth credentials"

func (s *suite) ref(r registry) string { return r.host + "/" + s.baseRepo + ":1" }

// enginePull pulls the base image of r with docker pull and checks the
// Engine got the registry's digest and the image's file.
func (s *suite) enginePull(t *testing.T, e env, r registry) {
	t.Helper()
	ref := s.ref(r)
	s.forget(t, e, ref)
	out := s.must(t, e, "", s.tools["docker"], "pull", ref)
	if !strings.Contains(out, s.digests[r.host]) {
		t.Errorf("docker pull output does not show the digest %s:\n%s", s.digests[r.host], out)
	}
	want := r.host + "/" + s.baseRepo + "@" + s.digests[r.host]
	if got := s.repoDigests(t, e, ref); !slices.Contains(got, want) {
		t.Errorf("RepoDigests = %v, want %s", got, want)
	}
	if got := s.engineFile(t, e, ref, "base.txt"); got != s.baseText[r.host] {
		t.Errorf("/base.txt = %q, want %q", got, s.baseText[r.host])
	}
	s.forget(t, e, ref)
}

func (s *suite) scenarioNoLogin(t *testing.T) {
	e := s.managedEnv(t, "no-login")
	docker := s.tools["docker"]

	t.Run("docker-pull", func(t *testing.T) {
		s.enginePull(t, e, s.private)
		s.enginePull(t, e, s.ecr)
	})

	t.Run("crane", func(t *testing.T) {
		for _, r := range []registry{s.private, s.ecr} {
			if got := strings.TrimSpace(s.must(t, e, "", s.tools["crane"], "digest", s.ref(r))); got != s.digests[r.host] {
				t.Errorf("crane digest %s = %s, want %s", s.ref(r), got, s.digests[r.host])
			}
			out := filepath.Join(s.tmp, "crane-export.tar")
			s.must(t, e, "", s.tools["crane"], "export", s.ref(r), out)
			if got := tarFile(t, []byte(readFile(t, out)), "base.txt"); got != s.baseText[r.host] {
				t.Errorf("crane export %s: /base.txt = %q, want %q", s.ref(r), got, s.baseText[r.host])
			}
		}
	})

	t.Run("skopeo-credHelpers", func(t *testing.T) {
		// skopeo ignores credsStore; it honours credHelpers.
		dc := s.dockerConfig(t, "skopeo", map[string]any{"credHelpers": map[string]string{
			s.private.host: "secretsmanager", s.ecr.host: "secretsmanager"}})
		se := e.with("DOCKER_CONFIG", dc)
		for _, r := range []registry{s.private, s.ecr} {
			out := s.must(t, se, "", s.tools["skopeo"], "inspect", "--tls-verify=false",
				"--authfile", filepath.Join(dc, "config.json"), "docker://"+s.ref(r))
			var got struct{ Digest string }
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("skopeo inspect: %v: %s", err, out)
			}
			if got.Digest != s.digests[r.host] {
				t.Errorf("skopeo inspect %s: digest %s, want %s", s.ref(r), got.Digest, s.digests[r.host])
			}
		}
		// With credsStore only, skopeo sends no credentials: the registry
		// refuses it. This documents the limitation the README states.
		out := s.mustFail(t, e, "", s.tools["skopeo"], "inspect", "--tls-verify=false",
			"--authfile", filepath.Join(e["DOCKER_CONFIG"], "config.json"), "docker://"+s.ref(s.private))
		if !strings.Contains(strings.ToLower(out), "unauthorized") && !strings.Contains(out, "authentication required") {
			t.Errorf("skopeo with credsStore only: want the registry's refusal, got:\n%s", out)
		}
	})

	t.Run("oras", func(t *testing.T) {
		out := s.must(t, e, "", s.tools["oras"], "manifest", "fetch", "--plain-http", "--descriptor", s.ref(s.private))
		var desc struct{ Digest string }
		if err := json.Unmarshal([]byte(out), &desc); err != nil {
			t.Fatalf("oras manifest fetch: %v: %s", err, out)
		}
		if desc.Digest != s.digests[s.private.host] {
			t.Errorf("oras manifest fetch: digest %s, want %s", desc.Digest, s.digests[s.private.host])
		}
		// Push an artifact and pull it back: both directions authenticated.
		note := "artifact pushed by oras, run " + s.id + "\n"
		writeFile(t, filepath.Join(s.tmp, "note.txt"), note)
		art := s.private.host + "/e2e-" + s.id + "/artifact:1"
		s.must(t, e, "", s.tools["oras"], "push", "--plain-http", art, "note.txt")
		outDir := filepath.Join(s.tmp, "oras-pull")
		s.must(t, e, "", s.tools["oras"], "pull", "--plain-http", "-o", outDir, art)
		if got := readFile(t, filepath.Join(outDir, "note.txt")); got != note {
			t.Errorf("oras pull: note.txt = %q, want %q", got, note)
		}
	})

	buildCtx := filepath.Join(s.tmp, "build")
	msg := "built on top of the private base, run " + s.id + "\n"
	writeFile(t, filepath.Join(buildCtx, "Dockerfile"), "FROM "+s.ref(s.private)+"\nCOPY msg.txt /msg.txt\n")
	writeFile(t, filepath.Join(buildCtx, "msg.txt"), msg)
	checkBuilt := func(t *testing.T, tag string) {
		t.Helper()
		if got := s.engineFile(t, e, tag, "base.txt"); got != s.baseText[s.private.host] {
			t.Errorf("%s: /base.txt = %q, want the private base's %q", tag, got, s.baseText[s.private.host])
		}
		if got := s.engineFile(t, e, tag, "msg.txt"); got != msg {
			t.Errorf("%s: /msg.txt = %q, want %q", tag, got, msg)
		}
	}
	bkTag := "e2e-" + s.id + "-buildkit:1"

	t.Run("docker-build-buildkit", func(t *testing.T) {
		s.forget(t, e, s.ref(s.private))
		s.forget(t, e, bkTag)
		out := s.must(t, e.with("DOCKER_BUILDKIT", "1"), "", docker, "build", "--pull", "--progress", "plain", "-t", bkTag, buildCtx)
		if !strings.Contains(out, s.digests[s.private.host]) {
			t.Errorf("the BuildKit log does not show the base digest %s:\n%s", s.digests[s.private.host], out)
		}
		checkBuilt(t, bkTag)
	})

	t.Run("docker-build-legacy", func(t *testing.T) {
		tag := "e2e-" + s.id + "-legacy:1"
		s.forget(t, e, s.ref(s.private))
		s.forget(t, e, tag)
		out := s.must(t, e.with("DOCKER_BUILDKIT", "0"), "", docker, "build", "--pull", "-t", tag, buildCtx)
		if !strings.Contains(out, s.digests[s.private.host]) {
			t.Errorf("the legacy build log does not show the base digest %s:\n%s", s.digests[s.private.host], out)
		}
		checkBuilt(t, tag)
		s.forget(t, e, s.ref(s.private))
	})

	t.Run("docker-push-ecr", func(t *testing.T) {
		pushed := s.ecr.host + "/e2e-" + s.id + "/pushed:1"
		s.images = append(s.images, pushed)
		s.must(t, e, "", docker, "tag", bkTag, pushed)
		out := s.must(t, e, "", docker, "push", pushed)
		m := pushedDigest.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("docker push shows no digest:\n%s", out)
		}
		if got := strings.TrimSpace(s.must(t, e, "", s.tools["crane"], "digest", pushed)); got != m[1] {
			t.Errorf("the ECR-like registry holds %s for %s, docker push said %s", got, pushed, m[1])
		}
		s.forget(t, e, pushed)
		s.forget(t, e, bkTag)
	})
}

func (s *suite) scenarioFailures(t *testing.T) {
	dc := s.dockerConfig(t, "failures", map[string]any{"credsStore": "secretsmanager"})
	t.Run("wrong-password", func(t *testing.T) {
		e := s.env(dc).with(credhelper.EnvRegistries, mapping(s.private.host, secretWrong))
		s.forget(t, e, s.ref(s.private))
		out := s.mustFail(t, e, "", s.tools["docker"], "pull", s.ref(s.private))
		if !strings.Contains(strings.ToLower(out), "unauthorized") {
			t.Errorf("docker pull with a wrong password: want the registry's 401 (unauthorized), got:\n%s", out)
		}
		out = s.mustFail(t, e, "", s.tools["crane"], "digest", s.ref(s.private))
		if !strings.Contains(out, "401") || !strings.Contains(strings.ToUpper(out), "UNAUTHORIZED") {
			t.Errorf("crane with a wrong password: want the registry's 401, got:\n%s", out)
		}
	})
	t.Run("missing-secret", func(t *testing.T) {
		e := s.env(dc).with(credhelper.EnvRegistries, mapping(s.private.host, secretMissing))
		s.forget(t, e, s.ref(s.private))
		buildCtx := filepath.Join(s.tmp, "build-missing")
		writeFile(t, filepath.Join(buildCtx, "Dockerfile"), "FROM "+s.ref(s.private)+"\n")
		for _, c := range []struct {
			env  env
			args []string
		}{
			{e, []string{s.tools["docker"], "pull", s.ref(s.private)}},
			{e, []string{s.tools["crane"], "digest", s.ref(s.private)}},
			{e.with("DOCKER_BUILDKIT", "1"), []string{s.tools["docker"], "build", "--progress", "plain", buildCtx}},
			{e.with("DOCKER_BUILDKIT", "0"), []string{s.tools["docker"], "build", buildCtx}},
		} {
			args := c.args
			out := s.mustFail(t, c.env, "", args...)
			for _, want := range []string{helperName + ": " + s.private.host, secretMissing, "ResourceNotFoundException"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s with a missing secret: output lacks %q:\n%s", strings.Join(args[1:2], " "), want, out)
				}
			}
		}
	})
}

func (s *suite) scenarioAnonymous(t *testing.T) {
	e := s.managedEnv(t, "anonymous")
	s.enginePull(t, e, s.anon)
	if got := strings.TrimSpace(s.must(t, e, "", s.tools["crane"], "digest", s.ref(s.anon))); got != s.digests[s.anon.host] {
		t.Errorf("crane digest %s = %s, want %s", s.ref(s.anon), got, s.digests[s.anon.host])
	}
	log := readFile(t, filepath.Join(s.logs, "helper.log"))
	if !strings.Contains(log, s.anon.host) {
		t.Errorf("the helper log never mentions %s: the clients did not ask the helper", s.anon.host)
	}
}

func (s *suite) scenarioLogin(t *testing.T) {
	docker := s.tools["docker"]
	t.Run("managed", func(t *testing.T) {
		e := s.managedEnv(t, "login-managed")
		out := s.must(t, e, s.private.password+"\n", docker, "login", s.private.host, "-u", s.private.user, "--password-stdin")
		if !strings.Contains(out, "Login Succeeded") || !strings.Contains(out, "is managed by "+helperName) {
			t.Errorf("docker login to a managed registry: want success and the helper's notice, got:\n%s", out)
		}
		cfg := readFile(t, filepath.Join(e["DOCKER_CONFIG"], "config.json"))
		if strings.Contains(cfg, `"auth"`) {
			t.Errorf("config.json holds an auth value after login:\n%s", cfg)
		}
		// The credentials still come from Secrets Manager.
		s.enginePull(t, e, s.private)
		out = s.must(t, e, "", docker, "logout", s.private.host)
		if !strings.Contains(out, "Removing login credentials") {
			t.Errorf("docker logout: %s", out)
		}
		s.enginePull(t, e, s.private)
	})

	t.Run("unmanaged-pass", func(t *testing.T) {
		s.initPass(t)
		dc := s.dockerConfig(t, "login-pass", map[string]any{"credsStore": "secretsmanager"})
		e := s.env(dc).with(
			credhelper.EnvRegistries, mapping(s.private.host, secretPrivate),
			credhelper.EnvFallback, "pass")
		ref := s.ref(s.login)
		s.forget(t, e, ref)
		out := s.mustFail(t, e, "", docker, "pull", ref)
		if !strings.Contains(out, noCredentials) {
			t.Fatalf("pull before login: want the Engine's %q, got:\n%s", noCredentials, out)
		}
		out = s.must(t, e, s.login.password+"\n", docker, "login", s.login.host, "-u", s.login.user, "--password-stdin")
		if !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login to an unmanaged registry:\n%s", out)
		}
		list := s.passList(t, e)
		if list[s.login.host] != s.login.user {
			t.Fatalf("docker-credential-pass list = %v, want %s → %s", list, s.login.host, s.login.user)
		}
		// pass keeps it encrypted: the store holds .gpg files, never the
		// password itself (the final leak scan runs after the logout).
		store := filepath.Join(s.home, ".password-store")
		gpgFiles := 0
		err := filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			if strings.HasSuffix(p, ".gpg") {
				gpgFiles++
			}
			if strings.Contains(readFile(t, p), s.login.password) {
				t.Errorf("the password is in plaintext in %s", p)
			}
			return nil
		})
		if err != nil || gpgFiles < 2 {
			t.Errorf("pass store %s: %d encrypted entries (%v), want the marker and the login", store, gpgFiles, err)
		}
		s.enginePull(t, e, s.login)
		s.must(t, e, "", docker, "logout", s.login.host)
		if list := s.passList(t, e); list[s.login.host] != "" {
			t.Errorf("after docker logout, pass still holds %s: %v", s.login.host, list)
		}
		out = s.mustFail(t, e, "", docker, "pull", ref)
		if !strings.Contains(out, noCredentials) {
			t.Errorf("pull after logout: want the Engine's %q, got:\n%s", noCredentials, out)
		}
	})
}

// initPass creates a throwaway gpg key (no passphrase) and a pass store
// under the test HOME; the gpg-agent it starts is stopped at the end.
func (s *suite) initPass(t *testing.T) {
	t.Helper()
	e := s.env("")
	s.must(t, e, "", s.tools["gpg"], "--batch", "--passphrase", "", "--quick-gen-key", "e2e <e2e@example.invalid>", "default", "default", "never")
	t.Cleanup(func() {
		if out, err := s.run(t, e, "", s.tools["gpgconf"], "--kill", "gpg-agent"); err != nil {
			t.Errorf("stopping gpg-agent: %v: %s", err, out)
		}
	})
	s.must(t, e, "", s.tools["pass"], "init", "e2e@example.invalid")
	// docker-credential-pass 0.6 refuses a store without this marker.
	s.must(t, e, "pass is initialized\n", s.tools["pass"], "insert", "-m", "docker-credential-helpers/docker-pass-initialized-check")
}

func (s *suite) passList(t *testing.T, e env) map[string]string {
	t.Helper()
	out := s.must(t, e, "", s.tools["docker-credential-pass"], "list")
	var m map[string]string
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("docker-credential-pass list: %v: %s", err, out)
	}
	return m
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
