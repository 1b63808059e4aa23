package credhelper

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Environment variables of the memory agent.
const (
	EnvAgent     = "DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT"      // on (default) or off
	EnvAgentTTL  = "DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT_TTL"  // how long Secrets Manager values are served
	EnvAgentIdle = "DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT_IDLE" // idle time before the agent exits
)

// Agent defaults.
const (
	DefaultAgentTTL  = 15 * time.Minute
	DefaultAgentIdle = time.Hour
)

const (
	agentDirName    = "docker-credential-secretsmanager"
	agentSocketName = "agent.sock"
	agentLockName   = "agent.lock"
	// agentIOTimeout bounds one exchange with a client that is not a
	// leader resolving a key.
	agentIOTimeout = 2 * time.Second
	// agentWaitTick is how often a waiting client hears that the agent is
	// alive, so that it can tell a hung agent from a slow leader.
	agentWaitTick = 100 * time.Millisecond
)

// AgentDir is the agent's private directory: $XDG_RUNTIME_DIR/
// docker-credential-secretsmanager, else $TMPDIR (or /tmp)/docker-credential-
// secretsmanager-<uid>. A directory too deep for a unix socket path (about
// 100 bytes) is replaced by one in /tmp named after a digest of it, so
// that each still gets its own agent.
func AgentDir(getenv Env) string {
	var dir string
	if d := getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		dir = filepath.Join(d, agentDirName)
	} else {
		tmp := getenv("TMPDIR")
		if tmp == "" || !filepath.IsAbs(tmp) {
			tmp = "/tmp"
		}
		dir = filepath.Join(tmp, fmt.Sprintf("%s-%d", agentDirName, os.Getuid()))
	}
	if len(dir)+len(agentSocketName)+1 > maxSocketPath {
		sum := sha256.Sum256([]byte(dir))
		dir = filepath.Join("/tmp", fmt.Sprintf("%s-%d-%x", agentDirName, os.Getuid(), sum[:6]))
	}
	return dir
}

// maxSocketPath is the longest unix socket path every system accepts
// (sun_path is 104 bytes on the BSDs, 108 on Linux, including the NUL).
const maxSocketPath = 103

// ensureAgentDir creates the agent's directory 0700 if it is missing and
// refuses one that is a symlink, not ours, or open to others: anyone who
// can write there could stand in for the agent.
func ensureAgentDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating the agent directory %s: %w", dir, err)
	}
	return checkAgentDir(dir)
}

// agentDirError is an agent directory refused as unsafe.
type agentDirError struct{ msg string }

func (e *agentDirError) Error() string { return e.msg }

// checkAgentDir verifies that dir is a real directory owned by this uid
// with mode 0700.
func checkAgentDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return err
		}
		return &agentDirError{msg: err.Error()}
	}
	uid, ok := fileOwner(fi)
	switch {
	case !fi.IsDir():
		return &agentDirError{fmt.Sprintf("agent directory %s is not a directory", dir)}
	case !ok || uid != os.Getuid():
		return &agentDirError{fmt.Sprintf("agent directory %s is not owned by uid %d", dir, os.Getuid())}
	case fi.Mode().Perm() != 0o700:
		return &agentDirError{fmt.Sprintf("agent directory %s has mode %04o, want 0700", dir, fi.Mode().Perm())}
	}
	return nil
}

// Agent is the memory-only credential agent: it holds resolved
// credentials with a TTL and credentials stored by `docker login` for
// unmanaged registries, and coordinates clients so that concurrent gets
// for one key cost one AWS call. It never resolves anything itself: the
// client that misses resolves with its own environment and hands the
// result over.
type Agent struct {
	// Now is the agent's clock for TTLs; tests inject one.
	Now func() time.Time
	// Idle is how long the agent runs without a request before it exits.
	Idle time.Duration
	// Memory describes what was done to keep memory private (mlock, dumpable).
	Memory string
	Log    *slog.Logger

	uid     int
	salt    []byte
	started time.Time

	mu      sync.Mutex
	cache   map[string]*agentItem // by salted key
	flights map[string]*flight    // by salted key
	stored  map[string]*agentItem // by normalised registry
	active  int
	last    time.Time // last request, wall clock
}

