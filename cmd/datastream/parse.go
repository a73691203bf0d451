package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/datastream/datastream/internal/logformat"
)

func init() {
	register("parse", "parse access-log lines into JSON objects, one per line", func(ctx context.Context, args []string) error {
		return runParse(ctx, args, os.Stdin, os.Stdout, os.Stderr)
	})
}

// maxLine is the longest line parse accepts; longer ones are rejected.
const maxLine = 16 << 20

// runParse is the parse subcommand with its streams passed in, for tests.
func runParse(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("log-format", "combined", "a preset name ("+joinNames()+"), \"auto\", a log_format string or directive, or @nginx.conf:name")
	xff := fs.Bool("forwarded-for", false, "take the client address from the first X-Forwarded-For hop when present")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: datastream parse [--log-format X] [files...]\n\n"+
			"Parses access-log lines (from the files, .gz read transparently, or stdin)\n"+
			"and writes one JSON object per line to stdout. Rejected lines and a final\n"+
			"count go to stderr.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	p, display, err := logformat.Resolve(*format)
	if err != nil {
		fmt.Fprintf(stderr, "datastream parse: %v\n", err)
		return errUsage
	}
	if *xff {
		switch q := p.(type) {
		case *logformat.Format:
			p = q.WithForwardedFor()
		case *logformat.Auto:
			p = q.WithForwardedFor()
		}
	}

	out := bufio.NewWriterSize(stdout, 256<<10)
	st := &parseState{p: p, out: out, stderr: stderr}
	var ioErr error
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			ioErr = err
			break
		}
		if err := st.file(ctx, name, stdin); err != nil {
			fmt.Fprintf(stderr, "datastream parse: %v\n", err)
			ioErr = err
			if errors.Is(err, errWrite) {
				break
			}
		}
	}
	if err := out.Flush(); err != nil && ioErr == nil {
		ioErr = fmt.Errorf("%w: %v", errWrite, err)
	}
	if a, ok := p.(*logformat.Auto); ok {
		chosen := a.Chosen()
		if chosen == "" {
			chosen = "none (no line parsed)"
		}
		fmt.Fprintf(stderr, "log format: auto chose %s\n", chosen)
	} else {
		fmt.Fprintf(stderr, "log format: %s\n", display)
	}
	fmt.Fprintf(stderr, "parsed %d, rejected %d\n", st.parsed, st.rejected)
	return ioErr
}

var errWrite = errors.New("writing output")

func joinNames() string {
	var b bytes.Buffer
	for i, n := range logformat.PresetNames() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}

type parseState struct {
	p                logformat.Parser
	out              *bufio.Writer
	stderr           io.Writer
	e                logformat.Entry
	buf              []byte // JSON output of one line
	long             []byte // a line longer than the reader's buffer
	chosen           string // the auto parser's last choice, to report changes
	parsed, rejected int64
}

// file parses one named file ("-" is stdin).
func (st *parseState) file(ctx context.Context, name string, stdin io.Reader) error {
	var r io.Reader
	label := name
	if name == "-" {
		r, label = stdin, "stdin"
	} else {
		fh, err := os.Open(name)
		if err != nil {
			return err
		}
		defer fh.Close()
		r = fh
	}
	br := bufio.NewReaderSize(r, 64<<10)
	// gzip is recognised by its magic bytes, so .gz files and piped gzip
	// both work.
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	for n := 1; ; n++ {
		if n&0xfff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, tooLong, err := st.readLine(br)
		if len(line) > 0 || tooLong || (err == nil) {
			if e := st.line(label, n, line, tooLong); e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", label, n, err)
		}
	}
}

// readLine returns the next line without its "\n". A line longer than
// maxLine is consumed and reported with tooLong set.
func (st *parseState) readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return bytes.TrimSuffix(line, []byte{'\n'}), false, err
	}
	st.long = append(st.long[:0], line...)
	for err == bufio.ErrBufferFull {
		line, err = br.ReadSlice('\n')
		if len(st.long) <= maxLine {
			st.long = append(st.long, line...)
		}
	}
	if len(st.long) > maxLine {
		return nil, true, err
	}
	return bytes.TrimSuffix(st.long, []byte{'\n'}), false, err
}

func (st *parseState) line(label string, n int, line []byte, tooLong bool) error {
	if tooLong {
		st.rejected++
		fmt.Fprintf(st.stderr, "%s:%d: line longer than %d bytes\n", label, n, maxLine)
		return nil
	}
	if err := st.p.Parse(line, &st.e); err != nil {
		st.rejected++
		fmt.Fprintf(st.stderr, "%s:%d: %v\n", label, n, err)
		return nil
	}
	if a, ok := st.p.(*logformat.Auto); ok && a.Chosen() != st.chosen {
		st.chosen = a.Chosen()
		fmt.Fprintf(st.stderr, "%s:%d: auto chose %s\n", label, n, st.chosen)
	}
	st.parsed++
	st.buf = st.e.AppendJSON(st.buf[:0])
	st.buf = append(st.buf, '\n')
	if _, err := st.out.Write(st.buf); err != nil {
		return fmt.Errorf("%w: %v", errWrite, err)
	}
	return nil
}
