package memory_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/syncd/syncd/connectors"
	"github.com/syncd/syncd/connectors/connectortest"
	"github.com/syncd/syncd/connectors/memory"
)

func TestConformance(t *testing.T) {
	src := memory.New("mem")
	src.CheckpointEvery = 2
	for i := 0; i < 5; i++ {
		src.Put(memory.File{Path: fmt.Sprintf("Team/Report v%d.docx", i), Data: []byte(fmt.Sprintf("content %d", i)), ModTime: time.Unix(int64(i), 0)})
	}
	src.Put(memory.File{Path: "Board/Minutes.docx", Data: []byte("minutes")})
	src.Put(memory.File{Path: "Read me.txt", Data: []byte("at the top")}) // in the root part
	connectortest.Run(t, connectortest.Harness{
		New: func(*testing.T) connectors.Source { return src },
		Mutate: func(*testing.T) []string {
			src.Put(memory.File{Path: "Team/Report v1.docx", Data: []byte("changed")})
			src.Put(memory.File{Path: "Team/New.txt", Data: []byte("new")})
			return []string{"Report v1.docx", "New.txt"}
		},
		Break: func(*testing.T) connectortest.Broken {
			src.FailScan(func(p string) error {
				if p == "Team/Report v2.docx" {
					return connectors.ErrPermission
				}
				return nil
			})
			return connectortest.Broken{Ref: "Team/Report v2.docx", Mentions: "Report v2.docx"}
		},
	})
}
