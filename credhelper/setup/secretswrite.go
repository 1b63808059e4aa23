package setup

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// The AWS calls doctor and configure make, as the SDK's clients declare
// them, so that tests can put fakes in their place.
type (
	secretCreator interface {
		CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	}
	secretDescriber interface {
		DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	}
	secretValuePutter interface {
		PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	}
	callerIdentityGetter interface {
		GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, opts ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
	}
)

// secretWriter is what configure --migrate needs from Secrets Manager.
type secretWriter interface {
	secretCreator
	secretDescriber
	secretValuePutter
}

// stsClient is the STS client for cfg. Without a region it calls STS in
// us-east-1, which answers GetCallerIdentity for every account of the aws
// partition, so that doctor can still name the identity.
func stsClient(cfg aws.Config) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if o.Region == "" {
			o.Region = "us-east-1"
		}
	})
}

// callerIdentity returns the ARN and account of the caller.
func callerIdentity(ctx context.Context, c callerIdentityGetter) (arn, account string, err error) {
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", err
	}
	return aws.ToString(out.Arn), aws.ToString(out.Account), nil
}

// describeAWSError is an AWS call's failure on one line, as get reports it.
func describeAWSError(err error) string { return credhelper.DescribeAWSError(err) }

// awsFix is the fix for a failure of an STS call that depends on the
// caller's credentials or the network rather than on a resource.
func awsFix(err error) string { return credhelper.AWSFix(err, "AWS_ENDPOINT_URL_STS") }
