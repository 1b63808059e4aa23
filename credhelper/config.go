package credhelper

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
	"strconv"
	"strings"
	"time"
)

// Environment variables read by the helper. The README's configuration table
// documents each of them.
const (
	EnvRegistries = "DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES"
	EnvConfig     = "DOCKER_CREDENTIAL_SECRETSMANAGER_CONFIG"
	EnvFallback   = "DOCKER_CREDENTIAL_SECRETSMANAGER_FALLBACK"
	EnvECR        = "DOCKER_CREDENTIAL_SECRETSMANAGER_ECR"
	EnvECRPublic  = "DOCKER_CREDENTIAL_SECRETSMANAGER_ECR_PUBLIC"
	EnvTimeout    = "DOCKER_CREDENTIAL_SECRETSMANAGER_TIMEOUT"
	EnvLog        = "DOCKER_CREDENTIAL_SECRETSMANAGER_LOG"
	EnvLogFile    = "DOCKER_CREDENTIAL_SECRETSMANAGER_LOG_FILE"
)

// ConfigFileName is the helper's configuration file in the Docker config dir.
const ConfigFileName = "docker-credential-secretsmanager.json"

// DefaultTimeout bounds one helper invocation.
const DefaultTimeout = 15 * time.Second

// ecrPrefix marks a secret-id that is not a secret but an ECR registry.
const ecrPrefix = "ecr:"

// Entry is one registry's mapping and options.
type Entry struct {
	// Registry is the normalised registry or wildcard the entry applies to.
	Registry string
	// Secret is a Secrets Manager secret name or ARN. Empty when ECR is set.
	Secret string
	// ECR is the ECR registry host whose tokens this registry uses
	// (from "ecr:<host>", or the registry itself for an ECR host entry).
	ECR string
	// Region, Profile and RoleARN select the AWS identity and region used
	// for this registry; empty means the SDK's default chain.
	Region  string
	Profile string
	RoleARN string
	// UsernameKey and PasswordKey name the secret's JSON keys; empty means
	// the layouts in secrets.go.
	UsernameKey string
	PasswordKey string
	// Origin says where the entry was defined, for error messages.
	Origin string

	pattern pattern
}

// Config is the helper's whole configuration, loaded once per invocation
// from the environment and the config file by LoadConfig.
type Config struct {
	// Entries are the registry mappings, env entries having replaced file
	// entries for the same registry.
	Entries []Entry
	// ECR and ECRPublic switch the automatic sources for ECR hosts.
	ECR       bool
	ECRPublic bool
	// Fallback names a credential helper (docker-credential-<Fallback>)
	// that receives what this helper does not manage.
	Fallback string
	// Timeout bounds one invocation.
	Timeout time.Duration
	// LogLevel is "", "info" or "debug"; LogFile, if set, receives logs.
	LogLevel string
	LogFile  string
	// File is the config file consulted (it may not exist).
	File string
	// Err, when set, is a configuration error that fails every get: a
	// broken configuration must never degrade into anonymous pulls.
	Err error

	// fileData is the config file's content as read (nil without one),
	// part of the memory agent's cache key.
	fileData []byte
}

// fileConfig is the JSON layout of the config file.
type fileConfig struct {
	Registries map[string]fileEntry `json:"registries"`
	ECR        *bool                `json:"ecr,omitempty"`
	ECRPublic  *bool                `json:"ecrPublic,omitempty"`
	Fallback   string               `json:"fallback,omitempty"`
	Timeout    string               `json:"timeout,omitempty"`
}

type fileEntry struct {
	Secret      string `json:"secret"`
	Region      string `json:"region,omitempty"`
	Profile     string `json:"profile,omitempty"`
	RoleARN     string `json:"roleArn,omitempty"`
	UsernameKey string `json:"usernameKey,omitempty"`
	PasswordKey string `json:"passwordKey,omitempty"`
}

