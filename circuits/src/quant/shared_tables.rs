//! How finely the nodes of one function read its table.
//!
//! Each node's direct table reads its input at the finest resolution whose `2^b` entries cover
//! its calibrated domain, and nodes of one function share a table only where those
//! resolutions agree. Two softmaxes whose score ranges differ by more than 2× each get a table
//! of up to `2^b` entries: at `b = 14` (an accuracy step) tiny_gpt's exp tables held 9,776 and
//! 16,334 entries, one `k` more than a shared table of 9,776 read at the coarser resolution.
//!
//! So past the default table bits a function's direct tables hold at most `2^b` entries
//! together (what `table_bits` promises): where the nodes' own tables would hold more, the
//! nodes read at most as finely as the finest resolution at which they fit ([`caps`]). At the
//! default bits each table holds at most 4,096 entries and every node keeps its own
//! resolution: lstm_forecaster's two sigmoid tables (4,005 and 4,073 entries) shared at the
//! coarser one took it from `k = 14` to 13, 0.7× the proof time, but erred 5× more (5e-5,
//! EZKL's error) and cost 1.4× the gas.

use crate::ir::Func;

/// A direct table one node asked for.
#[derive(Debug, Clone)]
pub(crate) struct Asked {
    /// The function.
    pub f: Func,
    /// Fractional bits of its output.
    pub out_scale: u32,
    /// Fractional bits of its input.
    pub frac: i32,
    /// First input of the domain.
    pub lo: i64,
    /// Entries.
    pub size: u64,
}

/// The finest input resolution (fractional bits) each function, at each output scale, may be
/// read at: for each whose direct tables in `asked` hold more than `limit` entries together,
/// the finest of their resolutions at which they hold at most `limit` (the coarsest where
/// none does). Functions within the limit are not listed.
pub(crate) fn caps(asked: &[Asked], limit: u64) -> Vec<(Func, u32, i32)> {
    let mut keys: Vec<(Func, u32)> = Vec::new();
    for a in asked {
        if !keys.iter().any(|(f, s)| *f == a.f && *s == a.out_scale) {
            keys.push((a.f.clone(), a.out_scale));
        }
    }
    let mut out = Vec::new();
    for (f, s) in keys {
        let mine: Vec<Asked> = asked
            .iter()
            .filter(|a| a.f == f && a.out_scale == s)
            .cloned()
            .collect();
        let mut fracs: Vec<i32> = mine.iter().map(|a| a.frac).collect();
        fracs.sort_unstable_by(|a, b| b.cmp(a));
        fracs.dedup();
        if fracs.len() < 2 || entries(&mine, fracs[0]) <= limit {
            continue;
        }
        let cap = fracs[1..]
            .iter()
            .copied()
            .find(|&c| entries(&mine, c) <= limit)
            .unwrap_or(fracs[fracs.len() - 1]);
        out.push((f, s, cap));
    }
    out
}

/// Entries of the tables `asked` would share with every resolution finer than `cap` read at
/// `cap` (one table per resolution, over the union of its domains).
fn entries(asked: &[Asked], cap: i32) -> u64 {
    let mut spans: Vec<(i32, i64, i64)> = Vec::new();
    for a in asked {
        let frac = a.frac.min(cap);
        let d = (a.frac - frac).clamp(0, 62) as u32;
        let hi = a.lo + a.size as i64 - 1;
        let (lo, hi) = (a.lo.div_euclid(1 << d), -((-hi).div_euclid(1 << d)));
        match spans.iter_mut().find(|s| s.0 == frac) {
            Some(s) => {
                s.1 = s.1.min(lo);
                s.2 = s.2.max(hi);
            }
            None => spans.push((frac, lo, hi)),
        }
    }
    spans.iter().map(|s| (s.2 - s.1 + 1) as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(frac: i32, lo: i64, size: u64) -> Asked {
        Asked {
            f: Func::Exp,
            out_scale: 12,
            frac,
            lo,
            size,
        }
    }

    #[test]
    fn tables_within_the_limit_keep_their_resolution() {
        assert!(caps(&[exp(11, -9775, 9776), exp(12, -16333, 16334)], 1 << 15).is_empty());
        assert!(caps(&[exp(11, -900, 901), exp(11, -1000, 1001)], 1024).is_empty());
    }

    #[test]
    fn tables_over_the_limit_are_read_at_a_shared_resolution() {
        // tiny_gpt's two softmaxes at 14 table bits: 26,110 entries apart, 9,776 shared.
        let asked = [exp(11, -9775, 9776), exp(12, -16333, 16334)];
        assert_eq!(caps(&asked, 1 << 14), vec![(Func::Exp, 12, 11)]);
        assert_eq!(entries(&asked, 11), 9776);
        // Three resolutions: the finest that fits is kept.
        let asked = [
            exp(9, -2000, 2001),
            exp(10, -3000, 3001),
            exp(12, -4000, 4001),
        ];
        assert_eq!(entries(&asked, 10), 2001 + 3001);
        assert_eq!(caps(&asked, 5500), vec![(Func::Exp, 12, 10)]);
        assert_eq!(caps(&asked, 4000), vec![(Func::Exp, 12, 9)]);
        // Another function or output scale is apart.
        let mut other = exp(12, -4000, 4001);
        other.f = Func::Tanh;
        assert!(caps(&[exp(9, -2000, 2001), other], 4096).is_empty());
    }
}
