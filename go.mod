module github.com/clickanon/clickanon

go 1.26.0

require (
	github.com/axiomhq/hyperloglog v0.3.0
	github.com/go-chi/chi/v5 v5.5.0
	github.com/maxmind/mmdbwriter v1.2.0
	github.com/monperrus/crawler-user-agents v1.1.0
	github.com/oschwald/maxminddb-golang/v2 v2.9.1
	github.com/redis/go-redis/v9 v9.22.0
	github.com/stretchr/testify v1.12.1
	go4.org/netipx v0.0.0-20260823151212-3075585bcbeb
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-metro v0.0.0-20250106013310-edb8663e5e33 // indirect
	github.com/kamstrup/intmap v0.5.2 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
