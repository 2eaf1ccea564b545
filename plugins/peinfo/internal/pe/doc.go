// Package pe reads the facts stoq's peinfo worker reports from a Portable
// Executable, following the rules of Debian's python3-pefile (the release in
// PefileVersion), which stoQ's peinfo plugin is built on.
//
// # Same answers as pefile
//
// Where pefile's rules decide what a value is, this package applies the same
// rules, so that on the same bytes it finds the same sections (in the same
// order: sorted by virtual address), the same imports and exports and the
// same imphash. That includes pefile's quirks, because they decide what a
// hostile file yields: how an RVA is mapped to a file offset (section
// addresses rounded down to the file and section alignment, a section's
// extent cut at the next section's address, RVAs outside every section read
// from the headers or the file itself), which entries end a table (a thunk
// pointing back into its own table, fifteen repeated addresses, an ordinal
// beyond 16 bits, names outside pefile's character sets), and its limits:
// 8,192 import thunks per file, 8,192 distinct exports, 2,048 sections,
// 32 levels, 4,096 entries per directory and 32,768 entries in all for
// resources.
//
// # Unlike pefile
//
// pefile raises an exception, and stoQ loses every result, on some damaged
// files (a section table cut short, a Rich header at the very end of the
// DOS stub); this package keeps what it read and records a Problem instead.
// Every loop is bounded, by pefile's limits or by this package's own (see
// the constants in limits.go), and Parse checks its context's deadline as
// it goes, so a hostile file costs bounded time and memory. Everything read
// is a subslice of the input: nothing is copied.
//
// pefile keeps a "last section used" cache when mapping RVAs, which decides
// the mapping where sections' address ranges overlap (crafted files only).
// This package keeps the same cache and makes the lookups pefile makes, in
// its order, up to the end of the export directory, so headers, imports and
// exports map exactly as in pefile; pefile then parses directories this
// package does not (relocations, load configuration...), so with
// overlapping sections later lookups may map differently.
package pe
