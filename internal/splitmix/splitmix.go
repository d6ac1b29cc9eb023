// Package splitmix holds the splitmix64 finaliser, the one bit mixer the
// text sketches, the history's LSH and the fake Graph server's generated
// content share. Stored sketches depend on its exact output.
package splitmix

// Gamma is splitmix64's increment (2^64 divided by the golden ratio).
const Gamma = 0x9e3779b97f4a7c15

// Mix is the splitmix64 finaliser: every input bit affects every output
// bit, and it is a bijection on uint64.
func Mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Next advances a splitmix64 generator's state and returns its output.
func Next(state *uint64) uint64 {
	*state += Gamma
	return Mix(*state)
}
