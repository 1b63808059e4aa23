package imagetest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rootfs writes a root filesystem made of this machine's own files into a
// tar stream, for `docker import`: nothing can be pulled here, so the test
// images are built from what the host has. Paths keep their host layout,
// symlinks included (Debian's /bin -> usr/bin), and every dynamically
// linked program brings the libraries ldd lists.
type rootfs struct {
	tw   *tar.Writer
	seen map[string]bool
}

func newRootfs(w io.Writer) *rootfs {
	return &rootfs{tw: tar.NewWriter(w), seen: map[string]bool{}}
}

func (r *rootfs) close() error { return r.tw.Close() }

// dir adds a directory the host may not have (or with other permissions).
func (r *rootfs) dir(path string, mode int64) error {
	r.seen[path] = true
	return r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(path, "/") + "/", Mode: mode})
}

// file adds a file with the given content.
func (r *rootfs) file(path string, mode int64, content []byte) error {
	r.seen[path] = true
	if err := r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path, "/"), Mode: mode, Size: int64(len(content))}); err != nil {
		return err
	}
	_, err := r.tw.Write(content)
	return err
}

// hostDir replicates a host directory path, symlinks along it included,
// and returns its real path.
func (r *rootfs) hostDir(d string) (string, error) {
	if d == "/" {
		return "/", nil
	}
	parent, err := r.hostDir(filepath.Dir(d))
	if err != nil {
		return "", err
	}
	q := filepath.Join(parent, filepath.Base(d))
	fi, err := os.Lstat(q)
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(q)
		if err != nil {
			return "", err
		}
		if !r.seen[q] {
			r.seen[q] = true
			if err := r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(q, "/"), Linkname: target, Mode: 0o777}); err != nil {
				return "", err
			}
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(parent, target)
		}
		return r.hostDir(target)
	}
	if !r.seen[q] {
		if err := r.dir(q, int64(fi.Mode().Perm())); err != nil {
			return "", err
		}
	}
	return q, nil
}

// host adds a host file (or symlink, followed) at its own path; with libs,
// an ELF program's shared libraries too.
func (r *rootfs) host(path string, libs bool) error {
	dir, err := r.hostDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	q := filepath.Join(dir, filepath.Base(path))
	if r.seen[q] {
		return nil
	}
	fi, err := os.Lstat(q)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(q)
		if err != nil {
			return err
		}
		r.seen[q] = true
		if err := r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(q, "/"), Linkname: target, Mode: 0o777}); err != nil {
			return err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		return r.host(target, libs)
	case fi.IsDir():
		_, err := r.hostDir(q)
		return err
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(q)
		if err != nil {
			return err
		}
		if err := r.file(q, int64(fi.Mode().Perm()), data); err != nil {
			return err
		}
		if libs && bytes.HasPrefix(data, []byte("\x7fELF")) {
			return r.sharedLibs(q)
		}
		return nil
	default:
		return fmt.Errorf("%s: unsupported file type %v", q, fi.Mode())
	}
}

var lddPath = regexp.MustCompile(`(?m)(?:=>\s*)?(/\S+)\s+\(0x`)

func (r *rootfs) sharedLibs(prog string) error {
	out, err := exec.Command("ldd", prog).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("not a dynamic executable")) || bytes.Contains(out, []byte("statically linked")) {
			return nil
		}
		return fmt.Errorf("ldd %s: %v: %s", prog, err, out)
	}
	for _, m := range lddPath.FindAllSubmatch(out, -1) {
		if err := r.host(string(m[1]), false); err != nil {
			return fmt.Errorf("%s needs %s: %w", prog, m[1], err)
		}
	}
	return nil
}

// tree adds a host directory tree; skip may drop entries (a directory
// dropped is not descended).
func (r *rootfs) tree(root string, skip func(path string, d fs.DirEntry) bool) error {
	if _, err := r.hostDir(root); err != nil {
		return err
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		if skip != nil && skip(path, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			_, err := r.hostDir(path)
			return err
		}
		return r.host(path, false)
	})
}

// base adds what every test image needs: a root user, /tmp, and the given
// commands (looked up on PATH) with their libraries.
func (r *rootfs) base(commands ...string) error {
	for _, d := range []struct {
		path string
		mode int64
	}{{"/tmp", 0o1777}, {"/root", 0o700}, {"/etc", 0o755}, {"/run", 0o755}, {"/var", 0o755}, {"/var/log", 0o755}} {
		if err := r.dir(d.path, d.mode); err != nil {
			return err
		}
	}
	if err := r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "var/run", Linkname: "../run", Mode: 0o777}); err != nil {
		return err
	}
	if err := r.file("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/bash\n")); err != nil {
		return err
	}
	if err := r.file("/etc/group", 0o644, []byte("root:x:0:\n")); err != nil {
		return err
	}
	if err := r.host("/etc/ld.so.cache", false); err != nil {
		return err
	}
	if err := r.host("/bin/sh", true); err != nil {
		return err
	}
	for _, c := range commands {
		p, err := exec.LookPath(c)
		if err != nil {
			return fmt.Errorf("the test image needs %s from this machine: %w", c, err)
		}
		if err := r.host(p, true); err != nil {
			return err
		}
	}
	return nil
}

// goModules lists the module cache files `go mod download` reads for the
// module in dir, downloading them to this machine's cache first.
func goModules(t *testing.T, dir string) []string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download: %v", err)
	}
	var files []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m struct{ Info, GoMod, Zip, Error string }
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("go mod download -json: %v", err)
		}
		if m.Error != "" {
			t.Fatalf("go mod download: %s", m.Error)
		}
		for _, f := range []string{m.Info, m.GoMod, m.Zip, strings.TrimSuffix(m.Zip, ".zip") + ".ziphash"} {
			if f == "" || f == ".ziphash" {
				continue
			}
			if _, err := os.Stat(f); err == nil {
				files = append(files, f)
			}
		}
	}
	return files
}

// lines reads r's lines.
func lines(r io.Reader) []string {
	var l []string
	s := bufio.NewScanner(r)
	for s.Scan() {
		l = append(l, s.Text())
	}
	return l
}
