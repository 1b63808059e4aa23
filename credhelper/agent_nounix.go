//go:build !unix

package credhelper

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"os/signal"
)

// Outside unix the agent is off (agentSupported is false), so these are
// never reached in practice; they fail closed.

// errNoUnix is what every unix-only step returns here.
var errNoUnix = errors.New("the memory agent is not supported on this system")

func fileOwner(os.FileInfo) (int, bool) { return -1, false }

func tryLock(*os.File) error { return errNoUnix }

func unlock(*os.File) error { return nil }

func listenPrivate(string) (*net.UnixListener, error) { return nil, errNoUnix }

func detach(*exec.Cmd) {}

func isConnRefused(error) bool { return false }

func agentSignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}
