// Package setup holds the commands that prepare and check a machine for the
// helper: doctor (what would happen on a pull, and why) and configure
// (switch the Docker config over to the helper, migrating plaintext logins
// to Secrets Manager).
package setup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// HelperName is the name Docker config files use for this helper
// (credsStore / credHelpers values name docker-credential-<name>).
const HelperName = "secretsmanager"

// object is a JSON object that keeps its keys in file order and their
// values as raw JSON, so that rewriting a file preserves every field,
// unknown ones included.
type object struct {
	keys []string
	vals map[string]json.RawMessage
}

// errNotObject marks input that is not a single JSON object.
var errNotObject = errors.New("not a JSON object")

func parseObject(data []byte) (*object, error) {
	o := &object{vals: map[string]json.RawMessage{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		o.set(key, raw)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON object")
	}
	return o, nil
}

func (o *object) get(key string) (json.RawMessage, bool) {
	v, ok := o.vals[key]
	return v, ok
}

func (o *object) set(key string, v json.RawMessage) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

func (o *object) del(key string) {
	if _, ok := o.vals[key]; !ok {
		return
	}
	delete(o.vals, key)
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
			break
		}
	}
}

// child returns the object stored under key, or an empty one.
func (o *object) child(key string) (*object, error) {
	raw, ok := o.get(key)
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return &object{vals: map[string]json.RawMessage{}}, nil
	}
	c, err := parseObject(raw)
	if err != nil {
		return nil, errorf("%q is not a JSON object", key)
	}
	return c, nil
}

func (o *object) setChild(key string, c *object) error {
	b, err := c.compact()
	if err != nil {
		return err
	}
	o.set(key, b)
	return nil
}

func (o *object) compact() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		if err := json.Compact(&b, o.vals[k]); err != nil {
			return nil, errorf("field %q: %w", k, err)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal renders the object as the Docker CLI writes config.json:
// tab-indented, with a trailing newline.
func (o *object) marshal() ([]byte, error) {
	c, err := o.compact()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, c, "", "\t"); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// dockerConfig is a Docker CLI config.json as read from disk.
type dockerConfig struct {
	Path   string
	Exists bool
	Mode   fs.FileMode
	Data   []byte
	obj    *object
}

// DockerConfigPath is config.json in the Docker config dir.
func DockerConfigPath(getenv func(string) string) string {
	return filepath.Join(credhelper.DockerConfigDir(getenv), "config.json")
}

// notJSONError is a config file that cannot be parsed; nothing touches it.
type notJSONError struct {
	Path string
	Err  error
}

func (e *notJSONError) Error() string {
	return fmt.Sprintf("%s is not valid JSON (%s); it was left untouched: fix or move it first", e.Path, jsonReason(e.Err))
}

func (e *notJSONError) Unwrap() error { return e.Err }

// jsonReason describes a JSON error by position and kind only, since
// config.json may hold credentials the decoder would quote.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated"
	case errors.Is(err, errNotObject):
		return "not a JSON object"
	}
	return "invalid JSON"
}

func readDockerConfig(path string) (*dockerConfig, error) {
	d := &dockerConfig{Path: path, Mode: 0o600}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.obj = &object{vals: map[string]json.RawMessage{}}
		return d, nil
	case err != nil:
		return nil, err
	}
	d.Exists, d.Mode = true, fi.Mode().Perm()
	if d.Data, err = os.ReadFile(path); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(d.Data)) == 0 {
		// The Docker CLI treats an empty file as an empty config.
		d.obj = &object{vals: map[string]json.RawMessage{}}
		return d, nil
	}
	if d.obj, err = parseObject(d.Data); err != nil {
		return nil, &notJSONError{Path: path, Err: err}
	}
	return d, nil
}

func (d *dockerConfig) credsStore() string {
	raw, ok := d.obj.get("credsStore")
	if !ok {
		return ""
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func (d *dockerConfig) credHelpers() map[string]string {
	m := map[string]string{}
	if raw, ok := d.obj.get("credHelpers"); ok {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}

// routes reports whether the Docker config sends registry to this helper,
// and through which setting.
func (d *dockerConfig) routes(registry string) (string, bool) {
	for key, helper := range d.credHelpers() {
		if norm, err := credhelper.NormalizeRegistry(key); err == nil && norm == registry {
			if helper == HelperName {
				return "credHelpers", true
			}
			return fmt.Sprintf("credHelpers sends it to docker-credential-%s", helper), false
		}
	}
	if s := d.credsStore(); s == HelperName {
		return "credsStore", true
	} else if s != "" {
		return fmt.Sprintf("credsStore is docker-credential-%s", s), false
	}
	return "no credsStore or credHelpers entry", false
}

// plainAuth is an auths entry that holds a password in config.json.
type plainAuth struct {
	Key      string // the auths key as written
	Registry string // normalised
	Username string
	Password string
	Err      error  // the auth value could not be decoded
	Route    string // set when the helper already serves the registry
}

// plaintext lists the auths entries with an auth value, sorted by key.
func (d *dockerConfig) plaintext() []plainAuth {
	raw, ok := d.obj.get("auths")
	if !ok {
		return nil
	}
	var auths map[string]struct {
		Auth string `json:"auth"`
	}
	if json.Unmarshal(raw, &auths) != nil {
		return nil
	}
	var out []plainAuth
	for key, a := range auths {
		if strings.TrimSpace(a.Auth) == "" {
			continue
		}
		p := plainAuth{Key: key}
		p.Registry, p.Err = credhelper.NormalizeRegistry(key)
		if p.Err == nil {
			p.Username, p.Password, p.Err = decodeAuth(a.Auth)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func decodeAuth(s string) (string, string, error) {
	user, pass, err := credhelper.DecodeAuth(s)
	if err != nil {
		return "", "", fmt.Errorf("its auth value %v", err)
	}
	return user, pass, nil
}

// authKey is the key the Docker CLI and BuildKit use for a registry in
// credHelpers and auths: Docker Hub has its historical URL.
func authKey(registry string) string {
	if registry == credhelper.DockerHub {
		return credhelper.DockerHubServerURL
	}
	return registry
}
