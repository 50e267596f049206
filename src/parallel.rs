//! The one place that decides how work is spread over threads.
//!
//! mmdedup keeps its own rayon pool rather than the global one, so that running inside Polars
//! (which owns the global pool) does not oversubscribe the machine, and so that the thread count
//! can be changed at run time (`set_num_threads`). Results never depend on the thread count: every
//! parallel kernel writes into pre-sized output at fixed positions.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Condvar, Mutex, PoisonError, RwLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::{Error, Result};

/// Below this many items a kernel runs on the calling thread: spawning costs more than it saves.
pub const PARALLEL_THRESHOLD: usize = 256;

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

/// Set while the threads that run their kernels alone have fewer units left than threads (the
/// end of a stage): their kernels go to the shared pool then, where idle workers take part.
static SHARE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

thread_local! {
    /// The pool of one thread, this thread itself, of a thread that runs its kernels alone (see
    /// [`kernels_on_this_thread`]).
    static OWN: std::cell::RefCell<Option<Arc<ThreadPool>>> = const { std::cell::RefCell::new(None) };
}

/// The most worker threads a pool may have: four per core the machine offers, and at least 256.
/// Every kernel is CPU-bound, so more threads only cost memory (a stack each) and start-up time;
/// a count like 100,000 would take minutes to spawn, or fail half-way.
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_mul(4).max(256)
}

