//go:build unix

package credhelper_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/credhelpers/docker-credential-secretsmanager/internal/fakeaws"
	"github.com/credhelpers/docker-credential-secretsmanager/internal/testserver"
)

// Tests of the memory agent through the real binary: helper processes
// that start, use and survive the agent as Docker clients would run them.

// agentRig is a fake AWS endpoint, an isolated helper environment and a
// private XDG_RUNTIME_DIR for the agent.
type agentRig struct {
	t       *testing.T
	fake    *fakeaws.Server
	e       *helperEnv
	run     string       // XDG_RUNTIME_DIR
	delay   atomic.Int64 // added to every AWS answer (nanoseconds)
	tripped atomic.Int32 // AWS requests received while tripwire is set
	trip    atomic.Bool  // any AWS request now fails the test
	started []*exec.Cmd  // agents this test started itself
	mu      sync.Mutex
}

func newAgentRig(t *testing.T) *agentRig {
	t.Helper()
	integration(t)
	if runtime.GOOS != "linux" {
		t.Skip("the agent runs on Linux only")
	}
	r := &agentRig{t: t, fake: fakeaws.New()}
	key := fakeaws.Credentials{AccessKeyID: "AKIAAGENT" + strings.ToUpper(randomValue(t, "")[:11]), SecretAccessKey: randomValue(t, "key-")}
	r.fake.AddKey(key)
	l := fakeaws.Listen(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.trip.Load() {
			r.tripped.Add(1)
		}
		time.Sleep(time.Duration(r.delay.Load()))
		r.fake.ServeHTTP(w, req)
	}))
	t.Cleanup(l.Close)
	// A short path: a unix socket's path is limited to 108 bytes.
	run, err := os.MkdirTemp("", "dcsm-run-")
	if err != nil {
		t.Fatal(err)
	}
	r.run = run
	r.e = newHelperEnv(t).awsKey(key.AccessKeyID, key.SecretAccessKey).endpoints(l.URL)
	r.e.set("XDG_RUNTIME_DIR", run, "DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT", "on")
	t.Cleanup(r.cleanup)
	return r
}

func (r *agentRig) socket() string {
	return filepath.Join(r.run, "docker-credential-secretsmanager", "agent.sock")
}

