//go:build !linux

package credhelper

import (
	"errors"
	"net"
)

// agentSupported: without SO_PEERCRED the agent could not tell who is
// asking, so it is off and every get resolves directly.
const agentSupported = false

func peerUID(*net.UnixConn) (int, error) {
	return -1, errors.New("peer credentials are not supported on this system")
}

func hardenAgent() string { return "not hardened (unsupported system)" }
