// Package buildspec runs a CodeBuild buildspec (version 0.2) the way
// CodeBuild does, close enough to prove a buildspec works: the phases in
// order, each phase's commands in order, in one bash shell so that variables
// and exports carry from one command and phase to the next, with the
// buildspec's env variables exported. A failing command stops the build.
//
// Not supported, and refused rather than ignored: env parameter-store,
// secrets-manager and exported-variables, phase on-failure and finally
// blocks, run-as. The buildspecs of this repository need none of them.
package buildspec

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Phases are CodeBuild's phases, in the order it runs them.
var Phases = []string{"install", "pre_build", "build", "post_build"}

// Spec is the part of a buildspec the runner executes.
type Spec struct {
	Version   string
	Variables map[string]string
	// Commands holds each phase's commands, keyed by phase name.
	Commands map[string][]string
}

type rawSpec struct {
	Version yaml.Node `yaml:"version"`
	Env     struct {
		Shell               string            `yaml:"shell"`
		Variables           map[string]string `yaml:"variables"`
		ParameterStore      yaml.Node         `yaml:"parameter-store"`
		SecretsManager      yaml.Node         `yaml:"secrets-manager"`
		ExportedVariables   yaml.Node         `yaml:"exported-variables"`
		GitCredentialHelper yaml.Node         `yaml:"git-credential-helper"`
	} `yaml:"env"`
	RunAs  string `yaml:"run-as"`
	Phases map[string]struct {
		RunAs     string    `yaml:"run-as"`
		OnFailure string    `yaml:"on-failure"`
		Commands  []string  `yaml:"commands"`
		Finally   yaml.Node `yaml:"finally"`
	} `yaml:"phases"`
}

// Parse reads a buildspec.
func Parse(data []byte) (*Spec, error) {
	var raw rawSpec
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("buildspec: %w", err)
	}
	if raw.Version.Value != "0.2" {
		return nil, fmt.Errorf("buildspec: version %q, want 0.2", raw.Version.Value)
	}
	if raw.Env.Shell != "" && raw.Env.Shell != "bash" {
		return nil, fmt.Errorf("buildspec: env shell %q: only bash is supported", raw.Env.Shell)
	}
	for name, n := range map[string]yaml.Node{
		"env parameter-store":       raw.Env.ParameterStore,
		"env secrets-manager":       raw.Env.SecretsManager,
		"env exported-variables":    raw.Env.ExportedVariables,
		"env git-credential-helper": raw.Env.GitCredentialHelper,
	} {
		if n.Kind != 0 {
			return nil, fmt.Errorf("buildspec: %s is not supported", name)
		}
	}
	if raw.RunAs != "" {
		return nil, errors.New("buildspec: run-as is not supported")
	}
	s := &Spec{Version: raw.Version.Value, Variables: raw.Env.Variables, Commands: map[string][]string{}}
	for name, p := range raw.Phases {
		if !known(name) {
			return nil, fmt.Errorf("buildspec: unknown phase %q", name)
		}
		if p.RunAs != "" || p.OnFailure != "" || p.Finally.Kind != 0 {
			return nil, fmt.Errorf("buildspec: phase %s: run-as, on-failure and finally are not supported", name)
		}
		s.Commands[name] = p.Commands
	}
	return s, nil
}

func known(phase string) bool {
	for _, p := range Phases {
		if p == phase {
			return true
		}
	}
	return false
}

// Script is the bash program that runs the buildspec: the variables
// exported (a value already in the environment wins, as a project's
// environment variables override the buildspec's), then every command in
// phase order, each announced as CodeBuild's log does, the first failure
// ending the script with its status.
func (s *Spec) Script() string {
	var b strings.Builder
	b.WriteString("set -o pipefail\nexport CODEBUILD_BUILD_SUCCEEDING=1\n")
	names := make([]string, 0, len(s.Variables))
	for k := range s.Variables {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "if [[ -z \"${%s+set}\" ]]; then export %s=%s; fi\n", k, k, quote(s.Variables[k]))
	}
	for _, phase := range Phases {
		cmds, ok := s.Commands[phase]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "echo %s\n", quote("[Container] Entering phase "+phase))
		for _, c := range cmds {
			fmt.Fprintf(&b, "echo %s\n", quote("[Container] Running command "+c))
			b.WriteString(c)
			b.WriteString("\n__rc=$?\n")
			fmt.Fprintf(&b, "if ((__rc != 0)); then echo %s\"$__rc\" >&2; exit \"$__rc\"; fi\n",
				quote("[Container] Phase "+phase+": command did not exit successfully: "+c+": exit status "))
		}
		fmt.Fprintf(&b, "echo %s\n", quote("[Container] Phase complete: "+phase+" State: SUCCEEDED"))
	}
	return b.String()
}

// quote makes s one bash word.
func quote(s string) string {
	return "$'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
