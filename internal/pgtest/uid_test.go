package pgtest

import (
	"os"
	"syscall"
)

func fileUID(st os.FileInfo) uint32 { return st.Sys().(*syscall.Stat_t).Uid }
