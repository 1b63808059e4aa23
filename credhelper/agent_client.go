package credhelper

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
)

// agentAnswerTimeout bounds connecting to the agent and its first answer:
// a hung or dying agent costs a get at most this before it resolves
// directly.
const agentAnswerTimeout = 200 * time.Millisecond

// agentWaitSilence is how long a client waiting for another's result
// accepts no word from the agent before it resolves directly.
const agentWaitSilence = 10 * agentWaitTick

// agentStartWait bounds how long store waits for an agent it started: a
// login has nowhere else to go.
const agentStartWait = 2 * time.Second

// AgentSettings is the agent's configuration, read from the environment.
type AgentSettings struct {
	Enabled bool
	TTL     time.Duration // how long Secrets Manager values are served
	Idle    time.Duration // idle time before the agent exits
	Dir     string        // the agent's private directory
}

// LoadAgentSettings reads the agent's variables. A malformed value is an
// error so that a typo never silently changes what is cached.
func LoadAgentSettings(getenv Env) (AgentSettings, error) {
	s := AgentSettings{Enabled: agentSupported, TTL: DefaultAgentTTL, Idle: DefaultAgentIdle, Dir: AgentDir(getenv)}
	if v := getenv(EnvAgent); v != "" {
		on, err := parseSwitch(v)
		if err != nil {
			return s, &ConfigError{Where: EnvAgent, Err: err}
		}
		s.Enabled = on && agentSupported
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{EnvAgentTTL, &s.TTL}, {EnvAgentIdle, &s.Idle}} {
		if v := getenv(d.name); v != "" {
			dur, err := parseDuration(v)
			if err != nil {
				return s, &ConfigError{Where: d.name, Err: err}
			}
			*d.dst = dur
		}
	}
	return s, nil
}

func (s AgentSettings) socket() string { return filepath.Join(s.Dir, agentSocketName) }

// agentEnvVars are what an auto-started agent inherits: its own settings,
// logging and where its directory is. Never AWS credentials: the agent
// resolves nothing.
var agentEnvVars = []string{"PATH", "HOME", "TMPDIR", "XDG_RUNTIME_DIR", "LANG",
	EnvAgentIdle, EnvAgentTTL, EnvLog, EnvLogFile}

// agentKeyEnv lists the environment that selects an AWS identity, region
// or endpoint; a different value means a different cache entry. Only a
// digest of them ever leaves the process.
var agentKeyEnv = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_ECR_PUBLIC",
	"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_STS_REGIONAL_ENDPOINTS",
	"AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_SDK_LOAD_CONFIG",
	"HOME",
}

// agentClient talks to the agent for one helper invocation.
type agentClient struct {
	settings AgentSettings
	getenv   Env
	log      *slog.Logger
	config   *Config
	base     []byte // digest of what every key of this invocation shares; computed on first use
	started  bool   // this invocation started an agent
	// stderr receives the one warning a get gives when it refuses the
	// agent's directory; nil for none.
	stderr io.Writer
}

