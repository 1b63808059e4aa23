package credhelper

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// passwordKeys are the keys that carry the password in the layouts AWS
// features already use: {username,password} (CodeBuild, most guides),
// {username,accessToken} (ECR pull-through cache), {username,secret} (CDK).
var passwordKeys = []string{"password", "accessToken", "secret"}

// secretSource resolves a registry mapped to a Secrets Manager secret.
type secretSource struct {
	entry   Entry
	clients Clients
}

func (s secretSource) identity() (Identity, error) {
	id := Identity{Region: s.entry.Region, Profile: s.entry.Profile, RoleARN: s.entry.RoleARN}
	if strings.HasPrefix(s.entry.Secret, "arn:") {
		arn, err := parseSecretARN(s.entry.Secret)
		if err != nil {
			return id, err
		}
		id.Region = arn.Region
	}
	return id, nil
}

func (s secretSource) describe() string { return fmt.Sprintf("secret %q", s.entry.Secret) }

func (s secretSource) resolve(ctx context.Context, registry string, timeout string) (Credential, error) {
	fail := func(f awsFailure, fix string, err error) error {
		return &ResolveError{Registry: registry, Source: s.describe(), API: "secretsmanager:GetSecretValue",
			Code: f.Code, Status: f.Status, Message: f.Message, Fix: fix, Err: err}
	}
	id, err := s.identity()
	if err != nil {
		return Credential{}, err
	}
	client, region, err := s.clients.SecretsManager(ctx, id)
	if err != nil {
		f := classify(err)
		return Credential{}, fail(f, loadFix(f, id), err)
	}
	if region == "" {
		f := awsFailure{Code: codeNoRegion, Message: "no AWS region is configured"}
		return Credential{}, fail(f, commonFix(f, "", timeout), nil)
	}
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.entry.Secret)})
	if err != nil {
		f := classify(err)
		return Credential{}, fail(f, s.fix(f, region, timeout), err)
	}
	var value []byte
	switch {
	case out.SecretString != nil:
		value = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		value = out.SecretBinary
	}
	user, pass, err := parseSecret(value, registry, s.entry.UsernameKey, s.entry.PasswordKey)
	if err != nil {
		return Credential{}, &ResolveError{Registry: registry, Source: s.describe(), Message: err.Error(), Fix: contentFix(err), Err: err}
	}
	src := "secretsmanager:" + s.entry.Secret
	if out.ARN != nil {
		src = "secretsmanager:" + *out.ARN
	}
	return Credential{Username: user, Secret: pass, Source: src}, nil
}

func (s secretSource) fix(f awsFailure, region, timeout string) string {
	switch {
	case f.Code == "ResourceNotFoundException":
		return fmt.Sprintf("create the secret %q in %s, or fix this registry's mapping (a name is looked up in AWS_REGION or the entry's region; an ARN names its own)", s.entry.Secret, region)
	case isAccessDenied(f):
		res := resourceOf(f.Message, s.secretResource(region))
		return fmt.Sprintf("grant secretsmanager:GetSecretValue on %s to %s", res, callerOf(f.Message))
	case f.Code == "DecryptionFailure":
		return fmt.Sprintf("grant kms:Decrypt on the secret's KMS key to %s (in its IAM policy and the key policy)", callerOf(f.Message))
	case f.Code == "InvalidRequestException":
		return fmt.Sprintf("the secret cannot be read now (scheduled for deletion?): aws secretsmanager restore-secret --secret-id %s", s.entry.Secret)
	case f.Code == "InvalidParameterException":
		return "fix the secret id in the mapping"
	}
	if fix := commonFix(f, "AWS_ENDPOINT_URL_SECRETS_MANAGER", timeout); fix != "" {
		return fix
	}
	return "check the secret and the caller's permissions (aws secretsmanager get-secret-value --secret-id " + s.entry.Secret + ")"
}

