package setup

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// agentSocket is where the memory agent listens:
// $XDG_RUNTIME_DIR/docker-credential-secretsmanager/agent.sock, else
// /tmp/docker-credential-secretsmanager-<uid>/agent.sock.
func agentSocket(getenv func(string) string) string {
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "docker-credential-secretsmanager", "agent.sock")
	}
	return filepath.Join(os.TempDir(), "docker-credential-secretsmanager-"+strconv.Itoa(os.Getuid()), "agent.sock")
}

// agentRow reports whether the agent runs, by connecting to its socket.
func agentRow(getenv func(string) string) Row {
	sock := agentSocket(getenv)
	row := Row{Check: checkAgent, Subject: sock, Status: StatusInfo}
	if _, err := os.Stat(sock); err != nil {
		row.Detail = "not running (every get calls AWS)"
		return row
	}
	conn, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		row.Detail = "not running (a stale socket is left)"
		return row
	}
	_ = conn.Close()
	row.Detail = "running"
	return row
}
