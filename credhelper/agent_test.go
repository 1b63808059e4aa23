package credhelper

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
)

// fakeClock is the agent's injected clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// shortTempDir is a temporary directory with a path short enough for a
// unix socket below it (t.TempDir's can exceed the 108-byte limit).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dcsm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// startTestAgent serves an in-process agent on a socket in a fresh 0700
// directory and returns a client for it.
func startTestAgent(t *testing.T, clock *fakeClock) (*Agent, *agentClient) {
	t.Helper()
	dir := filepath.Join(shortTempDir(t), agentDirName)
	if err := ensureAgentDir(dir); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, agentSocketName), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("AGENT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	a, err := NewAgent(log)
	if err != nil {
		t.Fatal(err)
	}
	if clock != nil {
		a.Now = clock.now
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	settings := AgentSettings{Enabled: true, TTL: DefaultAgentTTL, Idle: time.Hour, Dir: dir}
	return a, &agentClient{settings: settings, getenv: func(string) string { return "" }, log: log}
}

// settle waits until no key is being resolved: a leader does not wait
// for the agent to take its result.
func settle(a *Agent) {
	for {
		a.mu.Lock()
		n := len(a.flights)
		a.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// waitWaiters waits until n clients wait for a key's leader.
func waitWaiters(a *Agent, key string, n int) {
	k := a.saltedKey(key)
	for {
		a.mu.Lock()
		f, ok := a.flights[k]
		waiting := ok && f.waiters >= n
		a.mu.Unlock()
		if waiting {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// countingSource resolves to a fixed credential and counts the calls.
type countingSource struct {
	calls atomic.Int32
	cred  Credential
	err   error
	gate  chan struct{} // when set, every resolution waits for it
}

func (s *countingSource) resolve(context.Context) (Credential, error) {
	s.calls.Add(1)
	if s.gate != nil {
		<-s.gate
	}
	return s.cred, s.err
}

func secretRoute(name string) Route {
	return Route{Kind: RouteSecret, Entry: Entry{Registry: "reg.example.com", Secret: name}}
}

func TestAgentTTL(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		ttl     time.Duration // the client's TTL setting
		expires time.Duration // the credential's expiry after start; 0: none
		steps   []time.Duration
		want    []int32 // resolutions after each step
	}{
		{"secret: served for the default 15 min", DefaultAgentTTL, 0,
			[]time.Duration{0, 0, 14 * time.Minute, time.Minute}, []int32{1, 1, 1, 2}},
		{"secret: the client's TTL", 2 * time.Minute, 0,
			[]time.Duration{0, time.Minute, time.Minute}, []int32{1, 1, 2}},
		{"ECR token: half its remaining life", DefaultAgentTTL, 12 * time.Hour,
			[]time.Duration{0, 5 * time.Hour, 59 * time.Minute, time.Minute}, []int32{1, 1, 1, 2}},
		{"token expired at the source: never served", DefaultAgentTTL, -time.Hour,
			[]time.Duration{0, 0, 0}, []int32{1, 2, 3}},
		{"token inside the expiry margin: never served", DefaultAgentTTL, 30 * time.Second,
			[]time.Duration{0, 0}, []int32{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: start}
			a, c := startTestAgent(t, clock)
			c.settings.TTL = tt.ttl
			src := &countingSource{cred: Credential{Username: "AWS", Secret: "the-password", Source: "test"}}
			if tt.expires != 0 {
				src.cred.Expires = start.Add(tt.expires)
			}
			for i, step := range tt.steps {
				clock.advance(step)
				got, err := c.cached(context.Background(), "key", "reg.example.com", secretRoute("s"), time.Second, src.resolve)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got.Username != "AWS" || got.Secret != "the-password" {
					t.Fatalf("step %d: got %q and a %d-byte secret", i, got.Username, len(got.Secret))
				}
				if n := src.calls.Load(); n != tt.want[i] {
					t.Errorf("step %d (+%s): %d resolutions, want %d", i, step, n, tt.want[i])
				}
				settle(a) // the agent has taken the result before the clock moves
			}
			if tt.expires < 0 {
				for _, e := range a.status().Entries {
					t.Errorf("an expired token is held: %+v", e)
				}
			}
		})
	}
}

func TestAgentSingleflight(t *testing.T) {
	_, c := startTestAgent(t, nil)
	src := &countingSource{cred: Credential{Username: "u", Secret: "p"}, gate: make(chan struct{})}
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.cached(context.Background(), "k", "reg.example.com", secretRoute("s"), 10*time.Second, src.resolve)
			if err == nil && (got.Username != "u" || got.Secret != "p") {
				err = errors.New("wrong credential")
			}
			errs <- err
		}()
	}
	// Release the leader once it is resolving; waiters queue meanwhile.
	for src.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(src.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := src.calls.Load(); got != 1 {
		t.Errorf("%d resolutions for %d concurrent gets, want 1", got, n)
	}
}

func TestAgentLeaderOutcomes(t *testing.T) {
	t.Run("failure is shared with the waiters", func(t *testing.T) {
		a, c := startTestAgent(t, nil)
		leader := &countingSource{err: errors.New("reg.example.com: AccessDeniedException"), gate: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := c.cached(context.Background(), "k", "reg.example.com", secretRoute("s"), 10*time.Second, leader.resolve)
			done <- err
		}()
		for leader.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		waiter := &countingSource{cred: Credential{Username: "u", Secret: "p"}}
		werr := make(chan error, 1)
		go func() {
			_, err := c.cached(context.Background(), "k", "reg.example.com", secretRoute("s"), 10*time.Second, waiter.resolve)
			werr <- err
		}()
		waitWaiters(a, "k", 1)
		close(leader.gate)
		if err := <-done; err == nil {
			t.Fatal("the leader's failure was lost")
		}
		err := <-werr
		var le *leaderError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "AccessDeniedException") {
			t.Errorf("waiter got %v, want the leader's error", err)
		}
		if waiter.calls.Load() != 0 {
			t.Error("the waiter called AWS although the leader's answer was shared")
		}
	})
	t.Run("a leader that dies lets the waiters resolve", func(t *testing.T) {
		a, c := startTestAgent(t, nil)
		conn, err := c.dial()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := exchange(conn, agentRequest{Op: opGet, Key: "k", Registry: "reg.example.com", Lease: 10 * time.Second})
		if err != nil || resp.Status != stLead {
			t.Fatalf("first get: %+v, %v; want lead", resp, err)
		}
		waiter := &countingSource{cred: Credential{Username: "u", Secret: "p"}}
		got := make(chan error, 1)
		go func() {
			cred, err := c.cached(context.Background(), "k", "reg.example.com", secretRoute("s"), 10*time.Second, waiter.resolve)
			if err == nil && cred.Secret != "p" {
				err = errors.New("wrong credential")
			}
			got <- err
		}()
		waitWaiters(a, "k", 1)
		_ = conn.Close() // the leader dies without a put
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if waiter.calls.Load() != 1 {
			t.Errorf("the waiter resolved %d times, want 1", waiter.calls.Load())
		}
	})
}

// A listener that accepts and never answers stands for a hung agent.
func TestAgentHungResolvesDirectly(t *testing.T) {
	dir := filepath.Join(shortTempDir(t), agentDirName)
	if err := ensureAgentDir(dir); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, agentSocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, conn)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	}()
	c := &agentClient{settings: AgentSettings{Enabled: true, Dir: dir}, log: slog.New(slog.DiscardHandler)}
	src := &countingSource{cred: Credential{Username: "u", Secret: "p"}}
	got, err := c.cached(context.Background(), "k", "reg.example.com", secretRoute("s"), time.Second, src.resolve)
	if err != nil || got.Secret != "p" || src.calls.Load() != 1 {
		t.Fatalf("got %+v, %v after %d resolutions; want a direct resolution", got.Username, err, src.calls.Load())
	}
}

