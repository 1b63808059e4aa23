package credhelper

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Name is the helper's name as users see it in error messages.
const Name = "docker-credential-secretsmanager"

// ResolveError is a failure to resolve credentials for a managed registry.
// Its one-line message names the registry, the secret or API, the AWS
// error code and HTTP status, and the fix. It never contains a secret.
type ResolveError struct {
	Registry string // the normalised registry asked for
	Source   string // e.g. `secret "dockerhub"` or `ECR registry 1234….amazonaws.com`
	API      string // e.g. "secretsmanager:GetSecretValue"; empty for content errors
	Code     string // the AWS error code, or a code of ours such as NoCredentials
	Status   int    // the HTTP status, 0 when there was no response
	Message  string // what AWS said, on one line
	Fix      string // what the user should do
	Err      error  // the underlying error, for errors.Is/As; never printed
}

func (e *ResolveError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s", Name, e.Registry, e.Source)
	if e.API != "" {
		fmt.Fprintf(&b, ": %s failed", e.API)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
		if e.Status != 0 {
			fmt.Fprintf(&b, " (HTTP %d)", e.Status)
		}
	} else if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if msg := strings.TrimRight(e.Message, ". "); msg != "" {
		fmt.Fprintf(&b, ": %s", msg)
	}
	if e.Fix != "" {
		fmt.Fprintf(&b, "; fix: %s", e.Fix)
	}
	return b.String()
}

func (e *ResolveError) Unwrap() error { return e.Err }

// awsFailure is what an AWS call's error says, whatever shape it took.
type awsFailure struct {
	Code    string
	Status  int
	Message string
}

// Codes of ours for failures that carry no AWS error code.
const (
	codeNoCredentials = "NoCredentials"
	codeNoRegion      = "NoRegion"
	codeTimeout       = "Timeout"
	codeNetwork       = "NetworkError"
	codeAssumeRole    = "AssumeRoleFailed"
)

// classify extracts the code, HTTP status and message of an AWS SDK error,
// including error bodies the SDK could not deserialize (XML from moto's IAM
// mode, HTML from proxies), which rawErrorBody captured.
func classify(err error) awsFailure {
	var f awsFailure
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		f.Status = respErr.HTTPStatusCode()
	}
	var raw *rawHTTPError
	var apiErr smithy.APIError
	var credErr *credentialsError
	var roleErr *assumeRoleError
	var netErr net.Error
	switch {
	case errors.As(err, &roleErr):
		inner := classify(roleErr.Err)
		f.Code, f.Message = codeAssumeRole, fmt.Sprintf("assuming %s: %s", roleErr.Role, describeInner(inner))
		f.Status = inner.Status
	case errors.As(err, &credErr):
		f.Code = codeNoCredentials
		if errors.Is(err, context.DeadlineExceeded) {
			f.Message = fmt.Sprintf("no credential source answered within %s", credErr.Limit)
		} else {
			f.Message = "no credential source in the SDK's default chain has credentials"
		}
	case errors.As(err, &raw):
		f.Code, f.Status, f.Message = raw.Code, raw.Status, raw.Message
	case errors.As(err, &apiErr):
		f.Code, f.Message = apiErr.ErrorCode(), apiErr.ErrorMessage()
	case errors.Is(err, context.DeadlineExceeded):
		f.Code = codeTimeout
	case errors.As(err, &netErr):
		f.Code = codeNetwork
		f.Message = netMessage(err)
	default:
		f.Message = OneLine(err.Error())
	}
	f.Message = OneLine(f.Message)
	return f
}

func describeInner(f awsFailure) string {
	s := f.Code
	if f.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", f.Status)
	}
	if f.Message != "" {
		s += ": " + f.Message
	}
	return strings.TrimPrefix(s, ": ")
}

// netMessage keeps the useful tail of a network error (the address and the
// reason), dropping the SDK's operation wrapping.
func netMessage(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Error()
	}
	return err.Error()
}

// OneLine makes a message fit the one-line error contract: white space
// folded, at most 300 bytes.
func OneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const limit = 300
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

var (
	callerInMessage   = lazyRegexp(`(?:User|user): (arn:[^\s]+)`)
	resourceInMessage = lazyRegexp(`on resource: ?(arn:[^\s]+|[^\s]+)`)
)

// callerOf finds the principal AWS named in an access-denied message.
func callerOf(msg string) string {
	if m := callerInMessage().FindStringSubmatch(msg); m != nil {
		return strings.TrimRight(m[1], ".,;")
	}
	return "the caller (aws sts get-caller-identity shows it)"
}

func resourceOf(msg, fallback string) string {
	if m := resourceInMessage().FindStringSubmatch(msg); m != nil {
		return strings.TrimRight(m[1], ".,;")
	}
	return fallback
}

// commonFix gives the fix for failures that do not depend on the API.
func commonFix(f awsFailure, endpointEnv string, timeout string) string {
	switch f.Code {
	case codeNoCredentials:
		return "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a CodeBuild service role"
	case codeNoRegion:
		return "set AWS_REGION, give the entry a region, or map an ARN"
	case codeTimeout:
		return fmt.Sprintf("AWS did not answer within %s: check the network and %s, or raise %s", timeout, endpointEnv, EnvTimeout)
	case codeNetwork:
		return fmt.Sprintf("cannot reach the AWS endpoint: check the network, proxy settings and %s", endpointEnv)
	case codeAssumeRole:
		return "allow the caller to assume the role (the role's trust policy and sts:AssumeRole on it), or fix roleArn"
	case "UnrecognizedClientException", "InvalidClientTokenId":
		return "the AWS access key is not valid: check AWS_ACCESS_KEY_ID / the profile's credentials"
	case "InvalidSignatureException", "SignatureDoesNotMatch":
		return "the AWS secret access key does not match the access key: check AWS_SECRET_ACCESS_KEY / the profile"
	case "ExpiredToken", "ExpiredTokenException", "RequestExpired":
		return "the AWS session credentials expired: refresh them (aws sso login, or new session credentials)"
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "ThrottledException", "RequestLimitExceeded":
		return "AWS throttled every attempt: retry later, lower parallel pulls, or raise the API quota"
	}
	if f.Status == 429 {
		return "AWS throttled every attempt: retry later, lower parallel pulls, or raise the API quota"
	}
	if f.Status >= 500 {
		return "the AWS endpoint failed: retry later, or check " + endpointEnv + " if you set it"
	}
	return ""
}

// isAccessDenied reports an authorization failure, whether AWS said so in
// JSON (AccessDeniedException), XML (AccessDenied) or only by HTTP 403.
func isAccessDenied(f awsFailure) bool {
	switch f.Code {
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "AuthorizationError":
		return true
	case "":
		return f.Status == 403
	}
	return false
}
