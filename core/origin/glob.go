package origin

// glob reports whether s matches pattern, where '*' matches any run of bytes
// (possibly empty) and '?' exactly one byte. It runs in O(len(pattern) *
// len(s)) at worst, never recurses and never allocates.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0

	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			// Let the last star swallow one more byte and retry.
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}

	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// hasGlob reports whether s contains a glob character.
func hasGlob(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '?' {
			return true
		}
	}
	return false
}
