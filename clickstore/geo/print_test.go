package geo_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/geo"
	"github.com/clickanon/clickanon/internal/testkit"
)

// A DB prints and logs as its name and the type of the database in
// service, with every verb, also while it reloads: fmt walking its fields
// read what a reload changed (a data race), and its file's path.
func TestDBPrintsAsItsType(t *testing.T) {
	db, path := openDB(t, buildDB(t, 6, "Test-Country", []network{{"198.51.100.0/24", geoLite2("DE", "EU", 0)}}), nil)
	testkit.CheckPrintsAs(t, db, "geo.DB(Test-Country)")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 {
			replaceFile(t, path, buildDB(t, 6, fmt.Sprint("Test-", i), []network{{"198.51.100.0/24", geoLite2("DE", "EU", 0)}}))
			require.NoError(t, db.Reload())
		}
	})
	for range 50 {
		_ = fmt.Sprintf("%+v", db)
	}
	wg.Wait()
	testkit.CheckPrintsAs(t, db, "geo.DB(Test-19)")
	testkit.CheckPrintsAs(t, &geo.DB{}, "geo.DB(none)")
	var nilDB *geo.DB
	testkit.CheckPrintsAs(t, nilDB, "geo.DB(nil)")
}
