package setup

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
)

// TestServiceEndpoint checks the endpoint choice against the SDK's own
// settings, loaded the way configure loads them.
func TestServiceEndpoint(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"regional", map[string]string{"AWS_REGION": "eu-west-1"}, "https://secretsmanager.eu-west-1.amazonaws.com"},
		{"china", map[string]string{"AWS_REGION": "cn-north-1"}, "https://secretsmanager.cn-north-1.amazonaws.com.cn"},
		{"fips", map[string]string{"AWS_REGION": "us-gov-west-1", "AWS_USE_FIPS_ENDPOINT": "true"}, "https://secretsmanager-fips.us-gov-west-1.amazonaws.com"},
		{"all services", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566/"}, "http://127.0.0.1:4566"},
		{"this service first", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:5000"}, "http://127.0.0.1:5000"},
		{"no region", map[string]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_USE_FIPS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_PROFILE"} {
				t.Setenv(k, tt.env[k])
			}
			t.Setenv("AWS_CONFIG_FILE", os.DevNull)
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
			cfg, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := serviceEndpoint(context.Background(), cfg, "Secrets Manager", "secretsmanager"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
