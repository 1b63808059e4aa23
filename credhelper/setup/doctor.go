package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// Status is the verdict of one doctor row.
type Status string

// Row statuses. Only StatusFail makes doctor exit non-zero.
const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusInfo Status = "info"
	StatusSkip Status = "skip"
)

// Row is one line of the doctor report. It never carries a secret value.
type Row struct {
	Check   string `json:"check"`
	Subject string `json:"subject"`
	Status  Status `json:"status"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`

	// Source is where a registry's credentials come from: a secret ARN
	// or an ECR registry. VersionID is the secret version read.
	Source    string `json:"source,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	// Limit and Remaining are Docker Hub's pull allowance; Window is the
	// period it is counted over, in seconds.
	Limit     *int `json:"limit,omitempty"`
	Remaining *int `json:"remaining,omitempty"`
	Window    int  `json:"windowSeconds,omitempty"`
}

// Report is doctor's whole answer, as --json prints it.
type Report struct {
	Healthy bool  `json:"healthy"`
	Rows    []Row `json:"checks"`
}

// Doctor check names.
const (
	checkIdentity  = "aws identity"
	checkConfig    = "config"
	checkDocker    = "docker config"
	checkPlaintext = "plaintext logins"
	checkAgent     = "agent"
	checkRegistry  = "credentials"
	checkAccepts   = "registry accepts"
	checkHubLimit  = "docker hub pulls"
)

const doctorUsage = `Usage: docker-credential-secretsmanager doctor [--json] [--registry-check] [registry ...]

Shows the AWS identity, the configuration, Docker's routing, the agent, and
for each managed registry (or those given) where its credentials come from
and whether they resolve; --registry-check asks the registries too. Exits 0
only when nothing FAILs. See docs/doctor.md.
`

// Doctor runs the doctor command and returns its exit code.
func Doctor(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var asJSON, registryCheck bool
	regs, err := parseArgs(args, []flagDef{{name: "json", b: &asJSON}, {name: "registry-check", b: &registryCheck}})
	if err != nil {
		if errors.Is(err, errHelp) {
			fmt.Fprint(stdout, doctorUsage)
			return 0
		}
		fmt.Fprintf(stderr, "%s doctor: %v\n%s", credhelper.Name, err, doctorUsage)
		return 2
	}
	d := &doctor{getenv: getenv, registryCheck: registryCheck}
	rep := d.run(context.Background(), regs)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "%s doctor: %v\n", credhelper.Name, err)
			return 1
		}
	} else if err := writeTable(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "%s doctor: %v\n", credhelper.Name, err)
		return 1
	}
	if !rep.Healthy {
		return 1
	}
	return 0
}

func writeTable(w io.Writer, rep Report) error {
	rows := append([]Row{{Check: "CHECK", Subject: "SUBJECT", Status: "STATUS", Detail: "DETAIL"}}, rep.Rows...)
	var wc, ws int
	for _, r := range rows {
		wc, ws = max(wc, len(r.Check)), max(ws, len(r.Subject))
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s  %-*s  %-6s  %s\n", wc, r.Check, ws, r.Subject, strings.ToUpper(string(r.Status)), r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(&b, "%*s  fix: %s\n", wc+ws+12, "", r.Fix)
		}
	}
	if rep.Healthy {
		b.WriteString("\nhealthy\n")
	} else {
		b.WriteString("\nNOT healthy: see the rows marked FAIL\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type doctor struct {
	getenv        func(string) string
	registryCheck bool
}

func (d *doctor) run(ctx context.Context, args []string) Report {
	cfg := credhelper.LoadConfig(d.getenv)
	rows := make([]Row, 0, 16)
	base := credhelper.NewAWSClients(slog.New(slog.DiscardHandler))
	rows = append(rows, d.identity(ctx, cfg, base))
	rows = append(rows, d.configRow(cfg))

	registries, argRows := d.registries(cfg, args)
	dc, dcErr := readDockerConfig(DockerConfigPath(d.getenv))
	rows = append(rows, dockerRows(dc, dcErr, registries)...)
	if v := d.getenv("DOCKER_AUTH_CONFIG"); v != "" {
		rows = append(rows, authConfigRow(v))
	}
	rows = append(rows, agentRow(d.getenv))
	rows = append(rows, argRows...)

	var hubCred *credhelper.Credential
	hubChecked := false
	for _, reg := range registries {
		row, cred := d.resolve(ctx, cfg, base, reg)
		rows = append(rows, row)
		if reg == credhelper.DockerHub {
			hubChecked, hubCred = true, cred
		}
		if d.registryCheck && cred != nil {
			rows = append(rows, d.accepts(ctx, cfg.Timeout, reg, *cred))
		}
	}
	if hubChecked {
		rows = append(rows, d.hubLimits(ctx, cfg.Timeout, hubCred)...)
	}

	healthy := true
	for _, r := range rows {
		if r.Status == StatusFail {
			healthy = false
		}
	}
	return Report{Healthy: healthy, Rows: rows}
}

// registries lists what to check: the arguments, else every exact
// mapping. Wildcards and bad arguments come back as rows.
func (d *doctor) registries(cfg *credhelper.Config, args []string) ([]string, []Row) {
	var regs []string
	var rows []Row
	seen := map[string]bool{}
	if len(args) > 0 {
		for _, a := range args {
			reg, err := credhelper.NormalizeRegistry(a)
			if err != nil {
				rows = append(rows, Row{Check: checkRegistry, Subject: a, Status: StatusFail, Detail: err.Error(), Fix: "give a registry host such as ghcr.io or 127.0.0.1:5000"})
				continue
			}
			if !seen[reg] {
				seen[reg] = true
				regs = append(regs, reg)
			}
		}
		return regs, rows
	}
	for _, e := range cfg.Entries {
		if e.Wildcard() {
			rows = append(rows, Row{Check: checkRegistry, Subject: e.Registry, Status: StatusSkip,
				Detail: "a wildcard cannot be resolved by itself", Fix: "name a host under it: doctor <host>"})
			continue
		}
		if !seen[e.Registry] {
			seen[e.Registry] = true
			regs = append(regs, e.Registry)
		}
	}
	return regs, rows
}

// identity asks STS who the default credentials are, with the
// configuration get's clients load for a mapping without profile or role.
func (d *doctor) identity(ctx context.Context, cfg *credhelper.Config, clients *credhelper.AWSClients) Row {
	row := Row{Check: checkIdentity}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	awsCfg, err := clients.Config(ctx, credhelper.Identity{})
	if err != nil {
		row.Status, row.Detail = StatusFail, credhelper.OneLine(err.Error())
		row.Fix = "fix AWS_PROFILE, AWS_CONFIG_FILE or ~/.aws/config"
		return row
	}
	region := awsCfg.Region
	if region == "" {
		region = "none"
	}
	arn, account, err := callerIdentity(ctx, stsClient(awsCfg))
	if err != nil {
		row.Status = StatusFail
		row.Detail = "sts:GetCallerIdentity failed: " + describeAWSError(err)
		row.Fix = awsFix(err)
		return row
	}
	row.Subject = arn
	row.Status = StatusOK
	row.Detail = fmt.Sprintf("account %s, region %s", account, region)
	if awsCfg.Region == "" {
		row.Status = StatusWarn
		row.Fix = "set AWS_REGION, or map secrets by ARN or with a region"
	}
	return row
}

func (d *doctor) configRow(cfg *credhelper.Config) Row {
	row := Row{Check: checkConfig, Subject: cfg.File, Status: StatusOK}
	var from []string
	if _, err := os.Stat(cfg.File); err == nil {
		from = append(from, "file")
	} else {
		row.Subject = cfg.File + " (absent)"
	}
	if d.getenv(credhelper.EnvRegistries) != "" {
		from = append(from, credhelper.EnvRegistries)
	}
	var exact, wild int
	for _, e := range cfg.Entries {
		if e.Wildcard() {
			wild++
		} else {
			exact++
		}
	}
	src := "defaults only"
	if len(from) > 0 {
		src = strings.Join(from, " + ")
	}
	row.Detail = fmt.Sprintf("%d registries, %d wildcards from %s; ECR %s, ECR Public %s", exact, wild, src, onOff(cfg.ECR), onOff(cfg.ECRPublic))
	if cfg.Fallback != "" {
		row.Detail += "; fallback docker-credential-" + cfg.Fallback
	}
	if cfg.Err != nil {
		row.Status, row.Detail = StatusFail, cfg.Err.Error()
		row.Fix = "every get fails until the configuration is fixed"
	}
	return row
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func dockerRows(dc *dockerConfig, err error, registries []string) []Row {
	if err != nil {
		return []Row{{Check: checkDocker, Subject: pathOf(err), Status: StatusFail, Detail: err.Error(),
			Fix: "the Docker CLI cannot read it either"}}
	}
	row := Row{Check: checkDocker, Subject: dc.Path, Status: StatusOK}
	if !dc.Exists {
		row.Subject += " (absent)"
	}
	var unrouted, reasons []string
	byReason := map[string][]string{}
	for _, reg := range registries {
		if why, ok := dc.routes(reg); !ok {
			if byReason[why] == nil {
				reasons = append(reasons, why)
			}
			byReason[why] = append(byReason[why], reg)
		}
	}
	for _, why := range reasons {
		unrouted = append(unrouted, strings.Join(byReason[why], ", ")+" ("+why+")")
	}
	switch {
	case len(unrouted) > 0:
		row.Status = StatusFail
		row.Detail = "Docker does not ask this helper for " + strings.Join(unrouted, "; ")
		row.Fix = credhelper.Name + " configure   (or configure <registry ...> for credHelpers only)"
	case dc.credsStore() == HelperName:
		row.Detail = "credsStore: " + HelperName + " (every registry)"
	case len(registries) == 0:
		row.Status, row.Detail = StatusWarn, "no credsStore: "+HelperName+", and no registry to check"
		row.Fix = credhelper.Name + " configure"
	default:
		row.Detail = "credHelpers route every checked registry here"
	}
	rows := []Row{row}
	var names []string
	for _, p := range dc.plaintext() {
		names = append(names, p.Key)
	}
	if len(names) > 0 {
		rows = append(rows, Row{Check: checkPlaintext, Subject: dc.Path, Status: StatusWarn,
			Detail: "passwords stored in plaintext for " + strings.Join(names, ", "),
			Fix:    credhelper.Name + " configure --migrate (moves them to Secrets Manager)"})
	}
	return rows
}

// authConfigRow checks DOCKER_AUTH_CONFIG, which the Docker CLI (28.3 and
// later) reads before any credential helper.
func authConfigRow(v string) Row {
	row := Row{Check: checkPlaintext, Subject: "DOCKER_AUTH_CONFIG", Status: StatusWarn}
	obj, err := parseObject([]byte(v))
	if err != nil {
		row.Detail = "not valid JSON (" + jsonReason(err) + "): the Docker CLI fails on it"
		row.Status, row.Fix = StatusFail, "unset DOCKER_AUTH_CONFIG or fix it"
		return row
	}
	var names []string
	for _, p := range (&dockerConfig{obj: obj}).plaintext() {
		names = append(names, p.Key)
	}
	if len(names) == 0 {
		row.Status, row.Detail = StatusInfo, "set, with no logins"
		return row
	}
	row.Detail = "logins for " + strings.Join(names, ", ") + ": Docker uses them before this helper"
	row.Fix = "unset DOCKER_AUTH_CONFIG (map those registries to secrets instead)"
	return row
}

func pathOf(err error) string {
	var nj *notJSONError
	if errors.As(err, &nj) {
		return nj.Path
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Path
	}
	return ""
}

// recorder wraps the helper's clients to note which secret and version a
// resolution read; it keeps no value.
type recorder struct {
	credhelper.Clients
	mu        sync.Mutex
	arn, vers string
}

func (r *recorder) SecretsManager(ctx context.Context, id credhelper.Identity) (credhelper.SecretValueGetter, string, error) {
	c, region, err := r.Clients.SecretsManager(ctx, id)
	if err != nil {
		return nil, region, err
	}
	return recordingGetter{inner: c, r: r}, region, nil
}

type recordingGetter struct {
	inner credhelper.SecretValueGetter
	r     *recorder
}

func (g recordingGetter) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	out, err := g.inner.GetSecretValue(ctx, in, opts...)
	if err == nil && out != nil {
		g.r.mu.Lock()
		g.r.arn, g.r.vers = aws.ToString(out.ARN), aws.ToString(out.VersionId)
		g.r.mu.Unlock()
	}
	return out, err
}

// resolve runs the helper's own resolution for one registry.
func (d *doctor) resolve(ctx context.Context, cfg *credhelper.Config, base credhelper.Clients, reg string) (Row, *credhelper.Credential) {
	row := Row{Check: checkRegistry, Subject: reg}
	if cfg.Err != nil {
		row.Status, row.Detail, row.Fix = StatusFail, "not resolved: the configuration is broken", "fix the config row above"
		return row, nil
	}
	rec := &recorder{Clients: base}
	m := &credhelper.Managed{Config: cfg, Clients: rec}
	route, ok := m.Route(reg)
	if !ok {
		row.Status, row.Detail = StatusFail, "not managed by this helper: Docker would get \"credentials not found\" and pull anonymously"
		row.Fix = fmt.Sprintf("map it: %s=%s=<secret name or ARN>, or add it to %s", credhelper.EnvRegistries, reg, cfg.File)
		return row, nil
	}
	row.Source = route.String()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cred, err := m.Resolve(ctx, reg, route)
	if rec.arn != "" {
		row.Source, row.VersionID = "secretsmanager:"+rec.arn, rec.vers
	}
	if err != nil {
		row.Status = StatusFail
		var re *credhelper.ResolveError
		if errors.As(err, &re) {
			short := *re
			short.Fix = ""
			row.Detail = strings.TrimPrefix(short.Error(), credhelper.Name+": "+reg+": ")
			row.Fix = re.Fix
		} else {
			row.Detail = credhelper.OneLine(err.Error())
		}
		return row, nil
	}
	row.Status = StatusOK
	detail := []string{"resolves (user " + cred.Username + ")"}
	if cred.Username == "<token>" {
		detail = []string{"resolves (identity token)"}
	}
	if row.Source != "" {
		detail = append(detail, "from "+row.Source)
	}
	if row.VersionID != "" {
		detail = append(detail, "version "+row.VersionID)
	}
	if !cred.Expires.IsZero() {
		detail = append(detail, "expires "+cred.Expires.UTC().Format(time.RFC3339))
	}
	row.Detail = strings.Join(detail, ", ")
	return row, &cred
}
