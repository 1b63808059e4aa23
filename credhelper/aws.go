package credhelper

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Identity selects the AWS configuration a call runs with. Calls that
// share an Identity share one loaded configuration and credentials.
type Identity struct {
	Region  string // empty: the SDK's default (AWS_REGION, the profile)
	Profile string // empty: AWS_PROFILE or default
	RoleARN string // empty: no role to assume
}

// SecretValueGetter is the one Secrets Manager call the helper makes.
type SecretValueGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ECRTokenGetter is the one ECR call the helper makes.
type ECRTokenGetter interface {
	GetAuthorizationToken(ctx context.Context, in *ecr.GetAuthorizationTokenInput, opts ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error)
}

// ECRPublicTokenGetter is the one ECR Public call the helper makes.
type ECRPublicTokenGetter interface {
	GetAuthorizationToken(ctx context.Context, in *ecrpublic.GetAuthorizationTokenInput, opts ...func(*ecrpublic.Options)) (*ecrpublic.GetAuthorizationTokenOutput, error)
}

// Clients hands out API clients for an identity. The AWS implementation
// loads the SDK configuration lazily, on the first call that needs it, so
// that requests for unmanaged registries never touch AWS.
type Clients interface {
	SecretsManager(ctx context.Context, id Identity) (SecretValueGetter, string, error)
	ECR(ctx context.Context, id Identity, reg ECRRegistry) (ECRTokenGetter, error)
	ECRPublic(ctx context.Context, id Identity) (ECRPublicTokenGetter, error)
}

// credentialsTimeout bounds finding AWS credentials. The SDK's default
// chain ends at the EC2 instance metadata service; off EC2 an address that
// accepts connections and never answers would otherwise hold a pull for the
// whole deadline.
const credentialsTimeout = 2 * time.Second

// retryAttempts and retryMaxBackoff bound retries of throttled or failed
// calls so that a persistent failure is reported within the deadline.
const (
	retryAttempts   = 3
	retryMaxBackoff = time.Second
)

// AWSClients is the Clients implementation backed by aws-sdk-go-v2.
type AWSClients struct {
	Log *slog.Logger

	mu      sync.Mutex
	configs map[Identity]*loadedConfig
}

type loadedConfig struct {
	once sync.Once
	cfg  aws.Config
	err  error
}

// NewAWSClients returns clients that load AWS configuration on demand.
func NewAWSClients(log *slog.Logger) *AWSClients {
	return &AWSClients{Log: log, configs: map[Identity]*loadedConfig{}}
}

func (a *AWSClients) config(ctx context.Context, id Identity) (aws.Config, error) {
	a.mu.Lock()
	lc, ok := a.configs[id]
	if !ok {
		lc = &loadedConfig{}
		a.configs[id] = lc
	}
	a.mu.Unlock()
	lc.once.Do(func() { lc.cfg, lc.err = a.load(ctx, id) })
	return lc.cfg, lc.err
}

func (a *AWSClients) load(ctx context.Context, id Identity) (aws.Config, error) {
	start := time.Now()
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = retryAttempts
				o.MaxBackoff = retryMaxBackoff
			})
		}),
		config.WithBeforeDeserialization(rawErrorBody{}),
	}
	if id.Region != "" {
		opts = append(opts, config.WithRegion(id.Region))
	}
	if id.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(id.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	cfg.Credentials = aws.NewCredentialsCache(boundedCredentials{inner: cfg.Credentials, limit: credentialsTimeout})
	if id.RoleARN != "" {
		role := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), id.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = Name
		})
		cfg.Credentials = aws.NewCredentialsCache(assumeRoleCredentials{inner: role, role: id.RoleARN})
	}
	a.Log.Debug("loaded AWS configuration", "region", cfg.Region, "profile", id.Profile, "role", id.RoleARN, "took", time.Since(start))
	return cfg, nil
}

// Config returns the SDK configuration loaded for id, the one the
// helper's own clients use: same credential chain (bounded, assuming
// id.RoleARN), retries, endpoint settings and error-body interceptor, so
// that other commands' AWS calls behave and fail like get's.
func (a *AWSClients) Config(ctx context.Context, id Identity) (aws.Config, error) {
	return a.config(ctx, id)
}

// DescribeAWSError describes an error of a client built from Config on
// one line, the way get reports its own: the AWS error code (from JSON,
// XML or HTML answers alike, or one of the helper's codes such as
// NoCredentials, Timeout or NetworkError), the HTTP status and AWS's
// message.
func DescribeAWSError(err error) string {
	return describeInner(classify(err))
}

// AWSFix is the fix for a failure of such a client that depends on the
// caller's credentials, the network or the endpoint rather than on a
// resource; endpointEnv names the variable that overrides the endpoint.
func AWSFix(err error, endpointEnv string) string {
	if fix := commonFix(classify(err), endpointEnv, DefaultTimeout.String()); fix != "" {
		return fix
	}
	return "check the network and " + endpointEnv + " if you set it"
}

