package setup

import (
	"errors"
	"fmt"
	"strings"
)

// errHelp is returned by parseArgs for -h/--help.
var errHelp = errors.New("help requested")

// flagDef is one flag: a switch (b) or a flag with a value (s).
type flagDef struct {
	name string
	b    *bool
	s    *string
}

// parseArgs reads --switch, --name=value and --name value flags (one or
// two leading dashes) and returns the positional arguments. It stands in for
// the flag package, which would grow the helper binary for two commands.
func parseArgs(args []string, defs []flagDef) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "h" || name == "help" {
			return nil, errHelp
		}
		var def flagDef
		for _, d := range defs {
			if d.name == name {
				def = d
			}
		}
		switch {
		case def.b != nil && hasValue:
			return nil, errorf("flag --%s takes no value", name)
		case def.b != nil:
			*def.b = true
			continue
		case def.s == nil:
			return nil, errorf("unknown flag %s", a)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, errorf("flag --%s needs a value", name)
			}
			i++
			value = args[i]
		}
		*def.s = value
	}
	return pos, nil
}

// errorf is fmt.Errorf kept out of line: the compiler inlines
// fmt.Errorf at each of the package's many call sites, and the helper
// binary has a size budget.
//
//go:noinline
func errorf(format string, a ...any) error {
	return fmt.Errorf(format, a...)
}
