package setup

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// distributionRegistry runs Debian's docker-registry (distribution 2.8)
// on a free loopback port with htpasswd auth for one user, and returns its
// host:port. It skips when the package is not installed.
func distributionRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry not installed (scripts/deps.sh installs it)")
	}
	htpasswd, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("htpasswd not installed (apache2-utils)")
	}
	dir := t.TempDir()
	// The password goes to htpasswd on stdin, never in argv.
	cmd := exec.Command(htpasswd, "-niB", user)
	cmd.Stdin = stringsReader(pass + "\n")
	entry, err := cmd.Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	writeFile(t, filepath.Join(dir, "htpasswd"), string(entry), 0o600)
	addr := closedAddr(t)
	config := fmt.Sprintf(`version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: %s}}
http: {addr: %s}
auth: {htpasswd: {realm: test, path: %s}}
`, filepath.Join(dir, "data"), addr, filepath.Join(dir, "htpasswd"))
	writeFile(t, filepath.Join(dir, "config.yml"), config, 0o600)
	reg := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	reg.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	reg.Stdout, reg.Stderr = logFile, logFile
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-reg.Process.Pid, syscall.SIGKILL)
		_ = reg.Wait()
		_ = logFile.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("docker-registry did not start: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
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
