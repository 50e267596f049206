//! The one place that decides how work is spread over threads.
//!
//! mmdedup keeps its own rayon pool rather than the global one, so that running inside Polars
//! (which owns the global pool) does not oversubscribe the machine, and so that the thread count
//! can be changed at run time (`set_num_threads`). Results never depend on the thread count: every
//! parallel kernel writes into pre-sized output at fixed positions.

use std::sync::{Arc, RwLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

/// Below this many items a kernel runs on the calling thread: spawning costs more than it saves.
pub const PARALLEL_THRESHOLD: usize = 256;

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

fn default_threads() -> usize {
    std::env::var("MMDEDUP_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn build(n: usize) -> Arc<ThreadPool> {
    Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("mmdedup-{i}"))
            .build()
            .expect("building a rayon pool cannot fail with a positive thread count"),
    )
}

fn pool() -> Arc<ThreadPool> {
    if let Some(p) = POOL.read().expect("pool lock").as_ref() {
        return p.clone();
    }
    let mut slot = POOL.write().expect("pool lock");
    slot.get_or_insert_with(|| build(default_threads())).clone()
}

/// Sets the number of worker threads (1 turns parallelism off).
///
/// A pool once built for a thread count is kept and reused when that count comes back, so that
/// switching (as benchmarks and callers tuning their stages do) does not start fresh threads,
/// whose first allocations fault in new memory, every time.
pub fn set_num_threads(n: usize) {
    static BUILT: std::sync::Mutex<Vec<Arc<ThreadPool>>> = std::sync::Mutex::new(Vec::new());
    let n = n.max(1);
    let mut built = BUILT.lock().expect("pool cache lock");
    let p = match built.iter().find(|p| p.current_num_threads() == n) {
        Some(p) => p.clone(),
        None => {
            let p = build(n);
            built.push(p.clone());
            p
        }
    };
    *POOL.write().expect("pool lock") = Some(p);
}

/// The number of worker threads kernels use.
pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// Runs `f` inside mmdedup's pool, or inline when there is too little work or one thread.
pub fn install<R: Send>(items: usize, f: impl FnOnce() -> R + Send) -> R {
    let p = pool();
    if items < PARALLEL_THRESHOLD || p.current_num_threads() == 1 {
        // Rayon's parallel iterators called outside any pool would use the global pool; a
        // one-thread pool keeps them on a single worker.
        single().install(f)
    } else {
        p.install(f)
    }
}

fn single() -> Arc<ThreadPool> {
    static ONE: std::sync::OnceLock<Arc<ThreadPool>> = std::sync::OnceLock::new();
    ONE.get_or_init(|| build(1)).clone()
}
