package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// Statement is one IAM policy statement.
type Statement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// Policy is an IAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// PolicyFor builds the least-privilege policy for the caller of the helper
// under cfg: GetSecretValue on exactly the mapped secrets, the ECR token
// calls when ECR is mapped, AssumeRole on the mapped roles. A secret
// mapped through a role is read by the role, so it is returned in
// roleSecrets (role → resources) instead. account and region fill in
// secrets mapped by name ("*" when unknown).
func PolicyFor(cfg *credhelper.Config, account, region string) (Policy, map[string][]string) {
	var secrets, ecr, ecrPublic, roles []string
	roleSecrets := map[string][]string{}
	for _, e := range cfg.Entries {
		if e.RoleARN != "" {
			roles = appendUnique(roles, e.RoleARN)
		}
		switch {
		case e.ECR != "" && credhelper.IsECRPublicHost(e.ECR):
			ecrPublic = []string{"*"}
		case e.ECR != "":
			ecr = []string{"*"} // GetAuthorizationToken has no resource-level permissions
		case e.RoleARN != "":
			roleSecrets[e.RoleARN] = appendUnique(roleSecrets[e.RoleARN], secretResource(e, account, region))
		default:
			secrets = appendUnique(secrets, secretResource(e, account, region))
		}
	}
	p := Policy{Version: "2012-10-17"}
	for _, st := range []Statement{
		{Sid: "ReadRegistrySecrets", Action: []string{"secretsmanager:GetSecretValue"}, Resource: secrets},
		{Sid: "ECRAuthorizationToken", Action: []string{"ecr:GetAuthorizationToken"}, Resource: ecr},
		{Sid: "ECRPublicAuthorizationToken", Action: []string{"ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"}, Resource: ecrPublic},
		{Sid: "AssumeRegistryRoles", Action: []string{"sts:AssumeRole"}, Resource: roles},
	} {
		if len(st.Resource) > 0 {
			sort.Strings(st.Resource)
			st.Effect = "Allow"
			p.Statement = append(p.Statement, st)
		}
	}
	return p, roleSecrets
}

// secretResource is a mapped secret as an IAM resource. A name matches
// the ARN Secrets Manager gives it: the name, a dash and six characters.
func secretResource(e credhelper.Entry, account, region string) string {
	if strings.HasPrefix(e.Secret, "arn:") {
		return e.Secret
	}
	if e.Region != "" {
		region = e.Region
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-??????", region, account, e.Secret)
}

func appendUnique(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

func printPolicyCmd(ctx context.Context, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg := credhelper.LoadConfig(getenv)
	if cfg.Err != nil {
		fmt.Fprintf(stderr, "%s configure: %v\n", credhelper.Name, cfg.Err)
		return 1
	}
	account, region := "*", "*"
	needsAccount := false
	for _, e := range cfg.Entries {
		if e.ECR == "" && !strings.HasPrefix(e.Secret, "arn:") {
			needsAccount = true
		}
	}
	if needsAccount {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		if awsCfg, err := credhelper.NewAWSClients(slog.New(slog.DiscardHandler)).Config(ctx, credhelper.Identity{}); err == nil {
			if awsCfg.Region != "" {
				region = awsCfg.Region
			}
			_, acct, err := callerIdentity(ctx, stsClient(awsCfg))
			if err == nil {
				account = acct
			} else {
				fmt.Fprintf(stderr, "%s configure: the account is not known (%s): secrets mapped by name use account *\n", credhelper.Name, describeAWSError(err))
			}
		}
	}
	p, roleSecrets := PolicyFor(cfg, account, region)
	if len(p.Statement) == 0 {
		fmt.Fprintf(stderr, "%s configure: no registry is mapped, so the helper needs no permission (ECR hosts without a mapping need ecr:GetAuthorizationToken)\n", credhelper.Name)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		fmt.Fprintf(stderr, "%s configure: %v\n", credhelper.Name, err)
		return 1
	}
	for _, role := range sortedKeys(roleSecrets) {
		fmt.Fprintf(stderr, "%s configure: the role %s needs secretsmanager:GetSecretValue on %s\n", credhelper.Name, role, strings.Join(roleSecrets[role], ", "))
	}
	fmt.Fprintf(stderr, "%s configure: secrets encrypted with a customer-managed KMS key also need kms:Decrypt on that key\n", credhelper.Name)
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