func TestAgentDirChecks(t *testing.T) {
	base := t.TempDir()
	good := filepath.Join(base, "good")
	if err := ensureAgentDir(good); err != nil {
		t.Fatalf("fresh directory refused: %v", err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{open, link, file} {
		if err := ensureAgentDir(dir); err == nil {
			t.Errorf("%s accepted as the agent directory", filepath.Base(dir))
		}
		var warning strings.Builder
		c := &agentClient{settings: AgentSettings{Dir: dir}, log: slog.New(slog.DiscardHandler), stderr: &warning}
		if _, err := c.dial(); err == nil || errors.Is(err, ErrNoAgent) {
			t.Errorf("dial through %s: %v, want a refusal", filepath.Base(dir), err)
		}
		src := &countingSource{cred: Credential{Username: "u", Secret: "p"}}
		if got, err := c.cached(context.Background(), "k", "r", secretRoute("s"), time.Second, src.resolve); err != nil || got.Secret != "p" {
			t.Errorf("get through %s: %v, want a direct resolution", filepath.Base(dir), err)
		}
		if !strings.Contains(warning.String(), "not using the memory agent") {
			t.Errorf("get through %s: no warning, stderr %q", filepath.Base(dir), warning.String())
		}
	}
}

func TestAgentKey(t *testing.T) {
	base := map[string]string{"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "sk", "AWS_REGION": "us-east-1", "HOME": "/home/u"}
	key := func(env map[string]string, cfg *Config, registry string, route Route) string {
		c := newAgentClient(AgentSettings{}, cfg, func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
		return c.key(registry, route)
	}
	cfg := LoadConfig(func(k string) string {
		return map[string]string{EnvRegistries: "reg.example.com=s", EnvConfig: filepath.Join(t.TempDir(), "none.json")}[k]
	})
	cfg.Err = nil
	route := secretRoute("s")
	ref := key(base, cfg, "reg.example.com", route)
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_REGION", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_CONFIG_FILE", "HOME"} {
		if key(with(k, "other"), cfg, "reg.example.com", route) == ref {
			t.Errorf("a different %s gives the same key", k)
		}
	}
	if key(base, cfg, "reg.example.com", secretRoute("other")) == ref {
		t.Error("a different secret gives the same key")
	}
	if key(base, cfg, "other.example.com", route) == ref {
		t.Error("a different registry gives the same key")
	}
	other := *cfg
	other.Entries = append([]Entry{{Registry: "x.example.com", Secret: "x"}}, cfg.Entries...)
	if key(base, &other, "reg.example.com", route) == ref {
		t.Error("a different configuration gives the same key")
	}
	if key(with("UNRELATED", "x"), cfg, "reg.example.com", route) != ref {
		t.Error("an unrelated variable changes the key")
	}
	if _, err := hex.DecodeString(ref); err != nil || len(ref) != 64 {
		t.Errorf("key %q is not a SHA-256 digest", ref)
	}
}

func TestLoadAgentSettings(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    AgentSettings
		wantErr string
	}{
		{map[string]string{"XDG_RUNTIME_DIR": "/run/user/7"},
			AgentSettings{Enabled: true, TTL: DefaultAgentTTL, Idle: DefaultAgentIdle, Dir: "/run/user/7/docker-credential-secretsmanager"}, ""},
		{map[string]string{EnvAgent: "off", EnvAgentTTL: "60", EnvAgentIdle: "10m", "TMPDIR": "/var/tmp"},
			AgentSettings{Enabled: false, TTL: time.Minute, Idle: 10 * time.Minute, Dir: filepath.Join("/var/tmp", agentDirName+"-"+strconv.Itoa(os.Getuid()))}, ""},
		{map[string]string{EnvAgent: "maybe"}, AgentSettings{}, EnvAgent},
		{map[string]string{EnvAgentTTL: "-1s"}, AgentSettings{}, EnvAgentTTL},
	}
	for _, tt := range tests {
		got, err := LoadAgentSettings(func(k string) string { return tt.env[k] })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want one naming %s", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%v: got %+v, %v; want %+v", tt.env, got, err, tt.want)
		}

	}
}