// cleanup stops every agent of this rig: politely, then by removing its
// directory (an agent whose socket is gone exits), then by PID.
func (r *agentRig) cleanup() {
	t := r.t
	_ = r.cmd(context.Background(), "agent", "stop").Run()
	pids := agentPIDs(r.run)
	if err := os.RemoveAll(r.run); err != nil {
		t.Errorf("removing %s: %v", r.run, err)
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGCONT)
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(agentPIDs(r.run)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range agentPIDs(r.run) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("agent %d did not exit", pid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.started {
		_ = c.Wait()
	}
}

// agentPIDs finds the agents (this suite's binary, argument "agent") whose
// XDG_RUNTIME_DIR is run.
func agentPIDs(run string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || string(cmdline) != suite.bin+"\x00agent\x00" {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if v := "XDG_RUNTIME_DIR=" + run + "\x00"; bytes.Contains(env, []byte("\x00"+v)) || bytes.HasPrefix(env, []byte(v)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (r *agentRig) cmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, suite.bin, args...)
	cmd.Dir = r.e.tmp
	for k, v := range r.e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// startAgent runs `agent` as the tests' own child and waits until it
// answers status.
func (r *agentRig) startAgent() int {
	r.t.Helper()
	cmd := r.cmd(context.Background(), "agent")
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.started = append(r.started, cmd)
	r.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, ok := r.status(); ok {
			return st.pid
		}
	}
	r.t.Fatal("the agent did not come up")
	return 0
}

type agentStatusOut struct {
	pid  int
	text string
}

var statusPID = regexp.MustCompile(`^agent pid (\d+),`)

// status runs `agent status`.
func (r *agentRig) status() (agentStatusOut, bool) {
	var out bytes.Buffer
	cmd := r.cmd(context.Background(), "agent", "status")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return agentStatusOut{text: out.String()}, false
	}
	m := statusPID.FindStringSubmatch(out.String())
	if m == nil {
		r.t.Fatalf("agent status: %q", out.String())
	}
	pid, _ := strconv.Atoi(m[1])
	suite.mu.Lock()
	suite.outputs = append(suite.outputs, captured{what: r.t.Name() + " agent status", data: out.String()})
	suite.mu.Unlock()
	return agentStatusOut{pid: pid, text: out.String()}, true
}

// getOutcome is one helper get run concurrently with others.
type getOutcome struct {
	code   int
	stdout string
	stderr string
	err    error
}

// burst runs n gets of serverURL at once and returns their outcomes.
func (r *agentRig) burst(n int, serverURL string, during func()) []getOutcome {
	out := make([]getOutcome, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			cmd := r.cmd(ctx, "get")
			cmd.Stdin = strings.NewReader(serverURL + "\n")
			var so, se bytes.Buffer
			cmd.Stdout, cmd.Stderr = &so, &se
			err := cmd.Run()
			o := getOutcome{stdout: so.String(), stderr: se.String()}
			var exitErr *exec.ExitError
			switch {
			case errors.As(err, &exitErr):
				o.code = exitErr.ExitCode()
			case err != nil:
				o.err = err
			}
			out[i] = o
		}()
	}
	if during != nil {
		during()
	}
	wg.Wait()
	suite.mu.Lock()
	for _, o := range out {
		suite.outputs = append(suite.outputs, captured{what: r.t.Name() + " burst stderr", data: o.stderr})
	}
	suite.mu.Unlock()
	return out
}

func (r *agentRig) checkAll(outs []getOutcome, serverURL, user, pass string) {
	r.t.Helper()
	for i, o := range outs {
		var a answer
		if o.err != nil || o.code != 0 || json.Unmarshal([]byte(o.stdout), &a) != nil {
			r.t.Errorf("get %d: exit %d, %v: %s %s", i, o.code, o.err, o.stdout, o.stderr)
			continue
		}
		if a.ServerURL != serverURL || a.Username != user || a.Secret != pass {
			r.t.Errorf("get %d: got user %q and a %d-byte secret, want %q and the stored secret", i, a.Username, len(a.Secret), user)
		}
		if o.stderr != "" {
			r.t.Errorf("get %d: stderr %q", i, o.stderr)
		}
	}
}

// leakFree scans this rig's files (HOME, DOCKER_CONFIG, TMPDIR and the
// runtime dir) for the given values.
func (r *agentRig) leakFree(values ...string) {
	r.t.Helper()
	for _, hit := range scanForSecrets([]string{r.e.home, r.e.tmp, r.run}, nil, values) {
		r.t.Error(hit)
	}
}

func (r *agentRig) mapSecret(registry string) (user, pass string) {
	name := "agent/" + strings.ReplaceAll(registry, ".", "-")
	user, pass = "user-"+randomValue(r.t, "")[:8], randomValue(r.t, "agent-pass-")
	r.fake.SetSecret(name, fmt.Sprintf(`{"username":%q,"password":%q}`, user, pass))
	r.e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", registry+"="+name)
	return user, pass
}

func TestAgentSixtyFourProcessesOneCall(t *testing.T) {
	r := newAgentRig(t)
	const registry = "burst.example.com"
	user, pass := r.mapSecret(registry)
	logFile := filepath.Join(r.e.tmp, "helper.log")
	r.e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_LOG", "debug", "DOCKER_CREDENTIAL_SECRETSMANAGER_LOG_FILE", logFile)
	r.startAgent()
	// A slow endpoint keeps the leader's call open while the others ask.
	r.delay.Store(int64(300 * time.Millisecond))

	outs := r.burst(64, registry, nil)
	r.checkAll(outs, registry, user, pass)
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.fake.Count(fakeaws.OpGetSecretValue); n != 1 {
		t.Errorf("64 concurrent gets made %d GetSecretValue calls, want 1; the agent's and clients' log (it holds no secret):\n%s", n, log)
	}
	st, ok := r.status()
	if !ok {
		t.Fatalf("agent status: %s", st.text)
	}
	// The leader resolved; the 63 others were served by the agent.
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(registry) + `\s+cached\s+secretsmanager:\S+\s+-\s+\S+\s+63\s`).MatchString(st.text) {
		t.Errorf("agent status does not show the entry with 63 hits:\n%s", st.text)
	}
	if !bytes.Contains(log, []byte("agent: cached")) {
		t.Errorf("the agent's log (shared log file) lacks its cache line:\n%s", log)
	}
	r.leakFree(pass)
	if strings.Contains(st.text, pass) {
		t.Error("agent status shows the secret")
	}
}

