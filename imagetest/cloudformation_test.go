package imagetest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const templatePath = "../image/cloudformation.yml"

// template is a CloudFormation template decoded to plain Go values, short
// intrinsic tags (!Ref, !Sub, !If …) turned into their long JSON form.
type template map[string]any

func loadTemplate(t *testing.T, data []byte) template {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", templatePath, err)
	}
	v, ok := decodeNode(&doc).(map[string]any)
	if !ok {
		t.Fatalf("%s: not a mapping", templatePath)
	}
	return v
}

func decodeNode(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		return decodeNode(n.Content[0])
	case yaml.AliasNode:
		return decodeNode(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = decodeNode(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, decodeNode(c))
		}
		v = l
	case yaml.ScalarNode:
		if n.Tag == "!!bool" {
			v = n.Value == "true"
		} else {
			v = n.Value
		}
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := n.Tag[1:]
		switch name {
		case "Ref", "Condition":
			return map[string]any{name: v}
		case "GetAtt":
			if s, ok := v.(string); ok {
				res, attr, _ := strings.Cut(s, ".")
				v = []any{res, attr}
			}
		}
		return map[string]any{"Fn::" + name: v}
	}
	return v
}

func (tpl template) resources() map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, r := range tpl["Resources"].(map[string]any) {
		out[name] = r.(map[string]any)
	}
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// statement is one IAM policy statement and where it is, with the
// condition it is created under (a statement inside Fn::If).
type statement struct {
	role, where, underCondition string
	body                        map[string]any
}

func (tpl template) statements() []statement {
	var out []statement
	for name, r := range tpl.resources() {
		if r["Type"] != "AWS::IAM::Role" && r["Type"] != "AWS::IAM::Policy" && r["Type"] != "AWS::IAM::ManagedPolicy" {
			continue
		}
		p := props(r)
		var docs []any
		for _, pol := range list(p["Policies"]) {
			if m, ok := pol.(map[string]any); ok {
				docs = append(docs, m["PolicyDocument"])
			}
		}
		if d, ok := p["PolicyDocument"]; ok {
			docs = append(docs, d)
		}
		for _, d := range docs {
			dm, _ := d.(map[string]any)
			for i, s := range list(dm["Statement"]) {
				where := fmt.Sprintf("%s statement %d", name, i)
				sm, _ := s.(map[string]any)
				if f, ok := sm["Fn::If"].([]any); ok && len(f) == 3 {
					if body, ok := f[1].(map[string]any); ok {
						out = append(out, statement{name, where, f[0].(string), body})
					}
					if body, ok := f[2].(map[string]any); ok && !reflect.DeepEqual(body, map[string]any{"Ref": "AWS::NoValue"}) {
						out = append(out, statement{name, where + " (else)", "!" + f[0].(string), body})
					}
					continue
				}
				out = append(out, statement{name, where, "", sm})
			}
		}
	}
	return out
}

func strs(v any) []string {
	var out []string
	for _, x := range list(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		} else {
			b, _ := json.Marshal(x)
			out = append(out, string(b))
		}
	}
	return out
}

// Actions that may have Resource "*": they have no resource to scope to.
var unscopedActions = []string{"ecr:GetAuthorizationToken", "ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"}

var ecrPushActions = []string{"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"}

// leastPrivilegeProblems lists every way the template's IAM is broader
// than the issue allows.
func leastPrivilegeProblems(tpl template) []string {
	var problems []string
	res := tpl.resources()
	secretRef := map[string]any{"Fn::If": []any{"CreateSecret", map[string]any{"Ref": "DockerHubSecret"}, map[string]any{"Ref": "ExistingDockerHubSecretArn"}}}
	sawGet, sawDecrypt := false, false
	for _, s := range tpl.statements() {
		if s.body["Effect"] != "Allow" {
			continue
		}
		actions := strs(s.body["Action"])
		resources := list(s.body["Resource"])
		if _, ok := s.body["NotAction"]; ok {
			problems = append(problems, s.where+": NotAction")
		}
		if _, ok := s.body["NotResource"]; ok {
			problems = append(problems, s.where+": NotResource")
		}
		for _, a := range actions {
			if strings.Contains(a, "*") {
				problems = append(problems, s.where+": wildcard action "+a)
			}
		}
		if slices.Contains(resources, any("*")) {
			for _, a := range actions {
				if !slices.Contains(unscopedActions, a) {
					problems = append(problems, s.where+": "+a+` on Resource "*"`)
				}
			}
		}
		for _, a := range actions {
			switch {
			case a == "secretsmanager:GetSecretValue":
				sawGet = true
				if len(resources) != 1 || !reflect.DeepEqual(resources[0], secretRef) {
					problems = append(problems, fmt.Sprintf("%s: GetSecretValue on %v, want only the Docker Hub secret's ARN", s.where, resources))
				}
			case strings.HasPrefix(a, "secretsmanager:"):
				problems = append(problems, s.where+": "+a+" (only GetSecretValue is needed)")
			case a == "kms:Decrypt":
				sawDecrypt = true
				if s.underCondition != "HasKmsKey" {
					problems = append(problems, s.where+": kms:Decrypt not conditional on HasKmsKey")
				}
				if len(resources) != 1 || !reflect.DeepEqual(resources[0], map[string]any{"Ref": "KmsKeyArn"}) {
					problems = append(problems, fmt.Sprintf("%s: kms:Decrypt on %v, want only KmsKeyArn", s.where, resources))
				}
				cond, _ := s.body["Condition"].(map[string]any)
				eq, _ := cond["StringEquals"].(map[string]any)
				if _, ok := eq["kms:ViaService"]; !ok {
					problems = append(problems, s.where+": kms:Decrypt without a kms:ViaService condition")
				}
			case strings.HasPrefix(a, "kms:"):
				problems = append(problems, s.where+": "+a+" (only Decrypt is needed)")
			case slices.Contains(ecrPushActions, a):
				for _, r := range resources {
					m, _ := r.(map[string]any)
					att, _ := m["Fn::GetAtt"].([]any)
					if len(att) != 2 || att[1] != "Arn" || res[fmt.Sprint(att[0])]["Type"] != "AWS::ECR::Repository" {
						problems = append(problems, fmt.Sprintf("%s: %s on %v, want one of the stack's ECR repositories", s.where, a, r))
					}
				}
			}
		}
	}
	if !sawGet {
		problems = append(problems, "no statement grants GetSecretValue on the secret")
	}
	if !sawDecrypt {
		problems = append(problems, "no conditional kms:Decrypt for a customer managed key")
	}
	return problems
}