func TestAgentStoredLogins(t *testing.T) {
	a, c := startTestAgent(t, nil)
	var notice strings.Builder
	store := &agentStore{client: c, stderr: &notice}
	ctx := context.Background()
	const password = "stored-login-password-1"
	if err := store.Store(ctx, &credentials.Credentials{ServerURL: "https://Registry.Example.com:443/v2/", Username: "bob", Secret: password}); err != nil {
		t.Fatal(err)
	}
	if n := notice.String(); !strings.Contains(n, "kept in memory only") || strings.Contains(n, password) {
		t.Errorf("store notice: %q", n)
	}
	got, err := store.Lookup(ctx, Request{Registry: "registry.example.com"})
	if err != nil || got.Username != "bob" || got.Secret != password {
		t.Fatalf("lookup: %q, %v", got.Username, err)
	}
	if _, err := c.cached(ctx, "k", "cached.example.com", secretRoute("s"), time.Second,
		(&countingSource{cred: Credential{Username: "u", Secret: "cached-secret-2", Source: "secretsmanager:s"}}).resolve); err != nil {
		t.Fatal(err)
	}
	settle(a)
	list, err := store.List(ctx)
	if err != nil || list["https://Registry.Example.com:443/v2/"] != "bob" || len(list) != 1 {
		t.Errorf("list: %v, %v", list, err)
	}
	st, err := json.Marshal(a.status())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{password, "cached-secret-2"} {
		if strings.Contains(string(st), v) {
			t.Errorf("status shows a value: %s", st)
		}
	}
	if !strings.Contains(string(st), "registry.example.com") || !strings.Contains(string(st), "cached.example.com") {
		t.Errorf("status lacks the held registries: %s", st)
	}
	if err := store.Erase(ctx, "registry.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Lookup(ctx, Request{Registry: "registry.example.com"}); !IsNotFound(err) {
		t.Errorf("lookup after erase: %v, want not found", err)
	}
}

