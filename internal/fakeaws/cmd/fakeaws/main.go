// Command fakeaws serves the fake AWS endpoint of package fakeaws on
// 127.0.0.1 for scripts (benchmarks) that need it as a process. It prints
// its URL on the first line of stdout and serves until interrupted.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/credhelpers/docker-credential-secretsmanager/internal/fakeaws"
)

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any free port)")
	secrets := flag.String("secrets", "", `JSON file {"<secret name>": "<secret string>", …}`)
	ttl := flag.Duration("ecr-token-ttl", 12*time.Hour, "lifetime of the ECR and ECR Public tokens")
	ecrPassword := flag.String("ecr-password", "fake-ecr-password", "password carried by ECR tokens (user AWS)")
	keyID := flag.String("access-key-id", "AKIAFAKEBENCH0000001", "access key id clients sign with")
	secretKey := flag.String("secret-access-key", "fake-bench-secret-key", "secret access key clients sign with")
	flag.Parse()
	if err := run(*port, *secrets, *ttl, *ecrPassword, fakeaws.Credentials{AccessKeyID: *keyID, SecretAccessKey: *secretKey}); err != nil {
		fmt.Fprintln(os.Stderr, "fakeaws:", err)
		os.Exit(1)
	}
}

func run(port int, secretsFile string, ttl time.Duration, ecrPassword string, key fakeaws.Credentials) error {
	s := fakeaws.New()
	s.AddKey(key)
	s.SetECRToken(ecrPassword, time.Now().Add(ttl))
	if secretsFile != "" {
		data, err := os.ReadFile(secretsFile)
		if err != nil {
			return err
		}
		var secrets map[string]string
		if err := json.Unmarshal(data, &secrets); err != nil {
			return fmt.Errorf("%s: want a JSON object of secret name to string: %w", secretsFile, err)
		}
		for name, value := range secrets {
			s.SetSecret(name, value)
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("http://%s\n", l.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-stop:
		s.Close()
		return srv.Close()
	}
}
