module github.com/clickanon/clickanon/clickstore/track/botcompare

go 1.26.0

require (
	github.com/clickanon/clickanon v0.0.0
	github.com/monperrus/crawler-user-agents v1.1.0
	github.com/x-way/crawlerdetect v0.2.24
)

require go4.org/netipx v0.0.0-20260823151212-3075585bcbeb // indirect

replace github.com/clickanon/clickanon => ../../..
