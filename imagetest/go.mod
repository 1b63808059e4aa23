module github.com/credhelpers/docker-credential-secretsmanager/imagetest

go 1.26.8

require (
	github.com/aws/aws-sdk-go-v2 v1.39.0
	github.com/aws/aws-sdk-go-v2/credentials v1.18.13
	github.com/aws/aws-sdk-go-v2/service/secretsmanager v1.39.0
	github.com/credhelpers/docker-credential-secretsmanager v0.0.0-00010101000000-000000000000
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/aws/aws-sdk-go-v2/internal/configsources v1.4.7 // indirect
	github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 v2.7.7 // indirect
	github.com/aws/smithy-go v1.23.0 // indirect
)

replace github.com/credhelpers/docker-credential-secretsmanager => ../
