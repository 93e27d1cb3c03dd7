//! Shape arithmetic for the importer: strides, broadcasting, multi-indices.

/// Row-major strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Number of elements.
///
/// A shape over [`MAX_ELEMENTS`] (or whose product overflows) unwinds with an [`OverBudget`]
/// payload before anything is allocated from it; [`registry::lower`](super::registry) turns
/// that into the node's error.
pub fn numel(shape: &[usize]) -> usize {
    match shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
    {
        Some(n) => n,
        None => std::panic::panic_any(OverBudget(shape.to_vec())),
    }
}

/// Most elements a tensor of the imported graph may hold (2^28: 1 GiB of f32).
pub const MAX_ELEMENTS: usize = 1 << 28;

/// The unwinding payload of a shape over [`MAX_ELEMENTS`].
#[derive(Debug, Clone)]
pub struct OverBudget(pub Vec<usize>);

/// Calls `f(flat, multi_index)` for every element of `shape` in row-major order.
pub fn for_each_index(shape: &[usize], mut f: impl FnMut(usize, &[usize])) {
    let total = numel(shape);
    let mut idx = vec![0usize; shape.len()];
    for flat in 0..total {
        f(flat, &idx);
        for ax in (0..shape.len()).rev() {
            idx[ax] += 1;
            if idx[ax] < shape[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
}

/// The numpy broadcast of two shapes, or `None`.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out.push(match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        });
    }
    Some(out)
}

/// For every element of `out` (row-major), the flat index of the element of `src` that numpy
/// broadcasting reads; `None` if `src` does not broadcast to `out`.
pub fn broadcast_index(src: &[usize], out: &[usize]) -> Option<Vec<u32>> {
    if src.len() > out.len() {
        let extra = src.len() - out.len();
        if src[..extra].iter().any(|&d| d != 1) {
            return None;
        }
        return broadcast_index(&src[extra..], out);
    }
    let pad = out.len() - src.len();
    let s: Vec<usize> = std::iter::repeat_n(1, pad)
        .chain(src.iter().copied())
        .collect();
    if s.iter().zip(out).any(|(&a, &b)| a != 1 && a != b) {
        return None;
    }
    let st = strides(&s);
    let mut map = Vec::with_capacity(numel(out));
    for_each_index(out, |_, idx| {
        let mut off = 0;
        for ax in 0..out.len() {
            if s[ax] != 1 {
                off += idx[ax] * st[ax];
            }
        }
        map.push(off as u32);
    });
    Some(map)
}

/// Normalises a possibly negative axis against a rank.
pub fn norm_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}

/// The element groups along `axes` (reduced together): for every position of the other
/// axes, the flat indices of its elements. Also returns the kept shape (reduced axes as 1).
pub fn reduction_groups(shape: &[usize], axes: &[usize]) -> (Vec<Vec<u32>>, Vec<usize>) {
    let kept: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let kst = strides(&kept);
    let mut groups = vec![Vec::new(); numel(&kept)];
    for_each_index(shape, |flat, idx| {
        let g: usize = idx
            .iter()
            .enumerate()
            .map(|(ax, &i)| if axes.contains(&ax) { 0 } else { i * kst[ax] })
            .sum();
        groups[g].push(flat as u32);
    });
    (groups, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shape(&[3, 1], &[4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shape(&[3, 2], &[4]), None);
        assert_eq!(
            broadcast_index(&[3, 1], &[3, 2]),
            Some(vec![0, 0, 1, 1, 2, 2])
        );
        assert_eq!(broadcast_index(&[2], &[3, 2]), Some(vec![0, 1, 0, 1, 0, 1]));
        assert_eq!(broadcast_index(&[3], &[3, 2]), None);
    }

    #[test]
    fn groups() {
        let (g, kept) = reduction_groups(&[2, 3], &[1]);
        assert_eq!(kept, vec![2, 1]);
        assert_eq!(g, vec![vec![0, 1, 2], vec![3, 4, 5]]);
        let (g, _) = reduction_groups(&[2, 3], &[0]);
        assert_eq!(g, vec![vec![0, 3], vec![1, 4], vec![2, 5]]);
    }
}