// SecretsManager returns a Secrets Manager client and the region it calls.
func (a *AWSClients) SecretsManager(ctx context.Context, id Identity) (SecretValueGetter, string, error) {
	cfg, err := a.config(ctx, id)
	if err != nil {
		return nil, "", err
	}
	return secretsmanager.NewFromConfig(cfg), cfg.Region, nil
}

// ECR returns an ECR client for the registry's region, using the FIPS or
// dual-stack endpoint when the registry host is one.
func (a *AWSClients) ECR(ctx context.Context, id Identity, reg ECRRegistry) (ECRTokenGetter, error) {
	id.Region = reg.Region
	cfg, err := a.config(ctx, id)
	if err != nil {
		return nil, err
	}
	return ecr.NewFromConfig(cfg, func(o *ecr.Options) {
		if reg.FIPS {
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
		if reg.DualStack {
			o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
		}
	}), nil
}

// ECRPublic returns an ECR Public client; its API lives in us-east-1 only.
func (a *AWSClients) ECRPublic(ctx context.Context, id Identity) (ECRPublicTokenGetter, error) {
	id.Region = ecrPublicRegion
	cfg, err := a.config(ctx, id)
	if err != nil {
		return nil, err
	}
	return ecrpublic.NewFromConfig(cfg), nil
}

// credentialsError marks a failure to find AWS credentials at all.
type credentialsError struct {
	Limit time.Duration
	Err   error
}

func (e *credentialsError) Error() string { return "no AWS credentials: " + e.Err.Error() }
func (e *credentialsError) Unwrap() error { return e.Err }

// boundedCredentials gives the default credential chain at most limit.
type boundedCredentials struct {
	inner aws.CredentialsProvider
	limit time.Duration
}

func (b boundedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, b.limit)
	defer cancel()
	c, err := b.inner.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{Limit: b.limit, Err: err}
	}
	return c, nil
}

// assumeRoleError marks a failure of sts:AssumeRole for a configured role.
type assumeRoleError struct {
	Role string
	Err  error
}

func (e *assumeRoleError) Error() string { return "assuming " + e.Role + ": " + e.Err.Error() }
func (e *assumeRoleError) Unwrap() error { return e.Err }

type assumeRoleCredentials struct {
	inner aws.CredentialsProvider
	role  string
}

func (a assumeRoleCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := a.inner.Retrieve(ctx)
	if err != nil {
		var credErr *credentialsError
		if errors.As(err, &credErr) {
			return c, err // no base credentials: report that, not the role
		}
		return c, &assumeRoleError{Role: a.role, Err: err}
	}
	return c, nil
}

// rawHTTPError is an AWS error response whose body is not the JSON the SDK
// expects: moto's IAM mode answers in XML, proxies in HTML.
type rawHTTPError struct {
	Status  int
	Code    string
	Message string
}

func (e *rawHTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// RetryableError lets the SDK's retryer treat throttling and server
// failures reported in a foreign format like their JSON counterparts.
func (e *rawHTTPError) RetryableError() bool {
	return e.Status == 429 || e.Status >= 500
}

// rawErrorBody is a BeforeDeserialization interceptor that turns non-JSON
// error responses into rawHTTPError, keeping the code and message found in
// the body and the HTTP status.
type rawErrorBody struct{}

const maxErrorBody = 64 << 10

var (
	// Compiled on first use: every invocation pays for package-level
	// regexps at start, and these serve only failures.
	xmlCode    = lazyRegexp(`<Code>([^<]*)</Code>`)
	xmlMessage = lazyRegexp(`<Message>([^<]*)</Message>`)
	htmlTitle  = lazyRegexp(`(?is)<title>(.*?)</title>`)
)

func (rawErrorBody) BeforeDeserialization(ctx context.Context, in *smithyhttp.InterceptorContext) error {
	resp := in.Response
	if resp == nil || resp.StatusCode < 300 || resp.Body == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return nil // let the SDK report what it can
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return nil // the SDK's own error deserializer handles JSON
	}
	e := &rawHTTPError{Status: resp.StatusCode}
	switch {
	case bytes.HasPrefix(trimmed, []byte("<")) && xmlCode().Match(trimmed):
		if m := xmlCode().FindSubmatch(trimmed); m != nil {
			e.Code = xmlText(m[1])
		}
		if m := xmlMessage().FindSubmatch(trimmed); m != nil {
			e.Message = xmlText(m[1])
		}
	case htmlTitle().Match(trimmed):
		e.Message = strings.TrimSpace(string(htmlTitle().FindSubmatch(trimmed)[1]))
	default:
		e.Message = string(trimmed)
	}
	if e.Code == "" {
		if t := resp.Header.Get("X-Amzn-Errortype"); t != "" {
			e.Code, _, _ = strings.Cut(t, ":")
		}
	}
	if e.Message == "" {
		e.Message = resp.Status
	}
	e.Message = OneLine(e.Message)
	return e
}

func xmlText(b []byte) string {
	var s string
	if err := xml.Unmarshal(append(append([]byte("<x>"), b...), "</x>"...), &s); err != nil {
		return string(b)
	}
	return s
}