// agentItem is one held credential. The secret is kept as bytes so that it
// can be wiped when it is dropped.
type agentItem struct {
	registry  string
	serverURL string
	source    string
	username  string
	secret    []byte
	expires   time.Time
	until     time.Time
	hits      int
}

func (it *agentItem) drop() { wipe(it.secret) }

// flight is one key being resolved by a leader; waiters block on done.
type flight struct {
	key     string
	waiters int
	done    chan struct{}
	resp    agentResponse // stHit, stResolve or stFailed
}

// NewAgent returns an agent with a fresh salt.
func NewAgent(log *slog.Logger) (*Agent, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return &Agent{
		Now:     time.Now,
		Idle:    DefaultAgentIdle,
		Log:     log,
		uid:     os.Getuid(),
		salt:    salt,
		started: time.Now(),
		cache:   map[string]*agentItem{},
		flights: map[string]*flight{},
		stored:  map[string]*agentItem{},
	}, nil
}

// saltedKey keeps client digests out of the agent's memory and status:
// entries are keyed by HMAC(salt, digest), the salt changing every start.
func (a *Agent) saltedKey(k string) string {
	m := hmac.New(sha256.New, a.salt)
	m.Write([]byte(k))
	return hex.EncodeToString(m.Sum(nil))
}

// Serve answers clients on l until ctx ends, a stop request arrives or
// the agent has been idle for a.Idle. It wipes what it holds on return.
func (a *Agent) Serve(ctx context.Context, l *net.UnixListener) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	a.mu.Lock()
	a.last = time.Now()
	a.mu.Unlock()
	go func() {
		<-ctx.Done()
		_ = l.Close()
	}()
	go a.idleWatch(ctx, stop, l.Addr().String())
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		a.wipeAll()
	}()
	for {
		conn, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait for clients to go.
			a.Log.Info("agent: accept failed", "error", err.Error())
			time.Sleep(50 * time.Millisecond)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a.handle(conn) {
				stop()
			}
		}()
	}
}

// idleWatch stops the agent when it has been idle for a.Idle, or when its
// socket was removed or replaced (its directory deleted, another agent
// started): an agent nobody can reach has no reason to hold credentials.
func (a *Agent) idleWatch(ctx context.Context, stop func(), sock string) {
	first, statErr := os.Stat(sock)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if statErr == nil {
				if fi, err := os.Stat(sock); err != nil || !os.SameFile(first, fi) {
					a.Log.Info("agent: socket removed or replaced, exiting", "socket", sock)
					stop()
					return
				}
			}
			a.mu.Lock()
			a.sweep()
			idle := a.active == 0 && time.Since(a.last) >= a.Idle
			a.mu.Unlock()
			if idle {
				a.Log.Info("agent: idle, exiting", "idle", a.Idle)
				stop()
				return
			}
		}
	}
}

// sweep wipes and drops entries past their TTL; a.mu is held.
func (a *Agent) sweep() {
	now := a.Now()
	for k, it := range a.cache {
		if !now.Before(it.until) {
			it.drop()
			delete(a.cache, k)
		}
	}
}

func (a *Agent) wipeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, it := range a.cache {
		it.drop()
		delete(a.cache, k)
	}
	for k, it := range a.stored {
		it.drop()
		delete(a.stored, k)
	}
}

