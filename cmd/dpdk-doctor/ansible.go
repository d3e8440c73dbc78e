package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dpdk-doctor/dpdk-doctor/ansiblemod"
	"github.com/dpdk-doctor/dpdk-doctor/fleet"
)

// asAnsibleModule runs the binary as an Ansible binary module when Ansible started it so:
// `MODULE ARGSFILE`, with one argument that is an args file (a JSON object with
// _ansible_module_name), or with argv[0] named after a module (check, fix_rmrr, fleet_report,
// or dpdk_doctor_check ...). ok is false when the binary runs as the command.
func asAnsibleModule() (code int, ok bool) {
	if len(os.Args) != 2 {
		return 0, false
	}
	name := ansiblemod.ModuleName(os.Args[0])
	if name == "" && !ansiblemod.IsArgsFile(os.Args[1]) {
		return 0, false
	}
	ctx, stop := signalContext()
	defer stop()
	return ansiblemod.Run(ctx, os.Stdout, os.Args[1], name, ansiblemod.Options{TreeIsThisHost: treeIsThisHost}), true
}

func newFleetReport(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fleet-report FILE...",
		Short: "Merge many hosts' check results (check --json documents, or the Ansible check module's facts) into one report grouped by root cause",
		Long: "Each FILE is one host's `dpdk-doctor check --json` document (the host is named after the file, less .json) " +
			"or the Ansible check module's facts (dpdk_doctor, dpdk_doctor_platform, dpdk_doctor_devices), which add the " +
			"platform, ROM and physical slots to the grouping. A FILE that is neither is bad input (exit 2).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var hosts []fleet.Host
			for _, a := range args {
				b, err := os.ReadFile(a)
				if err != nil {
					return inputErr(err)
				}
				name := filepath.Base(a)
				if ext := filepath.Ext(name); ext == ".json" {
					name = name[:len(name)-len(ext)]
				}
				h, err := fleet.ParseHost(b, a)
				if err != nil {
					return inputErr(err)
				}
				if h.Name == a {
					h.Name = name
				}
				hosts = append(hosts, h)
			}
			rep := fleet.Build(hosts)
			if asJSON {
				return rep.WriteJSON(os.Stdout)
			}
			return rep.WriteText(os.Stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}
