// Command docker-credential-secretsmanager is a Docker credential helper
// that resolves registry credentials from AWS Secrets Manager, ECR and ECR
// Public on demand, writing nothing to disk.
package main

import (
	"os"

	"github.com/credhelpers/docker-credential-secretsmanager/credhelper"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version string

func main() {
	os.Exit(credhelper.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv, version))
}
