package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// env is a command's whole environment; nothing is inherited implicitly.
type env map[string]string

func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (e env) without(keys ...string) env {
	out := e.with()
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func (e env) list() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// run runs a client command with env and stdin, records its combined
// output under logs/ (the leak scan reads it) and returns that output.
func (s *suite) run(t *testing.T, e env, stdin string, args ...string) (string, error) {
	t.Helper()
	s.seq++
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = e.list()
	cmd.Dir = s.tmp
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	name := fmt.Sprintf("%03d-%s.log", s.seq, filepath.Base(args[0]))
	var shown []string // the Docker and helper settings; never AWS values
	for _, kv := range cmd.Env {
		if strings.HasPrefix(kv, "DOCKER_") {
			shown = append(shown, kv)
		}
	}
	record := fmt.Sprintf("$ %s %s\n%s\n(exit: %v)\n", strings.Join(shown, " "), strings.Join(args, " "), out, err)
	writeFile(t, filepath.Join(s.logs, "commands", name), record)
	return string(out), err
}

// must runs a command that has to succeed and returns its output.
func (s *suite) must(t *testing.T, e env, stdin string, args ...string) string {
	t.Helper()
	out, err := s.run(t, e, stdin, args...)
	if err != nil {
		t.Fatalf("%s failed: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// mustFail runs a command that has to fail and returns its output.
func (s *suite) mustFail(t *testing.T, e env, stdin string, args ...string) string {
	t.Helper()
	out, err := s.run(t, e, stdin, args...)
	if err == nil {
		t.Fatalf("%s succeeded, want a failure\n%s", strings.Join(args, " "), out)
	}
	return out
}

// stopHelperProcesses stops what the helper left running (its memory
// agent, started on demand with the suite's TMPDIR): first politely with
// `agent stop`, then by PID, found by the suite's own helper binary in
// /proc/PID/exe. A process that survives fails the suite.
func (s *suite) stopHelperProcesses(t *testing.T) {
	helper := filepath.Join(s.bin, helperName)
	_, _ = s.run(t, s.env(""), "", helper, "agent", "stop")
	for _, pid := range pidsOf(helper) {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("stopping helper process %d: %v", pid, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(pidsOf(helper)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := pidsOf(helper); len(left) > 0 {
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Errorf("helper processes %v ignored SIGTERM", left)
	}
}

// pidsOf lists the processes running the executable at path.
func pidsOf(path string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == path {
			pids = append(pids, pid)
		}
	}
	return pids
}
