// Command buildspec-run runs a CodeBuild buildspec's phases in a container,
// as CodeBuild would (see package buildspec): buildspec-run [file]
// (default buildspec.yml). Its exit status is the failing command's.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/credhelpers/docker-credential-secretsmanager/imagetest/buildspec"
)

func main() {
	path := "buildspec.yml"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	os.Exit(run(path))
}

func run(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "buildspec-run: %v\n", err)
		return 2
	}
	spec, err := buildspec.Parse(data)
	if err != nil {
		fmt.Fprintf(os.Stderr, "buildspec-run: %s: %v\n", path, err)
		return 2
	}
	cmd := exec.Command("bash", "-c", spec.Script())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			fmt.Fprintf(os.Stderr, "buildspec-run: %s: build failed (exit status %d)\n", path, ee.ExitCode())
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "buildspec-run: %v\n", err)
		return 2
	}
	fmt.Fprintf(os.Stdout, "buildspec-run: %s: build succeeded\n", path)
	return 0
}
