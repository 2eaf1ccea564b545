//go:build race

package decompress

// raceEnabled: the race detector multiplies memory use, so memory is
// measured in a child built without it.
const raceEnabled = true
