package fix

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// readConfig reads at most limit bytes of the boot configuration file at path while planning.
// With files set (the host or tree the command reads), a path under root ("" is /) is read
// through it: a captured tree's links resolve inside the tree, as in a chroot, and the demo's
// files come from the demo, so a plan for a tree never reads this machine's files. A path the
// user named outside the tree (--grub-file), or no files at all, is read as it is.
func readConfig(files host.Root, root, path string, limit int) ([]byte, error) {
	if rel, ok := under(files, root, path); ok {
		return files.ReadHead(rel, limit)
	}
	return readBounded(path, int64(limit))
}

// confFiles lists the "*.conf" files of dir (under root) in name order, read as readConfig
// reads: the BootLoaderSpec entries.
func confFiles(files host.Root, root, dir string) []string {
	p := rootPath(root, dir)
	rel, ok := under(files, root, p)
	if !ok {
		m, _ := filepath.Glob(filepath.Join(p, "*.conf"))
		return m
	}
	ents, _ := files.ReadDir(rel)
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".conf") {
			out = append(out, filepath.Join(p, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// under returns path relative to root when files is set and path lies under root.
func under(files host.Root, root, path string) (string, bool) {
	if files == (host.Root{}) {
		return "", false
	}
	if root == "" {
		root = "/"
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}
