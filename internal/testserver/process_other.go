//go:build !unix

package testserver

import (
	"errors"
	"os"
	"os/exec"
)

// ownProcessGroup does nothing: without unix process groups only the
// process itself is stopped.
func ownProcessGroup(*exec.Cmd) {}

// signalGroup kills the process (there is no polite signal to send); one
// that has already exited is not an error.
func signalGroup(p *os.Process, kill bool) error {
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}
