package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// writeTar writes a tar archive of regular files (name → content).
func writeTar(t *testing.T, dst string, files map[string]string) {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, buf.String())
}

// tarFile returns the content of name in a tar archive (leading "/" and
// "./" ignored).
func tarFile(t *testing.T, archive []byte, name string) string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s is not in the archive", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if path.Clean(strings.TrimPrefix(h.Name, "/")) == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

// engineFile reads a file from an image in the Engine: it creates a
// container (never started), copies the file out and removes the container.
func (s *suite) engineFile(t *testing.T, e env, ref, name string) string {
	t.Helper()
	id := strings.TrimSpace(s.must(t, e, "", s.tools["docker"], "create", ref, "/none"))
	defer s.must(t, e, "", s.tools["docker"], "rm", id)
	out := s.must(t, e, "", s.tools["docker"], "cp", id+":/"+name, "-")
	return tarFile(t, []byte(out), name)
}

// repoDigests returns the image's RepoDigests as the Engine records them.
func (s *suite) repoDigests(t *testing.T, e env, ref string) []string {
	t.Helper()
	out := s.must(t, e, "", s.tools["docker"], "image", "inspect", "--format", "{{json .RepoDigests}}", ref)
	var digests []string
	if err := json.Unmarshal([]byte(out), &digests); err != nil {
		t.Fatalf("image inspect %s: %v: %s", ref, err, out)
	}
	return digests
}

// forget removes an image from the Engine now (so that the next pull or
// build has to reach the registry) and remembers it for the final cleanup.
func (s *suite) forget(t *testing.T, e env, ref string) {
	t.Helper()
	s.images = append(s.images, ref)
	out, err := s.run(t, e, "", s.tools["docker"], "rmi", "-f", ref)
	if err != nil && !strings.Contains(out, "No such image") {
		t.Fatalf("docker rmi %s: %v: %s", ref, err, out)
	}
}

var pushedDigest = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`)
