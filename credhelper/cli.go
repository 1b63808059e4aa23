package credhelper

import (
	"fmt"
	"io"

	"github.com/docker/docker-credential-helpers/credentials"
)

// Env is how the helper reads its environment (os.Getenv in main, a map in
// tests).
type Env func(string) string

const usage = "Usage: " + Name + " <get|store|erase|list|version|agent [status|stop]|doctor|configure>\n" +
	"A Docker credential helper that resolves registry credentials from AWS Secrets Manager, ECR and ECR Public.\n" +
	"Enable it with {\"credsStore\": \"secretsmanager\"} in ~/.docker/config.json; see the README for configuration."

// Run executes one invocation of the helper and returns its exit code.
// Protocol answers and protocol errors go to stdout, as the protocol
// requires; diagnostics go to stderr.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv Env, stampedVersion string) int {
	if len(args) > 0 && args[0] == "agent" {
		return runAgent(args[1:], stdout, stderr, getenv)
	}
	if len(args) != 1 {
		fmt.Fprintln(stdout, usage)
		return 1
	}
	switch action := args[0]; action {
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "%s (%s) %s\n", Name, ModulePath, Version(stampedVersion))
		return 0
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, usage)
		return 0
	case credentials.ActionGet, credentials.ActionStore, credentials.ActionErase, credentials.ActionList:
		cfg := LoadConfig(getenv)
		log, closeLog := NewLogger(cfg, stderr)
		defer func() {
			if err := closeLog(); err != nil {
				fmt.Fprintf(stderr, "%s: closing the log file: %v\n", Name, err)
			}
		}()
		h := NewHelper(cfg, NewAWSClients(log), stderr, log)
		h.useAgent(getenv)
		if err := credentials.HandleCommand(h, action, stdin, stdout); err != nil {
			fmt.Fprintln(stdout, err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stdout, "%s: unknown command %q\n%s\n", Name, action, usage)
		return 1
	}
}
