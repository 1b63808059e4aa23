package fakeaws

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

var testKey = Credentials{AccessKeyID: "AKIAFAKETEST00000001", SecretAccessKey: "test-secret-key"}

func start(t *testing.T) (*Server, *Listener) {
	t.Helper()
	s := New()
	s.AddKey(testKey)
	l := Listen(s)
	t.Cleanup(l.Close)
	return s, l
}

func provider(c Credentials) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

func smClient(url string, c Credentials) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: "us-east-1", Credentials: provider(c), BaseEndpoint: aws.String(url)})
}

// apiError returns the AWS error code and HTTP status of err.
func apiError(t *testing.T, err error) (string, int) {
	t.Helper()
	var apiErr smithy.APIError
	var respErr *smithyhttp.ResponseError
	if !errors.As(err, &apiErr) || !errors.As(err, &respErr) {
		t.Fatalf("want an AWS API error, got %v", err)
	}
	return apiErr.ErrorCode(), respErr.HTTPStatusCode()
}

func TestGetSecretValueVerifiesSignature(t *testing.T) {
	s, l := start(t)
	s.SetSecret("dockerhub", `{"username":"u","password":"p"}`)
	ctx := context.Background()

	out, err := smClient(l.URL, testKey).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("dockerhub")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.SecretString), `{"username":"u","password":"p"}`; got != want {
		t.Errorf("SecretString = %q, want %q", got, want)
	}
	byARN, err := smClient(l.URL, testKey).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: out.ARN})
	if err != nil || aws.ToString(byARN.SecretString) != aws.ToString(out.SecretString) {
		t.Errorf("by ARN %s: %v", aws.ToString(out.ARN), err)
	}

	for _, tc := range []struct {
		name string
		key  Credentials
		code string
	}{
		{"wrong secret key", Credentials{AccessKeyID: testKey.AccessKeyID, SecretAccessKey: "wrong"}, "InvalidSignatureException"},
		{"unknown key", Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: "x"}, "UnrecognizedClientException"},
		{"unexpected session token", Credentials{AccessKeyID: testKey.AccessKeyID, SecretAccessKey: testKey.SecretAccessKey, SessionToken: "t"}, "UnrecognizedClientException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := smClient(l.URL, tc.key).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("dockerhub")})
			code, status := apiError(t, err)
			if code != tc.code || status != http.StatusForbidden {
				t.Errorf("got %s (HTTP %d), want %s (HTTP 403)", code, status, tc.code)
			}
		})
	}

	_, err = smClient(l.URL, testKey).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	if code, _ := apiError(t, err); code != "ResourceNotFoundException" {
		t.Errorf("missing secret: got %s", code)
	}

	var signers []string
	for _, c := range s.Calls() {
		signers = append(signers, c.AccessKeyID)
	}
	if got := s.Count(OpGetSecretValue); got != 6 {
		t.Errorf("Count(GetSecretValue) = %d, want 6 (calls %v)", got, s.Calls())
	}
	if signers[0] != testKey.AccessKeyID || signers[3] != "AKIAUNKNOWN" {
		t.Errorf("recorded signers %v", signers)
	}
}