func TestTemplateLeastPrivilege(t *testing.T) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	tpl := loadTemplate(t, data)
	for _, p := range leastPrivilegeProblems(tpl) {
		t.Error(p)
	}

	// The checker itself must catch the usual blog template's mistakes.
	for name, mutate := range map[string]func(string) string{
		"GetSecretValue on *": func(s string) string {
			return strings.Replace(s, "Resource: !If [CreateSecret, !Ref DockerHubSecret, !Ref ExistingDockerHubSecretArn]", `Resource: "*"`, 1)
		},
		"unconditional kms:Decrypt": func(s string) string {
			return strings.Replace(s, "              - !If\n                - HasKmsKey\n                - Sid: DecryptDockerHubSecret", "              - !If\n                - CreateSecret\n                - Sid: DecryptDockerHubSecret", 1)
		},
		"push to every repository": func(s string) string {
			return strings.Replace(s, "Resource: !GetAtt AppRepository.Arn", `Resource: "*"`, 1)
		},
		"ecr wildcard": func(s string) string {
			return strings.Replace(s, "- ecr:PutImage", "- ecr:*", 1)
		},
	} {
		t.Run("catches "+name, func(t *testing.T) {
			mutated := mutate(string(data))
			if mutated == string(data) {
				t.Fatal("the mutation did not apply: update the test with the template")
			}
			if p := leastPrivilegeProblems(loadTemplate(t, []byte(mutated))); len(p) == 0 {
				t.Error("no problem found")
			}
		})
	}
}

func TestTemplateResources(t *testing.T) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	tpl := loadTemplate(t, data)
	params := tpl["Parameters"].(map[string]any)
	if tok := params["DockerHubToken"].(map[string]any); tok["NoEcho"] != true {
		t.Error("DockerHubToken is not NoEcho")
	}
	res := tpl.resources()
	byType := map[string][]string{}
	for name, r := range res {
		byType[r["Type"].(string)] = append(byType[r["Type"].(string)], name)
	}
	for typ, n := range map[string]int{"AWS::SecretsManager::Secret": 1, "AWS::ECR::Repository": 1, "AWS::IAM::Role": 2, "AWS::CodeBuild::Project": 2} {
		if len(byType[typ]) < n {
			t.Errorf("%d %s, want at least %d", len(byType[typ]), typ, n)
		}
	}
	if res["DockerHubSecret"]["Condition"] != "CreateSecret" {
		t.Error("the secret is created even when an existing ARN is given")
	}
	for _, name := range byType["AWS::ECR::Repository"] {
		lp, _ := props(res[name])["LifecyclePolicy"].(map[string]any)
		text, _ := lp["LifecyclePolicyText"].(string)
		var policy struct{ Rules []map[string]any }
		if err := json.Unmarshal([]byte(text), &policy); err != nil || len(policy.Rules) == 0 {
			t.Errorf("repository %s: no valid lifecycle policy (%v)", name, err)
		}
	}
	consumer := props(res["ConsumerProject"])
	envCfg := consumer["Environment"].(map[string]any)
	if envCfg["ImagePullCredentialsType"] != "SERVICE_ROLE" || envCfg["PrivilegedMode"] != true {
		t.Errorf("consumer environment = %v, want SERVICE_ROLE and PrivilegedMode", envCfg)
	}
	if img := fmt.Sprint(envCfg["Image"]); !strings.Contains(img, "ImageRepository.RepositoryUri") {
		t.Errorf("consumer image %s is not the stack's image", img)
	}
	var mapping bool
	for _, v := range list(envCfg["EnvironmentVariables"]) {
		if m, _ := v.(map[string]any); m["Name"] == "DOCKER_CREDENTIAL_SECRETSMANAGER_REGISTRIES" && strings.Contains(fmt.Sprint(m["Value"]), "docker.io=") {
			mapping = true
		}
	}
	if !mapping {
		t.Error("the consumer project does not set the Docker Hub mapping")
	}
	if bs := consumer["Source"].(map[string]any)["BuildSpec"]; bs != "examples/ecs/buildspec.yml" {
		t.Errorf("consumer buildspec %v", bs)
	}
	if bs := props(res["ImageBuildProject"])["Source"].(map[string]any)["BuildSpec"]; bs != "buildspec.yml" {
		t.Errorf("image project buildspec %v", bs)
	}
}

func TestTemplateCfnLint(t *testing.T) {
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		t.Fatalf("cfn-lint is required (pip install cfn-lint): %v", err)
	}
	out, err := exec.Command("cfn-lint", templatePath).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("cfn-lint: %v\n%s", err, out)
	}
}
