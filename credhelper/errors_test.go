package credhelper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkError wraps err the way aws-sdk-go-v2 returns a failed call's error.
func sdkError(status int, err error) error {
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue",
		Err: &awshttp.ResponseError{RequestID: "req-1", ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      err,
		}}}
}

const deniedMessage = "User: arn:aws:sts::123456789012:assumed-role/codebuild-ci/AWSCodeBuild-1 is not authorized to perform: " +
	"secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:eu-west-1:123456789012:secret:dockerhub-AbCdEf " +
	"because no identity-based policy allows the secretsmanager:GetSecretValue action"

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want awsFailure
	}{
		{"API error with status",
			sdkError(400, &smtypes.ResourceNotFoundException{Message: ptr("Secrets Manager can't find the specified secret.")}),
			awsFailure{Code: "ResourceNotFoundException", Status: 400, Message: "Secrets Manager can't find the specified secret."}},
		{"generic API error",
			sdkError(403, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: deniedMessage}),
			awsFailure{Code: "AccessDeniedException", Status: 403, Message: deniedMessage}},
		{"multi-line message",
			sdkError(500, &smithy.GenericAPIError{Code: "InternalServiceError", Message: "first\n  second\tthird"}),
			awsFailure{Code: "InternalServiceError", Status: 500, Message: "first second third"}},
		{"raw body",
			sdkError(403, &rawHTTPError{Status: 403, Code: "AccessDenied", Message: "User: arn:aws:iam::123456789012:user/ci is not authorized"}),
			awsFailure{Code: "AccessDenied", Status: 403, Message: "User: arn:aws:iam::123456789012:user/ci is not authorized"}},
		{"raw body without response error",
			&smithy.OperationError{Err: &rawHTTPError{Status: 502, Message: "Bad Gateway"}},
			awsFailure{Status: 502, Message: "Bad Gateway"}},
		{"no credentials",
			&smithy.OperationError{Err: fmt.Errorf("failed to retrieve credentials: %w", &credentialsError{Limit: 2 * time.Second, Err: errors.New("no EC2 IMDS role found")})},
			awsFailure{Code: codeNoCredentials, Message: "no credential source in the SDK's default chain has credentials"}},
		{"credentials timed out",
			&credentialsError{Limit: 2 * time.Second, Err: fmt.Errorf("imds: %w", context.DeadlineExceeded)},
			awsFailure{Code: codeNoCredentials, Message: "no credential source answered within 2s"}},
		{"assume role denied",
			&smithy.OperationError{Err: &assumeRoleError{Role: "arn:aws:iam::210987654321:role/pull",
				Err: sdkError(403, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:AssumeRole"})}},
			awsFailure{Code: codeAssumeRole, Status: 403, Message: "assuming arn:aws:iam::210987654321:role/pull: AccessDenied (HTTP 403): not authorized to perform sts:AssumeRole"}},
		{"assume role, no message",
			&assumeRoleError{Role: "arn:aws:iam::210987654321:role/pull", Err: context.DeadlineExceeded},
			awsFailure{Code: codeAssumeRole, Message: "assuming arn:aws:iam::210987654321:role/pull: Timeout"}},
		{"deadline",
			&smithy.OperationError{Err: fmt.Errorf("send request: %w", context.DeadlineExceeded)},
			awsFailure{Code: codeTimeout}},
		{"connection refused",
			&smithy.OperationError{Err: fmt.Errorf("send: %w", &net.OpError{Op: "dial", Net: "tcp",
				Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, Err: syscall.ECONNREFUSED})},
			awsFailure{Code: codeNetwork, Message: "dial tcp 127.0.0.1:9: connection refused"}},
		{"DNS",
			&smithy.OperationError{Err: &net.DNSError{Err: "no such host", Name: "secretsmanager.nowhere.invalid", IsNotFound: true}},
			awsFailure{Code: codeNetwork, Message: "lookup secretsmanager.nowhere.invalid: no such host"}},
		{"other",
			errors.New("something\nelse"),
			awsFailure{Message: "something else"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Errorf("classify = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestOneLineLimit(t *testing.T) {
	got := OneLine(strings.Repeat("x ", 400))
	if strings.ContainsAny(got, "\n\t") || len(got) > 310 || !strings.HasSuffix(got, "…") {
		t.Errorf("oneLine of a long message = %d bytes %q…, want ≤300 bytes plus an ellipsis", len(got), got[:20])
	}
}

func newResponse(status int, contentType, body string, header ...string) *smithyhttp.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &smithyhttp.Response{Response: &http.Response{
		StatusCode: status,
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header:     h,
		Body:       io.NopCloser(strings.NewReader(body)),
	}}
}

func TestRawErrorBody(t *testing.T) {
	tests := []struct {
		name string
		resp *smithyhttp.Response
		want *rawHTTPError // nil: left to the SDK
	}{
		{"moto IAM XML",
			newResponse(403, "text/xml", `<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/ci is not authorized to perform: secretsmanager:GetSecretValue</Message></Error><RequestId>abc</RequestId></ErrorResponse>`),
			&rawHTTPError{Status: 403, Code: "AccessDenied", Message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: secretsmanager:GetSecretValue"}},
		{"XML entities",
			newResponse(403, "application/xml", `<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>The security token &amp; key are &lt;invalid&gt;</Message></Error></ErrorResponse>`),
			&rawHTTPError{Status: 403, Code: "InvalidClientTokenId", Message: "The security token & key are <invalid>"}},
		{"HTML proxy page",
			newResponse(502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"),
			&rawHTTPError{Status: 502, Message: "502 Bad Gateway"}},
		{"plain text",
			newResponse(503, "text/plain", "upstream connect error\nor disconnect"),
			&rawHTTPError{Status: 503, Message: "upstream connect error or disconnect"}},
		{"empty body",
			newResponse(500, "", ""),
			&rawHTTPError{Status: 500, Message: "500 Internal Server Error"}},
		{"code from header",
			newResponse(429, "text/plain", "slow down", "X-Amzn-Errortype", "ThrottlingException:http://internal.amazon.com/coral/"),
			&rawHTTPError{Status: 429, Code: "ThrottlingException", Message: "slow down"}},
		{"JSON left to the SDK",
			newResponse(400, "application/x-amz-json-1.1", `{"__type":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}`),
			nil},
		{"success untouched",
			newResponse(200, "application/x-amz-json-1.1", `not even json`),
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := io.ReadAll(tt.resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			tt.resp.Body = io.NopCloser(bytes.NewReader(before))
			err = rawErrorBody{}.BeforeDeserialization(context.Background(), &smithyhttp.InterceptorContext{Response: tt.resp})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("BeforeDeserialization = %v, want nil", err)
				}
			} else {
				var raw *rawHTTPError
				if !errors.As(err, &raw) {
					t.Fatalf("BeforeDeserialization = %v, want a *rawHTTPError", err)
				}
				if *raw != *tt.want {
					t.Errorf("got %+v, want %+v", *raw, *tt.want)
				}
			}
			// The body stays readable for the SDK's own deserializer.
			after, err := io.ReadAll(tt.resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, before) {
				t.Errorf("body after = %q, want %q", after, before)
			}
		})
	}
}

func TestRawHTTPErrorRetryable(t *testing.T) {
	for status, want := range map[int]bool{400: false, 403: false, 429: true, 500: true, 503: true} {
		if got := (&rawHTTPError{Status: status}).RetryableError(); got != want {
			t.Errorf("status %d: RetryableError = %v, want %v", status, got, want)
		}
	}
}

func TestResolveErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *ResolveError
		want string
	}{
		{"full",
			&ResolveError{Registry: "docker.io", Source: `secret "dockerhub"`, API: "secretsmanager:GetSecretValue",
				Code: "AccessDeniedException", Status: 400, Message: "not authorized", Fix: "grant it"},
			`docker-credential-secretsmanager: docker.io: secret "dockerhub": secretsmanager:GetSecretValue failed: AccessDeniedException (HTTP 400): not authorized; fix: grant it`},
		{"status only",
			&ResolveError{Registry: "ghcr.io", Source: `secret "ghcr"`, API: "secretsmanager:GetSecretValue", Status: 502, Message: "Bad Gateway"},
			`docker-credential-secretsmanager: ghcr.io: secret "ghcr": secretsmanager:GetSecretValue failed: HTTP 502: Bad Gateway`},
		{"content error",
			&ResolveError{Registry: "ghcr.io", Source: `secret "ghcr"`, Message: "the secret has no 'password' key", Fix: "add a 'password' key"},
			`docker-credential-secretsmanager: ghcr.io: secret "ghcr": the secret has no 'password' key; fix: add a 'password' key`},
		{"code without status",
			&ResolveError{Registry: "public.ecr.aws", Source: "ECR Public public.ecr.aws", API: "ecr-public:GetAuthorizationToken", Code: "NoCredentials"},
			`docker-credential-secretsmanager: public.ecr.aws: ECR Public public.ecr.aws: ecr-public:GetAuthorizationToken failed: NoCredentials`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(tt.err.Error(), "\n") {
				t.Error("message spans lines")
			}
		})
	}
	inner := errors.New("inner")
	if !errors.Is(&ResolveError{Err: inner}, inner) {
		t.Error("ResolveError does not unwrap to its cause")
	}
}

func TestSecretFix(t *testing.T) {
	byName := secretSource{entry: Entry{Secret: "ci/dockerhub"}}
	byARN := secretSource{entry: Entry{Secret: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dockerhub-AbCdEf"}}
	tests := []struct {
		name string
		src  secretSource
		f    awsFailure
		want []string
	}{
		{"denied with caller and resource", byName,
			awsFailure{Code: "AccessDeniedException", Status: 400, Message: deniedMessage},
			[]string{"grant secretsmanager:GetSecretValue on arn:aws:secretsmanager:eu-west-1:123456789012:secret:dockerhub-AbCdEf to arn:aws:sts::123456789012:assumed-role/codebuild-ci/AWSCodeBuild-1"}},
		{"denied XML without resource, by name", byName,
			awsFailure{Code: "AccessDenied", Status: 403, Message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: secretsmanager:GetSecretValue"},
			[]string{"grant secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:<account>:secret:ci/dockerhub-* to arn:aws:iam::123456789012:user/ci"}},
		{"denied by status only, by ARN", byARN,
			awsFailure{Status: 403, Message: "Forbidden"},
			[]string{"grant secretsmanager:GetSecretValue on arn:aws:secretsmanager:eu-west-1:123456789012:secret:dockerhub-AbCdEf to the caller (aws sts get-caller-identity shows it)"}},
		{"not found", byName,
			awsFailure{Code: "ResourceNotFoundException", Status: 400},
			[]string{`create the secret "ci/dockerhub" in us-east-1`, "mapping"}},
		{"decryption", byName,
			awsFailure{Code: "DecryptionFailure", Message: "User: arn:aws:iam::123456789012:user/ci. Access to KMS is not allowed"},
			[]string{"kms:Decrypt", "arn:aws:iam::123456789012:user/ci", "key policy"}},
		{"pending deletion", byName,
			awsFailure{Code: "InvalidRequestException", Message: "You can't perform this operation on the secret because it was marked for deletion."},
			[]string{"restore-secret --secret-id ci/dockerhub"}},
		{"throttled", byName, awsFailure{Code: "ThrottlingException", Status: 400}, []string{"throttled", "quota"}},
		{"throttled by status", byName, awsFailure{Status: 429}, []string{"throttled"}},
		{"no credentials", byName, awsFailure{Code: codeNoCredentials}, []string{"no AWS credentials found", "AWS_PROFILE", "CodeBuild service role"}},
		{"timeout", byName, awsFailure{Code: codeTimeout}, []string{"within 15s", "AWS_ENDPOINT_URL_SECRETS_MANAGER", EnvTimeout}},
		{"network", byName, awsFailure{Code: codeNetwork}, []string{"cannot reach", "AWS_ENDPOINT_URL_SECRETS_MANAGER"}},
		{"bad key", byName, awsFailure{Code: "UnrecognizedClientException"}, []string{"access key is not valid"}},
		{"bad signature", byName, awsFailure{Code: "SignatureDoesNotMatch", Status: 403}, []string{"secret access key does not match"}},
		{"expired", byName, awsFailure{Code: "ExpiredTokenException"}, []string{"expired"}},
		{"server error", byName, awsFailure{Status: 503}, []string{"endpoint failed"}},
		{"unknown", byName, awsFailure{Code: "Weird", Status: 400}, []string{"aws secretsmanager get-secret-value --secret-id ci/dockerhub"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.src.fix(tt.f, "us-east-1", "15s")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("fix = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

func TestECRFix(t *testing.T) {
	reg, _ := ParseECRHost("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
	ecrSrc := ecrSource{reg: reg}
	pub := ecrPublicSource{host: "public.ecr.aws"}
	tests := []struct {
		name string
		got  string
		want []string
	}{
		{"ECR denied", ecrSrc.fix(awsFailure{Code: "AccessDeniedException", Message: "User: arn:aws:iam::123456789012:user/ci is not authorized"}, "15s"),
			[]string{`grant ecr:GetAuthorizationToken (Resource "*") to arn:aws:iam::123456789012:user/ci`}},
		{"ECR throttled", ecrSrc.fix(awsFailure{Code: "ThrottlingException"}, "15s"), []string{"throttled"}},
		{"ECR timeout", ecrSrc.fix(awsFailure{Code: codeTimeout}, "15s"), []string{"AWS_ENDPOINT_URL_ECR", "15s"}},
		{"ECR other", ecrSrc.fix(awsFailure{Code: "Weird"}, "15s"), []string{"get-login-password --region eu-west-1"}},
		{"ECR Public denied", pub.fix(awsFailure{Status: 403}, "15s"),
			[]string{"ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken", "the caller"}},
		{"ECR Public no credentials", pub.fix(awsFailure{Code: codeNoCredentials}, "15s"), []string{"no AWS credentials found"}},
		{"ECR Public network", pub.fix(awsFailure{Code: codeNetwork}, "15s"), []string{"AWS_ENDPOINT_URL_ECR_PUBLIC"}},
		{"assume role", commonFix(awsFailure{Code: codeAssumeRole}, "", "15s"), []string{"sts:AssumeRole", "roleArn"}},
		{"no region", commonFix(awsFailure{Code: codeNoRegion}, "", "15s"), []string{"AWS_REGION"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				if !strings.Contains(tt.got, w) {
					t.Errorf("fix = %q, want it to contain %q", tt.got, w)
				}
			}
		})
	}
}

func TestCallerOf(t *testing.T) {
	tests := []struct{ msg, want string }{
		{deniedMessage, "arn:aws:sts::123456789012:assumed-role/codebuild-ci/AWSCodeBuild-1"},
		{"user: arn:aws:iam::123456789012:user/ci, is not", "arn:aws:iam::123456789012:user/ci"},
		{"Access denied", "the caller (aws sts get-caller-identity shows it)"},
	}
	for _, tt := range tests {
		if got := callerOf(tt.msg); got != tt.want {
			t.Errorf("callerOf(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}

func TestIsAccessDenied(t *testing.T) {
	tests := []struct {
		f    awsFailure
		want bool
	}{
		{awsFailure{Code: "AccessDeniedException"}, true},
		{awsFailure{Code: "AccessDenied", Status: 403}, true},
		{awsFailure{Status: 403}, true},
		{awsFailure{Code: "SignatureDoesNotMatch", Status: 403}, false},
		{awsFailure{Code: "ResourceNotFoundException", Status: 400}, false},
		{awsFailure{Status: 500}, false},
	}
	for _, tt := range tests {
		if got := isAccessDenied(tt.f); got != tt.want {
			t.Errorf("isAccessDenied(%+v) = %v, want %v", tt.f, got, tt.want)
		}
	}
}
