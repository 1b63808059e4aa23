package setup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// fakeSecrets is a Secrets Manager that answers from its function fields.
type fakeSecrets struct {
	create   func(*secretsmanager.CreateSecretInput) (*secretsmanager.CreateSecretOutput, error)
	describe func(*secretsmanager.DescribeSecretInput) (*secretsmanager.DescribeSecretOutput, error)
	put      func(*secretsmanager.PutSecretValueInput) (*secretsmanager.PutSecretValueOutput, error)
}

func (f fakeSecrets) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return f.create(in)
}

func (f fakeSecrets) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return f.describe(in)
}

func (f fakeSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return f.put(in)
}

// TestPutSecret checks which calls putSecret makes for each answer of
// CreateSecret, and what it returns.
func TestPutSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:docker/ghcr.io-AbCdEf"
	exists := &types.ResourceExistsException{Message: aws.String("exists")}
	denied := &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "CreateSecret",
		Err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}}
	tags := func(k, v string) *secretsmanager.DescribeSecretOutput {
		return &secretsmanager.DescribeSecretOutput{ARN: aws.String(arn), Tags: []types.Tag{{Key: aws.String(k), Value: aws.String(v)}}}
	}
	tests := []struct {
		name      string
		createErr error
		described *secretsmanager.DescribeSecretOutput
		wantARN   string
		wantErr   string // empty: success
		wantPut   bool
	}{
		{name: "created", wantARN: arn},
		{name: "exists, tagged for the registry", createErr: &smithy.OperationError{Err: exists}, described: tags(RegistryTag, "ghcr.io"), wantARN: arn, wantPut: true},
		{name: "exists, tagged for another registry", createErr: exists, described: tags(RegistryTag, "quay.io"), wantErr: "is not tagged"},
		{name: "exists, untagged", createErr: exists, described: &secretsmanager.DescribeSecretOutput{ARN: aws.String(arn)}, wantErr: "is not tagged"},
		{name: "denied", createErr: denied, wantErr: "AccessDeniedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			put := false
			fake := fakeSecrets{
				create: func(in *secretsmanager.CreateSecretInput) (*secretsmanager.CreateSecretOutput, error) {
					if got := aws.ToString(in.Name); got != "docker/ghcr.io" {
						t.Errorf("CreateSecret name %q", got)
					}
					if len(in.Tags) != 1 || aws.ToString(in.Tags[0].Key) != RegistryTag || aws.ToString(in.Tags[0].Value) != "ghcr.io" {
						t.Errorf("CreateSecret tags %v", in.Tags)
					}
					if tt.createErr != nil {
						return nil, tt.createErr
					}
					return &secretsmanager.CreateSecretOutput{ARN: aws.String(arn)}, nil
				},
				describe: func(in *secretsmanager.DescribeSecretInput) (*secretsmanager.DescribeSecretOutput, error) {
					if tt.described == nil {
						t.Fatal("DescribeSecret called after a failure other than ResourceExistsException")
					}
					return tt.described, nil
				},
				put: func(in *secretsmanager.PutSecretValueInput) (*secretsmanager.PutSecretValueOutput, error) {
					if got := aws.ToString(in.SecretId); got != arn {
						t.Errorf("PutSecretValue on %q, want the described ARN", got)
					}
					if aws.ToString(in.SecretString) != "value" {
						t.Error("PutSecretValue with another value")
					}
					put = true
					return &secretsmanager.PutSecretValueOutput{ARN: aws.String(arn)}, nil
				},
			}
			got, err := putSecret(context.Background(), fake, "docker/ghcr.io", "ghcr.io", "value")
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if got != tt.wantARN || put != tt.wantPut {
				t.Errorf("ARN %q, put %v; want %q, %v", got, put, tt.wantARN, tt.wantPut)
			}
		})
	}
}

// TestDescribeAWSError checks the one-line form of AWS failures in
// configure's and doctor's messages.
func TestDescribeAWSError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
		fix  string
	}{
		{"api error", &smithy.OperationError{Err: &smithy.GenericAPIError{Code: "InvalidClientTokenId", Message: "The security\ntoken is invalid"}},
			"InvalidClientTokenId: The security token is invalid", "access key is not valid"},
		{"expired", &smithy.GenericAPIError{Code: "ExpiredToken", Message: "expired"}, "ExpiredToken: expired", "expired"},
		{"other", errors.New("boom"), "boom", "check the network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeAWSError(tt.err); got != tt.want {
				t.Errorf("describeAWSError = %q, want %q", got, tt.want)
			}
			if got := awsFix(tt.err); !strings.Contains(got, tt.fix) {
				t.Errorf("awsFix = %q, want it to contain %q", got, tt.fix)
			}
		})
	}
}
