//go:build dpdkdoctor_gendocs

// gendocs is built only with -tags dpdkdoctor_gendocs (scripts/deb.sh does): a hidden command
// that writes the man pages and shell completions of the whole command tree, for packaging. The
// release binary stays without the man-page generator.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func init() {
	moreCommands = append(moreCommands, newGendocs)
}

func newGendocs(*globals) *cobra.Command {
	var manDir, complDir string
	cmd := &cobra.Command{
		Use:    "gendocs",
		Short:  "Write man pages and bash, zsh and fish completions (for packaging)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			date, err := sourceDate()
			if err != nil {
				return usageErr("%v", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			if manDir != "" {
				if err := os.MkdirAll(manDir, 0o755); err != nil {
					return inputErr(err)
				}
				h := &doc.GenManHeader{Section: "1", Date: &date, Source: "dpdk-doctor " + textfileVersion(), Manual: "dpdk-doctor manual"}
				if err := doc.GenManTree(root, h, manDir); err != nil {
					return inputErr(fmt.Errorf("man pages in %s: %w", manDir, err))
				}
			}
			if complDir != "" {
				if err := os.MkdirAll(complDir, 0o755); err != nil {
					return inputErr(err)
				}
				for name, gen := range map[string]func(string) error{
					"dpdk-doctor.bash": func(p string) error { return root.GenBashCompletionFileV2(p, true) },
					"_dpdk-doctor":     root.GenZshCompletionFile,
					"dpdk-doctor.fish": func(p string) error { return root.GenFishCompletionFile(p, true) },
				} {
					if err := gen(filepath.Join(complDir, name)); err != nil {
						return inputErr(fmt.Errorf("completion %s: %w", name, err))
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&manDir, "man", "", "write man pages (section 1) into `DIR`")
	cmd.Flags().StringVar(&complDir, "completions", "", "write dpdk-doctor.bash, _dpdk-doctor and dpdk-doctor.fish into `DIR`")
	return cmd
}

// sourceDate is the date the man pages carry: SOURCE_DATE_EPOCH (reproducible builds), or a
// fixed date, never the time of the build.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since the epoch", s)
	}
	return time.Unix(n, 0).UTC(), nil
}
