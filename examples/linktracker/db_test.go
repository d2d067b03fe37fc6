package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -db sqlite:PATH names the file as written: SQLite decodes %HH in the
// URI openDB builds, so a '%' in the path used to open another file
// ("100%41.db" opened "100A.db", "a%00b.db" cut the name at the NUL).
func TestOpenDBSQLitePathTakenLiterally(t *testing.T) {
	for _, name := range []string{"100%41.db", "a%00b.db", "%2541.db", "per cent %.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := openDB(context.Background(), "sqlite:"+filepath.Join(dir, name))
			require.NoError(t, err)
			require.NoError(t, db.Close())
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			assert.Contains(t, names, name, "the file is created under the name given")
			for _, n := range names {
				assert.True(t, strings.HasPrefix(n, name), "no other file: %q", n)
			}
		})
	}
	_, err := openDB(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "x\x00.db"))
	assert.ErrorContains(t, err, "NUL byte")
}
