package credhelper

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	ecrpublictypes "github.com/aws/aws-sdk-go-v2/service/ecrpublic/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/docker/docker-credential-helpers/credentials"
)

const notFoundText = "credentials not found in native keychain"

// Function-typed fakes for the one-method API interfaces.
type secretGetterFunc func(ctx context.Context, in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error)

func (f secretGetterFunc) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return f(ctx, in)
}

type ecrGetterFunc func(ctx context.Context, in *ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error)

func (f ecrGetterFunc) GetAuthorizationToken(ctx context.Context, in *ecr.GetAuthorizationTokenInput, _ ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error) {
	return f(ctx, in)
}

type ecrPublicGetterFunc func(ctx context.Context, in *ecrpublic.GetAuthorizationTokenInput) (*ecrpublic.GetAuthorizationTokenOutput, error)

func (f ecrPublicGetterFunc) GetAuthorizationToken(ctx context.Context, in *ecrpublic.GetAuthorizationTokenInput, _ ...func(*ecrpublic.Options)) (*ecrpublic.GetAuthorizationTokenOutput, error) {
	return f(ctx, in)
}

// fakeClients is a Clients whose behaviour each test supplies; it counts
// calls so that tests can prove no AWS work happened.
type fakeClients struct {
	secrets   func(ctx context.Context, id Identity) (SecretValueGetter, string, error)
	ecr       func(ctx context.Context, id Identity, reg ECRRegistry) (ECRTokenGetter, error)
	ecrPublic func(ctx context.Context, id Identity) (ECRPublicTokenGetter, error)

	mu    sync.Mutex
	calls []string
}

func (f *fakeClients) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeClients) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var errUnexpectedCall = errors.New("fakeClients: unexpected call")

func (f *fakeClients) SecretsManager(ctx context.Context, id Identity) (SecretValueGetter, string, error) {
	f.record("SecretsManager")
	if f.secrets == nil {
		return nil, "", errUnexpectedCall
	}
	return f.secrets(ctx, id)
}

func (f *fakeClients) ECR(ctx context.Context, id Identity, reg ECRRegistry) (ECRTokenGetter, error) {
	f.record("ECR " + reg.Host)
	if f.ecr == nil {
		return nil, errUnexpectedCall
	}
	return f.ecr(ctx, id, reg)
}

func (f *fakeClients) ECRPublic(ctx context.Context, id Identity) (ECRPublicTokenGetter, error) {
	f.record("ECRPublic")
	if f.ecrPublic == nil {
		return nil, errUnexpectedCall
	}
	return f.ecrPublic(ctx, id)
}

// secretStore answers GetSecretValue from a map of secret id → value and
// records the identity and ids asked for.
type secretStore struct {
	values map[string]string
	err    error

	mu   sync.Mutex
	ids  []Identity
	asks []string
}

func (s *secretStore) clients() *fakeClients {
	return &fakeClients{secrets: func(_ context.Context, id Identity) (SecretValueGetter, string, error) {
		s.mu.Lock()
		s.ids = append(s.ids, id)
		s.mu.Unlock()
		region := id.Region
		if region == "" {
			region = "us-east-1"
		}
		return secretGetterFunc(func(_ context.Context, in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
			s.mu.Lock()
			s.asks = append(s.asks, aws.ToString(in.SecretId))
			s.mu.Unlock()
			if s.err != nil {
				return nil, s.err
			}
			v, ok := s.values[aws.ToString(in.SecretId)]
			if !ok {
				return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
			}
			return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v),
				ARN: aws.String("arn:aws:secretsmanager:" + region + ":123456789012:secret:" + aws.ToString(in.SecretId) + "-AbCdEf")}, nil
		}), region, nil
	}}
}

func ecrToken(user, pass string) *string {
	return aws.String(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))
}

type harness struct {
	helper  *Helper
	clients *fakeClients
	stderr  *bytes.Buffer
}

