//! Structural checks of a quantized graph read from an untrusted file (`compiled.json`): every
//! index the executor and the circuit follow is in range, every length matches, every width is
//! bounded. A graph that passes cannot make them index out of bounds or overflow a shift.

use super::{QGraph, QOp, QRef};

/// Most elements a node may hold.
pub const MAX_NODE_ELEMENTS: usize = 1 << 28;
/// Largest shift or width a node may declare (the integer executor works in `i128`).
pub const MAX_BITS: u32 = 100;
/// Most entries a function table may have.
pub const MAX_TABLE_ENTRIES: u64 = 1 << 24;

impl QGraph {
    /// Checks the graph's structure; the error names the node and what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let first = self.nodes.first().ok_or("the graph has no nodes")?;
        if !matches!(first.op, QOp::Input) || !first.inputs.is_empty() {
            return Err("node 0 must be the input, with no inputs".into());
        }
        if self.output == 0 || self.output >= self.nodes.len() {
            return Err(format!(
                "the output node {} is not a computed node (the graph has {})",
                self.output,
                self.nodes.len()
            ));
        }
        if !(1..=64).contains(&self.input_bits) {
            return Err(format!("input_bits = {} is out of range", self.input_bits));
        }
        for t in &self.tables {
            if t.size == 0 || t.size > MAX_TABLE_ENTRIES {
                return Err(format!("a function table of {} entries", t.size));
            }
            if t.is_data() && t.values.len() as u64 != t.size {
                return Err(format!(
                    "a data table of {} entries holds {} values",
                    t.size,
                    t.values.len()
                ));
            }
            if t.values.iter().any(|v| v.abs() > super::TABLE_VALUE_CAP) {
                return Err("a data table's entry is larger than a table holds".into());
            }
            // Its domain `lo .. lo + size` must not wrap (the table is loaded entry by entry).
            if t.lo.checked_add(t.size as i64).is_none() {
                return Err(format!(
                    "a function table's domain starting at {} wraps",
                    t.lo
                ));
            }
        }
        let mut lens = Vec::with_capacity(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            let bad = |what: String| format!("node {i} ('{}'): {what}", n.name);
            let len = n
                .shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .filter(|&l| l <= MAX_NODE_ELEMENTS)
                .ok_or_else(|| bad(format!("shape {:?} is too large", n.shape)))?;
            if n.scale > 64 {
                return Err(bad(format!("scale {} is out of range", n.scale)));
            }
            if let Some(&j) = n.inputs.iter().find(|&&j| j >= i) {
                return Err(bad(format!(
                    "reads node {j}, which does not come before it"
                )));
            }
            if i > 0 && matches!(n.op, QOp::Input) {
                return Err(bad("a second input node".into()));
            }
            let input_len = |s: usize| n.inputs.get(s).map(|&j| lens[j]);
            let check_ref = |r: &QRef| match *r {
                QRef::In(s, e) => match input_len(s as usize) {
                    Some(l) if (e as usize) < l => Ok(()),
                    _ => Err(bad(format!(
                        "reads element {e} of input slot {s}, out of range"
                    ))),
                },
                QRef::Const(_) => Ok(()),
            };
            let arity = |k: usize| {
                if n.inputs.len() == k {
                    Ok(())
                } else {
                    Err(bad(format!("{} inputs, expected {k}", n.inputs.len())))
                }
            };
            let same_len = |what: &str, l: usize| {
                if l == len {
                    Ok(())
                } else {
                    Err(bad(format!("{what} has {l} entries for {len} elements")))
                }
            };
            let bits = |what: &str, b: u32| {
                if b <= MAX_BITS {
                    Ok(())
                } else {
                    Err(bad(format!(
                        "{what} = {b} is out of range (at most {MAX_BITS})"
                    )))
                }
            };
            match &n.op {
                QOp::Input => {}
                QOp::Linear { map } => {
                    let mut covered = vec![false; len];
                    for g in &map.groups {
                        let m = map
                            .mats
                            .get(g.mat as usize)
                            .ok_or_else(|| bad(format!("weight block {} is missing", g.mat)))?;
                        if m.rows.checked_mul(m.cols) != Some(m.data.len()) {
                            return Err(
                                bad("a weight block's size does not match its data".into()),
                            );
                        }
                        if g.inputs.len() > m.cols || g.outputs.len() > m.rows {
                            return Err(bad("a group is larger than its weight block".into()));
                        }
                        for (s, e) in g.inputs.iter().flatten() {
                            check_ref(&QRef::In(*s, *e))?;
                        }
                        for &o in &g.outputs {
                            match covered.get_mut(o as usize) {
                                Some(c) if !*c => *c = true,
                                _ => {
                                    return Err(bad(format!(
                                        "output element {o} is out of range or set twice"
                                    )))
                                }
                            }
                        }
                    }
                    if covered.iter().any(|c| !c) {
                        return Err(bad("an output element is not computed".into()));
                    }
                }
                QOp::Rescale {
                    mul,
                    add,
                    shift,
                    relu,
                    clamp,
                    bits: b,
                } => {
                    arity(1)?;
                    same_len("mul", mul.len())?;
                    same_len("add", add.len())?;
                    same_len("the input", lens[n.inputs[0]])?;
                    bits("shift", *shift)?;
                    bits("bits", *b)?;
                    // The clamp relation's argument needs `0 ≤ C < 2^bits` and a ReLU's sign.
                    if let Some(c) = *clamp {
                        if !*relu || c < 0 || i128::from(c) >= 1i128 << *b {
                            return Err(bad(format!(
                                "clamp bound {c} is outside [0, 2^{b}) or lacks its ReLU"
                            )));
                        }
                    }
                }
                QOp::Gather { map } => {
                    same_len("the map", map.len())?;
                    map.iter().try_for_each(check_ref)?;
                }
                QOp::Bilinear { terms } => {
                    arity(2)?;
                    same_len("terms", terms.len())?;
                    for &(a, b) in terms.iter().flatten() {
                        check_ref(&QRef::In(0, a))?;
                        check_ref(&QRef::In(1, b))?;
                    }
                }
                QOp::Lookup { table } => {
                    arity(1)?;
                    same_len("the input", lens[n.inputs[0]])?;
                    if *table >= self.tables.len() {
                        return Err(bad(format!("table {table} does not exist")));
                    }
                }
                QOp::Div {
                    num,
                    den,
                    shift,
                    bits: b,
                    rbits,
                } => {
                    same_len("num", num.len())?;
                    same_len("den", den.len())?;
                    num.iter().chain(den).try_for_each(check_ref)?;
                    bits("shift", *shift)?;
                    bits("bits", *b)?;
                    bits("rbits", *rbits)?;
                }
                QOp::Sqrt { exp, bits: b } => {
                    arity(1)?;
                    same_len("the input", lens[n.inputs[0]])?;
                    bits("exp", *exp)?;
                    bits("bits", *b)?;
                }
            }
            lens.push(len);
        }
        Ok(())
    }
}
