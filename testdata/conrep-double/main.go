// Command conrep-double stands in for HPE's conrep in tests. It takes conrep's flags
// (-s save, -l load, -x definitions XML, -f data file), prints conrep's banner and
// "Conrep Return Code", reads the section definitions from the XML it is given, and keeps the
// BIOS's NVRAM bytes in the JSON file named by $CONREP_DOUBLE_STATE between runs.
//
// $CONREP_DOUBLE_FAIL makes it fail as the real one can:
//
//	exit          print an ERROR and exit 1 with a non-zero return code
//	error-output  print an ERROR but exit 0 (return code 0)
//	no-file       -s: write no file, report success
//	malformed     -s: write a file that is not well-formed
//	ignore-load   -l: report success but change nothing (read-back disagrees)
//	kill-parent   -l: write the NVRAM, then SIGKILL the calling process (interrupted run)
//	flip-other    -l: load, and also flip the bits of the last defined section the data file
//	              does not name (a firmware that writes a byte it was not asked to)
//
// Optionally "MODE:N" fails only on the N-th invocation (counted in the state file).
//
// $CONREP_DOUBLE_SLOW (a Go duration) makes -l wait that long before it touches the NVRAM, and
// $CONREP_DOUBLE_WAIT (a path) makes it wait until that file exists (30 s at most), so that
// tests can start a second run while the first one is loading. Like the real ROM, the
// double serialises access: each invocation holds a lock on $CONREP_DOUBLE_STATE.lock while it
// reads and writes the NVRAM, and every file it writes is replaced atomically (temporary file,
// fsync, rename, fsync of the directory), so a reader never sees half a file.
package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type state struct {
	Platform  string            `json:"platform"`
	ROMDate   string            `json:"rom_date"`
	ROMFamily string            `json:"rom_family"`
	Processor string            `json:"processor"`
	NVRAM     map[string]uint32 `json:"nvram"` // "0x26a" -> byte
	Runs      int               `json:"runs"`
	Log       []string          `json:"log"` // one line per invocation: the arguments
}

type section struct {
	Name   string `xml:"name,attr"`
	NVRAM  string `xml:"nvram"`
	Mask   string `xml:"mask"`
	Values []struct {
		ID   string `xml:"id,attr"`
		Name string `xml:",chardata"`
	} `xml:"value"`
}

const version = "5.2.0.0"

func main() { os.Exit(run()) }

