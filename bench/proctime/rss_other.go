//go:build !unix

package main

import "os"

// maxRSS is unknown on this OS.
func maxRSS(*os.ProcessState) int64 { return 0 }
