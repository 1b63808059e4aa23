package credhelper

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// agentSupported: the agent relies on SO_PEERCRED and prctl, both Linux.
const agentSupported = true

// peerUID returns the uid of the process at the other end of a unix
// socket (SO_PEERCRED), as the kernel recorded it at connect time.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if credErr != nil {
		return -1, credErr
	}
	return int(cred.Uid), nil
}

// Linux constants the syscall package lacks.
const (
	rlimitMemlock = 8  // RLIMIT_MEMLOCK
	mclOnFault    = 4  // MCL_ONFAULT (Linux 4.4): lock pages as they are touched
	capIPCLock    = 14 // CAP_IPC_LOCK
	rlimInfinity  = ^uint64(0)
)

// hardenAgent keeps the agent's memory to itself: not dumpable (no core
// dumps, no ptrace or /proc/<pid>/mem by other processes of the same user)
// and, where permitted, locked in RAM so that no credential reaches swap.
// It describes what it did; failures are reported, never fatal.
func hardenAgent() string {
	var notes []string
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		notes = append(notes, "dumpable: "+errno.Error())
	} else {
		notes = append(notes, "not dumpable")
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		notes = append(notes, "core limit: "+err.Error())
	}
	notes = append(notes, lockMemory())
	return strings.Join(notes, ", ")
}

// lockMemory calls mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT) when the
// process may lock without limit (CAP_IPC_LOCK or an unlimited
// RLIMIT_MEMLOCK). Under a finite limit it does not try: a Go process
// reserves far more address space than a typical 8 MiB limit, so
// MCL_CURRENT fails, and MCL_FUTURE alone would make later heap growth
// fail and crash the agent.
func lockMemory() string {
	var lim syscall.Rlimit
	limited := true
	if err := syscall.Getrlimit(rlimitMemlock, &lim); err == nil && lim.Cur == rlimInfinity {
		limited = false
	}
	if limited && !hasCapability(capIPCLock) {
		return fmt.Sprintf("memory not locked (RLIMIT_MEMLOCK is %d KiB and no CAP_IPC_LOCK; raise it with ulimit -l unlimited to lock)", lim.Cur/1024)
	}
	err := syscall.Mlockall(syscall.MCL_CURRENT | syscall.MCL_FUTURE | mclOnFault)
	if errors.Is(err, syscall.EINVAL) {
		err = syscall.Mlockall(syscall.MCL_CURRENT | syscall.MCL_FUTURE)
	}
	if err != nil {
		return "memory not locked (mlockall: " + err.Error() + ")"
	}
	return "memory locked (mlockall)"
}

// hasCapability reads the effective capability set from /proc/self/status.
func hasCapability(bit uint) bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && n&(1<<bit) != 0
		}
	}
	return false
}

// rawConn is a blocking unix socket. A get makes one short exchange with
// the agent; blocking reads wake the thread directly when the answer
// arrives, one scheduler hop fewer than the runtime's poller, and
// SO_RCVTIMEO/SO_SNDTIMEO bound every call as deadlines would.
type rawConn struct{ fd int }

// dialAgentSocket connects to the agent's socket within timeout and
// returns the connection and the uid the agent runs as.
func dialAgentSocket(path string, timeout time.Duration) (agentConn, int, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, -1, os.NewSyscallError("socket", err)
	}
	c := &rawConn{fd: fd}
	// connect on a unix socket waits for room in the backlog, bounded by
	// the send timeout.
	if err := c.setTimeout(syscall.SO_SNDTIMEO, timeout); err != nil {
		_ = c.Close()
		return nil, -1, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		_ = c.Close()
		return nil, -1, &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", err)}
	}
	cred, err := syscall.GetsockoptUcred(fd, syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	if err != nil {
		_ = c.Close()
		return nil, -1, os.NewSyscallError("getsockopt", err)
	}
	return c, int(cred.Uid), nil
}

func (c *rawConn) setTimeout(opt int, d time.Duration) error {
	if d <= 0 {
		d = time.Microsecond // already past: fail at once, never block forever
	}
	tv := syscall.NsecToTimeval(d.Nanoseconds())
	return os.NewSyscallError("setsockopt", syscall.SetsockoptTimeval(c.fd, syscall.SOL_SOCKET, opt, &tv))
}

func (c *rawConn) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(c.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, os.ErrDeadlineExceeded
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c *rawConn) Write(b []byte) (int, error) {
	written := 0
	for written < len(b) {
		n, err := syscall.Write(c.fd, b[written:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return written, os.ErrDeadlineExceeded
		case err != nil:
			return written, os.NewSyscallError("write", err)
		}
		written += n
	}
	return written, nil
}

func (c *rawConn) Close() error { return syscall.Close(c.fd) }

func (c *rawConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *rawConn) SetReadDeadline(t time.Time) error {
	return c.setTimeout(syscall.SO_RCVTIMEO, time.Until(t))
}

func (c *rawConn) SetWriteDeadline(t time.Time) error {
	return c.setTimeout(syscall.SO_SNDTIMEO, time.Until(t))
}
