package geo_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// An error of Open or Reload says what went wrong with the file, not
// which path it was given: os's errors quote the path whole (a megabyte
// of it, a NUL byte, invalid UTF-8, an address in a file name), and an
// error gets logged. errors.Is still tells a missing file.
func TestPathNotEchoed(t *testing.T) {
	dir := t.TempDir()
	rows := []struct {
		name     string
		path     string
		notExist bool
	}{
		{"missing, an IPv4 address in its name", filepath.Join(dir, "198.51.100.77.mmdb"), true},
		{"missing, an IPv6 address in its name", filepath.Join(dir, "2001:db8:1234:5678::9.mmdb"), true},
		{"1 MiB", strings.Repeat("x", 1<<20), false},
		{"a NUL byte", "geo\x00secret.mmdb", false},
		{"invalid UTF-8", filepath.Join(dir, "\xff\xfe.mmdb"), true},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			_, err := geo.Open(row.path, nil)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "geo: "), "%q does not name the package", err)
			assert.NotContains(t, err.Error(), filepath.Base(row.path))
			assert.Less(t, len(err.Error()), 200)
			ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
			if row.notExist {
				assert.ErrorIs(t, err, fs.ErrNotExist)
			}
		})
	}
	t.Run("reload of a file removed", func(t *testing.T) {
		p := filepath.Join(dir, "203.0.113.45.mmdb")
		require.NoError(t, os.WriteFile(p, buildDB(t, 6, "v1", []network{{"198.51.100.0/24", geoLite2("DE", "EU", 0)}}), 0o600))
		db, err := geo.Open(p, &geo.Options{CheckEvery: -1})
		require.NoError(t, err)
		defer db.Close()
		require.NoError(t, os.Remove(p))
		err = db.Reload()
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "203.0.113.45")
		ipmasktest.AssertNoRawIPError(t, ipmask.Default, err)
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
}
