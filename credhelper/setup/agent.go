package setup

import (
	"bytes"
	"io"
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
	var out bytes.Buffer
	code := credhelper.Run([]string{"agent", "status"}, strings.NewReader(""), &out, io.Discard, credhelper.Env(getenv), "")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	switch {
	case code != 0 && strings.HasPrefix(lines[0], "no agent running"):
		row.Detail = "not running: the next get starts it"
	case code != 0:
		row.Status, row.Detail = StatusWarn, oneLine(out.String())
		row.Fix = credhelper.Name + " agent stop (gets work without it, but wait for it first)"
	default:
		row.Detail = "running: " + lines[0]
		var held []string
		inTable := false
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			switch {
			case len(f) > 0 && f[0] == "REGISTRY":
				inTable = true
			case inTable && len(f) > 1:
				held = append(held, f[0]+" ("+f[1]+")")
			}
		}
		if len(held) > 0 {
			row.Detail += "; holds " + strings.Join(held, ", ")
		} else {
			row.Detail += "; holds nothing"
		}
	}
	return row
}
