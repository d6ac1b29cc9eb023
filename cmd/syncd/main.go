// Command syncd pulls documents from mailboxes, SharePoint and file shares,
// deduplicates them by content, rebuilds their version history and keeps it
// in a workspace store. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes.
const (
	exitOK       = 0
	exitProblems = 1
	exitUsage    = 2
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

// usageError marks errors that exit with code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errProblems means the command finished but found problems (exit 1).
var errProblems = errors.New("finished with problems")

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary, run}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "syncd: unknown command %s\n\n", termSafe(fmt.Sprintf("%q", args[0])))
		usage(stderr)
		return exitUsage
	}
	// runs and verify print stored strings (run errors, problem details)
	// in code other changes are under way in; their output is cleaned as
	// a stream instead.
	if args[0] == "runs" || args[0] == "verify" {
		tw := newTermWriter(stdout)
		defer tw.Flush()
		stdout = tw
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errProblems):
		fmt.Fprintf(stderr, "syncd %s: %s\n", args[0], termLines(err.Error()))
		return exitProblems
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "syncd %s: %s\n", args[0], termLines(err.Error()))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "syncd %s: %s\n", args[0], termLines(err.Error()))
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: syncd <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'syncd <command> -h' for a command's flags.")
}

func init() {
	register("version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
		fmt.Fprintln(stdout, "syncd", version)
		return nil
	})
}
