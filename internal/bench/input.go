package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/datastream/datastream/internal/logformat"
	"github.com/datastream/datastream/internal/loggen"
)

// Input is the log a benchmark replays, with what the tables must hold
// afterwards.
type Input struct {
	Path  string // the log file
	Lines int64  // lines in it
	// Parsed is how many of them fit the log format: the rows clean_log
	// must get (the others are dead-lettered).
	Parsed int64
	Bytes  int64
	dir    string // removed by Close when the log was generated
}

// Close removes a generated log.
func (in *Input) Close() error {
	if in.dir == "" {
		return nil
	}
	return os.RemoveAll(in.dir)
}

// PrepareInput generates a realistic log of o.Lines lines (or takes o.Log)
// and counts its lines and the lines that fit o.LogFormat.
func PrepareInput(o Options) (*Input, error) {
	in := &Input{Path: o.Log}
	if o.Log == "" {
		dir, err := os.MkdirTemp(o.TempDir, "datastream-bench-input")
		if err != nil {
			return nil, err
		}
		in.dir = dir
		in.Path = filepath.Join(dir, "access.log")
		if err := generate(in.Path, o); err != nil {
			in.Close()
			return nil, err
		}
	}
	if err := in.count(o.LogFormat); err != nil {
		in.Close()
		return nil, err
	}
	if in.Lines == 0 {
		in.Close()
		return nil, fmt.Errorf("%s has no lines", in.Path)
	}
	return in, nil
}

func generate(path string, o Options) error {
	if o.Lines <= 0 {
		return fmt.Errorf("--lines must be positive")
	}
	format := o.LogFormat
	if format == "" || format == "auto" {
		format = "combined"
	}
	g, err := loggen.New(loggen.Options{Seed: o.Seed, Format: format})
	if err != nil {
		return fmt.Errorf("generate log: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	buf := make([]byte, 0, 4096)
	for range o.Lines {
		buf = g.AppendNext(buf[:0])
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// count reads the log once: lines, bytes and lines the parser accepts. A
// last line without a newline is not counted: the producer waits for it.
func (in *Input) count(format string) error {
	parser, _, err := logformat.Resolve(format)
	if err != nil {
		return fmt.Errorf("log format: %w", err)
	}
	f, err := os.Open(in.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var e logformat.Entry
	var long []byte
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		in.Lines++
		in.Bytes += int64(len(line))
		if parser.Parse(bytes.TrimSuffix(line, []byte{'\n'}), &e) == nil {
			in.Parsed++
		}
	}
}