// handle serves one connection and reports whether the agent must stop.
func (a *Agent) handle(conn *net.UnixConn) (stop bool) {
	defer conn.Close()
	uid, err := peerUID(conn)
	if err != nil || uid != a.uid {
		a.Log.Info("agent: refused a connection from another user", "uid", uid)
		return false
	}
	a.mu.Lock()
	a.active++
	a.last = time.Now()
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.active--
		a.last = time.Now()
		a.mu.Unlock()
	}()
	_ = conn.SetDeadline(time.Now().Add(agentIOTimeout))
	var req agentRequest
	if err := readAgentMessage(conn, &req); err != nil {
		return false
	}
	switch req.Op {
	case opGet:
		a.get(conn, req)
	case opPut:
		// An unsolicited put: a client that resolved while the agent was
		// starting offers its result.
		if req.Key != "" {
			a.put(a.saltedKey(req.Key), req)
		}
		a.reply(conn, agentResponse{Status: stOK})
	case opLookup:
		a.reply(conn, a.lookup(req.Registry))
	case opStore:
		a.store(req)
		a.reply(conn, agentResponse{Status: stOK})
	case opErase:
		a.erase(req.Registry)
		a.reply(conn, agentResponse{Status: stOK})
	case opList:
		a.reply(conn, agentResponse{Status: stOK, List: a.list()})
	case opStatus:
		a.reply(conn, agentResponse{Status: stOK, Info: a.status()})
	case opStop:
		a.Log.Info("agent: stop requested")
		a.reply(conn, agentResponse{Status: stOK})
		return true
	default:
		a.reply(conn, agentResponse{Status: stError, Error: "unknown operation"})
	}
	return false
}

func (a *Agent) reply(conn *net.UnixConn, resp agentResponse) bool {
	return writeAgentMessage(conn, resp) == nil
}

// get answers a managed registry's key: a fresh entry is a hit; otherwise
// the first client leads (resolves and puts on this connection) and the
// others wait for its result.
func (a *Agent) get(conn *net.UnixConn, req agentRequest) {
	k := a.saltedKey(req.Key)
	a.mu.Lock()
	if it, ok := a.cache[k]; ok {
		if a.Now().Before(it.until) {
			it.hits++
			resp := it.response()
			a.mu.Unlock()
			a.reply(conn, resp)
			return
		}
		it.drop()
		delete(a.cache, k)
	}
	if f, ok := a.flights[k]; ok {
		f.waiters++
		a.mu.Unlock()
		a.wait(conn, f)
		return
	}
	f := &flight{key: k, done: make(chan struct{}), resp: agentResponse{Status: stResolve}}
	a.flights[k] = f
	a.mu.Unlock()

	// The leader does not wait for the agent to take its result: a get
	// that arrives meanwhile joins the flight and receives it.
	defer func() {
		a.mu.Lock()
		delete(a.flights, k)
		close(f.done)
		a.mu.Unlock()
	}()
	if !a.reply(conn, agentResponse{Status: stLead}) {
		return
	}
	lease := req.Lease
	if lease <= 0 || lease > 5*time.Minute {
		lease = DefaultTimeout
	}
	_ = conn.SetDeadline(time.Now().Add(lease + time.Second))
	var res agentRequest
	if err := readAgentMessage(conn, &res); err != nil {
		// The leader died or gave up: waiters resolve themselves.
		return
	}
	switch res.Op {
	case opPut:
		res.Registry = req.Registry
		if res.Source == "" {
			res.Source = req.Source
		}
		if resp, ok := a.put(k, res); ok {
			f.resp = resp
		}
	case opFail:
		f.resp = agentResponse{Status: stFailed, Error: res.Error}
	}
}

// wait relays a flight's result to a waiting client, telling it every
// agentWaitTick that the agent is still alive.
func (a *Agent) wait(conn *net.UnixConn, f *flight) {
	t := time.NewTicker(agentWaitTick)
	defer t.Stop()
	for {
		_ = conn.SetWriteDeadline(time.Now().Add(agentIOTimeout))
		select {
		case <-f.done:
			resp := f.resp
			if resp.Status == stHit {
				a.mu.Lock()
				if it, ok := a.cache[f.key]; ok {
					it.hits++
				}
				a.mu.Unlock()
			}
			a.reply(conn, resp)
			return
		case <-t.C:
			if !a.reply(conn, agentResponse{Status: stWait}) {
				return
			}
		}
	}
}