// secretResource names the secret as an IAM resource for the fix text.
func (s secretSource) secretResource(region string) string {
	if strings.HasPrefix(s.entry.Secret, "arn:") {
		return s.entry.Secret
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:<account>:secret:%s-*", region, s.entry.Secret)
}

// loadFix explains a failure to load the AWS configuration itself.
func loadFix(f awsFailure, id Identity) string {
	if id.Profile != "" && strings.Contains(f.Message, "profile") {
		return fmt.Sprintf("define profile %q in ~/.aws/config or fix the entry's profile", id.Profile)
	}
	return "fix the AWS configuration (AWS_PROFILE, AWS_CONFIG_FILE, ~/.aws/config)"
}

// contentError is a secret that was read but lacks what is needed.
type contentError struct {
	msg, fix string
}

func (e *contentError) Error() string { return e.msg }

func contentFix(err error) string {
	if ce, ok := err.(*contentError); ok {
		return ce.fix
	}
	return ""
}

// parseSecret extracts a username and password from a secret value. Its
// errors name keys, never values.
func parseSecret(value []byte, registry, userKey, passKey string) (string, string, error) {
	var doc map[string]any
	if err := json.Unmarshal(value, &doc); err != nil || doc == nil {
		return "", "", &contentError{
			msg: "the secret value is not a JSON object",
			fix: `store {"username":"…","password":"…"} as the secret string`,
		}
	}
	if auths, ok := doc["auths"]; ok && userKey == "" && passKey == "" {
		return parseDockerConfig(auths, registry)
	}
	if userKey == "" {
		userKey = "username"
	}
	user, err := stringKey(doc, userKey)
	if err != nil {
		return "", "", err
	}
	keys := passwordKeys
	if passKey != "" {
		keys = []string{passKey}
	}
	for _, k := range keys {
		if _, ok := doc[k]; ok {
			pass, err := stringKey(doc, k)
			return user, pass, err
		}
	}
	return "", "", &contentError{
		msg: fmt.Sprintf("the secret has no '%s' key", strings.Join(keys, "', '")),
		fix: fmt.Sprintf("add a '%s' key to the secret, or set passwordKey for this registry in the config file", keys[0]),
	}
}

func stringKey(doc map[string]any, key string) (string, error) {
	v, ok := doc[key]
	if !ok {
		return "", &contentError{
			msg: fmt.Sprintf("the secret has no '%s' key", key),
			fix: fmt.Sprintf("add a '%s' key to the secret, or name the key in the config file (usernameKey/passwordKey)", key),
		}
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", &contentError{
			msg: fmt.Sprintf("the secret's '%s' key is not a non-empty string", key),
			fix: fmt.Sprintf("store a string in '%s'", key),
		}
	}
	return s, nil
}

// DecodeAuth splits an auth value, base64("username:password"), as Docker
// config files, docker config secrets and ECR tokens carry it. Its errors
// say what is wrong with the value, never what it holds.
func DecodeAuth(auth string) (user, pass string, err error) {
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth))
	if err != nil {
		return "", "", errors.New("is not base64")
	}
	user, pass, ok := strings.Cut(string(dec), ":")
	if !ok || user == "" || pass == "" {
		return "", "", errors.New("is not base64(username:password)")
	}
	return user, pass, nil
}

// dockerAuth is one entry of a docker config document's auths.
type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

// parseDockerConfig takes the entry for registry from a docker config
// document {"auths":{host:{auth}}}, matching keys after normalisation.
func parseDockerConfig(auths any, registry string) (string, string, error) {
	raw, err := json.Marshal(auths)
	if err != nil {
		return "", "", &contentError{msg: "the secret's 'auths' is not an object", fix: `store {"auths":{"<registry>":{"auth":"<base64 user:password>"}}}`}
	}
	var entries map[string]dockerAuth
	if err := json.Unmarshal(raw, &entries); err != nil {
		return "", "", &contentError{msg: "the secret's 'auths' is not an object of registry entries", fix: `store {"auths":{"<registry>":{"auth":"<base64 user:password>"}}}`}
	}
	hosts := make([]string, 0, len(entries))
	for key, a := range entries {
		hosts = append(hosts, key)
		norm, err := NormalizeRegistry(key)
		if err != nil || norm != registry {
			continue
		}
		switch {
		case a.IdentityToken != "":
			return "<token>", a.IdentityToken, nil
		case a.Auth != "":
			user, pass, err := DecodeAuth(a.Auth)
			if err != nil {
				return "", "", &contentError{msg: fmt.Sprintf("the secret's auths entry %q has an 'auth' that %v", key, err), fix: "store base64(username:password) in 'auth'"}
			}
			return user, pass, nil
		case a.Username != "" && a.Password != "":
			return a.Username, a.Password, nil
		default:
			return "", "", &contentError{msg: fmt.Sprintf("the secret's auths entry %q has no 'auth' and no 'username'/'password'", key), fix: "store base64(username:password) in 'auth'"}
		}
	}
	sort.Strings(hosts)
	return "", "", &contentError{
		msg: fmt.Sprintf("the secret's auths has no entry for %s (it has: %s)", registry, strings.Join(hosts, ", ")),
		fix: fmt.Sprintf("add an auths entry for %s to the secret or map this registry to another secret", registry),
	}
}
