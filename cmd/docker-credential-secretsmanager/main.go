// Command docker-credential-secretsmanager is a Docker credential helper
// that resolves registry credentials from AWS Secrets Manager, ECR and ECR
// Public on demand, writing nothing to disk.
package main

import (
	"os"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
	"github.com/credhelpers/docker-credential-secretsmanager/credhelper/setup"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version string

func main() {
	// doctor and configure live in credhelper/setup, which imports
	// credhelper, so they are dispatched here rather than in credhelper.Run.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "doctor":
			os.Exit(setup.Doctor(os.Args[2:], os.Stdout, os.Stderr, os.Getenv))
		case "configure":
			os.Exit(setup.Configure(os.Args[2:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
		}
	}
	os.Exit(credhelper.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv, version))
}
