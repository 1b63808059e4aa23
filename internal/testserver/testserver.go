// Package testserver starts the servers the test suites run against —
// moto_server, Debian's distribution registry, any other process — on
// free loopback ports, each in its own process group with its output in a
// log file, and stops them when the test ends.
//
// It is a normal package so that the e2e and imagetest modules can import
// it too; it uses the standard library only, so the helper's module gains
// no dependency.
package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// stopGrace is how long a server has to exit after SIGTERM before its
// process group gets SIGKILL.
const stopGrace = 5 * time.Second

// waitLimit is how long WaitHTTP waits for a server to answer.
const waitLimit = time.Minute

// Options say where a server logs and which environment it runs with.
type Options struct {
	// Name names the log file (<Name>.log) and the server in failures.
	Name string
	// LogDir receives the log; t.TempDir() when empty. Suites that search
	// their servers' logs for secrets point it at a directory they search.
	LogDir string
	// Env is the server's whole environment; os.Environ() when nil.
	Env []string
}

// Process is a server process running in its own process group, so that
// stopping it also stops what it forked (moto_server's pyenv shim does).
type Process struct {
	// Name is the server's name in failures.
	Name string
	// Log is the path of the file holding its stdout and stderr.
	Log string

	cmd  *exec.Cmd
	file *os.File
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// Start runs args as a server in its own process group, logging to
// <LogDir>/<Name>.log, and stops it (its whole group) when the test ends.
func Start(t testing.TB, opts Options, args ...string) *Process {
	t.Helper()
	p, err := Launch(withLogDir(t, opts), args...)
	if err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, p)
	return p
}

// withLogDir gives opts the test's temporary directory for logs unless it
// names one.
func withLogDir(t testing.TB, opts Options) Options {
	if opts.LogDir == "" {
		opts.LogDir = t.TempDir()
	}
	return opts
}

// stopAtCleanup stops p when the test ends.
func stopAtCleanup(t testing.TB, p *Process) {
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stopping %s: %v", p.Name, err)
		}
	})
}

// Launch is Start for a server that outlives one test (a suite's shared
// server, stopped by TestMain): opts.LogDir is required and the caller
// must call Stop.
func Launch(opts Options, args ...string) (*Process, error) {
	if opts.LogDir == "" {
		return nil, errors.New("testserver.Launch: no log directory")
	}
	if opts.Name == "" {
		opts.Name = filepath.Base(args[0])
	}
	p := &Process{Name: opts.Name, Log: filepath.Join(opts.LogDir, opts.Name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	p.file = f
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = opts.Env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	ownProcessGroup(p.cmd)
	if err := p.cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", p.Name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Stop sends SIGTERM to the server's process group, SIGKILL if it has
// not exited after a few seconds, waits for it and closes its log.
func (p *Process) Stop() error {
	err := signalGroup(p.cmd.Process, false)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = signalGroup(p.cmd.Process, true)
		<-p.done
	}
	return errors.Join(err, p.file.Close())
}

// WaitHTTP polls url until the server answers it with status want (any
// status when want is 0). It fails the test, showing the server's log, if
// the server exits first or does not answer within a minute.
func (p *Process) WaitHTTP(t testing.TB, url string, want int) {
	t.Helper()
	if err := p.Await(url, want); err != nil {
		t.Fatal(err)
	}
}

// Await is WaitHTTP returning an error, for servers started by Launch.
func (p *Process) Await(url string, want int) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if want == 0 || resp.StatusCode == want {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before answering %s (%v); log:\n%s", p.Name, url, p.err, p.readLog())
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s with %d within %v (last: %s); log:\n%s", p.Name, url, want, waitLimit, last, p.readLog())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *Process) readLog() string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
