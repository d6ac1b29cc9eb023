package connectors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ErrNoSecret is returned by ResolveSecret when no reference is set.
var ErrNoSecret = errors.New("no secret configured")

// ResolveSecret reads a secret given by reference: the name of an
// environment variable, a file, or a command whose stdout is the secret.
// Exactly one may be set. what names the secret for errors ("password");
// errors never contain the secret itself.
func ResolveSecret(what, env, file, command string) (string, error) {
	n := 0
	for _, s := range []string{env, file, command} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return "", ErrNoSecret
	case n > 1:
		return "", fmt.Errorf("%s: set only one of %s_env, %s_file, %s_command", what, what, what, what)
	}
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s: environment variable %s is not set", what, env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	default:
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
		cmd.Stderr = nil
		out, err := cmd.Output()
		if err != nil {
			// The command line may embed hints but not the secret; still,
			// keep only the error kind.
			return "", fmt.Errorf("%s: %s_command failed: %v", what, what, err)
		}
		return strings.TrimRight(string(out), "\r\n"), nil
	}
}

// CheckSecret checks a secret reference at config load without reading
// the secret: at most one of <what>_env, _file, _command set (one when
// required), the variable set and not empty, the file readable. A command
// is not run. Errors come from cfg.Errorf and name the key.
func CheckSecret(cfg Config, what, env, file, command string, required bool) error {
	var set []string
	for _, k := range []struct{ key, v string }{{what + "_env", env}, {what + "_file", file}, {what + "_command", command}} {
		if k.v != "" {
			set = append(set, k.key)
		}
	}
	switch {
	case len(set) == 0 && required:
		return cfg.Errorf(what+"_env", "%s is required: set one of %s_env, %s_file, %s_command", what, what, what, what)
	case len(set) > 1:
		return cfg.Errorf(set[1], "set only one of %s", strings.Join(set, ", "))
	}
	if !cfg.Secrets {
		return nil // the command opens no source: the secret is not needed
	}
	switch {
	case env != "":
		if v, ok := os.LookupEnv(env); !ok || v == "" {
			return cfg.Errorf(what+"_env", "environment variable %s is not set", env)
		}
	case file != "":
		return CheckFile(cfg, what+"_file", file)
	}
	return nil
}

// unwrapPath keeps an os error's operation, path and reason.
func unwrapPath(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot read %s: %v", pe.Path, pe.Err)
	}
	return err.Error()
}

// CheckFile checks at config load that the file named by key (when set)
// can be read.
func CheckFile(cfg Config, key, file string) error {
	if file == "" {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return cfg.Errorf(key, "%s", unwrapPath(err))
	}
	f.Close()
	return nil
}
