//go:build cgo

package peinfo

// exactEntropy: with cgo, entropies use the C library's log, as pefile's.
const exactEntropy = true