func TestAgentKilledDuringBurstNoFailedGet(t *testing.T) {
	r := newAgentRig(t)
	const registry = "killed.example.com"
	user, pass := r.mapSecret(registry)
	pid := r.startAgent()
	r.delay.Store(int64(500 * time.Millisecond))
	outs := r.burst(64, registry, func() {
		// Kill the agent once the leader's AWS call is under way, with
		// the other clients waiting in the agent.
		for deadline := time.Now().Add(30 * time.Second); r.fake.Count(fakeaws.OpGetSecretValue) == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Errorf("killing the agent: %v", err)
		}
	})
	r.checkAll(outs, registry, user, pass)
	t.Logf("%d GetSecretValue calls for 64 gets with the agent killed mid-burst", r.fake.Count(fakeaws.OpGetSecretValue))
	r.leakFree(pass)
}

func TestAgentHungAgentNoFailedGet(t *testing.T) {
	r := newAgentRig(t)
	const registry = "hung.example.com"
	user, pass := r.mapSecret(registry)
	pid := r.startAgent()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }()
	r.checkAll(r.burst(4, registry, nil), registry, user, pass)
	if n := r.fake.Count(fakeaws.OpGetSecretValue); n != 4 {
		t.Errorf("%d GetSecretValue calls with a stopped agent, want 4 direct resolutions", n)
	}
}

func TestAgentStaleSocketReplaced(t *testing.T) {
	r := newAgentRig(t)
	const registry = "stale.example.com"
	user, pass := r.mapSecret(registry)
	// A socket file nobody listens on, as a killed agent leaves it.
	dir := filepath.Dir(r.socket())
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: r.socket(), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	_ = l.Close()
	if _, err := os.Stat(r.socket()); err != nil {
		t.Fatalf("the stale socket is gone already: %v", err)
	}
	r.checkAll(r.burst(1, registry, nil), registry, user, pass)
	// That get started a fresh agent, which replaced the socket.
	var up bool
	for deadline := time.Now().Add(10 * time.Second); !up && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, up = r.status()
	}
	if !up {
		t.Fatal("no agent answers after a get found a stale socket")
	}
	st, _ := r.status()
	r.checkDetached(st.pid)
	r.checkAll(r.burst(1, registry, nil), registry, user, pass)
	if n := r.fake.Count(fakeaws.OpGetSecretValue); n > 2 {
		t.Errorf("%d GetSecretValue calls, want at most 2", n)
	}
}

// checkDetached verifies an agent a get started: its own session, stdio on
// /dev/null (it never holds the client's pipes) and no AWS credentials in
// its environment.
func (r *agentRig) checkDetached(pid int) {
	t := r.t
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name: state ppid pgrp session …
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 4 || fields[3] != strconv.Itoa(pid) {
		t.Errorf("agent %d is not a session leader: stat %q", pid, stat)
	}
	for fd := 0; fd <= 2; fd++ {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); err != nil || target != "/dev/null" {
			t.Errorf("agent fd %d is %q (%v), want /dev/null", fd, target, err)
		}
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", r.e.vars["AWS_SECRET_ACCESS_KEY"], "DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES"} {
		if bytes.Contains(env, []byte(v)) {
			t.Errorf("the agent's environment holds %.20s…", v)
		}
	}
}

