module github.com/clickanon/clickanon/bench/peers

go 1.25

require (
	github.com/clickanon/clickanon v0.0.0
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/jellydator/ttlcache/v3 v3.4.1
	github.com/maypok86/otter/v2 v2.4.0
)

require (
	go4.org/netipx v0.0.0-20260823151212-3075585bcbeb // indirect
	golang.org/x/sync v0.16.0 // indirect
)

replace github.com/clickanon/clickanon => ../..
