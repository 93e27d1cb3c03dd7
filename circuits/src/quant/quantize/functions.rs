//! Nonlinear functions: one lookup per element in a table shared by every node of the same
//! function, input resolution and output scale, or an interpolation between knots where that
//! is as accurate in fewer rows ([`crate::quant::interp`]).

use super::{half, rescale_params, Act, Builder};
use crate::ir::{Func, Node};
use crate::quant::{interp, shared_tables, QOp, Table};

impl Builder<'_> {
    /// The index of a table holding `t`'s entries: one table per function, input resolution,
    /// output scale and kind, its domain the union of the domains asked of it (an LSTM's gates
    /// at every step share one table, whatever each step's calibrated range).
    pub(super) fn table(&mut self, t: Table) -> usize {
        if t.is_data() {
            // A data table is shared only with an equal one (two reads of one tensor).
            if let Some(i) = self.tables.iter().position(|x| *x == t) {
                return i;
            }
            self.tables.push(t);
            return self.tables.len() - 1;
        }
        let same = |x: &Table| {
            !x.is_data()
                && x.f == t.f
                && x.frac == t.frac
                && x.out_scale == t.out_scale
                && x.step == t.step
                && x.balanced == t.balanced
        };
        if let Some(i) = self.tables.iter().position(same) {
            let x = &mut self.tables[i];
            let hi = (x.lo + x.size as i64).max(t.lo + t.size as i64);
            x.lo = x.lo.min(t.lo);
            x.size = (hi - x.lo) as u64;
            return i;
        }
        self.tables.push(t);
        self.tables.len() - 1
    }

    /// A nonlinear function: its direct table, or interpolation between knots where that is as
    /// accurate and smaller ([`interp`]).
    pub(super) fn func(&mut self, i: usize, f: Func, x: usize, out_scale: u32) -> usize {
        let graph = self.graph;
        let node = &graph.nodes[i];
        let n = node.len();
        let s_in = self.nodes[x].scale as i32;
        let b = self.settings.table_bits;
        let pos = f.positive_domain();
        // An input never positive (`x − max`, what a softmax exponentiates) needs the table's
        // negative half only: its `2^b` entries read it at twice the resolution.
        let neg = !pos && graph.nodes[node.inputs[0]].nonpositive;
        let one_sided = pos || neg;
        let reach = if one_sided {
            (1u64 << b) - 1
        } else {
            (1u64 << (b - 1)) - 1
        } as f64;
        let m_in = (self.cal.max_abs[node.inputs[0]] * self.settings.table_margin)
            .max(f64::from(-s_in).exp2());
        // Never finer than the input: its values lie on a grid of `2^−s_in`, so a finer table's
        // entries between them would never be read (inputs within ±0.01 at 13 bits: 2,623
        // entries at 16 bits, where 329 at 13 hold every value they are read at; stop 46).
        let frac = ((reach / m_in).log2().floor() as i32).clamp(-24, s_in);
        let frac = self
            .caps
            .iter()
            .find(|c| c.0 == f && c.1 == out_scale)
            .map_or(frac, |c| frac.min(c.2));
        // The table holds the calibrated domain (with its margin) and no more: `frac` is a
        // power of two, so `2^b` entries would cover between one and two times it. Inputs past
        // the domain are refused by the integer execution and cannot satisfy the lookup; the
        // domain is what it was, the table up to half smaller.
        let reach_in = (m_in * f64::from(frac).exp2()).ceil().clamp(1.0, reach) as i64;
        let direct = Table {
            f: f.clone(),
            frac,
            out_scale,
            lo: if pos { 0 } else { -reach_in },
            size: if one_sided {
                reach_in + 1
            } else {
                2 * reach_in + 1
            } as u64,
            step: false,
            balanced: false,
            values: Vec::new(),
        };
        let policy = self.settings.interpolation;
        // The rows interpolation adds are every node's of this function (they share a table).
        let total = self
            .func_elements
            .iter()
            .find(|(g, _)| *g == f)
            .map_or(n, |&(_, t)| t.max(n));
        let (mf, shift) = rescale_params(s_in, frac);
        let pre = interp::Direct {
            table: &direct,
            frac,
            mul: mf,
            add: half(shift),
            shift,
        };
        let inp = node.inputs[0];
        let cal = self.cal;
        let (lo, hi) = (
            cal.min.get(inp).copied().unwrap_or(-cal.max_abs[inp]),
            cal.max.get(inp).copied().unwrap_or(cal.max_abs[inp]),
        );
        let dom = interp::Domain::calibrated(m_in, lo, hi, self.settings.table_margin);
        let dom = if neg { dom.never_positive() } else { dom };
        if let Some(k) = interp::choose(policy, &f, total, (s_in, dom), pre, out_scale) {
            return self.interpolated(node, x, f, k, out_scale);
        }
        let bits = if one_sided { b } else { b - 1 };
        let resc = self.rescale(
            node,
            x,
            vec![mf; n],
            vec![half(shift); n],
            shift,
            Act::Plain,
            bits,
            frac.max(0) as u32,
        );
        self.asked.push(shared_tables::Asked {
            f,
            out_scale,
            frac,
            lo: direct.lo,
            size: direct.size,
        });
        let table = self.table(direct);
        self.push(
            node,
            node.op_type.clone(),
            QOp::Lookup { table },
            vec![resc],
            out_scale,
        )
    }

    /// `f` of node `node`'s input `x` interpolated between `knots` ([`interp`]): the knot below
    /// (a floor rescale), the position past it (`X − 2^s·k`), both tables, and
    /// `round((2^s·F(k) + Δ(k)·r) / 2^(s+g))` (`F`, `Δ` at `g` guard bits).
    pub(super) fn interpolated(
        &mut self,
        node: &Node,
        x: usize,
        f: Func,
        knots: interp::Knots,
        out_scale: u32,
    ) -> usize {
        let n = node.len();
        let s_in = self.nodes[x].scale as i32;
        let s = knots.shift(s_in);
        let op = node.op_type.clone();
        let width = |m: u64| 64 - m.leading_zeros();
        // The knot below: |k| ≤ max(K, −lo) < 2^bits.
        let k = self.rescale(
            node,
            x,
            vec![1; n],
            vec![0; n],
            s,
            Act::Plain,
            width(knots.max_index()),
            0,
        );
        let lin = QOp::Linear {
            map: interp::pairwise(n, 1, -(1i64 << s)),
        };
        let rl = self.push(node, op.clone(), lin, vec![x, k], s);
        // An identity: `r` is the map's accumulator, in [0, 2^s).
        let r = self.rescale(node, rl, vec![1; n], vec![0; n], 0, Act::Plain, s, s);
        let base = knots.table(&f, out_scale, false);
        // The knots' values and their products at `g` guard bits past the output's scale.
        let (g, vs) = (knots.g, base.out_scale);
        let top = width(base.max_abs().unsigned_abs().div_ceil(1 << g));
        let (tf, td) = (
            self.table(base),
            self.table(knots.table(&f, out_scale, true)),
        );
        let y0 = self.push(node, op.clone(), QOp::Lookup { table: tf }, vec![k], vs);
        let d = self.push(node, op.clone(), QOp::Lookup { table: td }, vec![k], vs);
        let terms = (0..n as u32).map(|i| vec![(i, i)]).collect();
        let t = self.push(
            node,
            op.clone(),
            QOp::Bilinear { terms },
            vec![d, r],
            vs + s,
        );
        let lin = QOp::Linear {
            map: interp::pairwise(n, 1i64 << s, 1),
        };
        let z = self.push(node, op, lin, vec![y0, t], vs + s);
        // Between F(k) and F(k + 1): no larger than the largest knot value.
        self.rescale(
            node,
            z,
            vec![1; n],
            vec![half(s + g); n],
            s + g,
            Act::Plain,
            top,
            out_scale,
        )
    }
}