func TestUnsignedRequestIsRefused(t *testing.T) {
	_, l := start(t)
	req, err := http.NewRequest(http.MethodPost, l.URL, strings.NewReader(`{"SecretId":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", OpGetSecretValue)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("got HTTP %d %s, want 403 MissingAuthenticationTokenException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func TestECRTokensCarryExpiry(t *testing.T) {
	s, l := start(t)
	expires := time.Now().Add(12 * time.Hour).Truncate(time.Second)
	s.SetECRToken("ecr-pass", expires)
	ctx := context.Background()

	priv, err := ecr.New(ecr.Options{Region: "eu-west-1", Credentials: provider(testKey), BaseEndpoint: aws.String(l.URL)}).
		GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecrpublic.New(ecrpublic.Options{Region: "us-east-1", Credentials: provider(testKey), BaseEndpoint: aws.String(l.URL)}).
		GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]struct {
		token   *string
		expires *time.Time
	}{
		"ecr":        {priv.AuthorizationData[0].AuthorizationToken, priv.AuthorizationData[0].ExpiresAt},
		"ecr-public": {pub.AuthorizationData.AuthorizationToken, pub.AuthorizationData.ExpiresAt},
	} {
		dec, _ := base64.StdEncoding.DecodeString(aws.ToString(d.token))
		if string(dec) != "AWS:ecr-pass" || !aws.ToTime(d.expires).Equal(expires) {
			t.Errorf("%s: token %q expires %v, want AWS:ecr-pass, %v", name, dec, aws.ToTime(d.expires), expires)
		}
	}
	if s.Count(OpECRGetAuthToken) != 1 || s.Count(OpECRPublicGetAuthToken) != 1 {
		t.Errorf("calls %v", s.Calls())
	}
}

func TestECRPublicMustBeSignedAsECRPublic(t *testing.T) {
	s, l := start(t)
	s.SetECRToken("ecr-pass", time.Now().Add(time.Hour))
	for _, tc := range []struct {
		service string
		status  int
		code    string
	}{
		{"ecr-public", http.StatusOK, ""},
		{"ecr", http.StatusForbidden, "InvalidSignatureException"},
	} {
		body := "{}"
		req, err := http.NewRequest(http.MethodPost, l.URL+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Target", OpECRPublicGetAuthToken)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: testKey.AccessKeyID, SecretAccessKey: testKey.SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), tc.service, "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-ErrorType") != tc.code {
			t.Errorf("signed for %s: got HTTP %d %q, want %d %q", tc.service, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tc.status, tc.code)
		}
	}
}

func TestThrottle(t *testing.T) {
	s, l := start(t)
	s.SetSecret("x", "v")
	s.Throttle(2)
	ctx := context.Background()
	if _, err := smClient(l.URL, testKey).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")}); err != nil {
		t.Fatalf("throttled twice, the SDK's third attempt should pass: %v", err)
	}
	if got := s.Count(OpGetSecretValue); got != 3 {
		t.Errorf("Count = %d, want 3", got)
	}
	s.Throttle(-1)
	_, err := smClient(l.URL, testKey).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")})
	if code, status := apiError(t, err); code != "ThrottlingException" || status != http.StatusBadRequest {
		t.Errorf("got %s (HTTP %d)", code, status)
	}
}

func TestHangEndsWithTheClient(t *testing.T) {
	s, l := start(t)
	s.Hang(true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := smClient(l.URL, testKey).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the client's deadline", err)
	}
}

func TestProxyError(t *testing.T) {
	s, l := start(t)
	s.ProxyError(http.StatusBadGateway)
	resp, err := http.Post(l.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("got HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestAssumeRole(t *testing.T) {
	s, l := start(t)
	s.SetSecret("x", "v")
	const role = "arn:aws:iam::123456789012:role/pull"
	issued := s.AddRole(role)
	client := sts.New(sts.Options{Region: "us-east-1", Credentials: provider(testKey), BaseEndpoint: aws.String(l.URL)})
	ctx := context.Background()
	out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("test")})
	if err != nil {
		t.Fatal(err)
	}
	got := Credentials{aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken)}
	if got != issued {
		t.Fatalf("AssumeRole returned %+v, AddRole %+v", got, issued)
	}
	if _, err := smClient(l.URL, got).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")}); err != nil {
		t.Errorf("call with the role's credentials: %v", err)
	}
	calls := s.Calls()
	if last := calls[len(calls)-1]; last.AccessKeyID != issued.AccessKeyID {
		t.Errorf("last call signed by %s, want %s", last.AccessKeyID, issued.AccessKeyID)
	}

	_, err = client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role + "-other"), RoleSessionName: aws.String("test")})
	if code, status := apiError(t, err); code != "AccessDenied" || status != http.StatusForbidden {
		t.Errorf("unknown role: got %s (HTTP %d)", code, status)
	}
}

func TestContainerCredentials(t *testing.T) {
	c := &ContainerCredentials{
		Credentials: Credentials{AccessKeyID: "ASIACONTAINER", SecretAccessKey: "container-secret", SessionToken: "container-token"},
		Expiration:  time.Now().Add(time.Hour),
		AuthToken:   "auth-token",
	}
	l := Listen(c)
	t.Cleanup(l.Close)
	for _, tc := range []struct {
		token string
		ok    bool
	}{{"auth-token", true}, {"wrong", false}, {"", false}} {
		p := endpointcreds.New(l.URL+"/creds", func(o *endpointcreds.Options) { o.AuthorizationToken = tc.token })
		got, err := p.Retrieve(context.Background())
		if tc.ok && (err != nil || got.AccessKeyID != "ASIACONTAINER" || got.SessionToken != "container-token") {
			t.Errorf("token %q: got %+v, %v", tc.token, got, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("token %q: credentials handed out", tc.token)
		}
	}
	if c.Requests() != 3 {
		t.Errorf("Requests = %d, want 3", c.Requests())
	}
}
