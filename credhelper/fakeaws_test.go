package credhelper_test

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credhelpers/docker-credential-secretsmanager/internal/fakeaws"
)

// Tests of the binary against internal/fakeaws, for what moto lacks: ECR
// Public, real token expiry, throttling, hanging and proxy-broken
// endpoints, container credentials and AssumeRole. fakeaws verifies every
// request's SigV4 signature.

const ecrHost = fakeaws.Account + ".dkr.ecr.us-west-2.amazonaws.com"

// startFake serves a fake that knows one fresh key, and returns an env
// without the memory agent that signs with that key and sends every AWS
// call to the fake.
func startFake(t *testing.T) (*fakeaws.Server, *helperEnv, fakeaws.Credentials) {
	t.Helper()
	integration(t)
	fake := fakeaws.New()
	key := fakeaws.Credentials{AccessKeyID: "AKIAFAKE" + strings.ToUpper(randomValue(t, "")[:12]), SecretAccessKey: randomValue(t, "key-")}
	fake.AddKey(key)
	l := fakeaws.Listen(fake)
	t.Cleanup(l.Close)
	e := newHelperEnv(t).direct().awsKey(key.AccessKeyID, key.SecretAccessKey).endpoints(l.URL)
	return fake, e, key
}

// lastCall is the fake's last request for op.
func lastCall(t *testing.T, fake *fakeaws.Server, op string) fakeaws.Call {
	t.Helper()
	calls := fake.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Op == op {
			return calls[i]
		}
	}
	t.Fatalf("no %s call reached the fake; calls: %+v", op, calls)
	return fakeaws.Call{}
}

func TestFakeAWSECRPublic(t *testing.T) {
	fake, e, key := startFake(t)
	pass := randomValue(t, "ecr-public-")
	fake.SetECRToken(pass, time.Now().Add(12*time.Hour))
	e.mustGet(t, "public.ecr.aws", "AWS", pass)
	// fakeaws refuses a call not signed for the service "ecr-public"; the
	// call passed, signed with the environment's key.
	if c := lastCall(t, fake, fakeaws.OpECRPublicGetAuthToken); c.Status != http.StatusOK || c.AccessKeyID != key.AccessKeyID {
		t.Errorf("ECR Public call %+v, want HTTP 200 signed by %s", c, key.AccessKeyID)
	}
}

func TestFakeAWSECRTokenExpiry(t *testing.T) {
	fake, e, _ := startFake(t)
	pass := randomValue(t, "ecr-")
	expires := time.Now().Add(11*time.Hour + 17*time.Minute).Truncate(time.Second)
	fake.SetECRToken(pass, expires)

	// Logging is off by default: nothing on stderr.
	e.mustGet(t, ecrHost, "AWS", pass)

	e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_LOG", "info")
	a, r := e.get(t, ecrHost)
	if r.code != 0 || a.Secret != pass {
		t.Fatalf("get with logging: exit %d: %s", r.code, r.stdout)
	}
	if want := "expires=" + expires.UTC().Format(time.RFC3339); !strings.Contains(r.stderr, want) {
		t.Errorf("the info log does not carry the token's expiry %s:\n%s", want, r.stderr)
	}
	if n := fake.Count(fakeaws.OpECRGetAuthToken); n != 2 {
		t.Errorf("%d GetAuthorizationToken calls, want 2", n)
	}
}

func TestFakeAWSThrottling(t *testing.T) {
	t.Run("twice-then-success", func(t *testing.T) {
		fake, e, _ := startFake(t)
		pass := randomValue(t, "throttled-")
		fake.SetSecret("throttled", jsonString(t, map[string]string{"username": "tess", "password": pass}))
		fake.Throttle(2)
		e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "throttled.example.com=throttled")
		e.mustGet(t, "throttled.example.com", "tess", pass)
		if n := fake.Count(fakeaws.OpGetSecretValue); n != 3 {
			t.Errorf("%d GetSecretValue calls, want 3 (two throttled, one answered)", n)
		}
	})
	t.Run("always", func(t *testing.T) {
		fake, e, _ := startFake(t)
		fake.SetSecret("throttled", jsonString(t, map[string]string{"username": "tess", "password": randomValue(t, "throttled-")}))
		fake.Throttle(-1)
		e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "throttled.example.com=throttled",
			"DOCKER_CREDENTIAL_SECRETSMANAGER_TIMEOUT", "60s")
		line := e.mustFail(t, "throttled.example.com", "throttled.example.com", "ThrottlingException", "throttled every attempt")
		if strings.Contains(line, "Timeout") {
			t.Errorf("bounded retries should end before the deadline: %s", line)
		}
		if n := fake.Count(fakeaws.OpGetSecretValue); n < 2 {
			t.Errorf("%d GetSecretValue calls: the helper did not retry", n)
		}
	})
}