/// `MMDEDUP_NUM_THREADS` when set to a positive number (capped at [`max_threads`]), else one
/// thread per core.
fn default_threads() -> usize {
    std::env::var("MMDEDUP_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map(|n| n.min(max_threads()))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn build(n: usize) -> Result<Arc<ThreadPool>> {
    ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("mmdedup-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| Error::param("threads", format!("cannot start {n} threads: {e}")))
}

/// The pool kernels run in: the one [`set_num_threads`] chose, else one of the default size
/// (one thread when even that cannot start; `None` when no thread can).
fn pool() -> Option<Arc<ThreadPool>> {
    if let Some(own) = own() {
        return Some(own);
    }
    if let Some(p) = POOL.read().expect("pool lock").as_ref() {
        return Some(p.clone());
    }
    let mut slot = POOL.write().expect("pool lock");
    if slot.is_none() {
        *slot = build(default_threads()).or_else(|_| build(1)).ok();
    }
    slot.clone()
}

/// Sets the number of worker threads (0 and 1 turn parallelism off).
///
/// Refuses more than [`max_threads`], and a pool the system cannot start (out of threads or
/// memory), with [`Error::Param`] naming `threads`; the pool in use then stays as it was.
///
/// A pool once built for a thread count is kept and reused when that count comes back, so that
/// switching (as benchmarks and callers tuning their stages do) does not start fresh threads,
/// whose first allocations fault in new memory, every time.
pub fn set_num_threads(n: usize) -> Result<()> {
    static BUILT: std::sync::Mutex<Vec<Arc<ThreadPool>>> = std::sync::Mutex::new(Vec::new());
    let n = n.max(1);
    let max = max_threads();
    if n > max {
        return Err(Error::param(
            "threads",
            format!("must be at most {max} (4 per core, or 256 if that is more), got {n}"),
        ));
    }
    let mut built = BUILT.lock().expect("pool cache lock");
    let p = match built.iter().find(|p| p.current_num_threads() == n) {
        Some(p) => p.clone(),
        None => {
            let p = build(n)?;
            built.push(p.clone());
            p
        }
    };
    *POOL.write().expect("pool lock") = Some(p);
    Ok(())
}

/// Makes every kernel the calling thread runs from now on run on it, in order, and on no other
/// thread: for a thread that is one of several each running a unit of work at once (as many as
/// there are threads), where handing a kernel to the shared pool and waiting would only move the
/// work to another core (one the scheduler may not yet have freed) while this one idles.
///
/// The thread becomes the one worker of a pool of its own, which lives as long as the thread
/// (rayon keeps such a pool's registry for the life of the process: call this from long-lived
/// threads only, once each; later calls do nothing).
pub fn kernels_on_this_thread() -> Result<()> {
    OWN.with(|o| {
        let mut own = o.borrow_mut();
        if own.is_none() {
            let p = ThreadPoolBuilder::new()
                .num_threads(1)
                .use_current_thread()
                .build()
                .map_err(|e| Error::param("threads", format!("cannot run kernels here: {e}")))?;
            *own = Some(Arc::new(p));
        }
        Ok(())
    })
}

/// While `on`, threads that run their kernels alone ([`kernels_on_this_thread`]) hand them to
/// the shared pool again: for the end of a stage, when fewer units are left than threads and
/// the pool's workers would otherwise idle beside the last ones.
pub fn share_kernels(on: bool) {
    SHARE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// This thread's own pool, unless it has none or kernels are shared now ([`share_kernels`]).
fn own() -> Option<Arc<ThreadPool>> {
    if SHARE.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    OWN.with(|o| o.borrow().clone())
}

/// The number of worker threads kernels use.
pub fn num_threads() -> usize {
    pool().map_or(1, |p| p.current_num_threads())
}

/// The most items one leaf of a parallel loop over `n` items takes (at least `min`): about 64
/// leaves per worker, so that a worker that runs out of work always finds some to steal.
/// Rayon otherwise cuts a loop into a few leaves per worker and splits a leaf further only
/// when it is stolen: with two callers sharing the pool (two units of a stage at once), each
/// worker stays on its own caller's leaves, and the last leaf of one call (a quarter of it)
/// runs alone while the other worker waits.
pub fn leaf_len(n: usize, min: usize) -> usize {
    (n / (num_threads() * 64)).max(min)
}

/// Runs `f` inside mmdedup's pool, or inline when there is too little work or one thread.
pub fn install<R: Send>(items: usize, f: impl FnOnce() -> R + Send) -> R {
    if let Some(own) = own() {
        return own.install(f);
    }
    match pool() {
        Some(p) if items >= PARALLEL_THRESHOLD && p.current_num_threads() > 1 => p.install(f),
        // Rayon's parallel iterators called outside any pool would use the global pool; a
        // one-thread pool keeps them on a single worker.
        _ => match single() {
            Some(one) => one.install(f),
            None => f(),
        },
    }
}

/// Bytes handed out to the jobs of one [`map_admitted`] call.
struct Gate {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// Bytes of a [`Gate`] held by one job, given back when dropped (also when the job panics).
struct Grant<'a> {
    gate: &'a Gate,
    bytes: u64,
}

impl Gate {
    /// Waits until `want` bytes (at most the whole budget) fit beside those held, and takes them.
    fn acquire(&self, want: u64) -> Grant<'_> {
        let bytes = want.min(self.total);
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used > 0 && used.saturating_add(bytes) > self.total {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *used += bytes;
        Grant { gate: self, bytes }
    }
}

impl Drop for Grant<'_> {
    fn drop(&mut self) {
        let mut used = self
            .gate
            .used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *used -= self.bytes;
        self.gate.freed.notify_all();
    }
}

/// `work(load(item))` for every item, in parallel, results in input order, with the memory of
/// the items being worked on bounded: `load` (run by the workers, a few items ahead) returns
/// what `work` needs and the bytes it will hold, and `work` starts only once those bytes fit in
/// `budget` beside those of the items still in progress. An item needing more than `budget`
/// runs alone.
///
/// The waiting is done by the calling thread (which hands out the work), never by a worker:
/// a worker blocked while a decoder's own parallel section (`jpeg-decoder` uses rayon) waits
/// on it could hold up the very item whose memory it waits for.
pub fn map_admitted<'a, T, L, R>(
    items: &'a [T],
    load: impl Fn(&'a T) -> (L, u64) + Sync,
    budget: u64,
    work: impl Fn(L) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    L: Send,
    R: Send,
{
    let threads = pool().map_or(1, |p| p.current_num_threads());
    let pool = match pool() {
        Some(p) if threads > 1 && items.len() > 1 => p,
        // One at a time: nothing to bound.
        _ => return install(0, || items.iter().map(|t| work(load(t).0)).collect()),
    };
    let gate = Gate {
        total: budget.max(1),
        used: Mutex::new(0),
        freed: Condvar::new(),
    };
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let (load, work, gate, slots) = (&load, &work, &gate, &results);
    // Items loaded ahead of the work: enough to keep every worker busy.
    let ahead = 2 * threads;
    pool.in_place_scope(|s| {
        let (tx, rx) = mpsc::channel();
        let (mut next, mut received) = (0, 0);
        while received < items.len() {
            while next < items.len() && next - received < ahead {
                let (tx, i) = (tx.clone(), next);
                s.spawn(move |_| {
                    let loaded = std::panic::catch_unwind(AssertUnwindSafe(|| load(&items[i])));
                    // The receiver outlives every job.
                    let _ = tx.send((i, loaded));
                });
                next += 1;
            }
            let (i, loaded) = rx.recv().expect("a load job is running");
            received += 1;
            let (value, bytes) = match loaded {
                Ok(l) => l,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            let grant = gate.acquire(bytes);
            s.spawn(move |_| {
                let r = work(value);
                drop(grant);
                *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
            });
        }
    });
    // Every job has finished (the scope waits for them) or its panic has gone on up.
    results
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .expect("every item was worked on")
        })
        .collect()
}

fn single() -> Option<Arc<ThreadPool>> {
    static ONE: std::sync::OnceLock<Option<Arc<ThreadPool>>> = std::sync::OnceLock::new();
    ONE.get_or_init(|| build(1).ok()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    /// The threads a parallel loop of `n` items ran on, called from this thread.
    fn threads_of_loop(n: usize) -> Vec<std::thread::ThreadId> {
        install(n, || {
            (0..n)
                .into_par_iter()
                .map(|_| std::thread::current().id())
                .collect()
        })
    }

    #[test]
    fn a_thread_runs_its_kernels_itself_until_they_are_shared() {
        std::thread::spawn(|| {
            let me = std::thread::current().id();
            // Before: a loop this large is handed to a pool's workers.
            assert!(threads_of_loop(10_000).iter().all(|&t| t != me));
            kernels_on_this_thread().unwrap();
            kernels_on_this_thread().unwrap(); // a second call changes nothing
            assert_eq!(num_threads(), 1);
            assert!(threads_of_loop(10_000).iter().all(|&t| t == me));
            // Nested kernels too.
            let nested = install(10_000, || threads_of_loop(10_000));
            assert!(nested.iter().all(|&t| t == me));
            share_kernels(true);
            let shared = threads_of_loop(10_000);
            share_kernels(false);
            assert!(shared.iter().all(|&t| t != me));
            assert!(threads_of_loop(10_000).iter().all(|&t| t == me));
        })
        .join()
        .unwrap();
        // Other threads are unchanged.
        let me = std::thread::current().id();
        assert!(threads_of_loop(10_000).iter().all(|&t| t != me));
    }

    #[test]
    fn leaves_are_small_enough_to_steal() {
        // About 64 leaves per worker, however many workers; never below the minimum.
        assert!(1_000_000 / leaf_len(1_000_000, 16) >= 64);
        assert_eq!(leaf_len(100, 16), 16);
    }

    #[test]
    fn huge_thread_counts_are_refused_not_spawned() {
        let err = set_num_threads(100_000).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Param {
                    name: "threads",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("at most"), "{err}");
        assert!(max_threads() >= 256);
        set_num_threads(max_threads() + 1).unwrap_err();
    }
}
