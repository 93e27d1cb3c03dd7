//! The maximum of groups of elements and the one-hot of each group's first maximum, from one
//! tournament.
//!
//! A tree of pairwise maxima (`max(a, b) = b + relu(a − b)`, `a` the lower-index side) keeps
//! at every pair the sign `s = [a ≥ b] = 1 − step(b − a)`. The one-hot then descends the
//! tree: the winner of the whole group gets 1, and at every pair `left = parent · s`,
//! `right = parent − left`; an element carried past a level keeps its parent's value.
//!
//! Ties go to the lower index (`[a ≥ b]` keeps the left side, and every element of a left
//! subtree precedes every element of the right one), as ONNX's ArgMax and onnxruntime's TopK
//! order them. The result is a one-hot by construction — in the float model too, where a
//! maximum computed as `b + relu(a − b)` may come out one rounding away from its element and
//! a comparison of every element with it would find none. Cost per group of `d` elements:
//! `d − 1` pairwise maxima, `d − 1` signs and `d − 1` products of 0/1 values (the top level's
//! are free), where comparing every element with the maximum took `2d` signs and a
//! prefix-sum map of `d²/2` terms.

use super::build::{iota, Pick};
use super::{Importer, Value};
use crate::ir::Op;

type R<T> = Result<T, String>;

/// An element of the next level: a pair of this level's elements (`a`, `b`, and the pair's
/// index among the level's pairs) or one element carried.
#[derive(Clone, Copy)]
enum Slot {
    Pair(u32, u32, u32),
    Carry(u32),
}

/// One level of the tree: its slots and the node of its pairs' signs `[a ≥ b]`.
struct Level {
    slots: Vec<Slot>,
    ge: usize,
    below: usize,
}

impl Importer {
    /// The maximum of every group (shape `[groups]`) and the one-hot of its first maximum,
    /// listed group after group (element `k` of the one-hot is element `groups.flatten()[k]`).
    pub(crate) fn max_and_first(&mut self, x: usize, groups: &[Vec<u32>]) -> R<(usize, usize)> {
        if groups.iter().any(Vec::is_empty) {
            return Err("a maximum over an empty window".into());
        }
        let len: usize = groups.iter().map(Vec::len).sum();
        let flat: Vec<Pick> = groups.iter().flatten().map(|&i| Pick::V(0, i)).collect();
        let listed = self.rewire(&[Value::Dyn(x)], vec![len], &flat);
        let mut cur = self.dyn_of(&listed, "the input")?;
        let mut sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        let mut levels = Vec::new();
        let mut below = len;
        while sizes.iter().any(|&s| s > 1) {
            let level = self.tournament_level(cur, &mut sizes, below)?;
            below = level.0.slots.len();
            cur = level.1;
            levels.push(level.0);
        }
        let first = self.descend(&levels, groups.len(), cur);
        Ok((cur, first))
    }

    /// Plays one level: pairs consecutive elements of every group; returns the level and the
    /// next level's values (maxima and carried elements).
    fn tournament_level(
        &mut self,
        cur: usize,
        sizes: &mut [usize],
        below: usize,
    ) -> R<(Level, usize)> {
        let (mut a, mut b, mut slots) = (Vec::new(), Vec::new(), Vec::new());
        let mut at = 0u32;
        for s in sizes.iter_mut() {
            for c in 0..s.div_ceil(2) {
                let i = at + 2 * c as u32;
                if 2 * c + 1 < *s {
                    slots.push(Slot::Pair(i, i + 1, a.len() as u32));
                    a.push(i);
                    b.push(i + 1);
                } else {
                    slots.push(Slot::Carry(i));
                }
            }
            at += *s as u32;
            *s = s.div_ceil(2);
        }
        let np = a.len();
        let d = self.combine(&[(cur, &a, 1.0), (cur, &b, -1.0)], vec![np]);
        let r = self.relu(d);
        let m = self.combine(&[(r, &iota(np), 1.0), (cur, &b, 1.0)], vec![np]);
        // [a ≥ b] = 1 − [b − a > 0]
        let back = self.affine(d, vec![-1.0; np], vec![0.0; np]);
        let above = self.emit(Op::Step, vec![back], vec![np]);
        let ge = self.affine(above, vec![-1.0; np], vec![1.0; np]);
        let picks: Vec<Pick> = slots
            .iter()
            .map(|s| match *s {
                Slot::Pair(_, _, p) => Pick::V(0, p),
                Slot::Carry(i) => Pick::V(1, i),
            })
            .collect();
        let next = self.rewire(&[Value::Dyn(m), Value::Dyn(cur)], vec![slots.len()], &picks);
        let next = self.dyn_of(&next, "a tournament level")?;
        Ok((Level { slots, ge, below }, next))
    }

    /// The one-hot of the winners, from the top level down to the elements.
    fn descend(&mut self, levels: &[Level], ng: usize, top: usize) -> usize {
        // The top level's value is 1 for every group (`None`: a constant).
        let mut e: Option<usize> = None;
        for lv in levels.iter().rev() {
            let pairs: Vec<(u32, u32)> = lv
                .slots
                .iter()
                .enumerate()
                .filter_map(|(j, s)| match *s {
                    Slot::Pair(_, _, p) => Some((j as u32, p)),
                    Slot::Carry(_) => None,
                })
                .collect();
            // left = parent · [a ≥ b] (the sign itself under the top).
            let left = match e {
                None => lv.ge,
                Some(e) => self.emit(
                    Op::Bilinear {
                        terms: pairs.iter().map(|&(j, p)| vec![(j, p)]).collect(),
                        scale: 1.0,
                    },
                    vec![e, lv.ge],
                    vec![pairs.len()],
                ),
            };
            // Inputs: slot 0 = left (by pair index), slot 1 = the parent level.
            let mut entries: Vec<Vec<(u32, u32, f32)>> = vec![Vec::new(); lv.below];
            let mut bias = vec![0f32; lv.below];
            for (j, s) in lv.slots.iter().enumerate() {
                let j = j as u32;
                // The parent's value: its element, or 1 under the top (a bias, beside a
                // zero-weight read so that no output is empty).
                let parent = |entry: &mut Vec<(u32, u32, f32)>, bias: &mut f32| match e {
                    Some(_) => entry.push((1, j, 1.0)),
                    None => {
                        *bias = 1.0;
                        if entry.is_empty() {
                            entry.push((0, 0, 0.0));
                        }
                    }
                };
                match *s {
                    Slot::Pair(ia, ib, p) => {
                        entries[ia as usize].push((0, p, 1.0));
                        parent(&mut entries[ib as usize], &mut bias[ib as usize]);
                        entries[ib as usize].push((0, p, -1.0));
                    }
                    Slot::Carry(i) => parent(&mut entries[i as usize], &mut bias[i as usize]),
                }
            }
            let inputs = match e {
                Some(e) => vec![left, e],
                None => vec![left],
            };
            let bias = bias.iter().any(|&b| b != 0.0).then_some(bias);
            e = Some(self.linear_entries(inputs, &entries, bias, vec![lv.below]));
        }
        match e {
            Some(e) => e,
            // Every group holds one element: each is its group's maximum.
            None => self.affine(top, vec![0.0; ng], vec![1.0; ng]),
        }
    }
}
