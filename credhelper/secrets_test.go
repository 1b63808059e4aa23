package credhelper

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// Distinctive values: any error text that contains one leaks the secret.
const (
	leakUser  = "u53r-Distinctive-7f3a"
	leakPass  = "pa55-Distinctive-9c1e"
	leakToken = "t0ken-Distinctive-42bd"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseSecret(t *testing.T) {
	tests := []struct {
		name               string
		value              string
		registry           string
		userKey, passKey   string
		wantUser, wantPass string
	}{
		{"username password", `{"username":"` + leakUser + `","password":"` + leakPass + `"}`, "docker.io", "", "", leakUser, leakPass},
		{"pull-through cache", `{"username":"` + leakUser + `","accessToken":"` + leakPass + `"}`, "docker.io", "", "", leakUser, leakPass},
		{"CDK", `{"username":"` + leakUser + `","secret":"` + leakPass + `"}`, "docker.io", "", "", leakUser, leakPass},
		{"password preferred", `{"username":"u","secret":"s","accessToken":"a","password":"p"}`, "docker.io", "", "", "u", "p"},
		{"accessToken before secret", `{"username":"u","secret":"s","accessToken":"a"}`, "docker.io", "", "", "u", "a"},
		{"extra keys", `{"username":"u","password":"p","note":"x","n":1}`, "docker.io", "", "", "u", "p"},
		{"custom keys", `{"user":"` + leakUser + `","token":"` + leakPass + `","password":"other"}`, "docker.io", "user", "token", leakUser, leakPass},
		{"custom user key only", `{"login":"u","password":"p"}`, "docker.io", "login", "", "u", "p"},
		{"custom keys ignore auths", `{"auths":{},"user":"u","token":"p"}`, "docker.io", "user", "token", "u", "p"},
		{"auths auth", `{"auths":{"ghcr.io":{"auth":"` + b64(leakUser+":"+leakPass) + `"}}}`, "ghcr.io", "", "", leakUser, leakPass},
		{"auths password with colon", `{"auths":{"ghcr.io":{"auth":"` + b64("u:p:q") + `"}}}`, "ghcr.io", "", "", "u", "p:q"},
		{"auths username password", `{"auths":{"ghcr.io":{"username":"u","password":"p"}}}`, "ghcr.io", "", "", "u", "p"},
		{"auths identity token", `{"auths":{"ghcr.io":{"identitytoken":"` + leakToken + `"}}}`, "ghcr.io", "", "", "<token>", leakToken},
		{"auths hub key", `{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("hub:pw") + `"}}}`, "docker.io", "", "", "hub", "pw"},
		{"auths hub bare", `{"auths":{"registry-1.docker.io":{"auth":"` + b64("hub:pw") + `"}}}`, "docker.io", "", "", "hub", "pw"},
		{"auths scheme and case", `{"auths":{"HTTPS://GHCR.IO/":{"auth":"` + b64("g:pw") + `"}}}`, "ghcr.io", "", "", "g", "pw"},
		{"auths picks the registry", `{"auths":{"quay.io":{"auth":"` + b64("q:qq") + `"},"ghcr.io":{"auth":"` + b64("g:gg") + `"}}}`, "ghcr.io", "", "", "g", "gg"},
		{"auths port", `{"auths":{"127.0.0.1:5000":{"auth":"` + b64("l:ll") + `"}}}`, "127.0.0.1:5000", "", "", "l", "ll"},
		{"auths padded", `{"auths":{"ghcr.io":{"auth":" ` + b64("u:p") + `\n"}}}`, "ghcr.io", "", "", "u", "p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := parseSecret([]byte(tt.value), tt.registry, tt.userKey, tt.passKey)
			if err != nil {
				t.Fatalf("parseSecret: %v", err)
			}
			if user != tt.wantUser || pass != tt.wantPass {
				t.Errorf("parseSecret = %q, %q; want %q, %q", user, pass, tt.wantUser, tt.wantPass)
			}
		})
	}
}

func TestParseSecretErrors(t *testing.T) {
	tests := []struct {
		name             string
		value            string
		registry         string
		userKey, passKey string
		want             string // in the message
		wantFix          string // in the fix
	}{
		{"not JSON", leakUser + ":" + leakPass, "docker.io", "", "", "not a JSON object", "username"},
		{"JSON string", `"` + leakPass + `"`, "docker.io", "", "", "not a JSON object", ""},
		{"JSON array", `["` + leakPass + `"]`, "docker.io", "", "", "not a JSON object", ""},
		{"JSON null", `null`, "docker.io", "", "", "not a JSON object", ""},
		{"empty", ``, "docker.io", "", "", "not a JSON object", ""},
		{"truncated", `{"username":"` + leakUser + `","password":"` + leakPass, "docker.io", "", "", "not a JSON object", ""},
		{"missing username", `{"password":"` + leakPass + `"}`, "docker.io", "", "", "no 'username' key", "'username'"},
		{"missing password", `{"username":"` + leakUser + `","pass":"` + leakPass + `"}`, "docker.io", "", "", "no 'password', 'accessToken', 'secret' key", "passwordKey"},
		{"missing custom password", `{"username":"` + leakUser + `","password":"` + leakPass + `"}`, "docker.io", "", "token", "no 'token' key", "'token'"},
		{"missing custom user", `{"username":"` + leakUser + `","password":"` + leakPass + `"}`, "docker.io", "login", "", "no 'login' key", "'login'"},
		{"username not string", `{"username":12345,"password":"` + leakPass + `"}`, "docker.io", "", "", "'username' key is not a non-empty string", ""},
		{"password not string", `{"username":"` + leakUser + `","password":{"v":"` + leakPass + `"}}`, "docker.io", "", "", "'password' key is not a non-empty string", ""},
		{"password empty", `{"username":"` + leakUser + `","password":""}`, "docker.io", "", "", "'password' key is not a non-empty string", ""},
		{"auths not object", `{"auths":"` + leakPass + `"}`, "docker.io", "", "", "'auths' is not an object", ""},
		{"auths entry not object", `{"auths":{"docker.io":"` + leakPass + `"}}`, "docker.io", "", "", "'auths' is not an object", ""},
		{"auths bad base64", `{"auths":{"ghcr.io":{"auth":"` + leakPass + `!!"}}}`, "ghcr.io", "", "", `"ghcr.io" has an 'auth' that is not base64`, "base64"},
		{"auths no colon", `{"auths":{"ghcr.io":{"auth":"` + b64(leakPass) + `"}}}`, "ghcr.io", "", "", "not base64(username:password)", ""},
		{"auths empty password", `{"auths":{"ghcr.io":{"auth":"` + b64(leakUser+":") + `"}}}`, "ghcr.io", "", "", "not base64(username:password)", ""},
		{"auths nothing usable", `{"auths":{"ghcr.io":{"username":"` + leakUser + `"}}}`, "ghcr.io", "", "", "no 'auth' and no 'username'/'password'", ""},
		{"auths no entry", `{"auths":{"quay.io":{"auth":"` + b64(leakUser+":"+leakPass) + `"},"https://index.docker.io/v1/":{"auth":"` + b64(leakUser+":"+leakPass) + `"}}}`,
			"ghcr.io", "", "", "no entry for ghcr.io (it has: https://index.docker.io/v1/, quay.io)", "add an auths entry for ghcr.io"},
		{"auths empty", `{"auths":{}}`, "ghcr.io", "", "", "no entry for ghcr.io", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := parseSecret([]byte(tt.value), tt.registry, tt.userKey, tt.passKey)
			if err == nil {
				t.Fatalf("parseSecret = %q, %q; want an error", user, pass)
			}
			var ce *contentError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, want *contentError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			fix := contentFix(err)
			if fix == "" || !strings.Contains(fix, tt.wantFix) {
				t.Errorf("fix %q does not contain %q", fix, tt.wantFix)
			}
			for _, secret := range []string{leakUser, leakPass, leakToken} {
				if strings.Contains(err.Error(), secret) || strings.Contains(fix, secret) {
					t.Errorf("error %q / fix %q leaks %q", err, fix, secret)
				}
			}
		})
	}
}
