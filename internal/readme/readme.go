// Package readme reads the fenced code blocks of a Markdown file, so that
// tests can compile the Go snippets of the README and run its shell
// commands: documentation that is checked cannot drift from the code.
package readme

import (
	"bufio"
	"bytes"
	"strings"
)

// Block is one fenced code block of a Markdown document. It is a plain
// value; the zero Block is an empty block with no language.
type Block struct {
	Lang    string // the info string's first word: "go", "sh", ""
	Section string // the text of the last heading before the block
	Line    int    // the line of the block's first content line, from 1
	Text    string // the content, each line ending in a newline
}

// Blocks returns the fenced code blocks of md (``` fences, not indented
// ones), in order. An unclosed block runs to the end of md.
func Blocks(md []byte) []Block {
	var (
		out     []Block
		cur     *Block
		fence   string
		section string
		b       strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			if h, ok := strings.CutPrefix(line, "#"); ok {
				section = strings.TrimSpace(strings.TrimLeft(h, "#"))
				continue
			}
			if strings.HasPrefix(trimmed, "```") {
				fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
				lang, _, _ := strings.Cut(strings.TrimSpace(trimmed[len(fence):]), " ")
				cur = &Block{Lang: lang, Section: section, Line: n + 1}
				b.Reset()
			}
			continue
		}
		if strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, "`")) == "" {
			cur.Text = b.String()
			out = append(out, *cur)
			cur = nil
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if cur != nil {
		cur.Text = b.String()
		out = append(out, *cur)
	}
	return out
}
