package peinfo

// Results is peinfo's result for one PE, with stoQ's keys. Every key is
// present: lists and maps are empty rather than missing.
type Results struct {
	// Imphash is pefile's get_imphash(): "" without imports, as pefile.
	Imphash string `json:"imphash"`
	// CompileTimeEpoch is the file header's TimeDateStamp; CompileTime the
	// same instant as "YYYY-MM-DD HH:MM:SS", in UTC.
	CompileTimeEpoch uint32 `json:"compile_time_epoch"`
	CompileTime      string `json:"compile_time"`
	ImageBase        uint64 `json:"image_base"`
	Entrypoint       uint32 `json:"entrypoint"` // AddressOfEntryPoint, an RVA
	// MachineType is pefile's IMAGE_FILE_MACHINE_* name, null for a value
	// pefile does not name.
	MachineType *string `json:"machine_type"`
	IsExe       bool    `json:"is_exe"`
	IsDLL       bool    `json:"is_dll"`
	IsDriver    bool    `json:"is_driver"`
	IsPacked    bool    `json:"is_packed"`
	// IsSuspicious is always false: pefile's peutils.is_suspicious, which
	// stoQ called, has no verdict to give (it returns None).
	IsSuspicious bool `json:"is_suspicious"`
	// IsValid is true when the PE was read without a problem (an Error).
	IsValid bool `json:"is_valid"`
	// Imports maps each DLL to its functions, "ordN" for one imported by
	// ordinal that pefile cannot name.
	Imports map[string][]string `json:"imports"`
	// Exports lists the exported names (exports by ordinal only are left
	// out, as stoQ does).
	Exports  []string  `json:"exports"`
	Sections []Section `json:"sections"`
	// Resources lists the resource tree's leaves (type, name, language).
	Resources []Resource `json:"resources"`
	// VersionInfo holds the StringFileInfo pairs.
	VersionInfo map[string]string `json:"version_info"`
	// RichHeader is pefile's get_rich_header_hash(): the MD5 of the decoded
	// Rich header, "" without one.
	RichHeader string `json:"rich_header"`
	// TLSCallbacks are the TLS callbacks' virtual addresses.
	TLSCallbacks []uint64      `json:"tls_callbacks"`
	DebugInfo    []DebugInfo   `json:"debug_info"`
	Certificates []Certificate `json:"certificates"`
}

// Section describes one section, in pefile's order (by virtual address).
type Section struct {
	Name        string   `json:"name"` // long names (/4) resolved from the COFF string table
	MD5         *string  `json:"md5"`  // of the raw data as pefile reads it
	VirtualAddr uint32   `json:"virtaddr"`
	VirtualSize uint32   `json:"virtsize"`
	RawSize     uint32   `json:"raw_size"`
	Entropy     *float64 `json:"entropy"` // of the same data, bits per byte
}

// Resource describes one resource, with stoQ's keys and values.
type Resource struct {
	Type         string  `json:"type"`          // RT_ICON, RT_VERSION..., "unknown"
	ResourceID   *uint32 `json:"resource_id"`   // the language entry's ID (null when named)
	ResourceType string  `json:"resource_type"` // always IMAGE_RESOURCE_DATA_ENTRY, as stoQ reports it
	Address      uint32  `json:"address"`       // RVA of the data
	Offset       *int64  `json:"offset"`        // file offset of the data, null when it maps to none
	Language     string  `json:"language"`
	SubLanguage  string  `json:"sub_language"`
	Size         uint32  `json:"size"`
	Name         string  `json:"name"` // resource_<type>_<resource_id>
}

// extraData is the resource's entry with the filename stoQ adds, for its
// extracted payload.
func (r Resource) extraData() map[string]any {
	m := map[string]any{
		"type":          r.Type,
		"resource_id":   nil,
		"resource_type": r.ResourceType,
		"address":       r.Address,
		"offset":        nil,
		"language":      r.Language,
		"sub_language":  r.SubLanguage,
		"size":          r.Size,
		"name":          r.Name,
		"filename":      r.Name,
	}
	if r.ResourceID != nil {
		m["resource_id"] = *r.ResourceID
	}
	if r.Offset != nil {
		m["offset"] = *r.Offset
	}
	return m
}

// DebugInfo is one debug directory entry, with stoQ's keys; the Debug*
// keys are there for CodeView (PDB) entries.
type DebugInfo struct {
	MajorVersion   uint16 `json:"MajorVersion"`
	MinorVersion   uint16 `json:"MinorVersion"`
	SizeOfData     uint32 `json:"SizeOfData"`
	TimeDateStamp  uint32 `json:"TimeDateStamp"`
	TimeDateString string `json:"TimeDateString"` // UTC
	Type           uint32 `json:"Type"`
	// DebugSig is RSDS (PDB 7.0) or NB10 (PDB 2.0).
	DebugSig  string  `json:"DebugSig,omitempty"`
	DebugGUID string  `json:"DebugGUID,omitempty"` // RSDS: 8-4-4-4-12 hex
	DebugTime *uint32 `json:"DebugTime,omitempty"` // NB10
	DebugAge  *uint32 `json:"DebugAge,omitempty"`
	DebugPDB  *string `json:"DebugPDB,omitempty"` // the PDB's path
}

// Certificate is one X.509 certificate of an Authenticode signature.
type Certificate struct {
	Subject         string `json:"subject"` // RFC 4514, e.g. CN=Example,O=Example Corp,C=US
	Issuer          string `json:"issuer"`
	SerialNumber    string `json:"serial_number"` // lower-case hex
	NotBefore       string `json:"not_before"`    // RFC 3339, UTC
	NotAfter        string `json:"not_after"`
	DigestAlgorithm string `json:"digest_algorithm"` // of its signature: sha256, sha1...
}
