package engine

// dispatch is one worker to run on one payload (by index in the request).
type dispatch struct {
	payload int
	worker  string
}

// dispatchSet is an insertion-ordered set of dispatches, so that what runs,
// and the order results merge in, never depends on map iteration. Sets are
// usually tiny: a linear scan serves them until an index pays off.
type dispatchSet struct {
	order []dispatch
	seen  map[dispatch]struct{}
}

const dispatchSetIndexAt = 16

func (d *dispatchSet) has(x dispatch) bool {
	if d.seen != nil {
		_, ok := d.seen[x]
		return ok
	}
	for _, y := range d.order {
		if y == x {
			return true
		}
	}
	return false
}

func (d *dispatchSet) add(x dispatch) {
	if d.has(x) {
		return
	}
	d.order = append(d.order, x)
	switch {
	case d.seen != nil:
		d.seen[x] = struct{}{}
	case len(d.order) > dispatchSetIndexAt:
		d.seen = make(map[dispatch]struct{}, 2*len(d.order))
		for _, y := range d.order {
			d.seen[y] = struct{}{}
		}
	}
}

func (d *dispatchSet) addAll(o *dispatchSet) {
	for _, x := range o.order {
		d.add(x)
	}
}
