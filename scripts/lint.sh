#!/usr/bin/env bash
# gofmt, go vet and staticcheck over every module in the repository, and a
# cross-build of the main module for every supported GOOS/GOARCH.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

status=0
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [[ -n "$unformatted" ]]; then
	echo "lint: gofmt needed:"; echo "$unformatted"; status=1
fi
for mod in $(find . -name go.mod -not -path './.cache/*' -exec dirname {} \; | sort); do
	echo "lint: $mod"
	(cd "$mod" && go vet ./... && staticcheck ./...) || status=1
done
# `go install` must keep building where Docker clients run, not only here.
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
	echo "lint: go build $target"
	GOOS=${target%/*} GOARCH=${target#*/} go build ./... || status=1
done
exit $status
