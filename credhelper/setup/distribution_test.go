package setup

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/credhelpers/docker-credential-secretsmanager/internal/testserver"
)

// distributionRegistry runs Debian's docker-registry (distribution 2.8)
// on a free loopback port with htpasswd auth for one user, and returns its
// host:port. It skips when the package is not installed.
func distributionRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Skip("docker-registry not installed (scripts/deps.sh installs it)")
	}
	if _, err := exec.LookPath("htpasswd"); err != nil {
		t.Skip("htpasswd not installed (apache2-utils)")
	}
	return testserver.Registry(t, testserver.RegistryOptions{User: user, Password: pass})
}

// TestDoctorDistribution checks --registry-check against the real
// distribution registry: accepted, then rejected after a password change.
func TestDoctorDistribution(t *testing.T) {
	moto := motoServer(t)
	pw := randomSecret(t)
	reg := distributionRegistry(t, "builder", pw)
	dc := isolate(t, moto)
	writeFile(t, filepath.Join(dc, "config.json"), `{"credsStore":"secretsmanager"}`, 0o600)
	createSecret(t, moto, "dist/good", userPass("builder", pw))
	createSecret(t, moto, "dist/stale", userPass("builder", "pw-stale-0001"))

	t.Setenv("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", reg+"=dist/good")
	rep, all, code := runDoctor(t, "--registry-check")
	if code != 0 {
		t.Errorf("exit %d with a valid login:\n%s", code, all)
	}
	checkRows(t, rep, []want{{check: checkAccepts, subject: reg, status: StatusOK, detail: "accepts"}})

	t.Setenv("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", reg+"=dist/stale")
	rep, all, code = runDoctor(t, "--registry-check")
	if code != 1 {
		t.Errorf("exit %d with a stale login:\n%s", code, all)
	}
	checkRows(t, rep, []want{{check: checkAccepts, subject: reg, status: StatusFail, detail: "rejected (HTTP 401)"}})
	if containsAny(all, pw, "pw-stale-0001") {
		t.Errorf("doctor printed a password:\n%s", all)
	}
}