func run() int {
	var mode, xmlFile, datFile = "", "conrep.xml", "conrep.dat"
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-s", "-l":
			mode = args[i]
		case "-x", "-f":
			if i+1 >= len(args) {
				fmt.Printf("ERROR: option %s requires an argument\n", args[i])
				return usage()
			}
			if args[i] == "-x" {
				xmlFile = args[i+1]
			} else {
				datFile = args[i+1]
			}
			i++
		default:
			fmt.Printf("ERROR: invalid option %s\n", args[i])
			return usage()
		}
	}
	if mode == "" {
		return usage()
	}
	statePath := os.Getenv("CONREP_DOUBLE_STATE")
	if d, err := time.ParseDuration(os.Getenv("CONREP_DOUBLE_SLOW")); err == nil && mode == "-l" {
		time.Sleep(d)
	}
	if w := os.Getenv("CONREP_DOUBLE_WAIT"); w != "" && mode == "-l" {
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(w); err == nil {
				break
			}
		}
	}
	if lf, err := os.OpenFile(statePath+".lock", os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		// Closed (and so unlocked) after the deferred save below; the reference also keeps the
		// garbage collector from closing it early.
		defer lf.Close()
	}
	var st state
	b, err := os.ReadFile(statePath)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		fmt.Printf("ERROR: cannot access the system ROM (%v)\n", err)
		return finish(1)
	}
	st.Runs++
	st.Log = append(st.Log, strings.Join(os.Args[1:], " "))
	fail := os.Getenv("CONREP_DOUBLE_FAIL")
	if m, n, ok := strings.Cut(fail, ":"); ok {
		if k, _ := strconv.Atoi(n); k != st.Runs {
			fail = ""
		} else {
			fail = m
		}
	}
	defer save(statePath, &st)

	fmt.Printf("conrep %s - HPE Scripting Toolkit Configuration Replication Program\n", version)
	fmt.Printf("(c) Copyright 2013,2017 Hewlett Packard Enterprise Development LP\n\n")
	fmt.Printf("\tSystem Type:\t\t\t%s\n\tROM Date   :\t\t\t%s\n\tROM Family :\t\t\t%s\n\tProcessor Manufacturer :\t%s\n\n", st.Platform, st.ROMDate, st.ROMFamily, st.Processor)
	fmt.Printf("XML System Configuration: %s\nHardware   Configuration: %s\n", xmlFile, datFile)
	fmt.Printf("\tGlobal Restriction: [3.40                            ]                  OK\n\n")

	switch fail {
	case "exit":
		fmt.Println("ERROR: Unable to communicate with the system ROM")
		return finish(1)
	case "error-output":
		fmt.Println("ERROR: NVRAM is write protected")
		return finish(0)
	}
	xb, err := os.ReadFile(xmlFile)
	if err != nil {
		fmt.Printf("ERROR: Unable to open XML file %s\n", xmlFile)
		return finish(2)
	}
	var defs struct {
		Sections []section `xml:"Section"`
	}
	if err := xml.Unmarshal(xb, &defs); err != nil || len(defs.Sections) == 0 {
		fmt.Printf("ERROR: Invalid XML file %s\n", xmlFile)
		return finish(2)
	}
	if st.NVRAM == nil {
		st.NVRAM = map[string]uint32{}
	}
	if mode == "-s" {
		fmt.Printf("Saving configuration data to %s\n\n", datFile)
		switch fail {
		case "no-file":
			return finish(0)
		case "malformed":
			writeAtomic(datFile, []byte("<?xml version=\"1.0\"?>\n<Conrep version=\"5.2.0.0\">\n  <Section name=\"RMRDS_Slot1\""))
			return finish(0)
		}
		var out strings.Builder
		fmt.Fprintf(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!--generated by conrep version %s-->\n", version)
		fmt.Fprintf(&out, "<Conrep version=\"%s\" originating_platform=\"%s\" originating_family=\"%s\" originating_romdate=\"%s\" originating_processor_manufacturer=\"%s\">\n", version, st.Platform, st.ROMFamily, st.ROMDate, st.Processor)
		for _, s := range defs.Sections {
			addr, mask := num(s.NVRAM), num(s.Mask)
			cur := st.NVRAM[fmt.Sprintf("%#x", addr)] & mask
			name := ""
			for _, v := range s.Values {
				if num(v.ID) == cur {
					name = strings.TrimSpace(v.Name)
				}
			}
			fmt.Fprintf(&out, "  <Section name=\"%s\" helptext=\".\">%s</Section>\n", s.Name, name)
		}
		out.WriteString("</Conrep>\n")
		if err := writeAtomic(datFile, []byte(out.String())); err != nil {
			fmt.Printf("ERROR: Unable to write %s\n", datFile)
			return finish(3)
		}
		return finish(0)
	}
	// -l
	db, err := os.ReadFile(datFile)
	if err != nil {
		fmt.Printf("ERROR: Unable to open data file %s\n", datFile)
		return finish(2)
	}
	var data struct {
		Sections []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:",chardata"`
		} `xml:"Section"`
	}
	if err := xml.Unmarshal(db, &data); err != nil {
		fmt.Printf("ERROR: Invalid data file %s\n", datFile)
		return finish(2)
	}
	fmt.Printf("Loading configuration data from %s\n\n", datFile)
	next := map[string]uint32{}
	for k, v := range st.NVRAM {
		next[k] = v
	}
	for _, d := range data.Sections {
		var def *section
		for i := range defs.Sections {
			if defs.Sections[i].Name == d.Name {
				def = &defs.Sections[i]
			}
		}
		if def == nil {
			fmt.Printf("ERROR: Section %s is not defined in %s\n", d.Name, xmlFile)
			return finish(4)
		}
		found := false
		for _, v := range def.Values {
			if strings.TrimSpace(v.Name) == strings.TrimSpace(d.Value) {
				key := fmt.Sprintf("%#x", num(def.NVRAM))
				next[key] = next[key]&^num(def.Mask) | num(v.ID)
				found = true
			}
		}
		if !found {
			fmt.Printf("ERROR: Invalid value %q for section %s\n", d.Value, d.Name)
			return finish(4)
		}
	}
	if fail == "flip-other" {
		named := map[string]bool{}
		for _, d := range data.Sections {
			named[d.Name] = true
		}
		for i := len(defs.Sections) - 1; i >= 0; i-- {
			if s := defs.Sections[i]; !named[s.Name] {
				key := fmt.Sprintf("%#x", num(s.NVRAM))
				next[key] ^= num(s.Mask)
				break
			}
		}
	}
	if fail != "ignore-load" {
		st.NVRAM = next
	}
	if fail == "kill-parent" {
		save(statePath, &st)
		syscall.Kill(os.Getppid(), syscall.SIGKILL)
	}
	return finish(0)
}

func num(s string) uint32 {
	v, _ := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "0x"), 16, 32)
	return uint32(v)
}

func save(path string, st *state) {
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := writeAtomic(path, b); err != nil {
		fmt.Printf("ERROR: cannot write the system ROM (%v)\n", err)
	}
}

// writeAtomic replaces path with b so that a reader sees the old or the new contents, never a
// part: a temporary file in the same directory, fsync, rename, fsync of the directory. (The
// product's fix/atomic.go does the same; the double is an independent program.)
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func finish(code int) int {
	fmt.Printf("Conrep Return Code: %d\n\n", code)
	return code
}

func usage() int {
	fmt.Println("Usage: conrep -s|-l [-x xml_file] [-f data_file]")
	fmt.Println("  -s  save the server configuration to the data file")
	fmt.Println("  -l  load the data file to the server")
	return finish(1)
}
