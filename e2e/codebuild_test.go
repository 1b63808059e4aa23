package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/credhelpers/docker-credential-secretsmanager/internal/testserver"
)

// iamSetupRequests is how many unauthenticated requests the strict moto
// accepts: the IAM user, its key, its policy, the role, the role's policy
// and the secret. Every later request must be signed by a known key.
const iamSetupRequests = 6

// scenarioContainerCredentials gives the helper no AWS keys in its
// environment: its identity comes from a loopback container-credentials
// server, as in CodeBuild (which sets the RELATIVE_URI form of the same
// provider). The server hands out temporary role credentials from a moto
// that checks signatures and IAM policies, so a pull succeeds only if the
// helper signed with exactly those credentials.
func (s *suite) scenarioContainerCredentials(t *testing.T) {
	motoURL, role := s.startStrictMoto(t)

	authToken := randomHex(t, 12)
	s.secrets = append(s.secrets, role.secretKey, role.token, authToken)
	var hits, refused atomic.Int32
	var served atomic.Value // the SecretAccessKey handed out
	served.Store(role.secretKey)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/credentials/e2e" || r.Header.Get("Authorization") != authToken {
			refused.Add(1)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId":     role.keyID,
			"SecretAccessKey": served.Load().(string),
			"Token":           role.token,
			"Expiration":      role.expires.UTC().Format(time.RFC3339),
		})
	}))
	t.Cleanup(srv.Close)

	e := s.managedEnv(t, "codebuild").
		without("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY").
		with("AWS_ENDPOINT_URL", motoURL,
			"AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v2/credentials/e2e",
			"AWS_CONTAINER_AUTHORIZATION_TOKEN", authToken)
	for _, r := range []registry{s.private, s.ecr} {
		before := hits.Load()
		s.enginePull(t, e, r)
		if hits.Load() == before || refused.Load() != 0 {
			t.Errorf("pull from %s: the container-credentials server gave %d answers and %d refusals; want the helper to use it",
				r.host, hits.Load()-before, refused.Load())
		}
	}

	// The memory agent would rightly serve what it holds: the checks
	// below need a fresh resolution, so they turn it off.
	off := e.with(envAgent, "off")
	// A wrong secret key in the container credentials: moto refuses the
	// signature, and the helper says so instead of pulling anonymously.
	served.Store(randomHex(t, 20))
	out := s.mustFail(t, off, "", s.tools["docker"], "pull", s.ref(s.private))
	for _, want := range []string{helperName + ": " + s.private.host, "SignatureDoesNotMatch"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull signed with a wrong key: output lacks %q:\n%s", want, out)
		}
	}
	// No container-credentials server and no other source: a clear error.
	srv.Close()
	out = s.mustFail(t, off, "", s.tools["docker"], "pull", s.ref(s.private))
	if !strings.Contains(out, helperName+": "+s.private.host) {
		t.Errorf("pull without container credentials: want the helper's error, got:\n%s", out)
	}
}

// roleCredentials are temporary credentials from sts:AssumeRole.
type roleCredentials struct {
	keyID, secretKey, token string
	expires                 time.Time
}

// startStrictMoto starts a second moto that enforces SigV4 and IAM after
// its setup requests, creates a user allowed to assume a role that may
// read secrets and ECR tokens, stores the private registry's secret, and
// returns the role's temporary credentials.
func (s *suite) startStrictMoto(t *testing.T) (string, roleCredentials) {
	t.Helper()
	e := env{"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "TMPDIR": s.tmp}
	url := testserver.Moto(t, testserver.Options{Name: "moto-iam", LogDir: s.logs, Env: e.list()},
		"INITIAL_NO_AUTH_ACTION_COUNT="+fmt.Sprint(iamSetupRequests))

	// The aws CLI's output is read in memory, never recorded: one answer
	// carries the user's secret key.
	awsEnv := env{"PATH": os.Getenv("PATH"), "HOME": s.home, "TMPDIR": s.tmp,
		"AWS_ACCESS_KEY_ID": "setup", "AWS_SECRET_ACCESS_KEY": "setup", "AWS_DEFAULT_REGION": awsRegion,
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
	iam := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(s.tools["aws"], append([]string{"--endpoint-url", url, "--output", "json", "iam"}, args...)...)
		cmd.Env = awsEnv.list()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws iam %s: %v", args[0], err)
		}
		return out
	}
	const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":%s,"Resource":"*"}]}`
	iam("create-user", "--user-name", "e2e-codebuild")
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	if err := json.Unmarshal(iam("create-access-key", "--user-name", "e2e-codebuild"), &key); err != nil {
		t.Fatal(err)
	}
	s.secrets = append(s.secrets, key.AccessKey.SecretAccessKey)
	iam("put-user-policy", "--user-name", "e2e-codebuild", "--policy-name", "assume",
		"--policy-document", fmt.Sprintf(policy, `"sts:AssumeRole"`))
	var role struct{ Role struct{ Arn string } }
	if err := json.Unmarshal(iam("create-role", "--role-name", "e2e-codebuild",
		"--assume-role-policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`), &role); err != nil {
		t.Fatal(err)
	}
	iam("put-role-policy", "--role-name", "e2e-codebuild", "--policy-name", "pull",
		"--policy-document", fmt.Sprintf(policy, `["secretsmanager:GetSecretValue","ecr:GetAuthorizationToken"]`))
	secret, err := json.Marshal(map[string]string{"username": s.private.user, "password": s.private.password})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sm := secretsmanager.New(secretsmanager.Options{Region: awsRegion, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("setup", "setup", "")})
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secretPrivate), SecretString: aws.String(string(secret))}); err != nil {
		t.Fatalf("creating the secret in the strict moto: %v", err)
	}

	// From here on moto checks every signature.
	stsClient := sts.New(sts.Options{Region: awsRegion, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKey.AccessKeyId, key.AccessKey.SecretAccessKey, "")})
	out, err := stsClient.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role.Role.Arn), RoleSessionName: aws.String("e2e")})
	if err != nil {
		t.Fatalf("sts:AssumeRole in the strict moto: %v", err)
	}
	c := out.Credentials
	return url, roleCredentials{keyID: aws.ToString(c.AccessKeyId), secretKey: aws.ToString(c.SecretAccessKey),
		token: aws.ToString(c.SessionToken), expires: aws.ToTime(c.Expiration)}
}
