//go:build race

package blocks_test

func init() { raceDetector = true }
