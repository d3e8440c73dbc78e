// Command kernelstub-double is a test double of Pop!_OS's kernelstub (github.com/pop-os/kernelstub,
// read at commit 3fb4e06aab998f01db986b2bc3146caf9dec3d95) for the part `dpdk-doctor fix cmdline`
// drives: the options -a/--add-options, -d/--delete-options, -o/--options and -c/--dry-run, the
// configuration file /etc/kernelstub/configuration, the systemd-boot entry it writes, and its exit
// codes. The real program cannot run here: it finds the root and EFI partitions with lsblk, copies
// the kernel onto the ESP and edits NVRAM with efibootmgr.
//
// The files are under $KERNELSTUB_DOUBLE_ROOT (the real one uses / and, for the configuration, a
// fixed path: config.py, Config.config_path).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// parseOptions is config.py's parse_options: a word with a double quote is joined with the
// words after it up to the next word with one.
func parseOptions(opts []string) []string {
	for i := 0; i < len(opts); i++ {
		if strings.Contains(opts[i], `"`) {
			for j := i + 1; j < len(opts); j++ {
				next := opts[j]
				opts[i] += " " + next
				opts[j] = ""
				if strings.Contains(next, `"`) {
					break
				}
			}
		}
	}
	return opts
}

func fail(code int, format string, a ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(code)
}

func main() {
	root := os.Getenv("KERNELSTUB_DOUBLE_ROOT")
	if root == "" {
		fail(1, "kernelstub-double: KERNELSTUB_DOUBLE_ROOT is not set")
	}
	var add, del, set *string
	dry := false
	args := os.Args[1:]
	// argparse: "-a VALUE", "--add-options VALUE" or "--add-options=VALUE"; anything else is
	// "error: unrecognized arguments", exit 2.
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		if !strings.HasPrefix(name, "--") {
			name, hasVal = args[i], false
		}
		var dst **string
		switch name {
		case "-a", "--add-options":
			dst = &add
		case "-d", "--delete-options":
			dst = &del
		case "-o", "--options":
			dst = &set
		case "-c", "--dry-run":
			dry = true
			continue
		default:
			fail(2, "usage: kernelstub [-h] [-c] ...\nkernelstub: error: unrecognized arguments: %s", args[i])
		}
		if !hasVal {
			if i+1 >= len(args) {
				fail(2, "usage: kernelstub [-h] [-c] ...\nkernelstub: error: argument %s: expected one argument", name)
			}
			i++
			val = args[i]
		}
		*dst = &val
	}
	// config.py: load_config.
	path := filepath.Join(root, "etc/kernelstub/configuration")
	var config map[string]map[string]any
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &config); err != nil {
			fail(1, "Traceback (most recent call last):\njson.decoder.JSONDecodeError: %v", err)
		}
	} else {
		config = map[string]map[string]any{"default": {
			"kernel_options": []any{"quiet", "splash"}, "esp_path": "/boot/efi", "setup_loader": false,
			"manage_mode": false, "force_update": false, "live_mode": false, "config_rev": 3.0}}
	}
	if _, ok := config["user"]; !ok {
		u := map[string]any{}
		for k, v := range config["default"] {
			u[k] = v
		}
		config["user"] = u
	}
	user := config["user"]
	rev, _ := user["config_rev"].(float64)
	switch {
	case rev > 3:
		fail(1, "Traceback (most recent call last):\nkernelstub.config.ConfigError: Configuration cannot be understood!")
	case rev < 3 || user["kernel_options"] != nil:
		// update_config (rev < 3) and the rev 3 check both turn a string into a list.
		if s, ok := user["kernel_options"].(string); ok {
			var l []any
			for _, o := range parseOptions(strings.Fields(s)) {
				l = append(l, o)
			}
			user["kernel_options"] = l
		}
		user["config_rev"] = 3.0
		if d := config["default"]; d != nil {
			d["config_rev"] = 3.0
		}
	}
	user["live_mode"] = false
	// application.py: a kernel and an initrd must exist, else it logs and exits 0 (nothing saved).
	for _, f := range []string{"vmlinuz", "initrd.img"} {
		if !exists(filepath.Join(root, "boot", f)) && !exists(filepath.Join(root, f)) {
			fmt.Fprintf(os.Stderr, "kernelstub           : ERROR    Can't find the kernel image '%s'! \n\nPlease use the --kernel-path option to specify the path to the kernel image\n", filepath.Join(root, "boot", f))
			os.Exit(0)
		}
	}
	var opts []string
	if set != nil && *set != "" {
		// if args.k_options: the whole list.
		opts = parseOptions(strings.Fields(*set))
	} else {
		l, ok := user["kernel_options"].([]any)
		if !ok {
			fail(1, "Traceback (most recent call last):\nkernelstub.application.CmdLineError: No Kernel Parameters found")
		}
		for _, o := range l {
			s, _ := o.(string)
			opts = append(opts, s)
		}
	}
	if add != nil && *add != "" {
		// for opt in add_opts: if opt not in kernel_opts: kernel_opts.append(opt)
		for _, o := range parseOptions(strings.Split(*add, " ")) {
			if !contains(opts, o) {
				opts = append(opts, o)
			}
		}
	}
	if del != nil && *del != "" {
		// kernel_opts = list(set(kernel_opts) - set(rem_opts)): the order is the set's, which
		// in CPython depends on the strings' hashes; the double puts them in reverse order, so
		// a caller that counts on the old order is caught.
		rem := parseOptions(strings.Split(*del, " "))
		seen := map[string]bool{}
		var out []string
		for _, o := range opts {
			if !contains(rem, o) && !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(out)))
		opts = out
	}
	l := []any{}
	for _, o := range opts {
		l = append(l, o)
	}
	user["kernel_options"] = l
	if dry {
		os.Exit(0)
	}
	// installer.py: setup_kernel writes the loader entry when setup_loader is set.
	if sl, _ := user["setup_loader"].(bool); sl {
		esp, _ := user["esp_path"].(string)
		entry := filepath.Join(root, esp, "loader/entries/Pop_OS-current.conf")
		os.MkdirAll(filepath.Dir(entry), 0o755)
		body := "title Pop!_OS\nlinux /EFI/Pop_OS-0000/vmlinuz.efi\ninitrd /EFI/Pop_OS-0000/initrd.img\noptions root=UUID=0000 ro " + strings.Join(opts, " ") + "\n"
		if err := os.WriteFile(entry, []byte(body), 0o644); err != nil {
			fail(170, "Couldn't copy the kernel onto the ESP! %v", err)
		}
	}
	// config.py: save_config, json.dump(indent=2).
	b, _ := json.MarshalIndent(config, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fail(1, "Traceback (most recent call last):\nPermissionError: %v", err)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
