package credhelper_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/credhelpers/docker-credential-secretsmanager/internal/testserver"
)

// motoServer is a moto_server process on a free loopback port.
type motoServer struct {
	url  string
	proc *testserver.Process // nil when the test's cleanup stops it
}

// motoAccount is moto's default account.
const motoAccount = "123456789012"

// stop stops the shared moto (its process group: the pyenv shim forks).
func (m *motoServer) stop() {
	_ = m.proc.Stop()
}

// sharedMoto is the package's moto, started once and stopped by TestMain.
func sharedMoto(t *testing.T) *motoServer {
	t.Helper()
	integration(t)
	suite.motoOnce.Do(func() {
		p, url, err := testserver.LaunchMoto(testserver.Options{LogDir: suite.root})
		if suite.motoErr = err; err == nil {
			suite.moto = &motoServer{url: url, proc: p}
		}
	})
	if suite.motoErr != nil {
		t.Fatal(suite.motoErr)
	}
	return suite.moto
}

// randomValue is a fresh secret value, recorded for the leak check.
func randomValue(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	v := prefix + hex.EncodeToString(b)
	secret(v)
	return v
}

// motoSecrets is a Secrets Manager client for seeding moto.
func motoSecrets(m *motoServer, region, keyID, secretKey string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secretKey, ""),
		BaseEndpoint: aws.String(m.url),
	})
}

// createSecret stores a secret string in moto and returns its ARN.
func createSecret(t *testing.T, c *secretsmanager.Client, name, value string) string {
	t.Helper()
	out, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		t.Fatalf("creating secret %s in moto: %v", name, err)
	}
	return aws.ToString(out.ARN)
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMotoSecretLayouts(t *testing.T) {
	m := sharedMoto(t)
	sm := motoSecrets(m, "us-east-1", "testing", "testing")
	smEU := motoSecrets(m, "eu-west-1", "testing", "testing")
	prefix := "layouts-" + strings.ToLower(randomValue(t, "")[:8]) + "/"

	type layout struct {
		name, registry, secretValue, user, pass string
	}
	var layouts []layout
	add := func(name, registry, user, pass string, doc any) {
		layouts = append(layouts, layout{name, registry, jsonString(t, doc), user, pass})
	}
	p := randomValue(t, "pw-")
	add("username-password", "password.example.com", "alice", p, map[string]string{"username": "alice", "password": p})
	p = randomValue(t, "pat-")
	add("username-accessToken", "token.example.com", "bob", p, map[string]string{"username": "bob", "accessToken": p})
	p = randomValue(t, "cdk-")
	add("username-secret", "cdk.example.com", "carol", p, map[string]string{"username": "carol", "secret": p})
	p = randomValue(t, "auth-")
	add("docker-config-auth", "auth.example.com:5443", "dave", p, map[string]any{"auths": map[string]any{
		"other.example.com":             map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte("x:" + randomValue(t, "other-")))},
		"https://auth.example.com:5443": map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte("dave:" + p))},
	}})
	p = randomValue(t, "fields-")
	add("docker-config-fields", "fields.example.com", "erin", p, map[string]any{"auths": map[string]any{
		"fields.example.com": map[string]string{"username": "erin", "password": p},
	}})
	p = randomValue(t, "custom-")
	add("custom-keys", "custom.example.com", "frank", p, map[string]string{"login": "frank", "apiKey": p, "password": "not-this-one"})

	registries := map[string]any{}
	for _, l := range layouts {
		arn := createSecret(t, sm, prefix+l.name, l.secretValue)
		entry := map[string]string{"secret": prefix + l.name}
		if l.name == "custom-keys" {
			entry["usernameKey"], entry["passwordKey"] = "login", "apiKey"
		}
		if l.name == "docker-config-auth" {
			entry["secret"] = arn // a same-region ARN works too
		}
		registries[l.registry] = entry
	}
	// By ARN, in another region than AWS_REGION: only the ARN's region finds it.
	pEU := randomValue(t, "eu-")
	arnEU := createSecret(t, smEU, prefix+"eu", jsonString(t, map[string]string{"username": "gina", "password": pEU}))

	e := newHelperEnv(t).direct().awsKey("testing", "testing").endpoints(m.url)
	e.configFile(map[string]any{"registries": registries})
	e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "arn.example.com="+arnEU)

	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			e.mustGet(t, l.registry, l.user, l.pass)
		})
	}
	t.Run("arn-in-other-region", func(t *testing.T) {
		e.mustGet(t, "arn.example.com", "gina", pEU)
		e.mustGet(t, "https://arn.example.com/v2/team/app", "gina", pEU) // a repository-scoped key, as crane asks
	})
}

// motoECRToken asks moto for its (fixed) ECR token, as the expectation.
func motoECRToken(t *testing.T, m *motoServer, region string) (string, string) {
	t.Helper()
	c := ecr.New(ecr.Options{Region: region, Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""), BaseEndpoint: aws.String(m.url)})
	out, err := c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(string(dec), ":")
	secret(pass)
	return user, pass
}

func TestMotoECR(t *testing.T) {
	m := sharedMoto(t)
	user, pass := motoECRToken(t, m, "eu-west-1")
	e := newHelperEnv(t).direct().awsKey("testing", "testing").endpoints(m.url)
	e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "127.0.0.1:5999=ecr:"+motoAccount+".dkr.ecr.eu-west-1.amazonaws.com")

	t.Run("private-host", func(t *testing.T) {
		e.mustGet(t, motoAccount+".dkr.ecr.eu-west-1.amazonaws.com", user, pass)
	})
	t.Run("ecr-mapping-of-local-host", func(t *testing.T) {
		e.mustGet(t, "127.0.0.1:5999", user, pass)
	})
}