func newAgentClient(s AgentSettings, cfg *Config, getenv Env, log *slog.Logger) *agentClient {
	return &agentClient{settings: s, getenv: getenv, log: log, config: cfg}
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// agentKeyBase digests the configuration (entries, switches, the config
// file's content) and the identity environment, without loading the SDK.
func agentKeyBase(cfg *Config, getenv Env) []byte {
	h := sha256.New()
	writeField(h, "docker-credential-secretsmanager agent key v1")
	writeField(h, strconv.Itoa(os.Getuid()))
	for _, name := range agentKeyEnv {
		writeField(h, name)
		writeField(h, getenv(name))
	}
	writeField(h, cfg.File)
	writeField(h, string(cfg.fileData))
	writeField(h, fmt.Sprint(cfg.ECR, cfg.ECRPublic, cfg.Fallback, cfg.Timeout))
	for _, e := range cfg.Entries {
		writeEntry(h, e)
	}
	return h.Sum(nil)
}

func writeEntry(h hash.Hash, e Entry) {
	for _, f := range []string{e.Registry, e.Secret, e.ECR, e.Region, e.Profile, e.RoleARN, e.UsernameKey, e.PasswordKey} {
		writeField(h, f)
	}
}

// key is the cache key of a registry resolved through route.
func (c *agentClient) key(registry string, route Route) string {
	if c.base == nil {
		c.base = agentKeyBase(c.config, c.getenv)
	}
	h := sha256.New()
	h.Write(c.base)
	writeField(h, registry)
	writeField(h, route.String())
	writeField(h, strconv.Itoa(int(route.Kind)))
	writeEntry(h, route.Entry)
	writeField(h, fmt.Sprint(route.ECR))
	return hex.EncodeToString(h.Sum(nil))
}

// ErrNoAgent means nothing listens on the agent's socket (or there is
// none): no agent runs for this user and directory.
var ErrNoAgent = errors.New("no agent running")

// agentConn is a client's connection to the agent.
type agentConn interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// dial connects to the agent, checking the directory and that the agent
// runs as this uid.
func (c *agentClient) dial() (agentConn, error) {
	if err := checkAgentDir(c.settings.Dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNoAgent
		}
		return nil, err
	}
	conn, uid, err := dialAgentSocket(c.settings.socket(), agentAnswerTimeout)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || isConnRefused(err) {
			return nil, ErrNoAgent
		}
		return nil, err
	}
	if uid != os.Getuid() {
		_ = conn.Close()
		return nil, fmt.Errorf("the agent socket %s belongs to uid %d, not %d", c.settings.socket(), uid, os.Getuid())
	}
	return conn, nil
}

