//! Runs independent jobs side by side under a memory budget (the segments of a split model).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use crate::{Error, Result};

/// A job that knows its place in the output.
pub trait Indexed {
    /// Its index: the slot of its result, and of its memory estimate.
    fn index(&self) -> usize;
}

/// What the workers share.
struct State<T> {
    /// Jobs not started, largest estimate first.
    queue: VecDeque<T>,
    /// Estimated memory of the jobs running.
    used: u64,
    /// Jobs running.
    running: usize,
    /// Set by the first failure: no job starts after it.
    failed: bool,
}

/// Runs `f` on every job with at most `workers` at once. Jobs start largest estimate
/// (`est[job.index()]`) first, and a job starts only while the estimates of the jobs running
/// plus its own stay within `budget` (one job always runs, whatever its estimate). The first
/// error stops jobs from starting and is returned once the running ones end. Results come back
/// in index order (`0..jobs.len()`, each index once).
pub fn run_bounded<T, R, F>(
    mut jobs: Vec<T>,
    est: &[u64],
    workers: usize,
    budget: u64,
    f: F,
) -> Result<Vec<R>>
where
    T: Indexed + Send,
    R: Send,
    F: Fn(T) -> Result<R> + Sync,
{
    let n = jobs.len();
    let cost = |j: &T| est.get(j.index()).copied().unwrap_or(0);
    jobs.sort_by_key(|j| std::cmp::Reverse(cost(j)));
    let state = Mutex::new(State {
        queue: jobs.into(),
        used: 0,
        running: 0,
        failed: false,
    });
    let turn = Condvar::new();
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let poisoned = || Error::Internal("a proving thread panicked".into());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let job = {
                    let Ok(mut s) = state.lock() else { return };
                    loop {
                        if s.failed || s.queue.is_empty() {
                            return;
                        }
                        let next = s.queue.front().map(&cost).unwrap_or(0);
                        if s.running == 0 || s.used.saturating_add(next) <= budget {
                            break;
                        }
                        let Ok(g) = turn.wait(s) else { return };
                        s = g;
                    }
                    let Some(job) = s.queue.pop_front() else {
                        return;
                    };
                    s.used = s.used.saturating_add(cost(&job));
                    s.running += 1;
                    job
                };
                let (index, c) = (job.index(), cost(&job));
                // A panicking job must still give back its slot, or a worker waiting for
                // memory would wait forever: it becomes that job's error.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(job)))
                    .unwrap_or_else(|p| {
                        let what = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        Err(Error::Internal(format!("job {index} panicked: {what}")))
                    });
                if let Ok(mut s) = state.lock() {
                    s.used = s.used.saturating_sub(c);
                    s.running -= 1;
                    s.failed |= r.is_err();
                }
                turn.notify_all();
                match r {
                    Ok(v) => {
                        if let Some(slot) =
                            results.lock().ok().as_mut().and_then(|v| v.get_mut(index))
                        {
                            *slot = Some(v);
                        }
                    }
                    Err(e) => {
                        if let Ok(mut first) = first_error.lock() {
                            first.get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().map_err(|_| poisoned())? {
        return Err(e);
    }
    results
        .into_inner()
        .map_err(|_| poisoned())?
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.ok_or_else(|| Error::Internal(format!("job {i} did not run"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    struct Job(usize);
    impl Indexed for Job {
        fn index(&self) -> usize {
            self.0
        }
    }

    /// Runs `n` jobs with the given estimates; each records the estimated memory in use while
    /// it runs. Returns (results, the most memory ever in use, the most jobs ever running).
    fn run(est: &[u64], workers: usize, budget: u64) -> (Vec<usize>, u64, usize) {
        let in_use = AtomicU64::new(0);
        let peak = AtomicU64::new(0);
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let jobs = (0..est.len()).map(Job).collect();
        let out = run_bounded(jobs, est, workers, budget, |j| {
            let now = in_use.fetch_add(est[j.0], Ordering::SeqCst) + est[j.0];
            peak.fetch_max(now, Ordering::SeqCst);
            let r = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(r, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(100));
            running.fetch_sub(1, Ordering::SeqCst);
            in_use.fetch_sub(est[j.0], Ordering::SeqCst);
            Ok(j.0 * 10)
        })
        .expect("jobs run");
        (out, peak.into_inner(), most.into_inner())
    }

    #[test]
    fn results_come_back_in_order_and_the_budget_holds() {
        let est = [5, 1, 4, 3, 2, 6];
        let (out, peak, most) = run(&est, 3, 8);
        assert_eq!(out, vec![0, 10, 20, 30, 40, 50]);
        assert!(peak <= 8, "estimated memory in use reached {peak} > 8");
        assert!(most >= 2, "jobs that fit together ran one at a time");
        // Workers bound the jobs running however much memory is left.
        let (_, _, most) = run(&est, 2, u64::MAX);
        assert!(most <= 2);
    }

    #[test]
    fn a_job_over_the_budget_still_runs_alone() {
        let (out, peak, most) = run(&[10, 10], 2, 3);
        assert_eq!(out, vec![0, 10]);
        assert_eq!((peak, most), (10, 1));
    }

    #[test]
    fn a_panicking_job_is_an_error_and_frees_its_memory() {
        // Job 0 takes the whole budget and panics while job 1 waits for that memory: the wait
        // must end (without the panic freeing the slot, this test would hang) with the panic
        // as the error, and job 1 never started after the failure.
        let ran = AtomicUsize::new(0);
        let jobs = (0..2).map(Job).collect();
        let r: Result<Vec<()>> = run_bounded(jobs, &[10, 10], 2, 10, |j| {
            if j.0 == 0 {
                panic!("prover bug");
            }
            ran.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        let e = r.expect_err("the panic comes back as an error");
        assert!(e.to_string().contains("prover bug"), "{e}");
        assert_eq!(ran.into_inner(), 0, "no job starts after a failure");
    }

    #[test]
    fn the_first_error_is_returned_and_stops_new_jobs() {
        let started = AtomicUsize::new(0);
        let jobs = (0..6).map(Job).collect();
        let r: Result<Vec<()>> = run_bounded(jobs, &[1; 6], 1, u64::MAX, |j| {
            started.fetch_add(1, Ordering::SeqCst);
            if j.0 == 0 {
                Err(Error::Mismatch("segment 0 failed".into()))
            } else {
                Ok(())
            }
        });
        let e = r.expect_err("an error comes back");
        assert!(e.to_string().contains("segment 0 failed"));
        assert_eq!(started.into_inner(), 1, "no job starts after a failure");
    }
}
