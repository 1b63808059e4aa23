package setup

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/configure")

// configEnv returns a getenv for an isolated Docker config dir.
func configEnv(dir string) func(string) string {
	return func(k string) string {
		switch k {
		case "DOCKER_CONFIG":
			return dir
		case "HOME":
			return filepath.Dir(dir)
		}
		return ""
	}
}

func runConfigure(t *testing.T, getenv func(string) string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Configure(args, strings.NewReader(""), &out, &errOut, getenv)
	return out.String(), errOut.String(), code
}

// TestConfigureGolden runs configure on each testdata/configure/*.in.json
// (with the arguments in the matching .args file) and compares the
// resulting config.json with .golden.
func TestConfigureGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/configure/*.in.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			base := strings.TrimSuffix(in, ".in.json")
			dir := filepath.Join(t.TempDir(), ".docker")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "config.json")
			if !bytes.Equal(bytes.TrimSpace(input), []byte("ABSENT")) {
				writeFile(t, path, string(input), 0o640)
			}
			var args []string
			if a, err := os.ReadFile(base + ".args"); err == nil {
				args = strings.Fields(string(a))
			}
			stdout, stderr, code := runConfigure(t, configEnv(dir), args...)
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, stdout, stderr)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				writeFile(t, base+".golden", string(got), 0o644)
			}
			want, err := os.ReadFile(base + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("config.json:\n%s\nwant:\n%s", got, want)
			}
			if !json.Valid(got) {
				t.Error("the result is not valid JSON")
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(input), []byte("ABSENT")) {
				if fi.Mode().Perm() != 0o640 {
					t.Errorf("mode %v, want the original 0640", fi.Mode().Perm())
				}
				backup, err := os.ReadFile(path + ".bak")
				switch {
				case bytes.Equal(got, input):
					if err == nil {
						t.Error("an unchanged file got a backup")
					}
				case err != nil:
					t.Errorf("no backup: %v", err)
				case !bytes.Equal(backup, input):
					t.Errorf("the backup differs from the original:\n%s", backup)
				}
			}
			// A second run changes nothing.
			stdout, _, code = runConfigure(t, configEnv(dir), args...)
			again, _ := os.ReadFile(path)
			if code != 0 || !bytes.Equal(again, got) || !strings.Contains(stdout, "already configured") {
				t.Errorf("second run: exit %d, %q, file changed: %v", code, stdout, !bytes.Equal(again, got))
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("temp file left: %s", e.Name())
				}
			}
		})
	}
}

func TestConfigureDryRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".docker")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	input := `{"auths":{"ghcr.io":{"auth":"b2N0b2NhdDpzM2NyZXQtdmFsdWU="}},"credsStore":"desktop","x-unknown":{"k":[1,2]}}`
	writeFile(t, path, input, 0o600)
	stdout, stderr, code := runConfigure(t, configEnv(dir), "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "-\t\"credsStore\": \"desktop\",\n+\t\"credsStore\": \"secretsmanager\",\n"
	if !strings.Contains(stdout, want) || !strings.HasPrefix(stdout, "--- "+path+"\n+++ ") {
		t.Errorf("diff:\n%s\nwant it to contain:\n%s", stdout, want)
	}
	if strings.Contains(stdout+stderr, "b2N0b2NhdDpzM2NyZXQtdmFsdWU=") {
		t.Errorf("the diff shows a credential:\n%s", stdout)
	}
	if !strings.Contains(stdout, `"auth": "<redacted>"`) {
		t.Errorf("the diff does not show the redacted auth line:\n%s", stdout)
	}
	got, _ := os.ReadFile(path)
	if string(got) != input {
		t.Errorf("--dry-run changed the file:\n%s", got)
	}
	if _, err := os.Stat(path + ".bak"); err == nil {
		t.Error("--dry-run wrote a backup")
	}
}

// TestConfigureRefusesMalformed checks that a file that is not a JSON
// object is left byte for byte, with no backup, and that the error does
// not quote it.
func TestConfigureRefusesMalformed(t *testing.T) {
	inputs := map[string]string{
		"truncated":      `{"auths":{"ghcr.io":{"auth":"c2VjcmV0LXRva2VuLTQy"}`,
		"array":          `["c2VjcmV0LXRva2VuLTQy"]`,
		"trailing data":  `{"credsStore":"pass"} {"auth":"c2VjcmV0LXRva2VuLTQy"}`,
		"not JSON":       "auth=c2VjcmV0LXRva2VuLTQy\n",
		"bad credHelper": `{"credHelpers":["c2VjcmV0LXRva2VuLTQy"]}`,
	}
	for name, input := range inputs {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), ".docker")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "config.json")
			writeFile(t, path, input, 0o600)
			args := []string{}
			if name == "bad credHelper" {
				args = []string{"ghcr.io"}
			}
			for _, extra := range [][]string{nil, {"--migrate"}} {
				stdout, stderr, code := runConfigure(t, configEnv(dir), append(args, extra...)...)
				if code != 1 {
					t.Errorf("%v: exit %d, want 1", extra, code)
				}
				if !strings.Contains(stderr, "left untouched") {
					t.Errorf("%v: stderr %q does not say the file was left untouched", extra, stderr)
				}
				if strings.Contains(stdout+stderr, "c2VjcmV0LXRva2VuLTQy") {
					t.Errorf("%v: the error quotes the file: %s%s", extra, stdout, stderr)
				}
			}
			got, _ := os.ReadFile(path)
			if string(got) != input {
				t.Errorf("the file changed:\n%s", got)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != "config.json" && e.Name() != "config.json.lock" {
					t.Errorf("unexpected file left: %s", e.Name())
				}
			}
		})
	}
}

// TestConfigureConcurrent runs 50 configure runs on one file at once,
// each adding its own registry: the lock must serialise them so that the
// result holds every registry and every original field.
func TestConfigureConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".docker")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	input := `{"auths":{"example.com":{}},"psFormat":"table","x-vendor":{"nested":[true,null,1.5]},"credHelpers":{"gcr.io":"gcloud"}}`
	writeFile(t, path, input, 0o600)
	const runs = 50
	var wg sync.WaitGroup
	errs := make(chan string, runs)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{fmt.Sprintf("reg%02d.example.com", i)}
			if i%10 == 0 {
				args = nil // credsStore runs mixed in
			}
			if _, stderr, code := runConfigure(t, configEnv(dir), args...); code != 0 {
				errs <- stderr
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a run failed: %s", e)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Auths       map[string]any    `json:"auths"`
		PsFormat    string            `json:"psFormat"`
		Vendor      map[string][]any  `json:"x-vendor"`
		CredHelpers map[string]string `json:"credHelpers"`
		CredsStore  string            `json:"credsStore"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("not valid JSON after concurrent runs: %v\n%s", err, data)
	}
	if _, ok := got.Auths["example.com"]; !ok || got.PsFormat != "table" || len(got.Vendor["nested"]) != 3 || got.CredHelpers["gcr.io"] != "gcloud" {
		t.Errorf("an original field was lost:\n%s", data)
	}
	if got.CredsStore != HelperName {
		t.Errorf("credsStore %q", got.CredsStore)
	}
	for i := range runs {
		if i%10 == 0 {
			continue
		}
		if r := fmt.Sprintf("reg%02d.example.com", i); got.CredHelpers[r] != HelperName {
			t.Errorf("credHelpers lost %s:\n%s", r, data)
		}
	}
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a", "b", "x\ny\nz\n", "x\nY\nz\nw\n")
	want := "--- a\n+++ b\n x\n-y\n+Y\n z\n+w\n"
	if got != want {
		t.Errorf("lineDiff:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseArgs(t *testing.T) {
	var a, b bool
	var s string
	defs := []flagDef{{name: "a", b: &a}, {name: "b", b: &b}, {name: "s", s: &s}}
	pos, err := parseArgs([]string{"x", "--a", "-s", "v", "y", "--", "--b"}, defs)
	if err != nil || !a || b || s != "v" || strings.Join(pos, ",") != "x,y,--b" {
		t.Errorf("got %v %v %v %q %v", pos, a, b, s, err)
	}
	for _, bad := range [][]string{{"--nope"}, {"--s"}, {"--a=true"}} {
		if _, err := parseArgs(bad, defs); err == nil {
			t.Errorf("parseArgs(%v) accepted", bad)
		}
	}
}

// TestConfigureSymlink checks that a symlinked config.json is updated
// where it points and stays a symlink.
func TestConfigureSymlink(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".docker")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(home, "dotfiles-docker.json")
	writeFile(t, target, `{"psFormat":"x"}`, 0o600)
	link := filepath.Join(dir, "config.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runConfigure(t, configEnv(dir)); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("config.json is no longer a symlink: %v", err)
	}
	got, _ := os.ReadFile(target)
	if !strings.Contains(string(got), `"credsStore": "secretsmanager"`) || !strings.Contains(string(got), `"psFormat": "x"`) {
		t.Errorf("the link target was not updated:\n%s", got)
	}
}

// TestConfigureConcurrentProcesses runs 50 helper processes at once on one
// config.json, as parallel build steps would.
func TestConfigureConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the helper")
	}
	bin := buildHelper(t)
	dir := filepath.Join(t.TempDir(), ".docker")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	writeFile(t, path, `{"x-keep":{"a":[1,2,3]},"auths":{"h.example.com":{}}}`, 0o600)
	const runs = 50
	cmds := make([]*exec.Cmd, runs)
	outs := make([]*bytes.Buffer, runs)
	for i := range runs {
		cmds[i] = exec.Command(bin, "configure", fmt.Sprintf("p%02d.example.com", i))
		cmds[i].Env = []string{"DOCKER_CONFIG=" + dir, "HOME=" + filepath.Dir(dir), "PATH=" + os.Getenv("PATH")}
		outs[i] = &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("run %d: %v\n%s", i, err, outs[i])
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Keep        map[string][]int           `json:"x-keep"`
		Auths       map[string]json.RawMessage `json:"auths"`
		CredHelpers map[string]string          `json:"credHelpers"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("not JSON after %d concurrent processes: %v\n%s", runs, err, data)
	}
	if len(got.Keep["a"]) != 3 || got.Auths["h.example.com"] == nil || len(got.CredHelpers) != runs {
		t.Errorf("fields lost (%d credHelpers):\n%s", len(got.CredHelpers), data)
	}
}
