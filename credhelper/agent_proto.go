package credhelper

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// The agent speaks length-prefixed JSON over its unix socket: a 4-byte
// big-endian length, then one JSON object. One request per connection,
// except that a client told to lead sends its put or fail on the same
// connection, which binds the lease to the client's life.

// Agent operations.
const (
	opGet    = "get"    // a managed registry: hit, or lead, or wait
	opPut    = "put"    // a resolved credential for a key
	opFail   = "fail"   // the leader's resolution failed
	opLookup = "lookup" // a stored (docker login) credential
	opStore  = "store"
	opErase  = "erase"
	opList   = "list"
	opStatus = "status"
	opStop   = "stop"
)

// Agent answers.
const (
	stHit      = "hit"      // here is the credential
	stLead     = "lead"     // nobody is resolving this key: resolve and put
	stWait     = "wait"     // another client is resolving it: keep reading
	stResolve  = "resolve"  // resolve it yourself (the leader died or put nothing cacheable)
	stFailed   = "failed"   // the leader's resolution failed with Error
	stNotFound = "notfound" // no stored credential
	stOK       = "ok"
	stError    = "error" // a malformed request
)

// maxAgentMessage bounds one message in either direction.
const maxAgentMessage = 1 << 20

// agentRequest is one message from a client. Key is a hex digest of the
// cache key inputs (agentKey); no field ever holds a raw AWS secret.
type agentRequest struct {
	Op        string        `json:"op"`
	Key       string        `json:"key,omitempty"`
	Registry  string        `json:"registry,omitempty"`
	ServerURL string        `json:"serverURL,omitempty"`
	Source    string        `json:"source,omitempty"`
	Username  string        `json:"username,omitempty"`
	Secret    string        `json:"secret,omitempty"`
	Expires   time.Time     `json:"expires,omitzero"`
	TTL       time.Duration `json:"ttl,omitempty"`
	// Lease is how long a leader may take to put or fail.
	Lease time.Duration `json:"lease,omitempty"`
	Error string        `json:"error,omitempty"`
}

// agentResponse is one message from the agent.
type agentResponse struct {
	Status   string            `json:"status"`
	Username string            `json:"username,omitempty"`
	Secret   string            `json:"secret,omitempty"`
	Source   string            `json:"source,omitempty"`
	Expires  time.Time         `json:"expires,omitzero"`
	Error    string            `json:"error,omitempty"`
	List     map[string]string `json:"list,omitempty"`
	Info     *AgentStatus      `json:"info,omitempty"`
}

// AgentStatus is what `agent status` shows: what the agent holds, never a
// value.
type AgentStatus struct {
	PID     int           `json:"pid"`
	Started time.Time     `json:"started"`
	Idle    time.Duration `json:"idle"`
	Memory  string        `json:"memory"`
	Entries []AgentEntry  `json:"entries"`
}

// AgentEntry describes one held credential.
type AgentEntry struct {
	Registry string    `json:"registry"`
	Kind     string    `json:"kind"` // "cached" (resolved) or "stored" (docker login)
	Source   string    `json:"source"`
	Expires  time.Time `json:"expires,omitzero"` // when the credential itself expires
	Until    time.Time `json:"until,omitzero"`   // when the agent stops serving it
	Hits     int       `json:"hits"`
	ID       string    `json:"id,omitempty"` // a short salted digest telling identities apart
}

func writeAgentMessage(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxAgentMessage {
		return errors.New("agent message too large")
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err = w.Write(buf)
	wipe(buf)
	wipe(b)
	return err
}

func readAgentMessage(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxAgentMessage {
		return fmt.Errorf("agent message of %d bytes is too large", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	err := json.Unmarshal(b, v)
	wipe(b)
	if err != nil {
		// The decoder's message can quote the input, and the input may
		// carry a secret.
		return errors.New("malformed agent message")
	}
	return nil
}

// wipe zeroes a buffer that held a secret.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
