package pgtest_test

import (
	"database/sql"
	"testing"

	"github.com/clickanon/clickanon/internal/pgtest"
)

// A test gets a database of its own on the shared server; the package's
// TestMain calls pgtest.Main, which stops the server after the tests.
func ExampleDB() {
	var t *testing.T // the *testing.T of a test function
	if t == nil {
		return // this example needs a running test
	}
	db, err := sql.Open("pgx", pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	// Output:
}