func TestAgentTokenExpiredAtSourceNeverServed(t *testing.T) {
	r := newAgentRig(t)
	host := fakeaws.Account + ".dkr.ecr.us-west-2.amazonaws.com"
	r.startAgent()
	expired := randomValue(t, "expired-token-")
	r.fake.SetECRToken(expired, time.Now().Add(-time.Hour))
	for i := 1; i <= 3; i++ {
		r.e.mustGet(t, host, "AWS", expired)
		if n := r.fake.Count(fakeaws.OpECRGetAuthToken); n != i {
			t.Fatalf("get %d: %d GetAuthorizationToken calls, want %d: an expired token came from the cache", i, n, i)
		}
	}
	if st, _ := r.status(); strings.Contains(st.text, host) {
		t.Errorf("the agent holds the expired token:\n%s", st.text)
	}
	fresh := randomValue(t, "fresh-token-")
	r.fake.SetECRToken(fresh, time.Now().Add(12*time.Hour))
	for range 3 {
		r.e.mustGet(t, host, "AWS", fresh)
	}
	if n := r.fake.Count(fakeaws.OpECRGetAuthToken); n != 4 {
		t.Errorf("%d GetAuthorizationToken calls, want 4 (3 expired, 1 fresh then cached)", n)
	}
	st, _ := r.status()
	if !strings.Contains(st.text, host) {
		t.Errorf("the fresh token is not held:\n%s", st.text)
	}
}

func TestAgentOff(t *testing.T) {
	r := newAgentRig(t)
	const registry = "off.example.com"
	user, pass := r.mapSecret(registry)
	r.e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT", "off")
	r.e.mustGet(t, registry, user, pass)
	r.e.mustGet(t, registry, user, pass)
	if n := r.fake.Count(fakeaws.OpGetSecretValue); n != 2 {
		t.Errorf("%d calls with the agent off, want 2", n)
	}
	if _, err := os.Stat(filepath.Dir(r.socket())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the agent directory exists with the agent off: %v", err)
	}
	if store := r.e.run(t, "store", `{"ServerURL":"unmanaged.example.com","Username":"u","Secret":"s"}`); store.code == 0 {
		t.Error("store succeeded with the agent off and no fallback: where did it go?")
	}
}

// fifoWatch counts the opens of a named pipe used as AWS_CONFIG_FILE: the
// SDK reads it when it loads its configuration, and an open for reading
// releases a blocked open for writing.
type fifoWatch struct {
	path  string
	opens atomic.Int32
	stop  atomic.Bool
	done  chan struct{}
}

func watchFIFO(t *testing.T, path string) *fifoWatch {
	w := &fifoWatch{path: path, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			f, err := os.OpenFile(path, os.O_WRONLY, 0) // blocks until a reader opens it
			if err != nil {
				t.Errorf("fifo: %v", err)
				return
			}
			if w.stop.Load() {
				_ = f.Close()
				return
			}
			w.opens.Add(1)
			_ = f.Close() // the reader sees an empty file
		}
	}()
	return w
}

