//! Values chosen by computed indices and comparisons: an entry of a constant tensor at a
//! computed index (one lookup in a table of the entries) and a comparison with zero (one
//! division whose quotient is the sign).

use super::{half, quantize, Act, Builder};
use crate::error::{CircuitsError, Result};
use crate::ir::Func;
use crate::quant::{QOp, Table};

impl Builder<'_> {
    /// `values[(x + offset)·groups + slice]` ([`Op::Select`]): the index at scale 0 (exact
    /// for the whole numbers an index is; the rounding rescale's remainder is range-checked),
    /// with several tables the key `groups·x + slice` (a rescale by `groups` with no shift),
    /// then one lookup per element in a table of the values at `out_scale` over the keys
    /// `−offset·groups ..`. The key is a bijection of (index, slice) onto the integers, so an
    /// index outside the table's range finds no entry instead of another table's.
    pub(super) fn select(
        &mut self,
        i: usize,
        x: usize,
        values: &[f32],
        (offset, groups, slice): (u32, u32, &[u32]),
        out_scale: u32,
    ) -> Result<usize> {
        let node = &self.graph.nodes[i];
        let n = node.len();
        let s_in = self.nodes[x].scale;
        let overflow = || CircuitsError::Overflow {
            node: node.name.clone(),
        };
        if groups == 0 || slice.iter().any(|&g| g >= groups) || slice.len() != n {
            return Err(overflow());
        }
        let entries = values
            .iter()
            .enumerate()
            .map(|(k, &v)| {
                let q = quantize(v, out_scale as i32, &node.name, k)?;
                if q.abs() > crate::quant::table::TABLE_VALUE_CAP {
                    return Err(overflow());
                }
                Ok(q)
            })
            .collect::<Result<Vec<_>>>()?;
        // Every index the table holds passes the checks, whatever calibration saw (a token id
        // the calibration input did not use): `|index| ≤ offset < 2^width(offset)`.
        let idx_bits = self
            .bits(node.inputs[0], 0)
            .max(64 - u64::from(offset).leading_zeros());
        let mut key = x;
        if s_in > 0 {
            key = self.push(
                node,
                format!("{}(index)", node.op_type),
                QOp::Rescale {
                    mul: vec![1; n],
                    add: vec![half(s_in); n],
                    shift: s_in,
                    relu: false,
                    clamp: None,
                    bits: idx_bits,
                },
                vec![key],
                0,
            );
        }
        if groups > 1 {
            let width = 64 - u64::from(groups).leading_zeros();
            key = self.push(
                node,
                format!("{}(key)", node.op_type),
                QOp::Rescale {
                    mul: vec![i64::from(groups); n],
                    add: slice.iter().map(|&g| i64::from(g)).collect(),
                    shift: 0,
                    relu: false,
                    clamp: None,
                    bits: idx_bits + width + 1,
                },
                vec![key],
                0,
            );
        }
        let table = self.table(Table {
            // Unused: the entries are given.
            f: Func::Exp,
            frac: 0,
            out_scale,
            lo: -i64::from(offset) * i64::from(groups),
            size: values.len() as u64,
            step: false,
            balanced: false,
            values: entries,
        });
        Ok(self.push(
            node,
            node.op_type.clone(),
            QOp::Lookup { table },
            vec![key],
            out_scale,
        ))
    }

    /// `[x ≥ 1]` on the integer grid as one division by `2^b` with `|x| < 2^(b−1)` proven by
    /// `x`'s own range check: `q = floor((x − 1) / 2^b) ∈ {−1, 0}`, then `(q + 1)·2^s`.
    pub(super) fn step(&mut self, i: usize, x: usize) -> usize {
        let graph = self.graph;
        let node = &graph.nodes[i];
        let n = node.len();
        let out_scale = self.settings.input_scale;
        let (x, xbits) = match &self.nodes[x].op {
            QOp::Rescale { bits, .. } => (x, *bits),
            _ => {
                // Bound the operand first: the division's uniqueness needs a proven range.
                let s = self.nodes[x].scale;
                let b = self.bits(node.inputs[0], s);
                let r = self.push(
                    node,
                    format!("{}(range)", node.op_type),
                    QOp::Rescale {
                        mul: vec![1; n],
                        add: vec![0; n],
                        shift: 0,
                        relu: false,
                        clamp: None,
                        bits: b,
                    },
                    vec![x],
                    s,
                );
                (r, b)
            }
        };
        let sign = self.push(
            node,
            format!("{}(sign)", node.op_type),
            QOp::Rescale {
                mul: vec![1; n],
                add: vec![-1; n],
                shift: xbits + 1,
                relu: false,
                clamp: None,
                bits: 1,
            },
            vec![x],
            0,
        );
        let one = 1i64 << out_scale;
        self.rescale(
            node,
            sign,
            vec![one; n],
            vec![one; n],
            0,
            Act::Plain,
            out_scale + 1,
            out_scale,
        )
    }
}
