// Command syncd pulls documents from mailboxes, SharePoint and file shares,
// deduplicates them by content, rebuilds their version history and keeps it
// in a workspace store. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/syncd/syncd/workspace"
)

// Exit codes (README.md, "Exit codes").
const (
	exitOK          = 0   // done
	exitProblems    = 1   // finished with problems, or failed while running
	exitUsage       = 2   // bad command line or config (nothing was run)
	exitStore       = 3   // the store is locked by another process or cannot be opened
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM (128 + SIGINT); run it again to resume
)

// version is set by the build (-ldflags "-X main.version=..."); when it is
// not, `syncd version` reports the module version from the build info.
var version = "dev"

// usageError marks errors that exit with code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// storeError marks a store that could not be opened (exit 3).
type storeError struct{ err error }

func (s storeError) Error() string { return s.err.Error() }
func (s storeError) Unwrap() error { return s.err }

// storeErr marks err, if any, as the store being out of reach.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return storeError{err}
}

// errProblems means the command finished but found problems (exit 1).
var errProblems = errors.New("finished with problems")

// runFunc is what a command does once its flags are parsed: args are its
// positional arguments.
type runFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// command is one `syncd` command.
type command struct {
	use     string // cobra's Use: the name, then the positional arguments
	summary string
	long    string               // help text above the flags (default: summary)
	args    cobra.PositionalArgs // default: none
	// cleanOutput passes stdout through termSafe as a stream: for commands
	// whose printing code prints stored strings (run errors, problem
	// details) directly.
	cleanOutput bool
	// flags binds the command's flags on fs and returns what it runs; it
	// is called once for every command line, so state never leaks from
	// one runMain to the next.
	flags func(fs *pflag.FlagSet) runFunc
	// complete registers shell completions for its flags (optional).
	complete func(c *cobra.Command)
}

var commands []command

func register(c command) { commands = append(commands, c) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs one command line and returns its exit code. Errors are
// printed to stderr, one "syncd CMD: ..." message.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	if len(args) == 0 {
		root.InitDefaultHelpCmd()
		root.InitDefaultCompletionCmd()
		root.SetOut(stderr)
		_ = root.Usage()
		return exitUsage
	}
	root.SetArgs(compatFlags(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	name := "syncd"
	if cmd != nil && cmd != root {
		name = cmd.CommandPath()
	}
	code := exitCode(ctx, err)
	msg := termLines(err.Error())
	if code == exitInterrupted {
		msg = "interrupted: " + msg
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, msg)
	var ce commandError
	if !errors.As(err, &ce) && cmd != nil {
		// An error of the command line itself (unknown command or flag,
		// missing argument): say where the usage is.
		if cmd == root {
			fmt.Fprintln(stderr, "Run 'syncd help' for the commands.")
		} else {
			fmt.Fprintf(stderr, "Run 'syncd help %s' for its usage.\n", cmd.Name())
		}
	}
	return code
}

// exitCode maps a command's error to the exit code.
func exitCode(ctx context.Context, err error) int {
	var ce commandError
	var ue usageError
	var se storeError
	switch {
	case err == nil:
		return exitOK
	case !errors.As(err, &ce):
		return exitUsage // from the command line parser: unknown command or flag
	case ctx.Err() != nil:
		return exitInterrupted
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, workspace.ErrLocked), errors.As(err, &se):
		return exitStore
	default:
		return exitProblems
	}
}

// commandError marks an error returned by a command's own code, as opposed
// to cobra's errors about the command line.
type commandError struct{ err error }

func (c commandError) Error() string { return c.err.Error() }
func (c commandError) Unwrap() error { return c.err }

// newRoot builds the command tree for one command line.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "syncd",
		Short: "sync documents from mailboxes, SharePoint and file shares into one store with their version history",
		Long: `syncd pulls documents from mailboxes (IMAP), SharePoint and file shares,
stores each distinct content once and rebuilds every document's version
history. See README.md.

Commands that need a config use --config FILE, else $` + configEnv + `, else
./syncd.yaml, else ` + systemConfig + `.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// No RunE: a first argument that is not a command is an error.
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.Version = versionString()
	root.SetVersionTemplate("{{.Version}}")
	for _, c := range commands {
		root.AddCommand(c.cobra(stdout, stderr))
	}
	return root
}

func (c command) cobra(stdout, stderr io.Writer) *cobra.Command {
	cc := &cobra.Command{
		Use:   c.use,
		Short: c.summary,
		Long:  c.long,
		Args:  c.args,
	}
	if cc.Long == "" {
		cc.Long = c.summary
	}
	if cc.Args == nil {
		cc.Args = noArgs
	}
	run := c.flags(cc.Flags())
	cc.RunE = func(cmd *cobra.Command, args []string) error {
		out := stdout
		if c.cleanOutput {
			tw := newTermWriter(stdout)
			defer tw.Flush()
			out = tw
		}
		if err := run(cmd.Context(), args, out, stderr); err != nil {
			return commandError{err}
		}
		return nil
	}
	if c.complete != nil {
		c.complete(cc)
	}
	return cc
}

// noArgs refuses positional arguments.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

// compatFlags accepts the single-dash long flags of syncd's earlier flag
// parser (-config F, -job=J): each -NAME that is a long flag of the command
// becomes --NAME. Arguments after "--", and values of flags, are left
// alone.
func compatFlags(root *cobra.Command, args []string) []string {
	if len(args) == 0 {
		return []string{}
	}
	cmd, _, err := root.Find(args[:1])
	if err != nil || cmd == root {
		return args
	}
	out := append([]string(nil), args...)
	for i := 1; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			continue
		}
		long := strings.HasPrefix(a, "--")
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := cmd.Flags().Lookup(name)
		if !long && len(name) > 1 && (f != nil || name == "help") {
			out[i] = "-" + a
		}
		if (long || len(name) > 1) && f != nil && !hasValue && f.NoOptDefVal == "" {
			i++ // the next argument is this flag's value
		}
	}
	return out
}
