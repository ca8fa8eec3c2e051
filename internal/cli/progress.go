package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progress draws one status line on a terminal's stderr while a scan runs.
type progress struct {
	w      io.Writer
	files  atomic.Int64
	layers atomic.Int64
	cached atomic.Int64
	done   chan struct{}
	once   sync.Once
	start  time.Time
}

// newProgress returns nil when quiet or stderr is not a terminal.
func newProgress(w io.Writer, quiet bool) *progress {
	f, ok := w.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	p := &progress{w: w, done: make(chan struct{}), start: time.Now()}
	go p.loop()
	return p
}

func (p *progress) Layer(_ string, cached bool) {
	p.layers.Add(1)
	if cached {
		p.cached.Add(1)
	}
}

func (p *progress) Files(n int) { p.files.Add(int64(n)) }

func (p *progress) loop() {
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
	for i := 0; ; i++ {
		select {
		case <-p.done:
			fmt.Fprint(p.w, "\r\033[K")
			return
		case <-t.C:
			fmt.Fprintf(p.w, "\r\033[K%c cataloging: %d layers (%d cached), %d files, %s",
				frames[i%len(frames)], p.layers.Load(), p.cached.Load(), p.files.Load(), time.Since(p.start).Round(100*time.Millisecond))
		}
	}
}

func (p *progress) stop() { p.once.Do(func() { close(p.done) }) }
