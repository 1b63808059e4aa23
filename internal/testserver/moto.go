package testserver

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// motoHint is how to install moto_server, for the failure when it is missing.
const motoHint = `moto_server not found on PATH: install it with scripts/deps.sh or pip install "moto[server]==5.2.1" (see TESTING.md)`

// Moto starts moto_server on a free port of 127.0.0.1 and returns its
// URL once /moto-api/ answers; it stops when the test ends. extraEnv is
// added to the environment (INITIAL_NO_AUTH_ACTION_COUNT turns on its
// SigV4 and IAM checks). A missing moto_server fails the test: the
// suites prove behaviour against it and must not pass without it.
func Moto(t testing.TB, opts Options, extraEnv ...string) string {
	t.Helper()
	p, url, err := LaunchMoto(withLogDir(t, opts), extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, p)
	return url
}

// LaunchMoto is Moto for a moto shared by a suite's tests: opts.LogDir is
// required and the caller must Stop the process.
func LaunchMoto(opts Options, extraEnv ...string) (*Process, string, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, "", errors.New(motoHint)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	if opts.Name == "" {
		opts.Name = "moto"
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	opts.Env = append(opts.Env[:len(opts.Env):len(opts.Env)], extraEnv...)
	p, err := Launch(opts, bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if err != nil {
		return nil, "", err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := p.Await(url+"/moto-api/", 200); err != nil {
		return nil, "", errors.Join(err, p.Stop())
	}
	return p, url, nil
}