// ConfigError is a broken configuration, pointing at the offending entry.
type ConfigError struct {
	Where string // the file path or the env variable
	Entry string // the entry, if one is at fault
	Err   error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("docker-credential-secretsmanager: configuration error in ")
	b.WriteString(e.Where)
	if e.Entry != "" {
		fmt.Fprintf(&b, ", entry %q", e.Entry)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// DockerConfigDir is $DOCKER_CONFIG, else ~/.docker, as the Docker CLI uses.
func DockerConfigDir(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// LoadConfig reads the configuration from the environment (through getenv)
// and the config file. It never fails: a broken configuration is recorded
// in Config.Err so that list still answers and every get reports it.
func LoadConfig(getenv func(string) string) *Config {
	c := &Config{ECR: true, ECRPublic: true, Timeout: DefaultTimeout}
	c.File = getenv(EnvConfig)
	explicit := c.File != ""
	if !explicit {
		c.File = filepath.Join(DockerConfigDir(getenv), ConfigFileName)
	}
	byRegistry := map[string]Entry{}
	var order []string
	add := func(e Entry) {
		if _, ok := byRegistry[e.Registry]; !ok {
			order = append(order, e.Registry)
		}
		byRegistry[e.Registry] = e
	}
	fail := func(err error) {
		if c.Err == nil {
			c.Err = err
		}
	}

	data, err := os.ReadFile(c.File)
	switch {
	case err == nil:
		c.fileData = data
		if err := c.applyFile(data, add); err != nil {
			fail(err)
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// No file is the common case: env-only configuration.
	default:
		fail(&ConfigError{Where: c.File, Err: fmt.Errorf("cannot read the config file: %w", err)})
	}

	if v := getenv(EnvRegistries); v != "" {
		entries, err := parseEnvEntries(v)
		if err != nil {
			fail(err)
		}
		for _, e := range entries {
			add(e)
		}
	}
	for _, sw := range []struct {
		name string
		dst  *bool
	}{{EnvECR, &c.ECR}, {EnvECRPublic, &c.ECRPublic}} {
		if v := getenv(sw.name); v != "" {
			b, err := parseSwitch(v)
			if err != nil {
				fail(&ConfigError{Where: sw.name, Err: err})
				continue
			}
			*sw.dst = b
		}
	}
	if v := getenv(EnvFallback); v != "" {
		c.Fallback = v
	}
	if c.Fallback != "" && !validHelperName(c.Fallback) {
		fail(&ConfigError{Where: EnvFallback + " or the config file's fallback", Err: fmt.Errorf("%q is not a helper name (docker-credential-<name>, e.g. pass)", c.Fallback)})
		c.Fallback = ""
	}
	if v := getenv(EnvTimeout); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			fail(&ConfigError{Where: EnvTimeout, Err: err})
		} else {
			c.Timeout = d
		}
	}
	c.LogLevel = strings.ToLower(strings.TrimSpace(getenv(EnvLog)))
	switch c.LogLevel {
	case "", "off", "none":
		c.LogLevel = ""
	case "info", "debug":
	default:
		fail(&ConfigError{Where: EnvLog, Err: fmt.Errorf("%q is not a log level (want debug, info or off)", c.LogLevel)})
		c.LogLevel = ""
	}
	c.LogFile = getenv(EnvLogFile)

	for _, r := range order {
		c.Entries = append(c.Entries, byRegistry[r])
	}
	return c
}

func (c *Config) applyFile(data []byte, add func(Entry)) error {
	var fc fileConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return &ConfigError{Where: c.File, Err: fmt.Errorf("not a valid config file: %s", jsonErrorText(err, data))}
	}
	if fc.ECR != nil {
		c.ECR = *fc.ECR
	}
	if fc.ECRPublic != nil {
		c.ECRPublic = *fc.ECRPublic
	}
	c.Fallback = fc.Fallback
	if fc.Timeout != "" {
		d, err := parseDuration(fc.Timeout)
		if err != nil {
			return &ConfigError{Where: c.File, Entry: "timeout", Err: err}
		}
		c.Timeout = d
	}
	names := make([]string, 0, len(fc.Registries))
	for name := range fc.Registries {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fe := fc.Registries[name]
		e := Entry{
			Secret:      strings.TrimSpace(fe.Secret),
			Region:      fe.Region,
			Profile:     fe.Profile,
			RoleARN:     fe.RoleARN,
			UsernameKey: fe.UsernameKey,
			PasswordKey: fe.PasswordKey,
			Origin:      c.File,
		}
		if err := e.complete(name); err != nil {
			return &ConfigError{Where: c.File, Entry: name, Err: err}
		}
		add(e)
	}
	return nil
}

// parseEnvEntries reads registry=secret-id entries separated by commas or
// newlines.
func parseEnvEntries(v string) ([]Entry, error) {
	var entries []Entry
	for _, raw := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		reg, secret, ok := strings.Cut(raw, "=")
		if !ok {
			return nil, &ConfigError{Where: EnvRegistries, Entry: raw, Err: errors.New("want registry=secret-id")}
		}
		e := Entry{Secret: strings.TrimSpace(secret), Origin: EnvRegistries}
		if err := e.complete(reg); err != nil {
			return nil, &ConfigError{Where: EnvRegistries, Entry: raw, Err: err}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// complete validates an entry and fills in its registry pattern and source.
func (e *Entry) complete(registry string) error {
	p, err := parsePattern(registry)
	if err != nil {
		return err
	}
	e.pattern = p
	e.Registry = p.raw
	if rest, ok := strings.CutPrefix(e.Secret, ecrPrefix); ok {
		host, err := NormalizeRegistry(rest)
		if err != nil {
			return fmt.Errorf("ecr: %w", err)
		}
		if _, ok := ParseECRHost(host); !ok && !IsECRPublicHost(host) {
			return fmt.Errorf("%q is not an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com or public.ecr.aws)", rest)
		}
		e.ECR, e.Secret = host, ""
		return nil
	}
	if e.Secret == "" {
		// An entry for an ECR host itself may carry only options.
		if !p.wildcard {
			if _, ok := ParseECRHost(p.raw); ok || IsECRPublicHost(p.raw) {
				e.ECR = p.raw
				return nil
			}
		}
		return errors.New("no secret: want a secret name or ARN, or ecr:<ECR registry host>")
	}
	if strings.HasPrefix(e.Secret, "arn:") {
		if _, err := parseSecretARN(e.Secret); err != nil {
			return err
		}
	} else if !validSecretName(e.Secret) {
		return fmt.Errorf("%q is not a secret name or ARN (names allow letters, digits and /_+=.@-)", e.Secret)
	}
	if e.RoleARN != "" && !strings.HasPrefix(e.RoleARN, "arn:") {
		return fmt.Errorf("roleArn %q is not an ARN", e.RoleARN)
	}
	return nil
}

func validSecretName(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("/_+=.@-", r):
		default:
			return false
		}
	}
	return true
}

func validHelperName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return s != "" && s != "secretsmanager"
}

