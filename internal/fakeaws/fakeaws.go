// Package fakeaws is a small AWS endpoint for tests of what moto lacks:
// ECR Public, ECR tokens with a real expiry, throttling, hanging and
// proxy-broken answers, STS AssumeRole and container credentials.
//
// It speaks the JSON 1.1 protocol for secretsmanager.GetSecretValue, ECR
// and ECR Public GetAuthorizationToken, and the query protocol for
// sts:AssumeRole. Every request must carry a valid SigV4 signature made
// with a key the server knows, as on AWS: the server re-signs the request
// with aws-sdk-go-v2's signer and compares.
package fakeaws

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Operations, as counted by Count and recorded in Calls. The JSON ones are
// the X-Amz-Target values clients send.
const (
	OpGetSecretValue        = "secretsmanager.GetSecretValue"
	OpECRGetAuthToken       = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
	OpECRPublicGetAuthToken = "SpencerFrontendService.GetAuthorizationToken"
	OpAssumeRole            = "sts.AssumeRole"
)

// signingNames is the SigV4 service name each operation must be signed
// for; a client that signs ECR Public calls as "ecr" fails like on AWS.
var signingNames = map[string]string{
	OpGetSecretValue:        "secretsmanager",
	OpECRGetAuthToken:       "ecr",
	OpECRPublicGetAuthToken: "ecr-public",
	OpAssumeRole:            "sts",
}

// Account is the account id in the ARNs the server makes up.
const Account = "123456789012"

// Call is one request the server received.
type Call struct {
	Op          string // one of the Op constants, or the unknown target
	AccessKeyID string // the key that signed it; empty when unsigned
	Status      int    // the HTTP status answered
}

// Credentials are AWS credentials the server accepts or hands out.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // empty for long-term keys
}

// Server is the fake endpoint. Configure it with its methods, which are
// safe to call while it serves; the zero value is not usable, use New.
type Server struct {
	mu         sync.Mutex
	keys       map[string]Credentials
	secrets    map[string]string
	roles      map[string]Credentials
	ecrToken   string
	ecrExpiry  time.Time
	throttle   int // calls still to throttle; negative: all
	hang       bool
	proxyError int
	calls      []Call
	done       chan struct{}
	closeOnce  sync.Once
}

// New returns a server that knows no keys, secrets or roles, answers ECR
// token requests with an empty-password error until SetECRToken, and
// neither throttles nor hangs.
func New() *Server {
	return &Server{
		keys:    map[string]Credentials{},
		secrets: map[string]string{},
		roles:   map[string]Credentials{},
		done:    make(chan struct{}),
	}
}

// AddKey makes the server accept requests signed with c.
func (s *Server) AddKey(c Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[c.AccessKeyID] = c
}

// SetSecret stores a secret string under a name; GetSecretValue finds it
// by that name or by the ARN that SecretARN returns.
func (s *Server) SetSecret(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[name] = value
}

// SecretARN is the ARN the server reports for a secret name in region.
func SecretARN(region, name string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", region, Account, name)
}

// SetECRToken sets the password ECR and ECR Public tokens carry (user AWS)
// and their expiry.
func (s *Server) SetECRToken(password string, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ecrToken, s.ecrExpiry = password, expires
}

// AddRole lets any known key assume roleARN and returns the temporary
// credentials AssumeRole hands out for it, which the server then accepts.
// AssumeRole of a role not added is denied (AccessDenied, HTTP 403).
func (s *Server) AddRole(roleARN string) Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.roles) + 1
	c := Credentials{
		AccessKeyID:     fmt.Sprintf("ASIAFAKEROLE%08d", n),
		SecretAccessKey: fmt.Sprintf("fake-role-secret-%d-%d", n, time.Now().UnixNano()),
		SessionToken:    fmt.Sprintf("fake-role-session-%d", n),
	}
	s.roles[roleARN] = c
	s.keys[c.AccessKeyID] = c
	return c
}

// Throttle answers the next n JSON calls with ThrottlingException (HTTP
// 400); n < 0 throttles every call.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// Hang makes every request wait, unanswered, until the client goes away or
// the server closes.
func (s *Server) Hang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = on
}

// ProxyError makes every request get an HTML error page with this status,
// as a proxy in front of AWS would answer; 0 turns it off.
func (s *Server) ProxyError(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proxyError = status
}

