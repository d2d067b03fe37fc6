package sqlsink

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore"
	"github.com/clickanon/clickanon/clickstore/aggregate"
	"github.com/clickanon/clickanon/internal/pgtest"
	"github.com/clickanon/clickanon/ipmask"
	"github.com/clickanon/clickanon/ipmask/ipmasktest"
)

// addHandBuilt adds, for every tricky address form, a click built by hand
// with the whole address as its network (and kept in RawAddr), which is
// counted under its /24 or /48, and clicks that write the address's text
// into Link, Bot, Device or Referrer, which are refused. It returns the
// addresses, in every form a dump could hold them.
func addHandBuilt(t *testing.T, s *Sink) []netip.Addr {
	t.Helper()
	ctx := context.Background()
	var addrs []netip.Addr
	for i, tc := range ipmasktest.Cases() {
		a := tc.Addr.WithZone("")
		addrs = append(addrs, a, a.Unmap())
		e, n := ipmask.EmbeddedIPv4(a)
		for _, x := range e[:n] {
			addrs = append(addrs, x.IPv4)
		}
		c := click("disk", i)
		c.Network, c.RawAddr = netip.PrefixFrom(a, a.BitLen()), a
		require.NoError(t, s.Add(ctx, c, clickstore.Unique), tc.Name)
		for _, edit := range []func(*clickstore.Click){
			func(c *clickstore.Click) { c.Link = "go/" + tc.Text },
			func(c *clickstore.Click) { c.Bot = "bot " + tc.Text },
			func(c *clickstore.Click) { c.Device = "d " + tc.Text },
			func(c *clickstore.Click) { c.Referrer = tc.Text },
		} {
			c := click("disk", i)
			edit(&c)
			if len(c.Bot) > clickstore.MaxLabelLen || len(c.Device) > clickstore.MaxLabelLen {
				continue
			}
			assert.ErrorIs(t, s.Add(ctx, c, clickstore.Unique), clickstore.ErrInvalidClick, "%s: %q", tc.Name, c)
		}
	}
	require.NoError(t, s.Flush(ctx))
	return addrs
}

// A SQLite file, its write-ahead log and its shared-memory index, read
// while the sink is open and after it closed, hold none of the addresses
// of clicks built by hand with addresses wherever a Click has room.
func TestSQLiteFilesHoldNoAddress(t *testing.T) {
	dir := t.TempDir()
	s := open(t, "sqlite:"+filepath.Join(dir, "stats.db"), nil)
	addrs := addHandBuilt(t, s)
	check := func(when string) {
		files, err := filepath.Glob(filepath.Join(dir, "stats.db*"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			ipmasktest.AssertNoRawIPOf(t, ipmask.Default, b, addrs, "%s, %s", filepath.Base(f), when)
		}
	}
	check("open")
	require.NoError(t, s.Close(context.Background()))
	check("closed")
	assertNetworksMasked(t, "sqlite:"+filepath.Join(dir, "stats.db"))
}

// pg_dump of a database a sink wrote clicks built by hand to holds none
// of their addresses.
func TestPgDumpHoldsNoAddress(t *testing.T) {
	dump, err := pgDump()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pg_dump: %v (apt-get install postgresql)", err)
		}
		t.Skipf("pg_dump: %v (apt-get install postgresql)", err)
	}
	dsn := pgtest.DB(t)
	s := open(t, dsn, nil)
	addrs := addHandBuilt(t, s)
	require.NoError(t, s.Close(context.Background()))
	out, err := exec.Command(dump, "--data-only", "--inserts", "--dbname", dsn).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "clickanon_cells", "the dump holds the cells")
	ipmasktest.AssertNoRawIPOf(t, ipmask.Default, out, addrs, "pg_dump")
	assertNetworksMasked(t, dsn)
}

// assertNetworksMasked checks that every network value stored in dsn's
// database is one ipmask.Default keeps.
func assertNetworksMasked(t *testing.T, dsn string) {
	t.Helper()
	s := open(t, dsn, nil)
	cs, err := s.Cells(context.Background(), aggregate.Query{Link: "disk", Granularity: aggregate.Day, From: aggregate.Day.Start(t0), To: aggregate.Day.Start(t0).AddDate(0, 0, 1), K: 1})
	require.NoError(t, err)
	n := 0
	for _, c := range cs {
		if c.Dimension != aggregate.Network {
			continue
		}
		n++
		p, err := netip.ParsePrefix(c.Value)
		if assert.NoError(t, err, c.Value) {
			assert.Equal(t, ipmask.Default.Prefix(p.Addr()).Bits(), p.Bits(), "stored network %s", c.Value)
		}
	}
	assert.Positive(t, n, "network cells")
}

// pgDump returns the path of pg_dump: on PATH, or in the newest
// /usr/lib/postgresql/*/bin, as Debian installs it.
func pgDump() (string, error) {
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(found) == 0 {
		return "", exec.ErrNotFound
	}
	return found[len(found)-1], nil
}

// A sink with a coarser NetworkPolicy stores its networks.
func TestNetworkPolicyStored(t *testing.T) {
	s := open(t, sqlitePath(t), &Options{NetworkPolicy: ipmask.Strict})
	ctx := context.Background()
	c := click("strict", 1)
	c.Network = netip.MustParsePrefix("198.51.100.0/24")
	require.NoError(t, s.Add(ctx, c, clickstore.Unique))
	require.NoError(t, s.Flush(ctx))
	cs, err := s.Cells(ctx, aggregate.Query{Link: "strict", Granularity: aggregate.Minute, From: t0, To: t0.Add(time.Minute), K: 1})
	require.NoError(t, err)
	var nets []string
	for _, c := range cs {
		if c.Dimension == aggregate.Network {
			nets = append(nets, c.Value)
		}
	}
	assert.Equal(t, []string{"198.51.0.0/16"}, nets)
}
