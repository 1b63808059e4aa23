#!/usr/bin/env bash
# Benchmarks: `go test -bench` for the in-process paths, then the real
# binary timed as a process (bench/proctime), printed as markdown.
#
#   bench/run.sh                 # what `make bench` runs
#   BENCH_RUNS=50 bench/run.sh   # fewer process runs per case (default 200)
#   BENCH_GO=0 bench/run.sh      # skip go test -bench
#   BENCH_MOTO=0 bench/run.sh    # skip the managed get against moto
#   BENCH_BIN=path bench/run.sh  # time that binary instead of building bin/
#
# To time another case, add a `bench_case` line below (name, expected exit
# code, stdin, then optional VAR=value words and the command).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${BENCH_RUNS:-200}
bin=$(realpath -m "${BENCH_BIN:-bin/docker-credential-secretsmanager}")

work=$(mktemp -d)
pids=()
cleanup() {
	local pid
	# A helper with the memory agent may have started one in our private
	# runtime dir; older builds answer "unknown command", which is fine.
	[[ -d $work/run ]] && XDG_RUNTIME_DIR=$work/run TMPDIR=$work/tmp "$bin" agent stop >/dev/null 2>&1 || true
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cases=$work/cases
: >"$cases"
# bench_case NAME EXIT STDIN [VAR=value ...] COMMAND [ARG ...]
bench_case() {
	local name=$1 exit=$2 stdin=$3
	shift 3
	printf '%s;%s;%s;%s\n' "$name" "$exit" "$stdin" "$*" >>"$cases"
}

if [[ -z ${BENCH_BIN:-} ]]; then
	make --no-print-directory build >&2
fi

echo "# Benchmarks"
echo
echo "$(go version | cut -d' ' -f3-), $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ)"
echo

size=$(stat -c %s "$bin")
echo "## Binary"
echo
verdict="within the 10 MB (10,000,000 bytes) limit"
((size <= 10000000)) || verdict="OVER the 10 MB (10,000,000 bytes) limit"
printf -- '- %s: %d bytes (%s MB, %s MiB), stripped (-s -w), %s\n' "$(basename "$bin")" "$size" \
	"$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1000000 }')" "$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }')" "$verdict"
printf -- '- version: %s\n' "$("$bin" version)"
echo

if [[ ${BENCH_GO:-1} != 0 ]]; then
	echo "## In-process (go test -bench)"
	echo
	echo '```'
	go test -run '^$' -bench . -benchmem -benchtime "${BENCH_GO_TIME:-1s}" ./credhelper | grep -E '^(Benchmark|ok|PASS)'
	echo '```'
	echo
fi

# An isolated environment: no user Docker or AWS configuration, no IMDS.
export HOME=$work/home DOCKER_CONFIG=$work/docker XDG_RUNTIME_DIR=$work/run TMPDIR=$work/tmp
mkdir -p "$HOME" "$DOCKER_CONFIG" "$TMPDIR"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SECRETS_MANAGER AWS_ENDPOINT_URL_ECR \
	AWS_ENDPOINT_URL_ECR_PUBLIC DOCKER_CREDENTIAL_SECRETSMANAGER_CONFIG DOCKER_CREDENTIAL_SECRETSMANAGER_FALLBACK \
	DOCKER_CREDENTIAL_SECRETSMANAGER_LOG DOCKER_CREDENTIAL_SECRETSMANAGER_LOG_FILE
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
# Every case runs with the same mapping, as a configured CodeBuild job would.
export DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES="docker.io=bench/dockerhub,bench.registry.test=bench/registry"

# The process-start floor comes first: it is the ratio's baseline.
bench_case version 0 '' "$bin" version
bench_case "get unmanaged" 1 'ghcr.io\n' "$bin" get
bench_case list 0 '' "$bin" list

moto_note=""
if [[ ${BENCH_MOTO:-1} != 0 ]] && command -v moto_server >/dev/null && command -v aws >/dev/null; then
	port=$(free_port)
	moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
	pids+=($!)
	endpoint=http://127.0.0.1:$port
	for _ in $(seq 100); do
		curl -fs "$endpoint/moto-api/" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -fs "$endpoint/moto-api/" >/dev/null || { cat "$work/moto.log" >&2; echo "moto did not start" >&2; exit 1; }
	# The value reaches aws from a 0600 file, never from argv.
	umask 077
	printf '{"username":"bench","password":"%s"}' "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" >"$work/secret.json"
	aws --endpoint-url "$endpoint" secretsmanager create-secret --name bench/registry \
		--secret-string "file://$work/secret.json" >/dev/null
	rm -f "$work/secret.json"
	# Every process is a cold start: a new SDK configuration, credential
	# chain and connection per get, and no memory agent to answer instead.
	bench_case "get managed (moto, cold)" 0 'bench.registry.test\n' \
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=$endpoint" DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT=off "$bin" get
else
	moto_note="(managed get against moto skipped: BENCH_MOTO=0 or moto_server/aws missing)"
fi

# The memory agent, and amazon-ecr-credential-helper for comparison, against
# fakeaws: its ECR tokens carry a real expiry, so both caches can hit.
#   BENCH_AGENT=0     skip these cases
#   BENCH_ECR_LOGIN=0 skip ecr-login (installed once into .cache/)
agent_note=""
if [[ ${BENCH_AGENT:-1} != 0 ]]; then
	go build -o "$work/fakeaws" ./internal/fakeaws/cmd/fakeaws
	umask 077
	printf '{"bench/registry":"{\\"username\\":\\"bench\\",\\"password\\":\\"%s\\"}"}' \
		"$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" >"$work/fake-secrets.json"
	# start_fake TOKEN_TTL: a fakeaws whose ECR tokens live TOKEN_TTL; sets fake_url.
	start_fake() {
		"$work/fakeaws" -secrets "$work/fake-secrets.json" -ecr-token-ttl "$1" \
			-access-key-id "$AWS_ACCESS_KEY_ID" -secret-access-key "$AWS_SECRET_ACCESS_KEY" >"$work/fake-$1.out" 2>&1 &
		pids+=($!)
		fake_url=""
		for _ in $(seq 200); do
			fake_url=$(head -n1 "$work/fake-$1.out" 2>/dev/null || true)
			[[ $fake_url == http* ]] && break
			sleep 0.05
		done
		[[ $fake_url == http* ]] || { cat "$work/fake-$1.out" >&2; echo "fakeaws did not start" >&2; exit 1; }
	}
	start_fake 12h
	fake=$fake_url
	# Tokens that live 30 s are inside the agent's one-minute expiry
	# margin: never cached, so every get through the agent is a miss.
	start_fake 30s
	fake_short=$fake_url
	ecr_host=123456789012.dkr.ecr.us-east-1.amazonaws.com

	# The first get starts the agent (detached, in $XDG_RUNTIME_DIR); the
	# warm-up runs below fill it.
	printf 'bench.registry.test\n' | AWS_ENDPOINT_URL_SECRETS_MANAGER=$fake "$bin" get >/dev/null
	for _ in $(seq 100); do "$bin" agent status >/dev/null 2>&1 && break; sleep 0.05; done
	"$bin" agent status >/dev/null || { echo "the memory agent did not start" >&2; exit 1; }

	bench_case "get managed (fakeaws, cold, agent off)" 0 'bench.registry.test\n' \
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=$fake" DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT=off "$bin" get
	bench_case "get managed (fakeaws, agent hit)" 0 'bench.registry.test\n' \
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=$fake" "$bin" get
	bench_case "get ECR (fakeaws, cold, agent off)" 0 "$ecr_host\\n" \
		"AWS_ENDPOINT_URL_ECR=$fake" DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT=off "$bin" get
	bench_case "get ECR (fakeaws, agent miss)" 0 "$ecr_host\\n" \
		"AWS_ENDPOINT_URL_ECR=$fake_short" "$bin" get
	bench_case "get ECR (fakeaws, agent hit)" 0 "$ecr_host\\n" \
		"AWS_ENDPOINT_URL_ECR=$fake" "$bin" get

	if [[ ${BENCH_ECR_LOGIN:-1} != 0 ]]; then
		ecr_login_version=v0.12.0
		ecr_login_dir=$PWD/.cache/ecr-login-$ecr_login_version
		ecr_login=$ecr_login_dir/docker-credential-ecr-login
		if [[ ! -x $ecr_login ]]; then
			echo "bench: go install docker-credential-ecr-login@$ecr_login_version (cached in $ecr_login_dir)" >&2
			GOBIN=$ecr_login_dir go install "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login@$ecr_login_version" >&2
		fi
		# Its cache is a file: ~/.ecr/cache.json under the bench's HOME.
		bench_case "ecr-login version" 0 '' "$ecr_login" version
		bench_case "ecr-login get ECR (fakeaws, cold, cache off)" 0 "$ecr_host\\n" \
			"AWS_ENDPOINT_URL_ECR=$fake" AWS_ECR_DISABLE_CACHE=true "$ecr_login" get
		bench_case "ecr-login get ECR (fakeaws, warm, file cache)" 0 "$ecr_host\\n" \
			"AWS_ENDPOINT_URL_ECR=$fake" "$ecr_login" get
	else
		agent_note="(ecr-login skipped: BENCH_ECR_LOGIN=0)"
	fi
else
	agent_note="(memory agent and ecr-login cases skipped: BENCH_AGENT=0)"
fi

go build -o "$work/proctime" ./bench/proctime
echo "## Processes (bench/proctime, $runs interleaved runs per case)"
echo
"$work/proctime" -n "$runs" -baseline version "$cases"
echo
[[ -z $moto_note ]] || echo "$moto_note"
[[ -z $agent_note ]] || echo "$agent_note"
echo "Target: get unmanaged within 1.25x of version."
echo "Targets (memory agent): agent hit within 1.3x of version; at most 0.6x of ecr-login's warm get;"
echo "cold get (agent off, and agent miss) no slower than ecr-login's cold get."
