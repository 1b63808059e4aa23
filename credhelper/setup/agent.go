package setup

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// agentRow reports whether the memory agent is enabled, running, and what
// it holds (registries and kinds, never values), from the helper's own
// `agent status`, which also checks that the socket belongs to this user.
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
	st, err := credhelper.QueryAgentStatus(s)
	switch {
	case errors.Is(err, credhelper.ErrNoAgent):
		row.Detail = "not running: the next get starts it"
	case err != nil:
		row.Status, row.Detail = StatusWarn, credhelper.OneLine(err.Error())
		row.Fix = credhelper.Name + " agent stop (gets work without it, but wait for it first)"
	default:
		row.Detail = "running: " + st.Summary(s)
		var held []string
		for _, e := range st.Entries {
			held = append(held, e.Registry+" ("+e.Kind+")")
		}
		if len(held) > 0 {
			row.Detail += "; holds " + strings.Join(held, ", ")
		} else {
			row.Detail += "; holds nothing"
		}
	}
	return row
}