func TestMotoMissingSecret(t *testing.T) {
	m := sharedMoto(t)
	e := newHelperEnv(t).direct().awsKey("testing", "testing").endpoints(m.url)
	e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "missing.example.com=no/such/secret")
	e.mustFail(t, "missing.example.com",
		"missing.example.com", `"no/such/secret"`, "ResourceNotFoundException", "fix: create the secret")
}

// tripwire is a listener that counts connections and answers none: an
// endpoint that must not be contacted.
type tripwire struct {
	l     net.Listener
	conns chan struct{}
}

func newTripwire(t *testing.T) *tripwire {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tw := &tripwire{l: l, conns: make(chan struct{}, 1000)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			tw.conns <- struct{}{}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	return tw
}

func (tw *tripwire) url() string { return "http://" + tw.l.Addr().String() }
func (tw *tripwire) count() int  { return len(tw.conns) }

func TestUnmanagedRegistryMakesNoAWSCall(t *testing.T) {
	tw := newTripwire(t)
	e := newHelperEnv(t).awsKey("AKIATRIPWIRE", "tripwire-secret").endpoints(tw.url())
	e.set("AWS_ENDPOINT_URL", tw.url(), "AWS_EC2_METADATA_SERVICE_ENDPOINT", tw.url())
	e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "managed.example.com=some/secret,*.corp.example.com=corp/secret")

	for _, u := range []string{"ghcr.io", "https://index.docker.io/v1/", "quay.io/org/repo", "127.0.0.1:5000", "corp.example.com"} {
		_, r := e.get(t, u)
		if r.code != 1 || strings.TrimSpace(r.stdout) != notFound {
			t.Errorf("get %s: exit %d, stdout %q; want exit 1 and exactly %q", u, r.code, r.stdout, notFound)
		}
		if r.stderr != "" {
			t.Errorf("get %s: stderr %q", u, r.stderr)
		}
	}
	if n := tw.count(); n != 0 {
		t.Fatalf("unmanaged gets opened %d connections to the AWS endpoint", n)
	}
	// The tripwire catches a managed get, so the zero above means something.
	e.mustFail(t, "managed.example.com", "managed.example.com")
	if tw.count() == 0 {
		t.Fatal("the managed get did not reach the tripwire endpoint: the check above proves nothing")
	}
}

// iamCall makes one IAM query-protocol call to moto, signed with key.
func iamCall(t *testing.T, m *motoServer, params url.Values) []byte {
	t.Helper()
	params.Set("Version", "2010-05-08")
	body := params.Encode()
	req, err := http.NewRequest(http.MethodPost, m.url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("IAM %s: HTTP %d: %s %v", params.Get("Action"), resp.StatusCode, out, err)
	}
	return out
}

// iamUser creates a user with an inline policy allowing actions and
// returns its new access key.
func iamUser(t *testing.T, m *motoServer, name string, actions ...string) (string, string) {
	t.Helper()
	iamCall(t, m, url.Values{"Action": {"CreateUser"}, "UserName": {name}})
	var key struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	if err := xml.Unmarshal(iamCall(t, m, url.Values{"Action": {"CreateAccessKey"}, "UserName": {name}}), &key); err != nil || key.ID == "" {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	policy := jsonString(t, map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Allow", "Action": actions, "Resource": "*"},
	}})
	iamCall(t, m, url.Values{"Action": {"PutUserPolicy"}, "UserName": {name}, "PolicyName": {"pull"}, "PolicyDocument": {policy}})
	secret(key.Secret)
	return key.ID, key.Secret
}

// TestMotoIAM runs moto with authentication and IAM on, as on AWS: after
// the first setupRequests calls every request needs a key moto's IAM knows
// and a policy that allows it.
func TestMotoIAM(t *testing.T) {
	integration(t)
	const setupRequests = 7 // CreateSecret + 2 × (CreateUser, CreateAccessKey, PutUserPolicy)
	m := &motoServer{url: testserver.Moto(t, testserver.Options{}, "INITIAL_NO_AUTH_ACTION_COUNT="+strconv.Itoa(setupRequests))}

	pass := randomValue(t, "iam-")
	createSecret(t, motoSecrets(m, "us-east-1", "testing", "testing"), "iam/dockerhub", jsonString(t, map[string]string{"username": "ivan", "password": pass}))
	allowedID, allowedSecret := iamUser(t, m, "puller", "secretsmanager:GetSecretValue")
	deniedID, deniedSecret := iamUser(t, m, "ecr-only", "ecr:GetAuthorizationToken")

	newEnv := func(t *testing.T, id, secretKey string) *helperEnv {
		e := newHelperEnv(t).direct().awsKey(id, secretKey).endpoints(m.url)
		return e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "docker.io=iam/dockerhub")
	}
	t.Run("permitted", func(t *testing.T) {
		newEnv(t, allowedID, allowedSecret).mustGet(t, "https://index.docker.io/v1/", "ivan", pass)
	})
	t.Run("policy-without-GetSecretValue", func(t *testing.T) {
		newEnv(t, deniedID, deniedSecret).mustFail(t, "https://index.docker.io/v1/",
			"docker.io", "AccessDenied", "HTTP 403", "grant secretsmanager:GetSecretValue")
	})
	t.Run("wrong-access-key-id", func(t *testing.T) {
		newEnv(t, "AKIAWRONGWRONGWRONG1", allowedSecret).mustFail(t, "docker.io",
			"InvalidClientTokenId", "HTTP 403", "access key is not valid")
	})
	t.Run("wrong-secret-key", func(t *testing.T) {
		newEnv(t, allowedID, "wrong-"+allowedSecret).mustFail(t, "docker.io",
			"SignatureDoesNotMatch", "HTTP 403", "secret access key does not match")
	})
}