// Count is the number of requests received for an operation, including
// rejected ones.
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Calls returns every request received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Close releases requests held by Hang. It does not stop a listener; see
// Listen.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, op, err := readOperation(r)
	call := Call{Op: op}
	status := s.serve(w, r, body, err, &call)
	call.Status = status
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte, readErr error, call *Call) int {
	s.mu.Lock()
	hang, proxy := s.hang, s.proxyError
	s.mu.Unlock()
	if hang {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return 0
	}
	if proxy != 0 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(proxy)
		text := http.StatusText(proxy)
		fmt.Fprintf(w, "<html>\n<head><title>%d %s</title></head>\n<body><center><h1>%d %s</h1></center><hr><center>nginx</center></body>\n</html>\n", proxy, text, proxy, text)
		return proxy
	}
	if readErr != nil {
		return writeJSONError(w, http.StatusBadRequest, "SerializationException", readErr.Error())
	}

	s.mu.Lock()
	keys := s.keys
	key, code, msg := verify(r, body, signingNames[call.Op], func(id string) (Credentials, bool) {
		c, ok := keys[id]
		return c, ok
	})
	s.mu.Unlock()
	call.AccessKeyID = key
	if code != "" {
		if call.Op == OpAssumeRole {
			return writeQueryError(w, http.StatusForbidden, code, msg)
		}
		return writeJSONError(w, http.StatusForbidden, code, msg)
	}

	if call.Op == OpAssumeRole {
		return s.assumeRole(w, body)
	}
	s.mu.Lock()
	throttled := s.throttle != 0
	if s.throttle > 0 {
		s.throttle--
	}
	s.mu.Unlock()
	if throttled {
		return writeJSONError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	}
	switch call.Op {
	case OpGetSecretValue:
		return s.getSecretValue(w, r, body)
	case OpECRGetAuthToken:
		return s.ecrAuthToken(w, r, false)
	case OpECRPublicGetAuthToken:
		return s.ecrAuthToken(w, r, true)
	}
	return writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "unknown operation "+call.Op)
}

func (s *Server) getSecretValue(w http.ResponseWriter, r *http.Request, body []byte) int {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.SecretID == "" {
		return writeJSONError(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required")
	}
	region := regionOf(r)
	name := in.SecretID
	if strings.HasPrefix(name, "arn:") {
		// arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf
		parts := strings.SplitN(name, ":", 7)
		if len(parts) == 7 {
			region = parts[3]
			name = strings.TrimSuffix(parts[6], "-AbCdEf")
		}
		if in.SecretID != SecretARN(region, name) {
			name = ""
		}
	}
	s.mu.Lock()
	value, ok := s.secrets[name]
	s.mu.Unlock()
	if !ok {
		return writeJSONError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	}
	return writeJSON(w, map[string]any{
		"ARN":           SecretARN(region, name),
		"Name":          name,
		"SecretString":  value,
		"VersionId":     "00000000-0000-0000-0000-000000000001",
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   float64(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()),
	})
}

func (s *Server) ecrAuthToken(w http.ResponseWriter, r *http.Request, public bool) int {
	s.mu.Lock()
	password, expires := s.ecrToken, s.ecrExpiry
	s.mu.Unlock()
	if password == "" {
		return writeJSONError(w, http.StatusBadRequest, "ServerException", "no ECR token configured in the fake")
	}
	data := map[string]any{
		"authorizationToken": base64.StdEncoding.EncodeToString([]byte("AWS:" + password)),
		"expiresAt":          float64(expires.Unix()),
	}
	if public {
		return writeJSON(w, map[string]any{"authorizationData": data})
	}
	data["proxyEndpoint"] = fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", Account, regionOf(r))
	return writeJSON(w, map[string]any{"authorizationData": []any{data}})
}

func (s *Server) assumeRole(w http.ResponseWriter, body []byte) int {
	form, err := parseForm(body)
	if err != nil {
		return writeQueryError(w, http.StatusBadRequest, "MalformedInput", err.Error())
	}
	roleARN := form.Get("RoleArn")
	s.mu.Lock()
	c, ok := s.roles[roleARN]
	s.mu.Unlock()
	if !ok {
		return writeQueryError(w, http.StatusForbidden, "AccessDenied",
			fmt.Sprintf("User: arn:aws:iam::%s:user/fake is not authorized to perform: sts:AssumeRole on resource: %s", Account, roleARN))
	}
	session := form.Get("RoleSessionName")
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>%s</AccessKeyId>
      <SecretAccessKey>%s</SecretAccessKey>
      <SessionToken>%s</SessionToken>
      <Expiration>%s</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAFAKE:%s</AssumedRoleId>
      <Arn>%s/%s</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata>
</AssumeRoleResponse>
`, xmlEscape(c.AccessKeyID), xmlEscape(c.SecretAccessKey), xmlEscape(c.SessionToken),
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339), xmlEscape(session), xmlEscape(roleARN), xmlEscape(session))
	return http.StatusOK
}

// Listener is a fake (or any handler) serving on a loopback port.
type Listener struct {
	// URL is the base URL to use as an AWS endpoint, http://127.0.0.1:PORT.
	URL string
	srv *httptest.Server
}

// Listen serves h on 127.0.0.1:0. Close stops it; requests still held by
// a hanging Server are cut when their connections close.
func Listen(h http.Handler) *Listener {
	srv := httptest.NewServer(h)
	return &Listener{URL: srv.URL, srv: srv}
}

// Close stops the listener and closes every connection.
func (l *Listener) Close() {
	if s, ok := l.srv.Config.Handler.(*Server); ok {
		s.Close()
	}
	l.srv.CloseClientConnections()
	l.srv.Close()
}

func writeJSON(w http.ResponseWriter, v any) int {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// writeJSONError answers an error the way JSON 1.1 services do.
func writeJSONError(w http.ResponseWriter, status int, code, msg string) int {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	return status
}

// writeQueryError answers an error the way query-protocol services (STS) do.
func writeQueryError(w http.ResponseWriter, status int, code, msg string) int {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake-request</RequestId></ErrorResponse>`,
		xmlEscape(code), xmlEscape(msg))
	return status
}