func TestAgentDirTooDeepForASocket(t *testing.T) {
	dir := func(tmp string) string {
		return AgentDir(func(k string) string { return map[string]string{"TMPDIR": tmp}[k] })
	}
	a, b := dir("/"+strings.Repeat("a", 90)), dir("/"+strings.Repeat("b", 90))
	for _, d := range []string{a, b} {
		if !strings.HasPrefix(d, "/tmp/"+agentDirName+"-") || len(filepath.Join(d, agentSocketName)) > maxSocketPath {
			t.Errorf("agent directory %s: want a short one in /tmp", d)
		}
	}
	if a == b {
		t.Error("two deep TMPDIRs share one agent directory")
	}
}

func TestAgentSweepWipesExpired(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a, c := startTestAgent(t, clock)
	src := &countingSource{cred: Credential{Username: "u", Secret: "swept-secret"}}
	if _, err := c.cached(context.Background(), "k", "reg.example.com", secretRoute("s"), time.Second, src.resolve); err != nil {
		t.Fatal(err)
	}
	settle(a)
	a.mu.Lock()
	defer a.mu.Unlock()
	it, ok := a.cache[a.saltedKey("k")]
	if !ok {
		t.Fatal("nothing cached")
	}
	held := it.secret
	clock.advance(DefaultAgentTTL)
	a.sweep()
	if len(a.cache) != 0 {
		t.Errorf("%d entries after their TTL", len(a.cache))
	}
	if strings.Trim(string(held), "\x00") != "" {
		t.Error("the dropped secret was not zeroed")
	}
}
