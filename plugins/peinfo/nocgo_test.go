//go:build !cgo

package peinfo

// exactEntropy: without cgo, Go's math.Log may differ from the C library's
// in the last bit, so entropies are compared to 12 digits.
const exactEntropy = false