func TestFakeAWSHangingEndpoint(t *testing.T) {
	fake, e, _ := startFake(t)
	fake.Hang(true)
	e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "slow.example.com=slow",
		"DOCKER_CREDENTIAL_SECRETSMANAGER_TIMEOUT", "2s")
	// run kills the helper after runTimeout; here it must exit by itself.
	e.mustFail(t, "slow.example.com", "slow.example.com", "Timeout", "DOCKER_CREDENTIAL_SECRETSMANAGER_TIMEOUT")
	if fake.Count(fakeaws.OpGetSecretValue) == 0 {
		t.Error("the request never reached the hanging endpoint")
	}
}

// tarpit accepts connections and never answers, like a filtered metadata
// address; it holds them until the test ends.
func tarpit(t *testing.T) (string, func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + l.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}

func TestFakeAWSNoCredentialsWithSilentIMDS(t *testing.T) {
	fake, e, _ := startFake(t)
	imds, accepted := tarpit(t)
	e.unset("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED")
	e.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds,
		"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "docker.io=dockerhub",
		"DOCKER_CREDENTIAL_SECRETSMANAGER_TIMEOUT", "60s")
	// With a 60 s deadline, only the helper's own bound on finding
	// credentials can end this run with NoCredentials rather than Timeout.
	e.mustFail(t, "docker.io", "docker.io", "NoCredentials", "no AWS credentials found")
	if accepted() == 0 {
		t.Error("the instance metadata endpoint was never asked: the test did not exercise the IMDS bound")
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("%d calls reached AWS without credentials", n)
	}
}

func TestFakeAWSContainerCredentials(t *testing.T) {
	fake, e, _ := startFake(t)
	container := &fakeaws.ContainerCredentials{
		Credentials: fakeaws.Credentials{
			AccessKeyID:     "ASIACODEBUILD0000001",
			SecretAccessKey: randomValue(t, "container-key-"),
			SessionToken:    randomValue(t, "container-token-"),
		},
		Expiration: time.Now().Add(time.Hour),
		AuthToken:  randomValue(t, "container-auth-"),
	}
	fake.AddKey(container.Credentials)
	cl := fakeaws.Listen(container)
	t.Cleanup(cl.Close)
	pass := randomValue(t, "cb-")
	fake.SetSecret("codebuild/dockerhub", jsonString(t, map[string]string{"username": "cody", "password": pass}))

	e.unset("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
	e.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", cl.URL+"/v2/credentials/build",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", container.AuthToken,
		"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "docker.io=codebuild/dockerhub")
	e.mustGet(t, "https://index.docker.io/v1/", "cody", pass)
	if c := lastCall(t, fake, fakeaws.OpGetSecretValue); c.AccessKeyID != container.Credentials.AccessKeyID {
		t.Errorf("GetSecretValue signed by %q, want the container's key %s", c.AccessKeyID, container.Credentials.AccessKeyID)
	}
	if container.Requests() == 0 {
		t.Error("the container credentials endpoint was never asked")
	}
}

func TestFakeAWSAssumeRole(t *testing.T) {
	fake, e, key := startFake(t)
	const role = "arn:aws:iam::" + fakeaws.Account + ":role/registry-pull"
	const deniedRole = "arn:aws:iam::" + fakeaws.Account + ":role/not-trusted"
	roleKey := fake.AddRole(role)
	secret(roleKey.SecretAccessKey, roleKey.SessionToken)
	pass := randomValue(t, "cross-account-")
	fake.SetSecret("shared/dockerhub", jsonString(t, map[string]string{"username": "rolf", "password": pass}))
	e.configFile(map[string]any{"registries": map[string]any{
		"docker.io":          map[string]string{"secret": "shared/dockerhub", "roleArn": role},
		"denied.example.com": map[string]string{"secret": "shared/dockerhub", "roleArn": deniedRole},
	}})

	t.Run("assumed", func(t *testing.T) {
		e.mustGet(t, "docker.io", "rolf", pass)
		if c := lastCall(t, fake, fakeaws.OpAssumeRole); c.AccessKeyID != key.AccessKeyID || c.Status != http.StatusOK {
			t.Errorf("AssumeRole call %+v, want HTTP 200 signed by the base key %s", c, key.AccessKeyID)
		}
		if c := lastCall(t, fake, fakeaws.OpGetSecretValue); c.AccessKeyID != roleKey.AccessKeyID {
			t.Errorf("GetSecretValue signed by %q, want the assumed role's key %s", c.AccessKeyID, roleKey.AccessKeyID)
		}
	})
	t.Run("denied", func(t *testing.T) {
		before := fake.Count(fakeaws.OpGetSecretValue)
		e.mustFail(t, "denied.example.com", "denied.example.com", "AssumeRoleFailed", deniedRole, "AccessDenied")
		if fake.Count(fakeaws.OpGetSecretValue) != before {
			t.Error("GetSecretValue was called although the role could not be assumed")
		}
	})
}

func TestFakeAWSProxyErrorPage(t *testing.T) {
	fake, e, _ := startFake(t)
	fake.ProxyError(http.StatusBadGateway)
	e.set("DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES", "proxied.example.com=proxied")
	e.mustFail(t, "proxied.example.com", "proxied.example.com", "HTTP 502", "502 Bad Gateway")
}
