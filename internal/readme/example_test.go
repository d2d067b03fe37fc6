package readme_test

import (
	"fmt"

	"github.com/clickanon/clickanon/internal/readme"
)

func ExampleBlocks() {
	md := "# Title\n\n## Install\n\n```sh\ngo get example.com/x\n```\n\nText.\n\n````go\nfmt.Println(\"```\")\n````\n"
	for _, b := range readme.Blocks([]byte(md)) {
		fmt.Printf("%s at line %d in %q: %q\n", b.Lang, b.Line, b.Section, b.Text)
	}
	// Output:
	// sh at line 6 in "Install": "go get example.com/x\n"
	// go at line 12 in "Install": "fmt.Println(\"```\")\n"
}
