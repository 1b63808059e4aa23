// Command proctime times commands as whole processes, interleaving the
// cases (A, B, C, A, B, C, …) so that drift in machine load spreads evenly
// over them, and prints medians and p90s as a markdown table.
//
// Cases come from a file, one per line:
//
//	name;exit;stdin;[VAR=value …] command [arg …]
//
// exit is the exit code every run must end with (a get for an unmanaged
// registry exits 1), stdin is written to the process (\n is a newline), and
// leading VAR=value words are added to the environment. Fields are split on
// the first three semicolons; words on spaces. Blank lines and lines
// starting with # are ignored.
//
// A run whose exit code differs aborts the measurement. Standard output is
// never printed for a run that succeeded: it may carry credentials.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

type benchCase struct {
	name  string
	exit  int
	stdin []byte
	env   []string
	argv  []string

	times []time.Duration
	rss   []int64 // KiB, when the OS reports it
}

func main() {
	runs := flag.Int("n", 200, "measured runs per case")
	warmup := flag.Int("warmup", 3, "unmeasured runs per case before measuring")
	baseline := flag.String("baseline", "", "case the ratio column compares with (default: the first)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: proctime [-n runs] [-warmup runs] [-baseline case] CASEFILE\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *runs < 1 || *warmup < 0 {
		flag.Usage()
		os.Exit(2)
	}
	cases, err := readCases(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "proctime:", err)
		os.Exit(2)
	}
	base := 0
	if *baseline != "" {
		base = slices.IndexFunc(cases, func(c *benchCase) bool { return c.name == *baseline })
		if base < 0 {
			fmt.Fprintf(os.Stderr, "proctime: no case named %q\n", *baseline)
			os.Exit(2)
		}
	}
	if err := measure(cases, *runs, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "proctime:", err)
		os.Exit(1)
	}
	report(os.Stdout, cases, cases[base])
}

func readCases(path string) ([]*benchCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []*benchCase
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		c, err := parseCase(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(cases) == 0 {
		return nil, errors.New(path + ": no cases")
	}
	return cases, nil
}

func parseCase(text string) (*benchCase, error) {
	fields := strings.SplitN(text, ";", 4)
	if len(fields) != 4 {
		return nil, errors.New("want name;exit;stdin;command")
	}
	exit, err := strconv.Atoi(strings.TrimSpace(fields[1]))
	if err != nil {
		return nil, fmt.Errorf("exit code %q: %w", fields[1], err)
	}
	c := &benchCase{
		name:  strings.TrimSpace(fields[0]),
		exit:  exit,
		stdin: []byte(strings.ReplaceAll(fields[2], `\n`, "\n")),
		env:   os.Environ(),
	}
	words := strings.Fields(fields[3])
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "=") {
		c.env = append(c.env, words[0])
		words = words[1:]
	}
	if len(words) == 0 {
		return nil, errors.New("no command")
	}
	path, err := exec.LookPath(words[0])
	if err != nil {
		return nil, err
	}
	c.argv = append([]string{path}, words[1:]...)
	return c, nil
}

// measure runs every case once per round, in file order, for warmup
// unmeasured rounds and then runs measured ones.
func measure(cases []*benchCase, runs, warmup int) error {
	for round := range warmup + runs {
		for _, c := range cases {
			took, rss, err := c.runOnce()
			if err != nil {
				return fmt.Errorf("case %s, round %d: %w", c.name, round+1, err)
			}
			if round >= warmup {
				c.times = append(c.times, took)
				if rss > 0 {
					c.rss = append(c.rss, rss)
				}
			}
		}
	}
	return nil
}

func (c *benchCase) runOnce() (time.Duration, int64, error) {
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Env = c.env
	cmd.Stdin = bytes.NewReader(c.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return 0, 0, err
	}
	if code := cmd.ProcessState.ExitCode(); code != c.exit {
		msg := fmt.Sprintf("exit code %d, want %d", code, c.exit)
		if code != 0 {
			// A failure's stdout is the helper's error text, not a credential.
			msg += fmt.Sprintf("; stdout %q; stderr %q", strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()))
		}
		return 0, 0, errors.New(msg)
	}
	return took, maxRSS(cmd.ProcessState), nil
}

// quantile returns the q-quantile of sorted values (nearest rank).
func quantile[T any](sorted []T, q float64) T {
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func report(w io.Writer, cases []*benchCase, base *benchCase) {
	median := func(c *benchCase) time.Duration {
		s := slices.Clone(c.times)
		slices.Sort(s)
		return quantile(s, 0.5)
	}
	baseMedian := median(base)
	fmt.Fprintf(w, "| case | runs | median ms | p90 ms | min ms | median / %s | max RSS MiB (median) |\n", base.name)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, c := range cases {
		s := slices.Clone(c.times)
		slices.Sort(s)
		rss := "n/a"
		if len(c.rss) > 0 {
			r := slices.Clone(c.rss)
			slices.Sort(r)
			rss = fmt.Sprintf("%.1f", float64(quantile(r, 0.5))/1024)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %.2fx | %s |\n", c.name, len(s), ms(quantile(s, 0.5)), ms(quantile(s, 0.9)), ms(s[0]),
			float64(quantile(s, 0.5))/float64(baseMedian), rss)
	}
}
