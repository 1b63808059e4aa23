#!/usr/bin/env bash
# make demo: the helper end to end on this machine, in about ten seconds.
# Starts moto (emulated AWS) and a registry that requires a password, keeps
# that password only in (emulated) Secrets Manager, and pushes and pulls an
# image with the Docker Engine, with a Docker config that holds nothing but
# {"credsStore":"secretsmanager"} and no `docker login`. Cleans up after
# itself; exits non-zero if any step fails. Needs scripts/deps.sh and
# `make build` (the Makefile target runs both).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/bin:$PATH:$(go env GOPATH 2>/dev/null || echo /root/go)/bin"

if [[ -t 1 ]]; then arrow=$'\033[1m==>\033[0m'; else arrow="==>"; fi
say() { printf '%s %s\n' "$arrow" "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

for tool in docker docker-registry htpasswd moto_server aws curl python3 tar docker-credential-secretsmanager; do
	command -v "$tool" >/dev/null || fail "$tool not found: run scripts/deps.sh and make build (make demo does both)"
done
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || fail "the Docker Engine is not reachable"

work=$(mktemp -d /tmp/credhelper-demo-XXXXXX)
pids=()
image=""
cleanup() {
	local rc=$?
	set +e
	[[ -n "$image" ]] && docker rmi -f "$image" >/dev/null 2>&1
	# The helper's memory agent, if it started one, lives under our TMPDIR.
	docker-credential-secretsmanager agent stop >/dev/null 2>&1
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	rm -rf "$work"
	if ((rc == 0)); then say "cleaned up: servers stopped, image removed, $work deleted"; else echo "demo: FAILED (see above)" >&2; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { # url log
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1
	done
	cat "$2" >&2
	fail "nothing answers on $1"
}

mkdir -p "$work/tmp" "$work/docker" "$work/registry"
# Everything below runs in this isolated environment: no AWS profile, no
# instance metadata, its own Docker config and TMPDIR.
export TMPDIR="$work/tmp" DOCKER_CONFIG="$work/docker"
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN DOCKER_AUTH_CONFIG

moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"

reg_port=$(free_port)
registry="127.0.0.1:$reg_port"
user=demo
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
# htpasswd reads the password from stdin: it never appears in argv.
htpasswd -iBn "$user" <<<"$password" >"$work/registry/htpasswd" 2>/dev/null
cat >"$work/registry/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry/data}}
http: {addr: "$registry", secret: "$(head -c 12 /dev/urandom | base64)"}
auth: {htpasswd: {realm: demo, path: $work/registry/htpasswd}}
EOF
docker-registry serve "$work/registry/config.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
wait_http "$AWS_ENDPOINT_URL/moto-api/" "$work/moto.log"
wait_http "http://$registry/v2/" "$work/registry.log"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://$registry/v2/")
[[ "$status" == 401 ]] || fail "the registry answered $status without a password, want 401"
say "moto (emulated AWS) on 127.0.0.1:$moto_port; a registry on $registry that answers 401 without a password"

# The password goes in over stdin, not argv.
printf '{"username":"%s","password":"%s"}' "$user" "$password" |
	aws secretsmanager create-secret --name demo/registry --secret-string file:///dev/stdin --query ARN --output text >"$work/arn"
say "stored the registry's username and password in Secrets Manager: $(cat "$work/arn")"
unset password

printf '{"credsStore":"secretsmanager"}\n' >"$DOCKER_CONFIG/config.json"
export DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES="$registry=demo/registry"
say "Docker config: $(cat "$DOCKER_CONFIG/config.json")  mapping: DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES=$DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES"

# A one-file image built locally: nothing is pulled from the internet.
image="$registry/demo/hello:1"
message="hello from a private registry, pulled with no docker login"
mkdir -p "$work/image" && printf '%s\n' "$message" >"$work/image/hello.txt"
tar -C "$work/image" -c hello.txt | docker import -c 'CMD ["/hello.txt"]' - "$image" >/dev/null
push=$(docker push "$image" 2>&1) || { echo "$push" >&2; fail "docker push failed"; }
digest=$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$push" | cut -d' ' -f2)
say "docker push $image (no docker login): $digest"

docker rmi -f "$image" >/dev/null
pull=$(docker pull "$image" 2>&1) || { echo "$pull" >&2; fail "docker pull failed"; }
grep -q "$digest" <<<"$pull" || { echo "$pull" >&2; fail "docker pull did not get $digest"; }
say "removed the local copy, then docker pull $image (no docker login): $digest"

id=$(docker create "$image")
got=$(docker cp "$id:/hello.txt" - | tar -xO)
docker rm "$id" >/dev/null
[[ "$got" == "$message" ]] || fail "the pulled image says \"$got\", want \"$message\""
say "the pulled image says: $got"

# Without the helper, the same pull is refused: the password really is needed.
mkdir -p "$work/plain" && echo '{}' >"$work/plain/config.json"
docker rmi -f "$image" >/dev/null
if refused=$(DOCKER_CONFIG="$work/plain" docker pull "$image" 2>&1); then
	fail "the registry let an anonymous pull through"
fi
say "the same pull without the helper: ${refused##*: }"

say "config.json after the push and the pull (no password, no auth):"
cat "$DOCKER_CONFIG/config.json"
echo
if grep -q '"auth"' "$DOCKER_CONFIG/config.json"; then fail "config.json holds an auth entry"; fi
