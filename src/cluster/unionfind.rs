//! Disjoint-set forest with path halving. Union always makes the smaller index the root, so a
//! component's root is its smallest member whatever order the edges come in (Tarjan 1975 for the
//! forest; index-ordered linking keeps the result deterministic).

#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        assert!(n <= u32::MAX as usize, "at most 2^32 elements");
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    pub fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] as usize != x {
            let grand = self.parent[self.parent[x] as usize];
            self.parent[x] = grand;
            x = grand as usize;
        }
        x
    }

    /// Joins the sets of `a` and `b`; returns false when they were already one.
    pub fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi] = lo as u32;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::UnionFind;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_naive_labelling(n in 1usize..60, edges in prop::collection::vec((0usize..60, 0usize..60), 0..80)) {
            let edges: Vec<(usize, usize)> = edges.into_iter().filter(|&(a, b)| a < n && b < n).collect();
            let mut uf = UnionFind::new(n);
            for &(a, b) in &edges { uf.union(a, b); }
            // Naive: repeatedly relax labels to the minimum over edges.
            let mut label: Vec<usize> = (0..n).collect();
            loop {
                let mut changed = false;
                for &(a, b) in &edges {
                    let m = label[a].min(label[b]);
                    if label[a] != m || label[b] != m { label[a] = m; label[b] = m; changed = true; }
                }
                if !changed { break; }
            }
            for (i, &l) in label.iter().enumerate() { prop_assert_eq!(uf.find(i), l); }
        }
    }
}