// start launches `docker-credential-secretsmanager agent` detached: its own
// session, stdio on /dev/null so that it never holds the client's pipes,
// and an environment without AWS credentials. A running or starting agent
// holds the lock file; then nothing is started.
func (c *agentClient) start() {
	if c.started {
		return
	}
	c.started = true
	if err := ensureAgentDir(c.settings.Dir); err != nil {
		c.log.Info("agent: not started", "error", err.Error())
		return
	}
	lock, err := os.OpenFile(filepath.Join(c.settings.Dir, agentLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		c.log.Info("agent: not started", "error", err.Error())
		return
	}
	defer lock.Close()
	if err := tryLock(lock); err != nil {
		return // an agent holds it: running, starting or hung
	}
	_ = unlock(lock)
	exe, err := os.Executable()
	if err != nil || !strings.HasPrefix(filepath.Base(exe), "docker-credential-") {
		// Only the helper binary can be an agent (not a test binary
		// calling Run).
		return
	}
	cmd := exec.Command(exe, "agent")
	cmd.Dir = "/"
	for _, name := range agentEnvVars {
		if v := c.getenv(name); v != "" {
			cmd.Env = append(cmd.Env, name+"="+v)
		}
	}
	detach(cmd)
	if err := cmd.Start(); err != nil {
		c.log.Info("agent: not started", "error", err.Error())
		return
	}
	c.log.Debug("agent: started", "agent_pid", cmd.Process.Pid)
	_ = cmd.Process.Release()
}

// roundTrip sends one request and reads one answer within the bounded wait.
func (c *agentClient) roundTrip(req agentRequest) (agentResponse, error) {
	conn, err := c.dial()
	if err != nil {
		return agentResponse{}, err
	}
	defer conn.Close()
	return exchange(conn, req)
}

func exchange(conn agentConn, req agentRequest) (agentResponse, error) {
	_ = conn.SetDeadline(time.Now().Add(agentAnswerTimeout))
	if err := writeAgentMessage(conn, req); err != nil {
		return agentResponse{}, err
	}
	var resp agentResponse
	if err := readAgentMessage(conn, &resp); err != nil {
		return agentResponse{}, err
	}
	if resp.Status == stError {
		return resp, fmt.Errorf("agent: %s", resp.Error)
	}
	return resp, nil
}

// leaderError is the error the client resolving a key met, relayed to
// the clients that waited for it. Like every resolution error it names
// registries and APIs, never a secret.
type leaderError struct{ msg string }

func (e *leaderError) Error() string { return e.msg }

// cached serves a key from the agent, or resolves it (as the leader, or
// because the agent is unavailable) with resolve. Any trouble with the
// agent ends in a direct resolution, never in a failed get.
func (c *agentClient) cached(ctx context.Context, key, registry string, route Route, timeout time.Duration,
	resolve func(context.Context) (Credential, error)) (Credential, error) {
	conn, err := c.dial()
	if err != nil {
		c.log.Debug("agent: unavailable, resolving directly", "error", err.Error())
		var refused *agentDirError
		switch {
		case errors.Is(err, ErrNoAgent):
			c.start()
		case errors.As(err, &refused) && c.stderr != nil:
			fmt.Fprintf(c.stderr, "%s: not using the memory agent: %v\n", Name, err)
		}
		cred, err := resolve(ctx)
		if err == nil && c.started {
			// The agent has likely started while AWS answered: offer it
			// the result, without waiting for it.
			c.offer(key, registry, cred)
		}
		return cred, err
	}
	defer conn.Close()
	req := agentRequest{Op: opGet, Key: key, Registry: registry, Source: route.String(), Lease: timeout}
	resp, err := exchange(conn, req)
	for err == nil && resp.Status == stWait {
		// Another client is resolving this key. The agent repeats wait
		// every agentWaitTick; a silence of ten ticks means it hung (a
		// loaded machine can delay a few).
		_ = conn.SetReadDeadline(time.Now().Add(agentWaitSilence))
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
		resp = agentResponse{}
		err = readAgentMessage(conn, &resp)
	}
	switch {
	case err != nil:
		c.log.Debug("agent: no answer, resolving directly", "error", err.Error())
		return resolve(ctx)
	case resp.Status == stHit:
		return Credential{Username: resp.Username, Secret: resp.Secret, Expires: resp.Expires, Source: resp.Source + " (agent)"}, nil
	case resp.Status == stFailed:
		return Credential{}, &leaderError{msg: resp.Error}
	case resp.Status == stLead:
		cred, rerr := resolve(ctx)
		_ = conn.SetWriteDeadline(time.Now().Add(agentAnswerTimeout))
		var res agentRequest
		if rerr != nil {
			res = agentRequest{Op: opFail, Error: rerr.Error()}
		} else {
			res = c.putRequest(key, registry, cred)
		}
		if werr := writeAgentMessage(conn, res); werr != nil {
			c.log.Debug("agent: could not hand over the result", "error", werr.Error())
		}
		return cred, rerr
	default:
		return resolve(ctx)
	}
}

func (c *agentClient) putRequest(key, registry string, cred Credential) agentRequest {
	return agentRequest{Op: opPut, Key: key, Registry: registry, Source: cred.Source,
		Username: cred.Username, Secret: cred.Secret, Expires: cred.Expires, TTL: c.settings.TTL}
}

// offer hands a directly resolved credential to an agent that may have
// just started; one attempt, no waiting.
func (c *agentClient) offer(key, registry string, cred Credential) {
	if _, err := c.roundTrip(c.putRequest(key, registry, cred)); err != nil {
		c.log.Debug("agent: not ready for the result", "error", err.Error())
	}
}

// agentCache is the Source in front of the managed sources.
type agentCache struct {
	managed *Managed
	client  *agentClient
}

// Lookup implements Source.
func (a *agentCache) Lookup(ctx context.Context, req Request) (Credential, error) {
	route, ok := a.managed.Route(req.Registry)
	if !ok {
		return Credential{}, ErrNotFound
	}
	key := a.client.key(req.Registry, route)
	return a.client.cached(ctx, key, req.Registry, route, a.managed.Config.Timeout, func(ctx context.Context) (Credential, error) {
		return a.managed.Resolve(ctx, req.Registry, route)
	})
}

// agentStore is the Store for unmanaged registries when no fallback
// helper is configured: `docker login` credentials kept in the agent's
// memory only.
type agentStore struct {
	client *agentClient
	stderr io.Writer
}

var _ Store = (*agentStore)(nil)

// Name implements Store.
func (s *agentStore) Name() string { return "the memory agent" }

// Lookup implements Source. No agent, or one in trouble, holds nothing.
func (s *agentStore) Lookup(_ context.Context, req Request) (Credential, error) {
	resp, err := s.client.roundTrip(agentRequest{Op: opLookup, Registry: req.Registry})
	if err != nil || resp.Status != stHit {
		return Credential{}, ErrNotFound
	}
	return Credential{Username: resp.Username, Secret: resp.Secret, Source: resp.Source}, nil
}

// Store implements Store, starting the agent if none runs.
func (s *agentStore) Store(ctx context.Context, c *credentials.Credentials) error {
	registry, err := NormalizeRegistry(c.ServerURL)
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	req := agentRequest{Op: opStore, Registry: registry, ServerURL: c.ServerURL, Username: c.Username, Secret: c.Secret}
	_, err = s.client.roundTrip(req)
	if errors.Is(err, ErrNoAgent) {
		s.client.start()
		deadline := time.Now().Add(agentStartWait)
		for errors.Is(err, ErrNoAgent) && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			_, err = s.client.roundTrip(req)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: cannot keep the login for %s in the memory agent (%s): %v; "+
			"set %s to a credential helper (e.g. pass) to store it there instead", Name, registry, s.client.settings.socket(), err, EnvFallback)
	}
	fmt.Fprintf(s.stderr, "%s: the login for %s is kept in memory only, until the agent exits (after %s idle, or at reboot); "+
		"set %s (e.g. pass) to keep logins on disk\n", Name, registry, s.client.settings.Idle, EnvFallback)
	return nil
}

