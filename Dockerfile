# The CodeBuild image: docker-credential-secretsmanager baked in as the
# Docker CLI's credsStore, so every pull and push in a build is authenticated
# with no `docker login` and no password in any file. See docs/codebuild.md.
#
#   Lean image for Docker builds (dockerd, docker CLI + buildx, git, bash, jq, AWS CLI):
#     docker buildx build -t codebuild-docker .
#   Overlay on any CodeBuild image (adds the helper, its config and start-dockerd, nothing else):
#     docker buildx build --build-arg BASE_IMAGE=<your CodeBuild image> -t codebuild-overlay .
#   Multi-arch (the Go part cross-compiles; the lean stage's RUN needs QEMU or native nodes):
#     docker buildx build --platform linux/amd64,linux/arm64 --push -t <repo>:<tag> .
#   Unit tests in the builder stage:
#     docker buildx build --target test .
#
# Every image comes from ECR Public, so building this image never spends
# Docker Hub's anonymous pull limit.

# The Go toolchain the helper (and buildx, for the lean image) is built with.
ARG GO_IMAGE=public.ecr.aws/docker/library/golang:1.26-bookworm
# The lean image's base.
ARG LEAN_BASE_IMAGE=public.ecr.aws/docker/library/debian:bookworm-slim
# Empty: build the lean image. Set: overlay the helper on that image.
ARG BASE_IMAGE=

# --- the helper, cross-compiled on the build host for the target platform
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ENV CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
	GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
	-gcflags 'github.com/aws/...=-l' \
	-o /out/docker-credential-secretsmanager ./cmd/docker-credential-secretsmanager

# --- unit tests, on the build platform (docker buildx build --target test .)
FROM build AS test
RUN --mount=type=cache,target=/root/.cache/go-build \
	go vet ./... && go test -short -count=1 ./...

# --- the buildx CLI plugin for the lean image, cross-compiled likewise
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS buildx
ARG TARGETOS
ARG TARGETARCH
ARG BUILDX_VERSION=v0.38.2
# A module proxy other than the Go image's default, if the build needs one.
ARG GOPROXY
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
	go install -trimpath -ldflags "-s -w -X github.com/docker/buildx/version.Version=$BUILDX_VERSION" \
	"github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION" \
	&& mkdir -p /out \
	&& find "$(go env GOPATH)/bin" -type f -name buildx -exec mv {} /out/docker-buildx \; \
	&& test -x /out/docker-buildx

# --- the lean image for Docker builds
FROM ${LEAN_BASE_IMAGE} AS lean
# Debian's packages: dockerd with containerd and runc, the docker CLI, the
# AWS CLI v2, git, jq. No recommends, no documentation, no apt lists.
RUN set -eux; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update; \
	apt-get install -y --no-install-recommends \
		bash ca-certificates git jq openssh-client \
		docker.io iptables procps \
		awscli; \
	apt-get clean; \
	rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man /usr/share/info /var/cache/debconf/*-old
COPY --from=buildx /out/docker-buildx /usr/local/lib/docker/cli-plugins/docker-buildx
COPY image/entrypoint /usr/local/bin/
ENV DOCKER_BUILDKIT=1
ENTRYPOINT ["/usr/local/bin/entrypoint"]
CMD ["bash"]

# --- the result: the lean image or BASE_IMAGE, plus the helper, its config and
# the dockerd starter (new files only: BASE_IMAGE's entrypoint, env and tools
# are left as they were)
FROM ${BASE_IMAGE:-lean}
COPY --from=build /out/docker-credential-secretsmanager /usr/local/bin/docker-credential-secretsmanager
COPY image/start-dockerd /usr/local/bin/start-dockerd
COPY image/config.json /root/.docker/config.json
