package sensor

import (
	"os"
	"syscall"
)

func inodeOf(p string) uint64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}
