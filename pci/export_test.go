package pci

// EagerNames parses b with the parser before the lazy one and returns its four lookups, so that
// the external tests can compare names.
func EagerNames(b []byte) (vendor func(v uint16) string, device func(v, d uint16) string,
	subsystem func(v, d, sv, sd uint16) string, class func(c uint32) string, err error) {
	e, err := parseIDsEager(b)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return func(v uint16) string { return e.vendors[v] },
		func(v, d uint16) string { return e.devices[uint32(v)<<16|uint32(d)] },
		func(v, d, sv, sd uint16) string {
			return e.subsystems[uint64(v)<<48|uint64(d)<<32|uint64(sv)<<16|uint64(sd)]
		},
		func(c uint32) string {
			if s := e.classes[c>>8]; s != "" {
				return s
			}
			return e.classes[(c>>16)<<8|0xff]
		}, nil
}

// EagerKeys lists every device and subsystem key the eager parser found, to compare lookups
// over a whole database.
func EagerKeys(b []byte) (devices []uint32, subsystems []uint64) {
	e, _ := parseIDsEager(b)
	for k := range e.devices {
		devices = append(devices, k)
	}
	for k := range e.subsystems {
		subsystems = append(subsystems, k)
	}
	return devices, subsystems
}
