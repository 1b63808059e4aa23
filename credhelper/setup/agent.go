package setup

import (
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// agentRow reports whether the memory agent is enabled and running, by
// connecting to its socket (credhelper.AgentDir/agent.sock). What it
// holds is shown by `agent status`.
func agentRow(getenv func(string) string) Row {
	s, err := credhelper.LoadAgentSettings(getenv)
	row := Row{Check: checkAgent, Subject: filepath.Join(s.Dir, "agent.sock"), Status: StatusInfo}
	switch {
	case err != nil:
		row.Status, row.Detail, row.Fix = StatusFail, err.Error(), "fix the agent's setting"
		return row
	case !s.Enabled:
		row.Detail = "disabled (" + credhelper.EnvAgent + "=off, or not Linux): every get calls AWS"
		return row
	}
	if _, err := os.Stat(row.Subject); err != nil {
		row.Detail = "not running: the next get starts it"
		return row
	}
	conn, err := net.DialTimeout("unix", row.Subject, time.Second)
	if err != nil {
		row.Detail = "not running (a stale socket is left): the next get starts a new one"
		return row
	}
	_ = conn.Close()
	row.Detail = "running: " + credhelper.Name + " agent status lists what it holds"
	return row
}