// Erase implements Store. Without an agent nothing is stored.
func (s *agentStore) Erase(_ context.Context, serverURL string) error {
	registry, err := NormalizeRegistry(serverURL)
	if err != nil {
		return nil
	}
	if _, err := s.client.roundTrip(agentRequest{Op: opErase, Registry: registry}); err != nil && !errors.Is(err, ErrNoAgent) {
		return fmt.Errorf("%s: erasing the login for %s from the memory agent: %v", Name, registry, err)
	}
	return nil
}

// List implements Store.
func (s *agentStore) List(context.Context) (map[string]string, error) {
	resp, err := s.client.roundTrip(agentRequest{Op: opList})
	if errors.Is(err, ErrNoAgent) {
		return map[string]string{}, nil
	}
	if err != nil {
		return map[string]string{}, fmt.Errorf("memory agent: %v", err)
	}
	return resp.List, nil
}

// useAgent puts the memory agent in front of the managed sources and,
// when no fallback helper is configured, makes it the store for `docker
// login` to unmanaged registries.
func (h *Helper) useAgent(getenv Env) {
	s, err := LoadAgentSettings(getenv)
	if err != nil {
		if h.config.Err == nil {
			h.config.Err = err
		}
		return
	}
	if !s.Enabled {
		return
	}
	c := newAgentClient(s, h.config, getenv, h.log)
	c.stderr = h.stderr
	for i, src := range h.chain {
		if src == Source(h.managed) {
			h.chain[i] = &agentCache{managed: h.managed, client: c}
		}
	}
	if h.store == nil {
		h.store = &agentStore{client: c, stderr: h.stderr}
		h.chain = append(h.chain, h.store)
	}
}
