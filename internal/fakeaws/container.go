package fakeaws

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// ContainerCredentials serves credentials the way the ECS and CodeBuild
// container provider does (AWS_CONTAINER_CREDENTIALS_FULL_URI). Add its
// Credentials to a Server with AddKey so that calls signed with them pass.
type ContainerCredentials struct {
	Credentials Credentials
	Expiration  time.Time
	// AuthToken, when set, must arrive as the Authorization header, as the
	// SDK sends AWS_CONTAINER_AUTHORIZATION_TOKEN; otherwise 401.
	AuthToken string

	mu       sync.Mutex
	requests int
}

// Requests is the number of credential requests answered or refused.
func (c *ContainerCredentials) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// ServeHTTP implements http.Handler.
func (c *ContainerCredentials) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if c.AuthToken != "" && r.Header.Get("Authorization") != c.AuthToken {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "Unauthorized", "message": "wrong or missing authorization token"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{
		"AccessKeyId":     c.Credentials.AccessKeyID,
		"SecretAccessKey": c.Credentials.SecretAccessKey,
		"Token":           c.Credentials.SessionToken,
		"Expiration":      c.Expiration.UTC().Format(time.RFC3339),
	})
}