func newHarness(t *testing.T, clients *fakeClients, kv ...string) *harness {
	t.Helper()
	if clients == nil {
		clients = &fakeClients{}
	}
	cfg := LoadConfig(testEnv(t, kv...))
	stderr := &bytes.Buffer{}
	return &harness{helper: NewHelper(cfg, clients, stderr, slog.New(slog.DiscardHandler)), clients: clients, stderr: stderr}
}

// run executes one protocol command as the binary does and returns what
// it writes to stdout (an error's text included) and whether it failed.
func (h *harness) run(t *testing.T, action, stdin string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := credentials.HandleCommand(h.helper, action, strings.NewReader(stdin), &out)
	if err != nil {
		if out.Len() != 0 {
			t.Errorf("%s wrote %q to stdout before failing", action, out.String())
		}
		return err.Error(), err
	}
	return out.String(), nil
}

func decodeCredentials(t *testing.T, out string) credentials.Credentials {
	t.Helper()
	var c credentials.Credentials
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("stdout %q is not the credentials JSON: %v", out, err)
	}
	return c
}

// fakeFallback installs docker-credential-fake on PATH. It records each
// call's verb and server URL (never a secret) in the returned file, knows
// fallback.example.org and fails list when FAKE_HELPER_FAIL is set.
func fakeFallback(t *testing.T) (calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	script := `#!/bin/sh
calls='` + calls + `'
input=$(cat)
case "$1" in
get)
	echo "get $input" >>"$calls"
	if [ "$input" = "fallback.example.org" ]; then
		printf '{"ServerURL":"%s","Username":"fbuser","Secret":"fb-Secret-5e11"}\n' "$input"
		exit 0
	fi
	echo "credentials not found in native keychain"; exit 1 ;;
store)
	url=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p')
	echo "store $url" >>"$calls" ;;
erase)
	echo "erase $input" >>"$calls"
	[ "$input" = "fallback.example.org" ] || { echo "credentials not found in native keychain"; exit 1; } ;;
list)
	echo "list" >>"$calls"
	if [ -n "$FAKE_HELPER_FAIL" ]; then echo "keychain locked"; exit 1; fi
	echo '{"fallback.example.org":"fbuser"}' ;;
*)
	echo "unknown verb"; exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-fake"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

func readCalls(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(data), " ", "_"))
}

func TestGetUnmanaged(t *testing.T) {
	tests := []struct {
		name      string
		serverURL string
		env       []string
	}{
		{"no configuration", "ghcr.io", nil},
		{"other registry mapped", "ghcr.io", []string{EnvRegistries, "docker.io=hub,*.example.com=wild"}},
		{"repository-scoped key", "ghcr.io/owner/repo", []string{EnvRegistries, "docker.io=hub"}},
		{"docker hub unmapped", "https://index.docker.io/v1/", nil},
		{"wildcard does not cover the apex", "example.com", []string{EnvRegistries, "*.example.com=wild"}},
		{"wildcard does not cover another port", "a.example.com:5000", []string{EnvRegistries, "*.example.com=wild"}},
		{"ECR switched off", "123456789012.dkr.ecr.us-east-1.amazonaws.com", []string{EnvECR, "false"}},
		{"ECR Public switched off", "public.ecr.aws", []string{EnvECRPublic, "off"}},
		{"look-alike host", "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, tt.env...)
			out, err := h.run(t, "get", tt.serverURL+"\n")
			if err == nil || out != notFoundText {
				t.Errorf("get %s: stdout %q, err %v; want exactly %q", tt.serverURL, out, err, notFoundText)
			}
			if calls := h.clients.Calls(); len(calls) != 0 {
				t.Errorf("an unmanaged get made AWS calls: %v", calls)
			}
			if h.stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", h.stderr)
			}
		})
	}
}

func TestGetManagedSecret(t *testing.T) {
	store := &secretStore{values: map[string]string{
		"ci/dockerhub": `{"username":"hubuser","password":"hub-Pass-1"}`,
		"wild":         `{"username":"wilduser","accessToken":"wild-Pass-2"}`,
		"longer":       `{"auths":{"a.corp.example.com":{"auth":"` + b64("corpuser:corp-Pass-3") + `"}}}`,
		"team/quay":    `{"login":"quayuser","token":"quay-Pass-4"}`,
		"arn:aws:secretsmanager:ap-south-1:123456789012:secret:by-arn": `{"username":"arnuser","secret":"arn-Pass-5"}`,
	}}
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgPath, []byte(`{"registries":{"quay.io":{"secret":"team/quay","usernameKey":"login","passwordKey":"token","region":"eu-west-1","profile":"ci"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		EnvConfig, cfgPath,
		EnvRegistries, "docker.io=ci/dockerhub,*.example.com=wild,*.corp.example.com=longer," +
			"ghcr.io=arn:aws:secretsmanager:ap-south-1:123456789012:secret:by-arn",
	}
	tests := []struct {
		name, serverURL          string
		wantUser, wantPass       string
		wantSecretID, wantRegion string
		wantProfile              string
	}{
		{"docker hub key", "https://index.docker.io/v1/", "hubuser", "hub-Pass-1", "ci/dockerhub", "", ""},
		{"docker hub bare", "registry-1.docker.io", "hubuser", "hub-Pass-1", "ci/dockerhub", "", ""},
		{"wildcard", "registry.example.com", "wilduser", "wild-Pass-2", "wild", "", ""},
		{"longest wildcard, docker config", "https://a.corp.example.com/v2/", "corpuser", "corp-Pass-3", "longer", "", ""},
		{"custom keys and options", "quay.io/team/app", "quayuser", "quay-Pass-4", "team/quay", "eu-west-1", "ci"},
		{"ARN carries its region", "ghcr.io", "arnuser", "arn-Pass-5",
			"arn:aws:secretsmanager:ap-south-1:123456789012:secret:by-arn", "ap-south-1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.ids, store.asks = nil, nil
			h := newHarness(t, store.clients(), env...)
			out, err := h.run(t, "get", tt.serverURL)
			if err != nil {
				t.Fatalf("get %s: %v", tt.serverURL, err)
			}
			c := decodeCredentials(t, out)
			want := credentials.Credentials{ServerURL: tt.serverURL, Username: tt.wantUser, Secret: tt.wantPass}
			if c != want {
				t.Errorf("get %s = %+v, want %+v", tt.serverURL, c, want)
			}
			if len(store.asks) != 1 || store.asks[0] != tt.wantSecretID {
				t.Errorf("asked for secrets %v, want [%s]", store.asks, tt.wantSecretID)
			}
			if len(store.ids) != 1 || store.ids[0].Region != tt.wantRegion || store.ids[0].Profile != tt.wantProfile {
				t.Errorf("identities %+v, want region %q profile %q", store.ids, tt.wantRegion, tt.wantProfile)
			}
			if strings.Contains(h.stderr.String(), tt.wantPass) {
				t.Errorf("stderr carries the secret: %q", h.stderr)
			}
		})
	}
}

func TestGetManagedECR(t *testing.T) {
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var gotRegs []ECRRegistry
	var gotIDs []Identity
	clients := &fakeClients{
		ecr: func(_ context.Context, id Identity, reg ECRRegistry) (ECRTokenGetter, error) {
			gotRegs, gotIDs = append(gotRegs, reg), append(gotIDs, id)
			return ecrGetterFunc(func(context.Context, *ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error) {
				return &ecr.GetAuthorizationTokenOutput{AuthorizationData: []ecrtypes.AuthorizationData{{
					AuthorizationToken: ecrToken("AWS", "ecr-Token-"+reg.Region), ExpiresAt: &expires,
					ProxyEndpoint: aws.String("https://" + reg.Host),
				}}}, nil
			}), nil
		},
		ecrPublic: func(_ context.Context, id Identity) (ECRPublicTokenGetter, error) {
			gotIDs = append(gotIDs, id)
			return ecrPublicGetterFunc(func(context.Context, *ecrpublic.GetAuthorizationTokenInput) (*ecrpublic.GetAuthorizationTokenOutput, error) {
				return &ecrpublic.GetAuthorizationTokenOutput{AuthorizationData: &ecrpublictypes.AuthorizationData{
					AuthorizationToken: ecrToken("AWS", "public-Token"), ExpiresAt: &expires}}, nil
			}), nil
		},
	}
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgPath, []byte(`{"registries":{"210987654321.dkr.ecr.eu-north-1.amazonaws.com":{"profile":"other","roleArn":"arn:aws:iam::210987654321:role/pull"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{EnvConfig, cfgPath, EnvRegistries, "mirror.example.com=ecr:123456789012.dkr.ecr.us-west-2.amazonaws.com,pub.example.com=ecr:public.ecr.aws"}
	tests := []struct {
		name, serverURL string
		wantPass        string
		wantReg         ECRRegistry // zero for ECR Public
		wantID          Identity
	}{
		{"private", "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/app", "ecr-Token-eu-west-1",
			ECRRegistry{Host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Account: "123456789012", Region: "eu-west-1"}, Identity{}},
		{"FIPS", "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "ecr-Token-us-gov-west-1",
			ECRRegistry{Host: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", Account: "123456789012", Region: "us-gov-west-1", FIPS: true}, Identity{}},
		{"dual-stack", "123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn", "ecr-Token-cn-north-1",
			ECRRegistry{Host: "123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn", Account: "123456789012", Region: "cn-north-1", DualStack: true}, Identity{}},
		{"entry with options", "210987654321.dkr.ecr.eu-north-1.amazonaws.com", "ecr-Token-eu-north-1",
			ECRRegistry{Host: "210987654321.dkr.ecr.eu-north-1.amazonaws.com", Account: "210987654321", Region: "eu-north-1"},
			Identity{Profile: "other", RoleARN: "arn:aws:iam::210987654321:role/pull"}},
		{"ecr: mapping", "mirror.example.com/team/app", "ecr-Token-us-west-2",
			ECRRegistry{Host: "123456789012.dkr.ecr.us-west-2.amazonaws.com", Account: "123456789012", Region: "us-west-2"}, Identity{}},
		{"public", "public.ecr.aws", "public-Token", ECRRegistry{}, Identity{}},
		{"ecr: public mapping", "pub.example.com", "public-Token", ECRRegistry{}, Identity{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotRegs, gotIDs = nil, nil
			h := newHarness(t, clients, env...)
			out, err := h.run(t, "get", tt.serverURL)
			if err != nil {
				t.Fatalf("get %s: %v", tt.serverURL, err)
			}
			c := decodeCredentials(t, out)
			want := credentials.Credentials{ServerURL: tt.serverURL, Username: "AWS", Secret: tt.wantPass}
			if c != want {
				t.Errorf("get = %+v, want %+v", c, want)
			}
			if tt.wantReg != (ECRRegistry{}) && (len(gotRegs) != 1 || gotRegs[0] != tt.wantReg) {
				t.Errorf("ECR asked for %+v, want %+v", gotRegs, tt.wantReg)
			}
			if tt.wantReg == (ECRRegistry{}) && len(gotRegs) != 0 {
				t.Errorf("ECR Public request went to ECR: %+v", gotRegs)
			}
			if len(gotIDs) != 1 || gotIDs[0] != tt.wantID {
				t.Errorf("identities %+v, want %+v", gotIDs, tt.wantID)
			}
		})
	}
}

func TestGetManagedFailureIsNeverNotFound(t *testing.T) {
	const leak = "leaky-Value-77aa"
	denied := &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	tests := []struct {
		name    string
		clients *fakeClients
		want    []string
	}{
		{"secret missing", (&secretStore{err: denied}).clients(),
			[]string{"docker.io", `secret "ci/dockerhub"`, "secretsmanager:GetSecretValue", "ResourceNotFoundException", "create the secret"}},
		{"secret lacks password", (&secretStore{values: map[string]string{"ci/dockerhub": `{"username":"` + leak + `","pass":"` + leak + `"}`}}).clients(),
			[]string{"docker.io", "no 'password', 'accessToken', 'secret' key"}},
		{"source answers not found", (&secretStore{err: credentials.NewErrCredentialsNotFound()}).clients(),
			[]string{"docker.io", "secretsmanager:ci/dockerhub", "no credentials"}},
		{"no credentials", (&secretStore{err: &credentialsError{Limit: 2 * time.Second, Err: errors.New("no EC2 IMDS role found")}}).clients(),
			[]string{"NoCredentials", "no AWS credentials found"}},
		{"AWS configuration fails", &fakeClients{secrets: func(context.Context, Identity) (SecretValueGetter, string, error) {
			return nil, "", errors.New("loading AWS configuration: failed to get shared config profile, ci")
		}}, []string{"docker.io", "shared config profile", "AWS configuration"}},
		{"no region", &fakeClients{secrets: func(context.Context, Identity) (SecretValueGetter, string, error) {
			return secretGetterFunc(func(context.Context, *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
				return nil, errUnexpectedCall
			}), "", nil
		}}, []string{"NoRegion", "AWS_REGION"}},
		{"deadline", (&secretStore{err: context.DeadlineExceeded}).clients(), []string{"Timeout", "within 15s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := fakeFallback(t)
			h := newHarness(t, tt.clients, EnvRegistries, "docker.io=ci/dockerhub", EnvFallback, "fake")
			out, err := h.run(t, "get", "https://index.docker.io/v1/")
			if err == nil {
				t.Fatalf("get succeeded with %q, want an error", out)
			}
			if IsNotFound(err) || credentials.IsErrCredentialsNotFoundMessage(out) {
				t.Fatalf("a managed failure became not-found: %q", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("error %q does not contain %q", out, w)
				}
			}
			if strings.Contains(out, "\n") || strings.Contains(out, leak) {
				t.Errorf("error %q spans lines or leaks the secret", out)
			}
			if strings.Contains(h.stderr.String(), leak) {
				t.Errorf("stderr %q leaks the secret", h.stderr)
			}
			if got := readCalls(t, calls); len(got) != 0 {
				t.Errorf("the fallback was asked after a managed failure: %v", got)
			}
		})
	}
}

func TestGetECRFailures(t *testing.T) {
	tests := []struct {
		name string
		out  *ecr.GetAuthorizationTokenOutput
		err  error
		want string
	}{
		{"API error", nil, sdkError(400, &smithyAPIError{code: "AccessDeniedException", msg: "User: arn:aws:iam::123456789012:user/ci is not authorized"}),
			"AccessDeniedException (HTTP 400)"},
		{"empty data", &ecr.GetAuthorizationTokenOutput{}, nil, "EmptyAuthorizationData"},
		{"bad token", &ecr.GetAuthorizationTokenOutput{AuthorizationData: []ecrtypes.AuthorizationData{{AuthorizationToken: aws.String("%%%")}}}, nil, "MalformedToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clients := &fakeClients{ecr: func(context.Context, Identity, ECRRegistry) (ECRTokenGetter, error) {
				return ecrGetterFunc(func(context.Context, *ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error) {
					return tt.out, tt.err
				}), nil
			}}
			h := newHarness(t, clients)
			out, err := h.run(t, "get", "123456789012.dkr.ecr.us-east-1.amazonaws.com")
			if err == nil || IsNotFound(err) {
				t.Fatalf("get = %q, %v; want a real error", out, err)
			}
			if !strings.Contains(out, "ecr:GetAuthorizationToken") || !strings.Contains(out, tt.want) {
				t.Errorf("error %q does not name the API and %q", out, tt.want)
			}
		})
	}
}

// smithyAPIError is a minimal smithy.APIError.
type smithyAPIError struct{ code, msg string }

func (e *smithyAPIError) Error() string                 { return e.code + ": " + e.msg }
func (e *smithyAPIError) ErrorCode() string             { return e.code }
func (e *smithyAPIError) ErrorMessage() string          { return e.msg }
func (e *smithyAPIError) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }

func TestBrokenConfigFailsEveryGet(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	tests := []struct {
		name string
		env  []string
		want string // where the message points
	}{
		{"bad env entry", []string{EnvRegistries, "docker.io=ok,quay.io"}, EnvRegistries + `, entry "quay.io"`},
		{"invalid file", []string{EnvConfig, unitFixture("invalid.json")}, unitFixture("invalid.json") + ": not a valid config file: invalid JSON at line 4"},
		{"bad file entry", []string{EnvConfig, unitFixture("bad-entry.json")}, unitFixture("bad-entry.json") + `, entry "quay.io"`},
		{"missing explicit file", []string{EnvConfig, missing}, missing + ": cannot read the config file"},
		{"bad timeout", []string{EnvTimeout, "soon"}, EnvTimeout + ": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, tt.env...)
			for _, url := range []string{"ghcr.io", "https://index.docker.io/v1/", "123456789012.dkr.ecr.us-east-1.amazonaws.com"} {
				out, err := h.run(t, "get", url)
				var ce *ConfigError
				if !errors.As(err, &ce) || IsNotFound(err) {
					t.Errorf("get %s = %q, want the configuration error", url, out)
				}
				if !strings.Contains(out, "configuration error in "+tt.want) {
					t.Errorf("error %q does not point at %q", out, tt.want)
				}
			}
			if calls := h.clients.Calls(); len(calls) != 0 {
				t.Errorf("AWS calls with a broken configuration: %v", calls)
			}
			out, err := h.run(t, "list", "")
			if err != nil {
				t.Errorf("list failed with a broken configuration: %q", out)
			}
			if !strings.Contains(h.stderr.String(), tt.want) {
				t.Errorf("list's stderr %q does not report the configuration error", h.stderr)
			}
		})
	}
}

func TestGetThroughFallback(t *testing.T) {
	calls := fakeFallback(t)
	h := newHarness(t, nil, EnvFallback, "fake", EnvRegistries, "docker.io=hub")
	out, err := h.run(t, "get", "fallback.example.org")
	if err != nil {
		t.Fatalf("get through the fallback: %v", err)
	}
	want := credentials.Credentials{ServerURL: "fallback.example.org", Username: "fbuser", Secret: "fb-Secret-5e11"}
	if c := decodeCredentials(t, out); c != want {
		t.Errorf("get = %+v, want %+v", c, want)
	}
	out, err = h.run(t, "get", "other.example.org")
	if err == nil || out != notFoundText {
		t.Errorf("get unknown = %q, want exactly %q", out, notFoundText)
	}
	if got, want := readCalls(t, calls), []string{"get_fallback.example.org", "get_other.example.org"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("fallback calls %v, want %v", got, want)
	}
	if calls := h.clients.Calls(); len(calls) != 0 {
		t.Errorf("AWS calls for unmanaged registries: %v", calls)
	}
}

func TestStore(t *testing.T) {
	const pass = "login-Pass-3b9f"
	creds := func(url string) string {
		return `{"ServerURL":"` + url + `","Username":"ciuser","Secret":"` + pass + `"}`
	}
	t.Run("managed: success, one notice, nothing stored", func(t *testing.T) {
		calls := fakeFallback(t)
		for _, url := range []string{"https://index.docker.io/v1/", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "public.ecr.aws", "a.example.com"} {
			h := newHarness(t, nil, EnvRegistries, "docker.io=hub,*.example.com=wild", EnvFallback, "fake")
			out, err := h.run(t, "store", creds(url))
			if err != nil || out != "" {
				t.Errorf("store %s = %q, %v; want success and no output", url, out, err)
			}
			lines := strings.Split(strings.TrimSpace(h.stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "managed by "+Name) || !strings.Contains(lines[0], "not stored") {
				t.Errorf("store %s: stderr %q, want one notice", url, h.stderr)
			}
			if strings.Contains(h.stderr.String(), pass) {
				t.Errorf("the notice leaks the password: %q", h.stderr)
			}
			if c := h.clients.Calls(); len(c) != 0 {
				t.Errorf("store made AWS calls: %v", c)
			}
		}
		if got := readCalls(t, calls); len(got) != 0 {
			t.Errorf("a managed login reached the fallback: %v", got)
		}
	})
	t.Run("unmanaged without fallback: says how to configure one", func(t *testing.T) {
		h := newHarness(t, nil, EnvRegistries, "docker.io=hub")
		out, err := h.run(t, "store", creds("ghcr.io"))
		if err == nil {
			t.Fatal("store succeeded without a place to store")
		}
		for _, w := range []string{"ghcr.io", EnvFallback, EnvRegistries, "docker-credential-pass"} {
			if !strings.Contains(out, w) {
				t.Errorf("error %q does not mention %q", out, w)
			}
		}
		if strings.Contains(out, pass) {
			t.Errorf("error leaks the password: %q", out)
		}
	})
	t.Run("unmanaged with fallback: handed over", func(t *testing.T) {
		calls := fakeFallback(t)
		h := newHarness(t, nil, EnvRegistries, "docker.io=hub", EnvFallback, "fake")
		out, err := h.run(t, "store", creds("ghcr.io"))
		if err != nil {
			t.Fatalf("store: %q", out)
		}
		if got := readCalls(t, calls); strings.Join(got, ",") != "store_ghcr.io" {
			t.Errorf("fallback calls %v, want [store ghcr.io]", got)
		}
	})
	t.Run("fallback not installed", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		h := newHarness(t, nil, EnvFallback, "nonexistent")
		out, err := h.run(t, "store", creds("ghcr.io"))
		if err == nil || !strings.Contains(out, "docker-credential-nonexistent is not installed") {
			t.Errorf("store = %q, want a not-installed error", out)
		}
	})
	t.Run("broken configuration", func(t *testing.T) {
		h := newHarness(t, nil, EnvRegistries, "quay.io")
		if out, err := h.run(t, "store", creds("ghcr.io")); err == nil {
			t.Errorf("store = %q, want the configuration error", out)
		}
	})
}

func TestErase(t *testing.T) {
	t.Run("no fallback: never an error", func(t *testing.T) {
		for _, env := range [][]string{nil, {EnvRegistries, "docker.io=hub"}, {EnvRegistries, "quay.io"}} {
			h := newHarness(t, nil, env...)
			for _, url := range []string{"ghcr.io", "https://index.docker.io/v1/", "public.ecr.aws", "not a host"} {
				if out, err := h.run(t, "erase", url); err != nil {
					t.Errorf("env %v: erase %s = %q", env, url, out)
				}
			}
		}
	})
	t.Run("with fallback", func(t *testing.T) {
		calls := fakeFallback(t)
		h := newHarness(t, nil, EnvRegistries, "docker.io=hub", EnvFallback, "fake")
		for _, url := range []string{"https://index.docker.io/v1/", "docker.io", "fallback.example.org", "unknown.example.org"} {
			if out, err := h.run(t, "erase", url); err != nil {
				t.Errorf("erase %s = %q", url, out)
			}
		}
		want := "erase_fallback.example.org,erase_unknown.example.org"
		if got := readCalls(t, calls); strings.Join(got, ",") != want {
			t.Errorf("fallback calls %v, want %s (managed registries stay away from it)", got, want)
		}
	})
}

func TestList(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgPath, []byte(`{"registries":{"123456789012.dkr.ecr.eu-west-1.amazonaws.com":{"profile":"p"},"*.corp.example.com":{"secret":"corp"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	managed := map[string]string{
		"https://index.docker.io/v1/": "secretsmanager:hub",
		"ghcr.io":                     "secretsmanager:ghcr",
		"127.0.0.1:5000":              "secretsmanager:local",
		"mirror.example.com":          "ecr:123456789012.dkr.ecr.us-west-2.amazonaws.com",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com": "ecr:123456789012.dkr.ecr.eu-west-1.amazonaws.com",
	}
	env := []string{EnvConfig, cfgPath, EnvRegistries,
		"registry-1.docker.io=hub,ghcr.io=ghcr,*.example.com=wild,127.0.0.1:5000=local,mirror.example.com=ecr:123456789012.dkr.ecr.us-west-2.amazonaws.com"}
	withFallback := map[string]string{"fallback.example.org": "fbuser"}
	for k, v := range managed {
		withFallback[k] = v
	}
	tests := []struct {
		name       string
		extraEnv   []string
		fail       bool
		want       map[string]string
		wantStderr string
	}{
		{"mapped registries", nil, false, managed, ""},
		{"merged with the fallback", []string{EnvFallback, "fake"}, false, withFallback, ""},
		{"failing fallback", []string{EnvFallback, "fake"}, true, managed, "keychain locked"},
		{"missing fallback", []string{EnvFallback, "nonexistent"}, false, managed, "not installed"},
		{"broken configuration", []string{EnvTimeout, "soon"}, false, managed, "configuration error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := fakeFallback(t)
			if tt.fail {
				t.Setenv("FAKE_HELPER_FAIL", "1")
			}
			h := newHarness(t, nil, append(append([]string{}, env...), tt.extraEnv...)...)
			out, err := h.run(t, "list", "")
			if err != nil {
				t.Fatalf("list failed: %q", out)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("list output %q: %v", out, err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("list = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("list[%q] = %q, want %q", k, got[k], v)
				}
			}
			if tt.wantStderr == "" && h.stderr.Len() != 0 || !strings.Contains(h.stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want %q", h.stderr, tt.wantStderr)
			}
			if c := h.clients.Calls(); len(c) != 0 {
				t.Errorf("list made AWS calls: %v", c)
			}
			if tt.extraEnv == nil {
				if got := readCalls(t, calls); len(got) != 0 {
					t.Errorf("fallback asked without being configured: %v", got)
				}
			}
		})
	}
}

func TestRunVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-v"} {
		t.Run(arg, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run([]string{arg}, strings.NewReader(""), &stdout, &stderr, testEnv(t), "v9.8.7-test")
			want := "docker-credential-secretsmanager (github.com/credhelpers/docker-credential-secretsmanager) v9.8.7-test\n"
			if code != 0 || stdout.String() != want || stderr.Len() != 0 {
				t.Errorf("Run %s = %d, stdout %q, stderr %q; want 0, %q, nothing", arg, code, stdout.String(), stderr.String(), want)
			}
		})
	}
	t.Run("unstamped", func(t *testing.T) {
		var stdout bytes.Buffer
		if code := Run([]string{"version"}, strings.NewReader(""), &stdout, &bytes.Buffer{}, testEnv(t), ""); code != 0 ||
			!strings.HasPrefix(stdout.String(), Name+" ("+ModulePath+") ") || strings.TrimSpace(stdout.String()) == Name+" ("+ModulePath+")" {
			t.Errorf("unstamped version = %q, want name, module path and a version", stdout.String())
		}
	})
}

func TestRunProtocol(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		env        []string
		wantCode   int
		wantStdout string
	}{
		{"unmanaged get", []string{"get"}, "ghcr.io\n", nil, 1, notFoundText + "\n"},
		{"empty list", []string{"list"}, "", nil, 0, "{}\n"},
		{"list", []string{"list"}, "", []string{EnvRegistries, "docker.io=hub"}, 0, `{"https://index.docker.io/v1/":"secretsmanager:hub"}` + "\n"},
		{"erase unknown", []string{"erase"}, "ghcr.io\n", nil, 0, ""},
		{"missing server URL", []string{"get"}, "\n", nil, 1, "no credentials server URL\n"},
		{"no verb", nil, "", nil, 1, ""},
		{"unknown verb", []string{"frobnicate"}, "", nil, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr, testEnv(t, tt.env...), "v1")
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stdout %q)", code, tt.wantCode, stdout.String())
			}
			if tt.wantStdout != "" && stdout.String() != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.wantStdout)
			}
			if tt.wantStdout == "" && tt.wantCode != 0 && !strings.Contains(stdout.String(), "Usage: ") {
				t.Errorf("stdout %q, want the usage", stdout.String())
			}
		})
	}
}
