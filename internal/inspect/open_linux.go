package inspect

import (
	"os"
	"syscall"
)

// openNoFollow opens a regular file for reading without following a symlink
// in its last component (a file swapped for a link after the directory was
// read). O_NONBLOCK keeps a FIFO planted in a tree from blocking the walk.
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
