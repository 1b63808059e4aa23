//go:build !linux

package credhelper

import (
	"errors"
	"net"
	"time"
)

// agentSupported: without SO_PEERCRED the agent could not tell who is
// asking, so it is off and every get resolves directly.
const agentSupported = false

func peerUID(*net.UnixConn) (int, error) {
	return -1, errors.New("peer credentials are not supported on this system")
}

func hardenAgent() string { return "not hardened (unsupported system)" }

func dialAgentSocket(string, time.Duration) (agentConn, int, error) {
	return nil, -1, errors.New("the memory agent is not supported on this system")
}
