package store

// SetBigImpact lowers the threshold of the impact query's large-answer
// path for tests; it returns a function restoring it.
func SetBigImpact(n int) func() {
	old := bigImpact
	bigImpact = n
	return func() { bigImpact = old }
}
