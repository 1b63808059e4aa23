#!/usr/bin/env bash
# The end-to-end suite alone: real registries, moto and real clients
# (docker CLI and Engine, BuildKit, the legacy builder, crane, skopeo, oras,
# docker-credential-pass). Needs scripts/deps.sh and a running Docker Engine;
# a missing tool fails the suite, nothing is skipped.
#   scripts/e2e.sh                 # the whole suite
#   scripts/e2e.sh -run 'TestEndToEnd/4' -v
#   E2E_KEEP=1 scripts/e2e.sh -v   # keep the temp dir (logs, configs) for a look
set -euo pipefail
cd "$(dirname "$0")/../e2e"
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
exec go test -count=1 -timeout 15m "$@" ./...
