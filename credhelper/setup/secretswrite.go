package setup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// secretWriter is what configure --migrate needs from Secrets Manager.
type secretWriter interface {
	// CreateSecret creates a secret with one tag.
	CreateSecret(ctx context.Context, name, description, value string, tag Tag) (arn string, err error)
	// DescribeTags returns a secret's ARN and tags.
	DescribeTags(ctx context.Context, id string) (arn string, tags []Tag, err error)
	PutSecretValue(ctx context.Context, id, value string) error
}

// secretsAPI calls Secrets Manager's JSON 1.1 API directly, signed with
// the SDK's SigV4 signer and the SDK's loaded credentials and endpoint
// settings: the SDK's generated client would add about 150 KB to the
// helper binary for three calls only configure makes.
type secretsAPI struct {
	cfg      aws.Config
	endpoint string
}

// serviceEndpointSource is how the SDK's config sources expose
// AWS_ENDPOINT_URL_<SERVICE> and the shared config's services section.
type serviceEndpointSource interface {
	GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
}

// newSecretsAPI needs cfg.Region set.
func newSecretsAPI(ctx context.Context, cfg aws.Config) *secretsAPI {
	return &secretsAPI{cfg: cfg, endpoint: serviceEndpoint(ctx, cfg, "Secrets Manager", "secretsmanager")}
}

// apiError is an error answer of the JSON protocol. It implements
// smithy.APIError like the SDK's own errors.
type apiError struct {
	Code    string
	Message string
	Status  int
}

// errorFrom reads an AWS error answer: JSON ({"__type","message"}), XML
// (<ErrorResponse><Error> from AWS, <ErrorResponse><Errors><Error> from
// moto's IAM mode), or only the X-Amzn-Errortype header and the status.
func errorFrom(status int, header http.Header, data []byte) *apiError {
	var j struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}
	var x struct {
		Code     string `xml:"Error>Code"`
		Message  string `xml:"Error>Message"`
		Code2    string `xml:"Errors>Error>Code"`
		Message2 string `xml:"Errors>Error>Message"`
	}
	var code, msg string
	switch {
	case json.Unmarshal(data, &j) == nil:
		code, msg = j.Type, j.Message+j.Msg
		if i := strings.LastIndexByte(code, '#'); i >= 0 {
			code = code[i+1:]
		}
	case xml.Unmarshal(data, &x) == nil:
		code, msg = x.Code+x.Code2, x.Message+x.Message2
	}
	if code == "" && header != nil {
		code, _, _ = strings.Cut(header.Get("X-Amzn-Errortype"), ":")
	}
	return newAPIError(code, msg, status)
}

func newAPIError(code, message string, status int) *apiError {
	if code == "" {
		code = fmt.Sprintf("HTTP%d", status)
	}
	if message == "" {
		message = http.StatusText(status)
	}
	return &apiError{Code: code, Message: oneLine(message), Status: status}
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}
func (e *apiError) ErrorCode() string             { return e.Code }
func (e *apiError) ErrorMessage() string          { return e.Message }
func (e *apiError) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }

// noCredentialsError is a failure to find AWS credentials at all.
type noCredentialsError struct{ Err error }

func (e *noCredentialsError) Error() string { return "no AWS credentials: " + oneLine(e.Err.Error()) }
func (e *noCredentialsError) Unwrap() error { return e.Err }

// serviceEndpoint is the endpoint the SDK would use for a service:
// AWS_ENDPOINT_URL_<SERVICE> or the shared config's services section,
// then AWS_ENDPOINT_URL, then the regional AWS endpoint (FIPS when
// AWS_USE_FIPS_ENDPOINT or use_fips_endpoint asks for it). Partitions
// other than aws, aws-us-gov and aws-cn need an endpoint setting.
func serviceEndpoint(ctx context.Context, cfg aws.Config, sdkID, prefix string) string {
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(serviceEndpointSource); ok {
			if v, found, err := p.GetServiceBaseEndpoint(ctx, sdkID); err == nil && found {
				return strings.TrimSuffix(v, "/")
			}
		}
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return strings.TrimSuffix(*cfg.BaseEndpoint, "/")
	}
	if cfg.Region == "" {
		return ""
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(cfg.Region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(fipsSource); ok {
			if v, found, err := p.GetUseFIPSEndpoint(ctx); err == nil && found {
				if v == aws.FIPSEndpointStateEnabled {
					prefix += "-fips"
				}
				break
			}
		}
	}
	return fmt.Sprintf("https://%s.%s.%s", prefix, cfg.Region, domain)
}

