package pe

// Entropy is pefile's entropy_H: the Shannon entropy of data in bits per
// byte, 0 for no data. It adds the terms in the order pefile does (the
// order in which byte values first appear in data, Python's Counter order)
// and takes logarithms with the C library's log when built with cgo, as
// Python's math.log does, so that it equals pefile's value to the last bit;
// without cgo, Go's math.Log can differ from it in the last bit or two.
func Entropy(data []byte) float64 {
	if len(data) == 0 {
		return 0
	}
	// Four tables, so consecutive equal bytes do not wait on each other.
	var c0, c1, c2, c3 [256]uint32
	i := 0
	for ; i+4 <= len(data); i += 4 {
		c0[data[i]]++
		c1[data[i+1]]++
		c2[data[i+2]]++
		c3[data[i+3]]++
	}
	for ; i < len(data); i++ {
		c0[data[i]]++
	}
	var counts [256]int
	distinct := 0
	for v := range counts {
		counts[v] = int(c0[v]) + int(c1[v]) + int(c2[v]) + int(c3[v])
		if counts[v] > 0 {
			distinct++
		}
	}
	var order [256]byte
	var seen [256]bool
	found := 0
	for _, b := range data {
		if !seen[b] {
			seen[b] = true
			order[found] = b
			if found++; found == distinct {
				break
			}
		}
	}
	n := float64(len(data))
	ln2 := clog(2)
	entropy := 0.0
	for _, v := range order[:found] {
		p := float64(counts[v]) / n
		entropy -= p * (clog(p) / ln2)
	}
	return entropy
}
