//go:build unix

package credhelper

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// fileOwner returns the uid that owns the file fi describes.
func fileOwner(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	return int(st.Uid), true
}

// tryLock takes an exclusive lock on f without waiting: it fails while
// another process holds one, and the kernel drops it when the holder exits.
func tryLock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// unlock releases a lock taken by tryLock.
func unlock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// listenPrivate listens on a unix socket created mode 0600: the umask
// applies at bind, so that no other user can connect before a chmod.
func listenPrivate(path string) (*net.UnixListener, error) {
	old := syscall.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	return l, err
}

// detach starts cmd in its own session, so that the client's terminal
// closing does not hang up the agent.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// isConnRefused reports a socket file with nothing listening on it.
func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// agentSignalContext returns a context cancelled by SIGTERM or SIGINT,
// and makes the agent deaf to SIGHUP and SIGPIPE.
func agentSignalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	return ctx, stop
}
