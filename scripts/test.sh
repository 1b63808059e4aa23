#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, unit and AWS-integration tests
# (moto and an in-test SigV4 endpoint), the memory agent, the end-to-end
# suite with real registries and clients, the CodeBuild image proof, and
# cfn-lint of the CloudFormation template.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

step() { printf '\n=== %s\n' "$*"; }

step "lint"
scripts/lint.sh

step "helper: unit, integration (moto, fake AWS), agent"
go test -race -count=1 -timeout 15m ./...

if [[ -f e2e/go.mod ]]; then
	step "end to end: real registries and clients"
	(cd e2e && go test -count=1 -timeout 20m ./...)
fi

if [[ -f imagetest/go.mod ]]; then
	step "CodeBuild image"
	(cd imagetest && go test -count=1 -timeout 20m ./...)
fi

if [[ -f image/cloudformation.yml ]]; then
	step "cfn-lint"
	cfn-lint image/cloudformation.yml
fi

step "binary size"
make -s build
stat -c '%s bytes  %n' bin/docker-credential-secretsmanager
