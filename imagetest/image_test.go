package imagetest

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credhelpers/docker-credential-secretsmanager/imagetest/buildspec"
	"github.com/credhelpers/docker-credential-secretsmanager/internal/fakeaws"
)

// The account moto answers for; its ECR token is "<account>-auth-token".
const (
	account   = "123456789012"
	region    = "us-east-1"
	ecrHost   = account + ".dkr.ecr." + region + ".amazonaws.com"
	ecrToken  = account + "-auth-token"
	hubUser   = "hubuser"
	hubSecret = "imagetest/dockerhub"
)

// TestCodeBuildImage builds the Dockerfile with the Engine (overlay mode on
// a base made from this machine's files, the Go builder stage fed the same
// way), then runs the image as CodeBuild runs a custom image — the Engine's
// socket, host networking, CODEBUILD_* variables and credentials from a
// loopback container-credentials server — and has it execute the example
// buildspec (Docker Hub FROM, push to ECR) and the repository's own
// buildspec (build, test and publish this image with the fresh helper).
// Docker Hub is a password-protected distribution registry whose password
// is in moto's Secrets Manager; ECR is one whose password is moto's ECR
// token. Neither buildspec logs in. Afterwards no secret may be on the
// containers' filesystems, in the source tree or in any captured output.
func TestCodeBuildImage(t *testing.T) {
	e := newEnv(t)
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"buildspec.yml", "examples/ecs/buildspec.yml"} {
		data, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		spec, err := buildspec.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for phase, cmds := range spec.Commands {
			for _, c := range cmds {
				for _, bad := range []string{"docker login", "get-login-password", "get-login ", "--password"} {
					if strings.Contains(c, bad) {
						t.Errorf("%s, phase %s: %q logs in (%q)", f, phase, c, bad)
					}
				}
			}
		}
	}

	src, original := copySource(t, repo)
	binDir := t.TempDir()
	goBuild(t, repo, filepath.Join(binDir, "docker-credential-secretsmanager"), "./cmd/docker-credential-secretsmanager")
	runner := filepath.Join(t.TempDir(), "buildspec-run")
	goBuild(t, ".", runner, "./cmd/buildspec-run")

	// Services on loopback, as CodeBuild's would be reachable.
	moto := e.startMoto()
	hub := e.startRegistry("hub", hubUser, e.hubPass)
	ecr := e.startRegistry("ecr", "AWS", ecrToken)
	creds := &fakeaws.ContainerCredentials{
		Credentials: fakeaws.Credentials{AccessKeyID: "ASIA" + randHex(8), SecretAccessKey: e.awsSecretKey, SessionToken: e.awsSessionToken},
		Expiration:  time.Now().Add(time.Hour),
	}
	credsSrv := fakeaws.Listen(creds)
	t.Cleanup(credsSrv.Close)
	e.createSecret(moto, hubSecret, fmt.Sprintf(`{"username":%q,"password":%q}`, hubUser, e.hubPass))
	mapping := fmt.Sprintf("%s=%s,%s=ecr:%s", hub, hubSecret, ecr, ecrHost)

	// Local images: the Go builder, the "CodeBuild image" to overlay, and
	// the application's base on the Docker Hub stand-in.
	goImage := "imagetest-golang:" + e.id
	baseImage := "imagetest-codebuild-base:" + e.id
	image := "imagetest-codebuild:" + e.id
	e.importImage(goImage, e.goImageTar(repo),
		"ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"ENV GOPATH=/go", "ENV GOPROXY=off", "ENV GOTOOLCHAIN=local", "ENV GOFLAGS=-buildvcs=false")
	e.importImage(baseImage, e.baseImageTar(),
		"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	appBase := hub + "/library/nginx:1.27-alpine"
	e.importImage(appBase, e.appBaseTar())

	// Seed the Docker Hub stand-in through the helper, as any client would.
	e.hostEnv = append(e.hostEnv,
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES="+mapping,
		"DOCKER_CREDENTIAL_SECRETSMANAGER_AGENT=off",
		"AWS_ENDPOINT_URL="+moto, "AWS_REGION="+region,
		"AWS_ACCESS_KEY_ID=imagetest", "AWS_SECRET_ACCESS_KEY=imagetest",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	e.mustDocker("push", appBase)

	commit := randHex(20)
	tag := commit[:12]
	// The same build arguments as the root buildspec passes, so that its
	// build inside the container reuses this one's cache.
	start := time.Now()
	e.mustDocker("build", "--build-arg", "VERSION="+tag, "--build-arg", "GO_IMAGE="+goImage,
		"--build-arg", "BASE_IMAGE="+baseImage, "--platform", "linux/"+runtime.GOARCH, "-t", image, src)
	t.Logf("image built in %v", time.Since(start).Round(time.Second))
	if out := e.mustDocker("run", "--rm", image, "docker-credential-secretsmanager", "version"); !strings.Contains(out, tag) {
		t.Errorf("the image's helper says %q, want version %s", out, tag)
	}

	// Overlay mode adds three files in three layers and changes nothing else
	// of the base: not its entrypoint, command, environment, user or workdir.
	const cfg = "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.Env}} {{.Config.User}} {{.Config.WorkingDir}}"
	if b, i := e.mustDocker("image", "inspect", "--format", cfg, baseImage), e.mustDocker("image", "inspect", "--format", cfg, image); b != i {
		t.Errorf("overlay changed the base's configuration:\nbase  %s\nimage %s", b, i)
	}
	const layers = "{{range .RootFS.Layers}}{{.}} {{end}}"
	baseLayers := strings.Fields(e.mustDocker("image", "inspect", "--format", layers, baseImage))
	imageLayers := strings.Fields(e.mustDocker("image", "inspect", "--format", layers, image))
	if len(imageLayers) != len(baseLayers)+3 || !slices.Equal(imageLayers[:len(baseLayers)], baseLayers) {
		t.Errorf("overlay layers: base %d, image %d; want the base's and 3 more", len(baseLayers), len(imageLayers))
	}

	// The other architecture: the Go stage runs on the build platform and
	// cross-compiles, the overlay only copies, so no emulation is needed
	// (this machine has none). FROM scratch stands in for an arm64 base.
	t.Run("overlay for the other architecture cross-compiles without emulation", func(t *testing.T) {
		other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
		out := filepath.Join(t.TempDir(), "rootfs")
		e.mustDocker("build", "--platform", "linux/"+other, "--build-arg", "VERSION="+tag, "--build-arg", "GO_IMAGE="+goImage,
			"--build-arg", "BASE_IMAGE=scratch", "-o", "type=local,dest="+out, src)
		f, err := elf.Open(filepath.Join(out, "usr/local/bin/docker-credential-secretsmanager"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[other]
		if f.Machine != want {
			t.Errorf("helper built for %v, want %v", f.Machine, want)
		}
		if f.Section(".interp") != nil {
			t.Error("helper is dynamically linked, want static")
		}
		for _, p := range []string{"root/.docker/config.json", "usr/local/bin/start-dockerd"} {
			if _, err := os.Stat(filepath.Join(out, p)); err != nil {
				t.Error(err)
			}
		}
	})

	// Without privileges and without a mounted socket, the dockerd starter
	// refuses and says what to change.
	if out, err := e.docker("run", "--rm", image, "start-dockerd"); err == nil || !strings.Contains(out, "PrivilegedMode") {
		t.Errorf("start-dockerd in an unprivileged container: err %v, output %q; want a failure naming PrivilegedMode", err, out)
	}

	codebuildEnv := []string{
		"CODEBUILD_BUILD_ARN=arn:aws:codebuild:" + region + ":" + account + ":build/imagetest:" + e.id,
		"CODEBUILD_BUILD_ID=imagetest:" + e.id,
		"CODEBUILD_BUILD_IMAGE=" + image,
		"CODEBUILD_CI=true",
		"CODEBUILD_RESOLVED_SOURCE_VERSION=" + commit,
		"CODEBUILD_SRC_DIR=/codebuild/output/src/repo",
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + credsSrv.URL + "/v2/credentials/imagetest",
		"AWS_ENDPOINT_URL=" + moto,
		"DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES=" + mapping,
	}

	t.Run("example buildspec: Docker Hub FROM, push to ECR, ECS artifacts", func(t *testing.T) {
		out := e.runBuildspec(t, "example", image, src, runner, "examples/ecs/buildspec.yml", append(codebuildEnv,
			"REPOSITORY_URI="+ecr+"/my-app",
			"APP_BASE_IMAGE="+appBase)...)
		t.Logf("example buildspec output:\n%s", tail(out, 15))
		e.wantTags(ecr, "my-app", commit[:7], "latest")
		var detail struct{ ImageURI string }
		readJSON(t, filepath.Join(src, "imageDetail.json"), &detail)
		if want := ecr + "/my-app:" + commit[:7]; detail.ImageURI != want {
			t.Errorf("imageDetail.json ImageURI = %q, want %q", detail.ImageURI, want)
		}
		var defs []struct{ Name, ImageURI string }
		readJSON(t, filepath.Join(src, "imagedefinitions.json"), &defs)
		if len(defs) != 1 || defs[0].Name != "my-app" || defs[0].ImageURI != detail.ImageURI {
			t.Errorf("imagedefinitions.json = %+v", defs)
		}
		var td struct {
			ContainerDefinitions []struct{ Name, Image string }
		}
		readJSON(t, filepath.Join(src, "taskdef.json"), &td)
		if len(td.ContainerDefinitions) != 1 || td.ContainerDefinitions[0].Name != "my-app" || td.ContainerDefinitions[0].Image != "<IMAGE1_NAME>" {
			t.Errorf("taskdef.json containers = %+v, want my-app with the <IMAGE1_NAME> placeholder", td.ContainerDefinitions)
		}
	})

	t.Run("root buildspec: build, test and publish the image with the fresh helper", func(t *testing.T) {
		out := e.runBuildspec(t, "root", image, src, runner, "buildspec.yml", append(codebuildEnv,
			"ECR_REGISTRY="+ecr,
			// The unit tests already run in CI on the host; in the builder
			// stage they take minutes on two cores. The buildspec's
			// default is true.
			"RUN_UNIT_TESTS=false",
			"GO_IMAGE="+goImage,
			"BASE_IMAGE="+baseImage)...)
		t.Logf("root buildspec output:\n%s", tail(out, 15))
		e.wantTags(ecr, "codebuild-docker", tag, "latest")
		if !strings.Contains(out, "/tmp/fresh-helper/docker-credential-secretsmanager") {
			t.Errorf("the push did not go through the freshly built helper; output:\n%s", tail(out, 40))
		}
	})

	// The image leaves the agent on and no fallback helper configured:
	// `docker login` to a registry the mapping does not cover is kept in the
	// agent's memory, and later pulls and pushes in the build use it.
	t.Run("docker login to an unmanaged registry stays in memory", func(t *testing.T) {
		private := e.startRegistry("private", "dev", e.privatePass)
		ref := private + "/team/app:1"
		script := strings.Join([]string{
			"set -euo pipefail",
			"docker login " + private + " -u dev --password-stdin",
			"jq -c . /root/.docker/config.json",
			"docker tag " + appBase + " " + ref,
			"docker push " + ref,
			"docker rmi " + ref,
			"docker pull " + ref,
			"docker-credential-secretsmanager list",
		}, "\n")
		container := "imagetest-login-" + e.id
		e.containers = append(e.containers, container)
		args := []string{"run", "-i", "--name", container, "--network", "host",
			"-v", "/var/run/docker.sock:/var/run/docker.sock"}
		for _, kv := range codebuildEnv {
			args = append(args, "-e", kv)
		}
		args = append(args, image, "bash", "-c", script)
		out, err := e.dockerIn(strings.NewReader(e.privatePass+"\n"), args...)
		if err != nil {
			t.Fatalf("login, push, pull: %v\n%s", err, tail(out, 30))
		}
		t.Logf("output:\n%s", tail(out, 8))
		e.wantTags(private, "team/app", "1")
		var cfg struct {
			CredsStore string
			Auths      map[string]map[string]any
		}
		for _, l := range lines(strings.NewReader(out)) {
			if strings.HasPrefix(l, "{\"auths\"") || strings.HasPrefix(l, "{\"credsStore\"") {
				if err := json.Unmarshal([]byte(l), &cfg); err != nil {
					t.Fatal(err)
				}
			}
		}
		if cfg.CredsStore != "secretsmanager" || len(cfg.Auths[private]) != 0 {
			t.Errorf("config.json after login = %+v, want credsStore and an empty entry for %s", cfg, private)
		}
	})

	// A privileged build starts its own dockerd with start-dockerd: here the
	// image is overlaid on a base carrying this machine's dockerd, and the
	// container gets the two capabilities dockerd needs (this machine cannot
	// run --privileged containers). Concurrent and repeated calls must end
	// with one daemon.
	t.Run("start-dockerd starts one dockerd for concurrent callers", func(t *testing.T) {
		dockerdBase := "imagetest-dockerd-base:" + e.id
		withDockerd := "imagetest-codebuild-dockerd:" + e.id
		e.importImage(dockerdBase, e.dockerdImageTar(),
			"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
		e.mustDocker("build", "--build-arg", "VERSION="+tag, "--build-arg", "GO_IMAGE="+goImage,
			"--build-arg", "BASE_IMAGE="+dockerdBase, "-t", withDockerd, src)
		container := "imagetest-dockerd-" + e.id
		e.containers = append(e.containers, container)
		out, err := e.docker("run", "--name", container, "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
			"-e", "DOCKERD_ARGS=--iptables=false --ip6tables=false --bridge=none --storage-driver=vfs",
			withDockerd, "bash", "-c",
			`set -e
			timeout 60 start-dockerd & a=$!
			timeout 60 start-dockerd & b=$!
			wait $a; wait $b; start-dockerd
			docker info --format 'server={{.ServerVersion}}'
			echo "dockerds=$(grep -lx dockerd /proc/[0-9]*/comm | wc -l)"`)
		if err != nil {
			t.Fatalf("start-dockerd: %v\n%s", err, tail(out, 30))
		}
		t.Logf("output:\n%s", out)
		if !strings.Contains(out, "start-dockerd: dockerd is running") || !strings.Contains(out, "server=") {
			t.Errorf("dockerd was not started:\n%s", out)
		}
		if !strings.Contains(out, "dockerds=1\n") {
			t.Errorf("want exactly one dockerd:\n%s", out)
		}
	})

	if n := creds.Requests(); n == 0 {
		t.Error("the helper in the container never asked the container-credentials endpoint")
	}
	e.scanForSecrets(src, original)
}

// env is one run's temp dirs, secrets, processes and images.
type env struct {
	t               *testing.T
	id              string
	dir             string
	dockerConfig    string
	hostEnv         []string
	hubPass         string
	privatePass     string
	awsSecretKey    string
	awsSessionToken string
	outputs         bytes.Buffer // every captured output, for the leak scan
	containers      []string
	registries      []string    // host:port of the registries this run started
	creds           [][2]string // their user and password, by index
}

func newEnv(t *testing.T) *env {
	e := &env{
		t:               t,
		id:              randHex(6),
		dir:             t.TempDir(),
		hubPass:         "hub-" + randHex(16),
		privatePass:     "private-" + randHex(16),
		awsSecretKey:    randHex(20),
		awsSessionToken: "session-" + randHex(24),
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("the docker CLI is required: %v", err)
	}
	e.dockerConfig = filepath.Join(e.dir, "docker-config")
	if err := os.MkdirAll(e.dockerConfig, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dockerConfig, "config.json"), []byte(`{"credsStore":"secretsmanager"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.hostEnv = []string{"DOCKER_CONFIG=" + e.dockerConfig, "HOME=" + e.dir, "DOCKER_BUILDKIT=1"}
	if out, err := e.docker("version", "--format", "{{.Server.Version}}"); err != nil {
		t.Fatalf("the Docker Engine is required and does not answer: %v\n%s", err, out)
	}
	if out, err := e.docker("buildx", "version"); err != nil {
		t.Fatalf("the buildx plugin is required (scripts/deps.sh installs it): %v\n%s", err, out)
	}
	t.Cleanup(e.cleanup)
	return e
}

// docker runs the docker CLI with the test's isolated config.
func (e *env) docker(args ...string) (string, error) {
	return e.dockerIn(nil, args...)
}

func (e *env) dockerIn(stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = e.environ()
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	e.outputs.Write(out.Bytes())
	return out.String(), err
}

func (e *env) mustDocker(args ...string) string {
	e.t.Helper()
	out, err := e.docker(args...)
	if err != nil {
		e.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, tail(out, 40))
	}
	return out
}

func (e *env) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DOCKER_") || strings.HasPrefix(k, "AWS_") || k == "HOME" || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+os.Getenv("PATH"))
	return append(env, e.hostEnv...) // later entries win
}

func (e *env) cleanup() {
	for _, c := range e.containers {
		_, _ = e.docker("rm", "-f", c)
	}
	// Every image this run made or pushed carries its id or one of its
	// registries' ports; remove them by reference.
	out, err := e.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		e.t.Logf("listing images for cleanup: %v", err)
		return
	}
	var refs []string
	for _, ref := range strings.Fields(out) {
		if strings.Contains(ref, e.id) || e.ownsRegistry(ref) {
			refs = append(refs, ref)
		}
	}
	if len(refs) > 0 && os.Getenv("IMAGETEST_KEEP_IMAGES") == "" {
		if out, err := e.docker(append([]string{"rmi", "-f"}, refs...)...); err != nil {
			e.t.Logf("removing images: %v\n%s", err, out)
		}
	}
}

func (e *env) ownsRegistry(ref string) bool {
	for _, r := range e.registries {
		if strings.HasPrefix(ref, r+"/") {
			return true
		}
	}
	return false
}

// importImage makes an image from a tar stream of a root filesystem.
func (e *env) importImage(ref string, rootfs io.Reader, changes ...string) {
	e.t.Helper()
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	args = append(args, "-", ref)
	if out, err := e.dockerIn(rootfs, args...); err != nil {
		e.t.Fatalf("docker import %s: %v\n%s", ref, err, out)
	}
}

// tarStream runs fill in a goroutine, writing a rootfs into a pipe.
func (e *env) tarStream(fill func(r *rootfs) error) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		r := newRootfs(pw)
		err := fill(r)
		if err == nil {
			err = r.close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// goImageTar is the Go builder: this machine's Go toolchain (no tests, no
// docs), a shell, and the module cache the helper's go.mod needs, so that
// the Dockerfile's `go mod download` works with GOPROXY=off.
func (e *env) goImageTar(repo string) io.Reader {
	goroot := strings.TrimSpace(mustOutput(e.t, "go", "env", "GOROOT"))
	modcache := strings.TrimSpace(mustOutput(e.t, "go", "env", "GOMODCACHE"))
	mods := goModules(e.t, repo)
	return e.tarStream(func(r *rootfs) error {
		// The official golang image is a full Debian: the unit tests'
		// helper scripts may use the usual tools.
		if err := r.base("bash", "mkdir", "find", "mv", "cp", "rm", "cat", "ls", "sed", "grep", "tr", "head",
			"tail", "cut", "sort", "env", "chmod", "mktemp", "sleep", "date", "id", "dirname", "basename", "wc", "tee", "awk", "true"); err != nil {
			return err
		}
		if err := r.dir("/go", 0o755); err != nil {
			return err
		}
		err := r.tree(goroot, func(path string, d fs.DirEntry) bool {
			rel, _ := filepath.Rel(goroot, path)
			switch {
			case rel == "test" || rel == "doc" || rel == "api" || rel == "misc" || rel == ".git":
				return true
			case d.IsDir() && d.Name() == "testdata":
				return true
			case !d.IsDir() && strings.HasSuffix(d.Name(), "_test.go"):
				return true
			}
			return false
		})
		if err != nil {
			return err
		}
		for _, f := range mods {
			rel, err := filepath.Rel(modcache, f)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			// Parent directories are created by the import.
			if err := r.file("/go/pkg/mod/"+rel, 0o644, data); err != nil {
				return err
			}
		}
		return nil
	})
}

// baseImageTar stands in for a CodeBuild image: bash and the usual tools,
// the docker CLI with buildx, jq; no dockerd (the Engine's socket is mounted).
func (e *env) baseImageTar() io.Reader {
	return e.tarStream(func(r *rootfs) error {
		err := r.base("bash", "cat", "cut", "cp", "mkdir", "rm", "ls", "env", "tr", "head", "tail",
			"sed", "grep", "tee", "chmod", "mktemp", "sleep", "date", "id", "uname", "dirname",
			"basename", "seq", "awk", "flock", "xargs", "find", "jq", "docker")
		if err != nil {
			return err
		}
		return r.host("/usr/local/lib/docker/cli-plugins/docker-buildx", true)
	})
}

// dockerdImageTar is a CodeBuild-like base with this machine's Docker
// Engine (dockerd, containerd, runc) for start-dockerd to start.
func (e *env) dockerdImageTar() io.Reader {
	return e.tarStream(func(r *rootfs) error {
		return r.base("bash", "env", "cat", "mkdir", "rm", "ls", "sed", "grep", "awk", "flock", "xargs", "sleep",
			"tail", "wc", "nohup", "timeout", "docker", "dockerd", "containerd", "containerd-shim-runc-v2", "runc",
			"docker-init", "docker-proxy")
	})
}

// appBaseTar is the application's base image on the Docker Hub stand-in.
func (e *env) appBaseTar() io.Reader {
	return e.tarStream(func(r *rootfs) error {
		for _, d := range []string{"/usr", "/usr/share", "/usr/share/nginx", "/usr/share/nginx/html"} {
			if err := r.dir(d, 0o755); err != nil {
				return err
			}
		}
		return r.file("/usr/share/nginx/html/50x.html", 0o644, []byte("<p>imagetest "+e.id+"</p>\n"))
	})
}
