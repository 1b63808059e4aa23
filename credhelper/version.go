package credhelper

import "runtime/debug"

// ModulePath is the module the helper is built from.
const ModulePath = "github.com/credhelpers/docker-credential-secretsmanager"

// Version returns the helper's version: the one stamped at build time with
// -ldflags "-X main.version=…", else the module version recorded by
// `go install …@version`, else the VCS revision, else "(devel)".
func Version(stamped string) string {
	if stamped != "" {
		return stamped
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "(devel) " + s.Value[:12]
		}
	}
	return "(devel)"
}
