//! Running one phase in a child process and measuring its own wall time and peak memory.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use zkonnx::{Error, Result};

/// Wall time and peak resident memory of one child process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds from spawn to exit.
    pub wall_s: f64,
    /// The child's own peak resident set (`ru_maxrss` from `wait4`), MB.
    pub peak_rss_mb: f64,
}

/// Runs `cmd` with its output going to `log`; fails (naming the log) if it exits non-zero.
pub fn run_child(mut cmd: Command, what: &str, log: &Path) -> Result<Sample> {
    let io_err = |e: std::io::Error| Error::Data {
        path: log.display().to_string(),
        reason: format!("{what}: {e}"),
    };
    let file = std::fs::File::create(log).map_err(io_err)?;
    let err_file = file.try_clone().map_err(io_err)?;
    // Fork rather than `posix_spawn`: a child that shares this process's memory until `exec`
    // (vfork) is charged this process's high-water mark as its own peak.
    // SAFETY: the hook runs in the forked child before `exec` and does nothing at all.
    unsafe {
        cmd.pre_exec(|| Ok(()));
    }
    // Even a forked child is charged this process's resident memory at the fork; a zkonnx
    // child writes the high-water mark of its own memory (`VmHWM`) to this file instead.
    let peak_file = log.with_extension("peak");
    let _ = std::fs::remove_file(&peak_file);
    cmd.env(super::PEAK_FILE_ENV, &peak_file);
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err_file))
        .stdin(Stdio::null())
        .spawn()
        .map_err(io_err)?;
    let (status, rss_kb) = wait_with_rusage(child.id())?;
    let wall_s = start.elapsed().as_secs_f64();
    if status != 0 {
        let tail = std::fs::read_to_string(log).unwrap_or_default();
        let tail: String = tail
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        return Err(Error::Data {
            path: log.display().to_string(),
            reason: format!("{what} failed (exit status {status}): {tail}"),
        });
    }
    let own = std::fs::read_to_string(&peak_file)
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok());
    Ok(Sample {
        wall_s,
        peak_rss_mb: own.unwrap_or(rss_kb as f64 / 1024.0),
    })
}

/// `wait4` on one child: its exit status and its own peak RSS in KB (Linux reports KB).
fn wait_with_rusage(pid: u32) -> Result<(i32, i64)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that wait4 fills; `pid` is our own unwaited child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if r < 0 {
        return Err(Error::Data {
            path: format!("pid {pid}"),
            reason: format!("wait4 failed: {}", std::io::Error::last_os_error()),
        });
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, usage.ru_maxrss))
}

/// Minimum and median of some samples' wall times, and their largest peak memory.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseFigures {
    /// Fastest run, seconds.
    pub wall_min_s: f64,
    /// Median run, seconds.
    pub wall_median_s: f64,
    /// Largest peak resident memory over the runs, MB.
    pub peak_rss_mb: f64,
    /// Number of runs.
    pub runs: usize,
}

impl PhaseFigures {
    /// Summarises samples (at least one).
    pub fn of(samples: &[Sample]) -> Option<Self> {
        let mut t: Vec<f64> = samples.iter().map(|s| s.wall_s).collect();
        t.sort_by(f64::total_cmp);
        let median = match t.len() {
            0 => return None,
            n if n % 2 == 1 => t[n / 2],
            n => (t[n / 2 - 1] + t[n / 2]) / 2.0,
        };
        Some(Self {
            wall_min_s: t[0],
            wall_median_s: median,
            peak_rss_mb: samples.iter().map(|s| s.peak_rss_mb).fold(0.0, f64::max),
            runs: samples.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(wall_s: f64, peak_rss_mb: f64) -> Sample {
        Sample {
            wall_s,
            peak_rss_mb,
        }
    }

    #[test]
    fn min_median_and_peak_of_samples() {
        let odd = PhaseFigures::of(&[sample(3.0, 10.0), sample(1.0, 30.0), sample(2.0, 20.0)])
            .expect("figures");
        assert_eq!(
            (odd.wall_min_s, odd.wall_median_s, odd.peak_rss_mb),
            (1.0, 2.0, 30.0)
        );
        let even = PhaseFigures::of(&[sample(4.0, 1.0), sample(1.0, 1.0)]).expect("figures");
        assert_eq!(even.wall_median_s, 2.5);
        assert!(PhaseFigures::of(&[]).is_none());
    }

    /// A scratch directory of this test process, removed when dropped (pass or fail).
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!("zkonnx-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&d).expect("dir");
            Self(d)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A child started after this process used much memory does not report that memory as
    /// its own peak (it would with `posix_spawn`, which shares the parent's memory until exec).
    #[test]
    fn a_child_does_not_inherit_the_parents_high_water_mark() {
        let big = vec![1u8; 300 << 20];
        assert_eq!(
            big.iter().step_by(4096).map(|&b| u64::from(b)).sum::<u64>(),
            300 * 256
        );
        drop(big);
        let scratch = Scratch::new("hwm");
        let dir = &scratch.0;
        let mut c = Command::new("sh");
        c.args(["-c", "true"]);
        let s = run_child(c, "true", &dir.join("true.log")).expect("runs");
        assert!(s.peak_rss_mb < 100.0, "{s:?}");
    }

    /// A child that reports its own peak (as a zkonnx phase does) is taken at its word.
    #[test]
    fn a_child_reports_its_own_peak_through_the_peak_file() {
        let scratch = Scratch::new("peak");
        let dir = &scratch.0;
        let mut c = Command::new("sh");
        c.args([
            "-c",
            &format!("echo 42.5 > \"${}\"", super::super::PEAK_FILE_ENV),
        ]);
        let s = run_child(c, "reporter", &dir.join("reporter.log")).expect("runs");
        assert_eq!(s.peak_rss_mb, 42.5);
    }

    #[test]
    fn a_child_is_measured_on_its_own_and_a_failure_names_its_log() {
        let scratch = Scratch::new("measure");
        let dir = &scratch.0;
        let mut ok = Command::new("sh");
        ok.args(["-c", "sleep 0.2"]);
        let s = run_child(ok, "sleep", &dir.join("ok.log")).expect("runs");
        assert!(s.wall_s >= 0.2 && s.peak_rss_mb > 0.0, "{s:?}");
        let mut bad = Command::new("sh");
        bad.args(["-c", "echo broken >&2; exit 3"]);
        let e = run_child(bad, "failing step", &dir.join("bad.log"))
            .expect_err("fails")
            .to_string();
        assert!(
            e.contains("bad.log") && e.contains("status 3") && e.contains("broken"),
            "{e}"
        );
    }
}
