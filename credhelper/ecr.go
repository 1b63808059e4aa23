package credhelper

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
)

// ecrSource resolves a private ECR registry (or a registry mapped to one
// with ecr:<host>) with ecr:GetAuthorizationToken in the registry's region.
type ecrSource struct {
	reg     ECRRegistry
	entry   Entry
	clients Clients
}

func (s ecrSource) describe() string { return "ECR registry " + s.reg.Host }

func (s ecrSource) resolve(ctx context.Context, registry string, timeout string) (Credential, error) {
	fail := func(f awsFailure, err error) error {
		return &ResolveError{Registry: registry, Source: s.describe(), API: "ecr:GetAuthorizationToken",
			Code: f.Code, Status: f.Status, Message: f.Message, Fix: s.fix(f, timeout), Err: err}
	}
	id := Identity{Profile: s.entry.Profile, RoleARN: s.entry.RoleARN}
	client, err := s.clients.ECR(ctx, id, s.reg)
	if err != nil {
		return Credential{}, fail(classify(err), err)
	}
	out, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return Credential{}, fail(classify(err), err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		f := awsFailure{Code: "EmptyAuthorizationData", Message: "the response carried no authorization token"}
		return Credential{}, fail(f, nil)
	}
	data := out.AuthorizationData[0]
	user, pass, err := decodeECRToken(*data.AuthorizationToken)
	if err != nil {
		return Credential{}, fail(awsFailure{Code: "MalformedToken", Message: err.Error()}, err)
	}
	c := Credential{Username: user, Secret: pass, Source: "ecr:" + s.reg.Host}
	if data.ExpiresAt != nil {
		c.Expires = *data.ExpiresAt
	}
	return c, nil
}

func (s ecrSource) fix(f awsFailure, timeout string) string {
	if isAccessDenied(f) {
		return fmt.Sprintf("grant ecr:GetAuthorizationToken (Resource \"*\") to %s", callerOf(f.Message))
	}
	if fix := commonFix(f, "AWS_ENDPOINT_URL_ECR", timeout); fix != "" {
		return fix
	}
	return "check the caller's ECR permissions (aws ecr get-login-password --region " + s.reg.Region + ")"
}

// ecrPublicSource resolves Amazon ECR Public with
// ecr-public:GetAuthorizationToken in us-east-1.
type ecrPublicSource struct {
	host    string
	entry   Entry
	clients Clients
}

func (s ecrPublicSource) describe() string { return "ECR Public " + s.host }

func (s ecrPublicSource) resolve(ctx context.Context, registry string, timeout string) (Credential, error) {
	fail := func(f awsFailure, err error) error {
		return &ResolveError{Registry: registry, Source: s.describe(), API: "ecr-public:GetAuthorizationToken",
			Code: f.Code, Status: f.Status, Message: f.Message, Fix: s.fix(f, timeout), Err: err}
	}
	client, err := s.clients.ECRPublic(ctx, Identity{Profile: s.entry.Profile, RoleARN: s.entry.RoleARN})
	if err != nil {
		return Credential{}, fail(classify(err), err)
	}
	out, err := client.GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
	if err != nil {
		return Credential{}, fail(classify(err), err)
	}
	if out.AuthorizationData == nil || out.AuthorizationData.AuthorizationToken == nil {
		return Credential{}, fail(awsFailure{Code: "EmptyAuthorizationData", Message: "the response carried no authorization token"}, nil)
	}
	user, pass, err := decodeECRToken(*out.AuthorizationData.AuthorizationToken)
	if err != nil {
		return Credential{}, fail(awsFailure{Code: "MalformedToken", Message: err.Error()}, err)
	}
	c := Credential{Username: user, Secret: pass, Source: "ecr-public:" + s.host}
	if out.AuthorizationData.ExpiresAt != nil {
		c.Expires = *out.AuthorizationData.ExpiresAt
	}
	return c, nil
}

func (s ecrPublicSource) fix(f awsFailure, timeout string) string {
	if isAccessDenied(f) {
		return fmt.Sprintf("grant ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken (Resource \"*\") to %s", callerOf(f.Message))
	}
	if fix := commonFix(f, "AWS_ENDPOINT_URL_ECR_PUBLIC", timeout); fix != "" {
		return fix
	}
	return "check the caller's ECR Public permissions (aws ecr-public get-login-password --region us-east-1)"
}

// decodeECRToken splits base64("AWS:<password>").
func decodeECRToken(token string) (string, string, error) {
	user, pass, err := DecodeAuth(token)
	if err != nil {
		return "", "", fmt.Errorf("the authorization token %v", err)
	}
	return user, pass, nil
}

// expired reports whether a credential with an expiry is no longer valid
// at now, keeping a margin so that a token is not handed out seconds
// before it dies.
func (c Credential) expired(now time.Time) bool {
	return !c.Expires.IsZero() && !now.Before(c.Expires.Add(-expiryMargin))
}

// expiryMargin is how long before its expiry a cached token stops being
// served.
const expiryMargin = time.Minute
