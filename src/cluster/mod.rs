//! Connected components over candidate edges, and the verification that decides which candidate
//! edges may join a cluster.

mod unionfind;

use rayon::prelude::*;

pub use unionfind::UnionFind;

/// Cluster labels from accepted edges: every member of a component of two or more documents gets
/// the smallest document index in it; documents without an edge get `-1`. The labels depend only
/// on the set of edges, never on their order or the thread count.
pub fn components(n: usize, edges: &[(u32, u32)]) -> Vec<i64> {
    let mut uf = UnionFind::new(n);
    for &(a, b) in edges {
        uf.union(a as usize, b as usize);
    }
    labels(&mut uf)
}

/// Labels of a union-find (see [`components`]).
pub fn labels(uf: &mut UnionFind) -> Vec<i64> {
    let n = uf.len();
    let mut size = vec![0u32; n];
    let roots: Vec<usize> = (0..n).map(|i| uf.find(i)).collect();
    for &r in &roots {
        size[r] += 1;
    }
    // The union-find keeps the smallest index as root, so the root is the label.
    roots
        .iter()
        .map(|&r| if size[r] > 1 { r as i64 } else { -1 })
        .collect()
}

/// Keeps the edges `accept` says yes to, evaluated in parallel, in their original order.
pub fn filter_edges(
    edges: &[(u32, u32)],
    accept: impl Fn(u32, u32) -> bool + Sync,
) -> Vec<(u32, u32)> {
    let keep: Vec<bool> = crate::parallel::install(edges.len(), || {
        edges
            .par_iter()
            .with_min_len(64)
            .map(|&(a, b)| accept(a, b))
            .collect()
    });
    edges
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(e, _)| *e)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_smallest_member() {
        let l = components(6, &[(4, 2), (2, 5), (0, 1)]);
        assert_eq!(l, vec![0, 0, 2, -1, 2, 2]);
    }

    #[test]
    fn labels_ignore_edge_order() {
        let mut edges = vec![(1, 7), (3, 4), (7, 9), (4, 8), (0, 2)];
        let a = components(10, &edges);
        edges.reverse();
        assert_eq!(a, components(10, &edges));
    }

    #[test]
    fn filter_keeps_order() {
        let e = vec![(0, 1), (1, 2), (2, 3), (3, 4)];
        assert_eq!(filter_edges(&e, |a, _| a % 2 == 1), vec![(1, 2), (3, 4)]);
    }
}
