package dmar

import (
	"encoding/json"
	"fmt"
)

// ScopeTypeName names a device scope type as the JSON of `rmrr --json` does: "endpoint",
// "bridge", "ioapic", "hpet", "acpi_namespace_device", or "unknown".
func ScopeTypeName(t uint8) string {
	switch t {
	case ScopeEndpoint:
		return "endpoint"
	case ScopeBridge:
		return "bridge"
	case ScopeIOAPIC:
		return "ioapic"
	case ScopeHPET:
		return "hpet"
	case ScopeNamespace:
		return "acpi_namespace_device"
	}
	return "unknown"
}

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }

// MarshalJSON writes an RMRR with its addresses as "0x..." strings (64-bit values do not
// survive JSON numbers in every reader) and its size in bytes as a number.
func (r ReportRMRR) MarshalJSON() ([]byte, error) {
	scopes := r.Scopes
	if scopes == nil {
		scopes = []ReportScope{}
	}
	return json.Marshal(struct {
		Offset  int           `json:"offset"`
		Segment uint16        `json:"segment"`
		Base    string        `json:"base"`
		End     string        `json:"end"`
		Size    uint64        `json:"size"`
		Scopes  []ReportScope `json:"scopes"`
	}{r.Offset, r.Segment, hex(r.Base), hex(r.End), r.Size, scopes})
}

// MarshalJSON writes a scope with its type by name ("endpoint") and by number (type_code).
func (s ReportScope) MarshalJSON() ([]byte, error) {
	type plain ReportScope // without this method
	return json.Marshal(struct {
		Type string `json:"type"`
		plain
		TypeCode uint8 `json:"type_code"`
	}{ScopeTypeName(s.Type), plain(s), s.Type})
}
