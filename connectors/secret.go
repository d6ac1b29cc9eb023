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