// fipsSource is how the SDK's config sources expose AWS_USE_FIPS_ENDPOINT
// and the shared config's use_fips_endpoint.
type fipsSource interface {
	GetUseFIPSEndpoint(ctx context.Context) (aws.FIPSEndpointState, bool, error)
}

// signedPost sends one SigV4-signed POST and returns the answer's status
// and body.
func signedPost(ctx context.Context, cfg aws.Config, url, service, region, contentType string, headers map[string]string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if cfg.Credentials == nil {
		return 0, nil, nil, &noCredentialsError{Err: errors.New("no credential provider")}
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return 0, nil, nil, &noCredentialsError{Err: err}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		return 0, nil, nil, err
	}
	var client interface {
		Do(*http.Request) (*http.Response, error)
	} = http.DefaultClient
	if cfg.HTTPClient != nil {
		client = cfg.HTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, resp.Header, data, err
}

func (s *secretsAPI) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	status, header, data, err := signedPost(ctx, s.cfg, s.endpoint+"/", "secretsmanager", s.cfg.Region,
		"application/x-amz-json-1.1", map[string]string{"X-Amz-Target": "secretsmanager." + op}, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return errorFrom(status, header, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return errorf("secretsmanager.%s: unreadable answer: %v", op, jsonReason(err))
	}
	return nil
}

// callerIdentity is sts:GetCallerIdentity's answer.
type callerIdentity struct {
	Arn     string `xml:"GetCallerIdentityResult>Arn"`
	Account string `xml:"GetCallerIdentityResult>Account"`
}

// getCallerIdentity calls sts:GetCallerIdentity (query protocol) directly,
// for the same binary-size reason as secretsAPI.
func getCallerIdentity(ctx context.Context, cfg aws.Config) (callerIdentity, error) {
	var id callerIdentity
	region, url := cfg.Region, serviceEndpoint(ctx, cfg, "STS", "sts")
	if region == "" {
		region = "us-east-1" // the global endpoint signs as us-east-1
	}
	if url == "" {
		url = "https://sts.amazonaws.com"
	}
	status, _, data, err := signedPost(ctx, cfg, url+"/", "sts", region, "application/x-www-form-urlencoded; charset=utf-8", nil,
		[]byte("Action=GetCallerIdentity&Version=2011-06-15"))
	if err != nil {
		return id, err
	}
	if status != http.StatusOK {
		return id, errorFrom(status, nil, data)
	}
	if err := xml.Unmarshal(data, &id); err != nil || id.Arn == "" {
		return id, errorf("sts:GetCallerIdentity: unreadable answer (HTTP %d)", status)
	}
	return id, nil
}

// Tag is a Secrets Manager resource tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func (s *secretsAPI) CreateSecret(ctx context.Context, name, description, value string, tag Tag) (string, error) {
	in := struct {
		Name               string `json:"Name"`
		Description        string `json:"Description"`
		SecretString       string `json:"SecretString"`
		ClientRequestToken string `json:"ClientRequestToken"`
		Tags               []Tag  `json:"Tags"`
	}{Name: name, Description: description, SecretString: value, ClientRequestToken: requestToken(), Tags: []Tag{tag}}
	var out struct {
		ARN string `json:"ARN"`
	}
	err := s.call(ctx, "CreateSecret", in, &out)
	return out.ARN, err
}

func (s *secretsAPI) DescribeTags(ctx context.Context, id string) (string, []Tag, error) {
	var out struct {
		ARN  string `json:"ARN"`
		Tags []Tag  `json:"Tags"`
	}
	err := s.call(ctx, "DescribeSecret", map[string]string{"SecretId": id}, &out)
	return out.ARN, out.Tags, err
}

func (s *secretsAPI) PutSecretValue(ctx context.Context, id, value string) error {
	return s.call(ctx, "PutSecretValue", map[string]string{"SecretId": id, "SecretString": value, "ClientRequestToken": requestToken()}, nil)
}

// requestToken is the idempotency token the API asks for (the SDK fills
// it in with a UUID too).
func requestToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
