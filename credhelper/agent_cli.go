package credhelper

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"
)

const agentUsage = "Usage: " + Name + " agent [status|stop]\n" +
	"  agent         run the memory agent in the foreground (gets start it on demand)\n" +
	"  agent status  show what the agent holds: registries, sources, expiries, hits (never values)\n" +
	"  agent stop    stop the agent; everything it holds is forgotten"

// runAgent executes `agent`, `agent status` and `agent stop`.
func runAgent(args []string, stdout, stderr io.Writer, getenv Env) int {
	s, err := LoadAgentSettings(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !agentSupported {
		fmt.Fprintf(stderr, "%s: the memory agent is not supported on this system; every get resolves directly\n", Name)
		return 1
	}
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	if len(args) > 1 {
		sub = "?"
	}
	cfg := LoadConfig(getenv)
	log, closeLog := NewLogger(cfg, stderr)
	defer func() { _ = closeLog() }()
	c := &agentClient{settings: s, getenv: getenv, log: log}
	switch sub {
	case "":
		return serveAgent(s, stderr, log)
	case "status":
		st, err := QueryAgentStatus(s)
		if err != nil {
			fmt.Fprintln(stdout, err)
			return 1
		}
		printAgentStatus(stdout, s, st)
		return 0
	case "stop":
		if _, err := c.roundTrip(agentRequest{Op: opStop}); err != nil {
			fmt.Fprintln(stdout, agentUnreachable(s, err))
			return 0
		}
		// Return once the socket is gone, so that the next get finds no agent.
		for deadline := time.Now().Add(agentStartWait); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(s.socket()); errors.Is(err, os.ErrNotExist) {
				break
			}
		}
		fmt.Fprintln(stdout, "agent stopped")
		return 0
	default:
		fmt.Fprintln(stdout, agentUsage)
		return 1
	}
}

// serveAgent runs the agent until it is stopped, signalled or idle. It
// exits quietly when another agent already holds the lock: auto-starts
// race, and one winner is enough.
func serveAgent(s AgentSettings, stderr io.Writer, log *slog.Logger) int {
	if err := ensureAgentDir(s.Dir); err != nil {
		fmt.Fprintf(stderr, "%s: agent: %v\n", Name, err)
		return 1
	}
	lock, err := os.OpenFile(filepath.Join(s.Dir, agentLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "%s: agent: %v\n", Name, err)
		return 1
	}
	defer lock.Close()
	if err := tryLock(lock); err != nil {
		fmt.Fprintf(stderr, "%s: agent: another agent is running (%s)\n", Name, s.socket())
		return 0
	}
	memory := hardenAgent()

	// Holding the lock, any socket file left is stale.
	sock := s.socket()
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "%s: agent: removing a stale socket: %v\n", Name, err)
		return 1
	}
	l, err := listenPrivate(sock)
	if err != nil {
		fmt.Fprintf(stderr, "%s: agent: %v\n", Name, err)
		return 1
	}
	l.SetUnlinkOnClose(true)
	if err := os.Chmod(sock, 0o600); err != nil {
		_ = l.Close()
		fmt.Fprintf(stderr, "%s: agent: %v\n", Name, err)
		return 1
	}

	ctx, stop := agentSignalContext()
	defer stop()

	a, err := NewAgent(log)
	if err != nil {
		_ = l.Close()
		fmt.Fprintf(stderr, "%s: agent: %v\n", Name, err)
		return 1
	}
	a.Idle, a.Memory = s.Idle, memory
	log.Info("agent: serving", "socket", sock, "idle", s.Idle, "memory", memory)
	err = a.Serve(ctx, l)
	_ = l.Close()
	if err != nil {
		fmt.Fprintf(stderr, "%s: agent: %v\n", Name, err)
		return 1
	}
	log.Info("agent: exited")
	return 0
}

// QueryAgentStatus asks the running agent what it holds (registries,
// sources, expiries; never values). The error wraps ErrNoAgent when no
// agent runs.
func QueryAgentStatus(s AgentSettings) (*AgentStatus, error) {
	c := &agentClient{settings: s, log: slog.New(slog.DiscardHandler)}
	resp, err := c.roundTrip(agentRequest{Op: opStatus})
	if err != nil {
		return nil, agentUnreachable(s, err)
	}
	if resp.Info == nil {
		return nil, agentUnreachable(s, errors.New("no status in its answer"))
	}
	return resp.Info, nil
}

// Summary is the status's first line: pid, socket, uptime, idle limit.
func (st *AgentStatus) Summary(s AgentSettings) string {
	return fmt.Sprintf("agent pid %d, socket %s, up %s, exits after %s idle", st.PID, s.socket(),
		time.Since(st.Started).Round(time.Second), st.Idle)
}

func printAgentStatus(w io.Writer, s AgentSettings, st *AgentStatus) {
	fmt.Fprintln(w, st.Summary(s))
	fmt.Fprintf(w, "memory: %s\n", st.Memory)
	if len(st.Entries) == 0 {
		fmt.Fprintln(w, "holds nothing")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGISTRY\tKIND\tSOURCE\tEXPIRES\tSERVED UNTIL\tHITS\tID")
	for _, e := range st.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", e.Registry, e.Kind, e.Source, when(e.Expires), when(e.Until), e.Hits, e.ID)
	}
	_ = tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// agentUnreachable says why the agent at s did not answer.
func agentUnreachable(s AgentSettings, err error) error {
	if errors.Is(err, ErrNoAgent) {
		return fmt.Errorf("%w (%s)", ErrNoAgent, s.socket())
	}
	return fmt.Errorf("the agent at %s does not answer: %w", s.socket(), err)
}
