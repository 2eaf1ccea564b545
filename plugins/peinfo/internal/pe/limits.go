package pe

// pefile's limits (same names and values as in pefile).
const (
	maxImportSymbols     = 0x2000 // import thunks read per file
	maxImportNameLength  = 0x200
	maxDLLLength         = 0x200
	maxSymbolNameLength  = 0x200
	maxSections          = 0x800
	maxResourceEntries   = 0x8000 // resource directory entries per file
	maxResourceDepth     = 32
	maxEntriesPerDir     = 4096 // resource directory entries per directory
	maxSymbolExportCount = 0x2000
	maxRepeatedSymbol    = 120 // repeats of one address among ordinal-only exports
	maxRepeatedAddresses = 15  // repeats of one hint/name address in an import table
	maxAddressSpread     = 128 << 20
	maxStringULength     = 1 << 16 // UTF-16 code units read for a string by default
	maxTLSCallbacks      = 255     // stoQ reads at most this many TLS callbacks
)

// This package's own limits, where pefile has none.
const (
	// maxDebugEntries bounds the debug directory entries read (real files
	// have a handful; the directory's size could claim millions).
	maxDebugEntries = 256
	// maxCertificates bounds the X.509 certificates reported per file.
	maxCertificates = 256
	// maxNestedSignatures bounds how deep nested Authenticode signatures
	// are followed.
	maxNestedSignatures = 4
	// stringBudgetFloor is the least number of bytes the UTF-16 string reads
	// of one file may scan in all (version information and resource names);
	// the budget is this or four times the file's size, whichever is larger.
	// Real files scan a few kilobytes; a crafted version resource can make
	// every one of thousands of entries scan 128 KiB.
	stringBudgetFloor = 16 << 20
	// ctxCheckInterval is how many loop iterations run between checks of
	// the context's deadline.
	ctxCheckInterval = 1024
)
