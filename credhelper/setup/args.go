package setup

import (
	"errors"
	"fmt"
	"strings"
)

// errHelp is returned by parseArgs for -h/--help.
var errHelp = errors.New("help requested")

// parseArgs reads --name, --name=value and --name value flags (one or two
// leading dashes) and returns the positional arguments. It stands in for
// the flag package, which would grow the helper binary for two commands.
func parseArgs(args []string, bools map[string]*bool, strs map[string]*string) ([]string, error) {
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
		if b, ok := bools[name]; ok {
			if !hasValue {
				*b = true
				continue
			}
			v, err := parseBool(value)
			if err != nil {
				return nil, fmt.Errorf("flag --%s: %w", name, err)
			}
			*b = v
			continue
		}
		s, ok := strs[name]
		if !ok {
			return nil, fmt.Errorf("unknown flag %s", a)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			value = args[i]
		}
		*s = value
	}
	return pos, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}
