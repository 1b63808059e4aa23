//go:build !unix

package setup

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

// lockFile creates path exclusively, waiting up to a minute for another
// writer to remove it; the returned function removes it.
func lockFile(path string) (func() error, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			if err := f.Close(); err != nil {
				return nil, err
			}
			return func() error { return os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) || time.Now().After(deadline) {
			return nil, errorf("locking %s: %w (remove it if no configure runs)", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
