#!/usr/bin/env bash
# Installs everything the tests, the demo and the benchmarks need on a fresh
# Debian 12 machine with Go and a Docker Engine. Idempotent; run as root.
#   scripts/deps.sh            # all
#   scripts/deps.sh --no-buildx  # skip building the buildx plugin
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"

# Pinned tool versions.
STATICCHECK_VERSION=0.8.2
CRANE_VERSION=v0.22.1
ORAS_VERSION=v1.3.6
BUILDX_VERSION=v0.38.2

APT_PACKAGES=(docker-registry apache2-utils skopeo pass gnupg golang-docker-credential-helpers hyperfine jq curl)

missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "deps: apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The registry package starts a service listening on every interface; the
# tests run their own instances on 127.0.0.1 only.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
	systemctl stop docker-registry || true
fi
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true

for t in moto_server aws cfn-lint; do
	if ! command -v "$t" >/dev/null; then
		echo "deps: pip install moto[server] awscli cfn-lint"
		pip install -q "moto[server]==5.2.1" awscli cfn-lint
		break
	fi
done

gobin="$(go env GOPATH)/bin"
if [[ ! -x "$gobin/staticcheck" ]] || ! "$gobin/staticcheck" -version | grep -qF "($STATICCHECK_VERSION)"; then
	echo "deps: go install staticcheck $STATICCHECK_VERSION"
	go install "honnef.co/go/tools/cmd/staticcheck@v$STATICCHECK_VERSION"
fi
[[ -x "$gobin/crane" ]] && "$gobin/crane" version | grep -q "${CRANE_VERSION#v}" || { echo "deps: go install crane $CRANE_VERSION"; go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"; }
[[ -x "$gobin/oras" ]] && "$gobin/oras" version | grep -q "${ORAS_VERSION#v}" || { echo "deps: go install oras $ORAS_VERSION"; go install "oras.land/oras/cmd/oras@$ORAS_VERSION"; }

if [[ "${1:-}" != "--no-buildx" ]]; then
	# buildx takes over a minute to build on two cores: cache it in the
	# git-ignored .cache/ and install it as a CLI plugin.
	cache=".cache/buildx-$BUILDX_VERSION"
	if [[ ! -x "$cache/docker-buildx" ]]; then
		echo "deps: building buildx $BUILDX_VERSION (cached in $cache)"
		GOBIN="$PWD/$cache" go install "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION"
		mv "$cache/buildx" "$cache/docker-buildx"
	fi
	mkdir -p /usr/local/lib/docker/cli-plugins
	install -m 0755 "$cache/docker-buildx" /usr/local/lib/docker/cli-plugins/docker-buildx
fi
echo "deps: ok"
