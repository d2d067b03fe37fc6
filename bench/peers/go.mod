module github.com/clickanon/clickanon/bench/peers

go 1.26.0

require (
	github.com/clickanon/clickanon v0.0.0
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/jellydator/ttlcache/v3 v3.4.1
	github.com/maypok86/otter/v2 v2.4.0
)

require golang.org/x/sync v0.24.0 // indirect

replace github.com/clickanon/clickanon => ../..