// secretARN is the part of a Secrets Manager ARN the helper needs.
type secretARN struct {
	Partition, Region, Account string
}

func parseSecretARN(s string) (secretARN, error) {
	parts := strings.SplitN(s, ":", 7)
	if len(parts) != 7 || parts[2] != "secretsmanager" || parts[3] == "" || parts[4] == "" || parts[5] != "secret" || parts[6] == "" {
		return secretARN{}, fmt.Errorf("%q is not a Secrets Manager secret ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>)", s)
	}
	return secretARN{Partition: parts[1], Region: parts[3], Account: parts[4]}, nil
}

func parseSwitch(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "on", "yes":
		return true, nil
	case "0", "false", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on or off", v)
}

// parseDuration accepts Go durations ("20s", "1m") and plain seconds ("20").
func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration (e.g. 15s)", v)
	}
	return d, nil
}

// jsonErrorText describes a JSON decoding error by position only: the
// decoder's own message can quote input bytes, and secrets are JSON too.
func jsonErrorText(err error, data []byte) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return fmt.Sprintf("invalid JSON at line %d, column %d", line, col)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF) || strings.Contains(err.Error(), "unexpected EOF"):
		return "truncated or empty JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "invalid JSON"
}

func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset-1 && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// Wildcard reports whether the entry is a *.domain pattern rather than
// one registry.
func (e Entry) Wildcard() bool { return e.pattern.wildcard }

// lookup finds the entry for a normalised registry: an exact entry beats a
// wildcard, and the longest wildcard wins.
func (c *Config) lookup(registry string) (Entry, bool) {
	var best Entry
	found := false
	for _, e := range c.Entries {
		if !e.pattern.matches(registry) {
			continue
		}
		if !e.pattern.wildcard {
			return e, true
		}
		if !found || len(e.pattern.suffix) > len(best.pattern.suffix) {
			best, found = e, true
		}
	}
	return best, found
}