// close releases the watcher's blocked open with a reader of its own.
func (w *fifoWatch) close() {
	w.stop.Store(true)
	f, err := os.OpenFile(w.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err == nil {
		<-w.done
		_ = f.Close()
	}
}

func TestAgentWarmPathNoAWSNoSDKConfig(t *testing.T) {
	r := newAgentRig(t)
	const registry = "warm.example.com"
	user, pass := r.mapSecret(registry)
	fifo := filepath.Join(r.e.tmp, "aws-config")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r.e.set("AWS_CONFIG_FILE", fifo)
	r.startAgent()

	cold := watchFIFO(t, fifo)
	r.e.mustGet(t, registry, user, pass)
	cold.close()
	if cold.opens.Load() == 0 {
		t.Fatal("the cold get did not read AWS_CONFIG_FILE: the warm check below would prove nothing")
	}
	if n := r.fake.Count(fakeaws.OpGetSecretValue); n != 1 {
		t.Fatalf("cold get: %d calls", n)
	}

	r.trip.Store(true)
	warm := watchFIFO(t, fifo)
	for range 5 {
		r.e.mustGet(t, registry, user, pass)
	}
	warm.close()
	if n := warm.opens.Load(); n != 0 {
		t.Errorf("warm gets opened AWS_CONFIG_FILE %d times: they loaded the SDK configuration", n)
	}
	if n := r.tripped.Load(); n != 0 {
		t.Errorf("warm gets sent %d requests to the AWS endpoint", n)
	}
}

func TestAgentKeepsLoginsInMemory(t *testing.T) {
	r := newAgentRig(t)
	const server = "127.0.0.1:5999"
	pass := randomValue(t, "login-pass-")
	// No fallback helper and no agent running: store starts one.
	res := r.e.run(t, "store", fmt.Sprintf(`{"ServerURL":%q,"Username":"bob","Secret":%q}`, server, pass))
	if res.code != 0 {
		t.Fatalf("store: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	r.e.mustGet(t, server, "bob", pass)
	r.e.mustGet(t, "http://"+server+"/v2/", "bob", pass)
	list := r.e.run(t, "list", "")
	var m map[string]string
	if err := json.Unmarshal([]byte(list.stdout), &m); err != nil || m[server] != "bob" {
		t.Errorf("list: %s (%v), want %s: bob", list.stdout, err, server)
	}
	st, ok := r.status()
	if !ok || !strings.Contains(st.text, server) || strings.Contains(st.text, pass) {
		t.Errorf("agent status:\n%s", st.text)
	}
	r.leakFree(pass)
	if res := r.e.run(t, "erase", server); res.code != 0 {
		t.Fatalf("erase: %s", res.stdout)
	}
	if _, res := r.e.get(t, server); res.code != 1 || strings.TrimSpace(res.stdout) != notFound {
		t.Errorf("get after erase: exit %d: %s", res.code, res.stdout)
	}
}

// TestAgentRefusesOtherUsers runs, as a second user created for the test,
// a probe that connects to the agent's socket (opened up for the test,
// so that only SO_PEERCRED stands in the way) and a helper get.
func TestAgentRefusesOtherUsers(t *testing.T) {
	r := newAgentRig(t)
	if os.Getuid() != 0 {
		t.Skip("creating a second user needs root")
	}
	name := "dcsm" + randomValue(t, "")[:8]
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Skipf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, err = exec.Command("id", "-g", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	const registry = "uid.example.com"
	user, pass := r.mapSecret(registry)
	r.startAgent()
	r.e.mustGet(t, registry, user, pass) // warm: the agent holds the secret

	// The probe is this test binary, copied where the other user can run it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	probeDir, err := os.MkdirTemp("", "dcsm-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(probeDir) })
	probe := filepath.Join(probeDir, "probe.test")
	helper := filepath.Join(probeDir, filepath.Base(suite.bin))
	for src, dst := range map[string]string{exe: probe, suite.bin: helper} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{probeDir, r.run, filepath.Dir(r.socket())} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(r.socket(), 0o666); err != nil {
		t.Fatal(err)
	}
	runProbe := func(cred *syscall.Credential) string {
		cmd := exec.Command(probe, "-test.short", "-test.run", "^TestAgentPeerProbe$", "-test.v")
		cmd.Env = []string{"AGENT_PEER_PROBE=" + r.socket()}
		cmd.Dir = probeDir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	other := runProbe(&syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)})
	if !strings.Contains(other, "probe: no answer") {
		t.Errorf("as uid %d the probe was not refused:\n%s", uid, other)
	}
	if strings.Contains(other, pass) {
		t.Error("the other user saw the secret")
	}
	// The same probe as this user gets an answer: the refusal above is
	// the agent's doing, not a broken probe.
	if own := runProbe(nil); !strings.Contains(own, "probe: answered") {
		t.Errorf("as this user the probe got no answer:\n%s", own)
	}

	// The agent directory back to 0700; another user's get neither trusts
	// it nor fails.
	for _, p := range []string{r.run, filepath.Dir(r.socket())} {
		if err := os.Chmod(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cmd := r.cmd(context.Background(), "get")
	cmd.Path, cmd.Args[0] = helper, helper
	cmd.Stdin = strings.NewReader(registry + "\n")
	cmd.Env = append(cmd.Env, "HOME=/nonexistent", "DOCKER_CONFIG="+probeDir, "TMPDIR="+probeDir)
	cmd.Dir = probeDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	calls := r.fake.Count(fakeaws.OpGetSecretValue)
	err = cmd.Run()
	suite.mu.Lock()
	suite.outputs = append(suite.outputs, captured{what: t.Name() + " other-uid stderr", data: se.String()})
	suite.mu.Unlock()
	var a answer
	if err != nil || json.Unmarshal(so.Bytes(), &a) != nil || a.Secret != pass {
		t.Errorf("get as uid %d: %v, stderr %q", uid, err, se.String())
	}
	if n := r.fake.Count(fakeaws.OpGetSecretValue); n != calls+1 {
		t.Errorf("the other user's get made %d calls, want its own 1 (it must not use this user's agent)", n-calls)
	}
}

// TestAgentPeerProbe is the probe TestAgentRefusesOtherUsers runs as
// another user; it does nothing in a normal run.
func TestAgentPeerProbe(t *testing.T) {
	sock := os.Getenv("AGENT_PEER_PROBE")
	if sock == "" {
		t.Skip("run by TestAgentRefusesOtherUsers")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Printf("probe: cannot connect: %v\n", err)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	msg := []byte(`{"op":"status"}`)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
	if _, err := conn.Write(append(hdr[:], msg...)); err != nil {
		fmt.Printf("probe: no answer (write: %v)\n", err)
		return
	}
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		fmt.Printf("probe: no answer (%v)\n", err)
		return
	}
	fmt.Println("probe: answered")
}

// TestAgentDockerLogin: `docker login` to a registry the helper does not
// manage, with no fallback helper, keeps the login in the agent's memory;
// a client (crane) then authenticates with it; `docker logout` forgets it.
// No file holds the password.
func TestAgentDockerLogin(t *testing.T) {
	r := newAgentRig(t)
	tools := map[string]string{}
	for _, name := range []string{"docker", "docker-registry", "htpasswd", "crane"} {
		p, err := exec.LookPath(name)
		if err != nil {
			if gp, gerr := exec.Command("go", "env", "GOPATH").Output(); gerr == nil {
				if c := filepath.Join(strings.TrimSpace(string(gp)), "bin", name); fileExists(c) {
					p, err = c, nil
				}
			}
		}
		if err != nil {
			t.Skipf("%s is not installed (scripts/deps.sh installs it)", name)
		}
		tools[name] = p
	}
	pass := randomValue(t, "registry-pass-")
	regDir := t.TempDir()
	host := testserver.Registry(t, testserver.RegistryOptions{Dir: regDir, User: "lou", Password: pass})

	dockerConfig := filepath.Join(r.e.tmp, "docker")
	if err := os.MkdirAll(dockerConfig, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(`{"credsStore":"secretsmanager"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r.e.set("DOCKER_CONFIG", dockerConfig, "PATH", filepath.Dir(suite.bin)+":"+r.e.vars["PATH"])
	client := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = r.e.tmp
		for k, v := range r.e.vars {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		capture(t.Name()+" "+filepath.Base(args[0]), string(out))
		return string(out), err
	}
	catalog := []string{tools["crane"], "catalog", "--insecure", host}
	if out, err := client("", catalog...); err == nil {
		t.Fatalf("crane catalog succeeded before any login: the check below would prove nothing\n%s", out)
	}
	out, err := client(pass+"\n", tools["docker"], "login", host, "-u", "lou", "--password-stdin")
	if err != nil || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login: %v\n%s", err, out)
	}
	if out, err := client("", catalog...); err != nil {
		t.Errorf("crane catalog with the login held by the agent: %v\n%s", err, out)
	}
	if st, ok := r.status(); !ok || !strings.Contains(st.text, host) || !strings.Contains(st.text, "stored") {
		t.Errorf("agent status does not show the login:\n%s", st.text)
	}
	for _, hit := range scanForSecrets([]string{r.e.home, r.e.tmp, r.run, regDir}, nil, []string{pass}) {
		t.Error(hit)
	}
	if out, err := client("", tools["docker"], "logout", host); err != nil {
		t.Fatalf("docker logout: %v\n%s", err, out)
	}
	if out, err := client("", catalog...); err == nil {
		t.Errorf("crane catalog still authenticated after docker logout\n%s", out)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
