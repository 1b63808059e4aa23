package buildspec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runScript runs a parsed buildspec's script under bash in dir with env.
func runScript(t *testing.T, src string, env ...string) (string, int) {
	t.Helper()
	s, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	cmd := exec.Command("bash", "-c", s.Script())
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("bash: %v", err)
		}
		code = ee.ExitCode()
	}
	return out.String(), code
}

func TestScriptRunsPhasesInOrderInOneShell(t *testing.T) {
	const src = `version: 0.2
env:
  shell: bash
  variables:
    GREETING: "it's a \"quoted\" $value"
    COUNT: 3
    OVERRIDDEN: from-buildspec
phases:
  post_build:
    commands:
      - echo "post $STAGE $EXPORTED"
  build:
    commands:
      - STAGE=build
      - |
        for i in $(seq "$COUNT"); do
          printf 'line %s\n' "$i"
        done
      - echo "$GREETING / $OVERRIDDEN"
  install:
    commands:
      - export EXPORTED=yes
`
	out, code := runScript(t, src, "OVERRIDDEN=from-project")
	if code != 0 {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	want := []string{
		"[Container] Entering phase install",
		"[Container] Running command export EXPORTED=yes",
		"[Container] Entering phase build",
		"line 1", "line 2", "line 3",
		`it's a "quoted" $value / from-project`,
		"[Container] Entering phase post_build",
		"post build yes",
		"[Container] Phase complete: post_build State: SUCCEEDED",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("missing (or out of order) %q in output:\n%s", w, out)
		}
		at += i + len(w)
	}
}

func TestScriptStopsAtTheFirstFailure(t *testing.T) {
	const src = `version: 0.2
phases:
  build:
    commands:
      - echo before > marker
      - (exit 7)
      - echo after >> marker
  post_build:
    commands:
      - echo post >> marker
`
	s, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "-c", s.Script())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var code int
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 7 {
		t.Fatalf("exit %d (err %v), want 7; output:\n%s", code, err, out)
	}
	if !strings.Contains(string(out), "command did not exit successfully: (exit 7): exit status 7") {
		t.Errorf("no failure line in output:\n%s", out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "marker"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "before\n" {
		t.Errorf("marker = %q, want only the command before the failure", got)
	}
}

func TestParseRefusesWhatItCannotRun(t *testing.T) {
	for name, src := range map[string]string{
		"version 0.1":     "version: 0.1\nphases: {build: {commands: [true]}}\n",
		"secrets-manager": "version: 0.2\nenv:\n  secrets-manager:\n    PASS: hub:password\nphases: {build: {commands: [true]}}\n",
		"parameter-store": "version: 0.2\nenv:\n  parameter-store:\n    X: /x\nphases: {build: {commands: [true]}}\n",
		"finally":         "version: 0.2\nphases:\n  build:\n    commands: [true]\n    finally: [true]\n",
		"unknown phase":   "version: 0.2\nphases: {deploy: {commands: [true]}}\n",
		"sh shell":        "version: 0.2\nenv: {shell: sh}\nphases: {build: {commands: [true]}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(src)); err == nil {
				t.Fatal("Parse accepted it")
			}
		})
	}
}

// The repository's own buildspecs must be runnable by this runner.
func TestRepositoryBuildspecsParse(t *testing.T) {
	for _, path := range []string{"../../buildspec.yml", "../../examples/ecs/buildspec.yml"} {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Commands["build"]) == 0 || len(s.Commands["post_build"]) == 0 {
				t.Errorf("no build or post_build commands: %v", s.Commands)
			}
			if err := exec.Command("bash", "-n", "-c", s.Script()).Run(); err != nil {
				t.Errorf("bash -n: %v", err)
			}
		})
	}
}
