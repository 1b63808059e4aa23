package credhelper_test

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The integration tests run the real binary as a process, the way Docker
// clients do. TestMain builds it once; every run gets its own HOME,
// DOCKER_CONFIG and TMPDIR under the suite's root, which stays until the
// leak check at the end of TestMain has searched it.
var suite struct {
	bin  string // the helper binary
	root string // parent of every run's HOME, DOCKER_CONFIG and TMPDIR

	mu      sync.Mutex
	secrets map[string]bool // every secret value the tests used
	outputs []captured      // stderr (and failed stdout) of every run
	dirs    []string        // every run's HOME, DOCKER_CONFIG and TMPDIR
	outside []string        // searched directories outside root, removed after the search

	moto     *motoServer // the package's shared moto, started on first use
	motoErr  error
	motoOnce sync.Once
}

// captured is output of a helper run that must never carry a secret.
type captured struct {
	what string
	data string
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // the integration tests skip themselves
	}
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	root, err := os.MkdirTemp("", "chit-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		for _, d := range append(suite.outside, root) {
			_ = os.RemoveAll(d)
		}
	}()
	suite.root, suite.secrets = root, map[string]bool{}
	suite.bin = filepath.Join(root, "bin", "docker-credential-secretsmanager")
	build := exec.Command("go", "build", "-o", suite.bin, "../cmd/docker-credential-secretsmanager")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the helper: %v\n%s", err, out)
		return 1
	}

	code := m.Run()

	if suite.moto != nil {
		suite.moto.stop()
	}
	// The leak check runs after every test, so that it sees every file and
	// every line of stderr the suite's helper runs produced.
	if leaks := findLeaks(); len(leaks) > 0 {
		fmt.Fprintln(os.Stderr, "--- FAIL: leak check: secret values found outside the get answer:")
		for _, l := range leaks {
			fmt.Fprintln(os.Stderr, "    "+l)
		}
		code = 1
	} else if code == 0 {
		fmt.Fprintf(os.Stderr, "leak check: %d secret values, %d directories, %d captured outputs: clean\n",
			len(suite.secrets), len(suite.dirs), len(suite.outputs))
	}
	return code
}

// integration skips a test in -short runs: unit runs stay hermetic.
func integration(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (runs the binary against moto or fakeaws); not run with -short")
	}
}

// secret records values the leak check must not find anywhere.
func secret(values ...string) {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	for _, v := range values {
		if v != "" {
			suite.secrets[v] = true
		}
	}
}

// capture records output that must never carry a secret.
func capture(what, data string) {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	suite.outputs = append(suite.outputs, captured{what: what, data: data})
}