// put caches a resolved credential and reports whether it was cached. A
// credential already expired at its source is never cached: the client
// that fetched it may use it once, nobody else gets it from here.
func (a *Agent) put(k string, req agentRequest) (agentResponse, bool) {
	now := a.Now()
	var until time.Time
	switch {
	case !req.Expires.IsZero():
		if (Credential{Expires: req.Expires}).expired(now) {
			a.Log.Info("agent: not caching a credential expired at its source", "registry", req.Registry, "source", req.Source, "expires", req.Expires.UTC().Format(time.RFC3339))
			return agentResponse{}, false
		}
		// Half the remaining life, and never into the expiry margin.
		until = now.Add(req.Expires.Sub(now) / 2)
		if last := req.Expires.Add(-expiryMargin); until.After(last) {
			until = last
		}
	case req.TTL > 0:
		until = now.Add(req.TTL)
	default:
		until = now.Add(DefaultAgentTTL)
	}
	if req.Username == "" || req.Secret == "" {
		return agentResponse{}, false
	}
	it := &agentItem{registry: req.Registry, source: req.Source, username: req.Username,
		secret: []byte(req.Secret), expires: req.Expires, until: until}
	a.mu.Lock()
	if old, ok := a.cache[k]; ok {
		old.drop()
	}
	a.cache[k] = it
	resp := it.response()
	a.mu.Unlock()
	a.Log.Info("agent: cached", "registry", req.Registry, "source", req.Source, "until", until.UTC().Format(time.RFC3339))
	return resp, true
}

func (it *agentItem) response() agentResponse {
	return agentResponse{Status: stHit, Username: it.username, Secret: string(it.secret), Source: it.source, Expires: it.expires}
}

func (a *Agent) lookup(registry string) agentResponse {
	a.mu.Lock()
	defer a.mu.Unlock()
	it, ok := a.stored[registry]
	if !ok {
		return agentResponse{Status: stNotFound}
	}
	it.hits++
	return it.response()
}

func (a *Agent) store(req agentRequest) {
	if req.Registry == "" {
		return
	}
	it := &agentItem{registry: req.Registry, serverURL: req.ServerURL, source: "agent (docker login)",
		username: req.Username, secret: []byte(req.Secret)}
	a.mu.Lock()
	if old, ok := a.stored[req.Registry]; ok {
		old.drop()
	}
	a.stored[req.Registry] = it
	a.mu.Unlock()
	a.Log.Info("agent: stored a login", "registry", req.Registry)
}

func (a *Agent) erase(registry string) {
	a.mu.Lock()
	it, ok := a.stored[registry]
	if ok {
		it.drop()
		delete(a.stored, registry)
	}
	a.mu.Unlock()
	if ok {
		a.Log.Info("agent: erased a login", "registry", registry)
	}
}

func (a *Agent) list() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(a.stored))
	for _, it := range a.stored {
		out[it.serverURL] = it.username
	}
	return out
}

func (a *Agent) status() *AgentStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.Now()
	s := &AgentStatus{PID: os.Getpid(), Started: a.started, Idle: a.Idle, Memory: a.Memory, Entries: []AgentEntry{}}
	for k, it := range a.cache {
		if !now.Before(it.until) {
			continue
		}
		s.Entries = append(s.Entries, AgentEntry{Registry: it.registry, Kind: "cached", Source: it.source,
			Expires: it.expires, Until: it.until, Hits: it.hits, ID: k[:8]})
	}
	for _, it := range a.stored {
		s.Entries = append(s.Entries, AgentEntry{Registry: it.registry, Kind: "stored", Source: it.source, Hits: it.hits})
	}
	sort.Slice(s.Entries, func(i, j int) bool {
		if s.Entries[i].Registry != s.Entries[j].Registry {
			return s.Entries[i].Registry < s.Entries[j].Registry
		}
		return s.Entries[i].ID < s.Entries[j].ID
	})
	return s
}
