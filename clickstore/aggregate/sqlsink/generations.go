package sqlsink

// generations is a map whose entries' costs are bounded, kept in two
// generations: entries go into cur; when cur would pass half the bound,
// it becomes old and cur starts empty, so an entry not used for a
// generation is dropped and the whole holds at most the bound. It is what
// both a Sink's sketchCache and its cellMemory are bounded by.
//
// The zero generations is not usable; newGenerations makes one. It is not
// safe for concurrent use.
type generations[K comparable, V any] struct {
	cur, old map[K]costed[V]
	size     int // cost of cur's entries
	half     int // cur's bound
}

// costed is an entry of generations and the cost it was put with.
type costed[V any] struct {
	v    V
	cost int
}

func newGenerations[K comparable, V any](bound int) generations[K, V] {
	return generations[K, V]{cur: map[K]costed[V]{}, half: bound / 2}
}

// get returns the entry of k, moving it to the current generation.
func (g *generations[K, V]) get(k K) (V, bool) {
	if e, ok := g.cur[k]; ok {
		return e.v, true
	}
	e, ok := g.old[k]
	if ok {
		g.put(k, e.v, e.cost)
	}
	return e.v, ok
}

// put sets k's entry to v, counted as cost, starting a new generation
// first if the current one is full. An entry that would fill a generation
// alone is not kept (and k's former one is dropped).
func (g *generations[K, V]) put(k K, v V, cost int) {
	if cost > g.half {
		g.delete(k)
		return
	}
	delete(g.old, k)
	if prev, ok := g.cur[k]; ok {
		g.size -= prev.cost
	} else if g.size+cost > g.half {
		g.old, g.cur, g.size = g.cur, make(map[K]costed[V], len(g.cur)), 0
	}
	g.cur[k] = costed[V]{v, cost}
	g.size += cost
}

// delete drops k's entry.
func (g *generations[K, V]) delete(k K) {
	if prev, ok := g.cur[k]; ok {
		g.size -= prev.cost
		delete(g.cur, k)
	}
	delete(g.old, k)
}

// deleteFunc drops the entries whose key f reports true for.
func (g *generations[K, V]) deleteFunc(f func(K) bool) {
	for k, e := range g.cur {
		if f(k) {
			g.size -= e.cost
			delete(g.cur, k)
		}
	}
	for k := range g.old {
		if f(k) {
			delete(g.old, k)
		}
	}
}
