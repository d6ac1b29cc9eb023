package main

import (
	"github.com/spf13/cobra"

	"github.com/syncd/syncd/engine"
)

// Shell completion (`syncd completion bash|zsh|fish|powershell`) of flag
// values: fixed choices, and the job names of the config the command line
// names (or finds).

func fixed(c *cobra.Command, flag string, choices ...string) {
	_ = c.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(choices, cobra.ShellCompDirectiveNoFileComp))
}

func completeCommon(c *cobra.Command) {
	_ = c.MarkFlagFilename("config", "yaml", "yml")
	fixed(c, "log-format", "auto", "text", "json")
	fixed(c, "log-level", "debug", "info", "warn", "error")
}

// completeJobs completes --job with the jobs of the config.
func completeJobs(c *cobra.Command) {
	completeCommon(c)
	_ = c.RegisterFlagCompletionFunc("job", func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		flag, _ := cmd.Flags().GetString("config")
		path, err := findConfig(flag)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg, err := engine.LoadConfig(path)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]cobra.Completion, 0, len(cfg.Jobs))
		for _, j := range cfg.Jobs {
			names = append(names, j.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

func completeSync(c *cobra.Command) {
	completeJobs(c)
	fixed(c, "progress", progressAuto, progressBar, progressLog, progressNone)
}

func completePlan(c *cobra.Command) {
	completeJobs(c)
	fixed(c, "format", reportFormats...)
	_ = c.MarkFlagDirname("out")
}

func completeReport(c *cobra.Command) {
	completePlan(c)
}

func completeExport(c *cobra.Command) {
	completeCommon(c)
	fixed(c, "format", "json", "tree")
	_ = c.MarkFlagDirname("to")
}

func completeDemo(c *cobra.Command) {
	fixed(c, "imap-server", "memory", "dovecot")
	fixed(c, "log-format", "auto", "text", "json")
	fixed(c, "log-level", "debug", "info", "warn", "error")
	_ = c.MarkFlagDirname("dir")
	_ = c.MarkFlagDirname("corpus")
}
