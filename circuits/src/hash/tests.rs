use super::*;

#[test]
fn chunks_follow_the_padding_rule() {
    assert_eq!(chunks(0).len(), 1);
    assert_eq!(chunks(0)[0].pad, Some(1));
    let c = chunks(3);
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].msgs, [Some(2), None]);
    assert_eq!(c[1].pad, Some(2));
    let c = chunks(4);
    assert_eq!(c.len(), 3);
    assert_eq!(c[2].msgs, [None, None]);
    assert_eq!(c[2].pad, Some(1));
}

#[test]
fn packing_is_injective_on_signed_values() {
    let a = pack(&[1, -1], 8);
    let b = pack(&[-255, 0], 8);
    // 1 + (-1)·256 = -255: a naive unsigned reading would collide; the range bound forbids
    // -255 for 8-bit values, and in range the balanced digits are unique.
    assert_eq!(a, b);
    assert!(bits_for([-255]) > 8);
    let c = pack(&[1, -1], bits_for([1, -1]));
    let d = pack(&[-1, 1], bits_for([1, -1]));
    assert_ne!(c, d);
}

#[test]
fn tensor_hash_depends_on_every_value_and_the_length() {
    let v: Vec<i64> = (0..100).map(|i| i * 37 % 91 - 45).collect();
    let b = bits_for(v.iter().copied());
    let h = hash_values(&v, b);
    for i in [0, 31, 99] {
        let mut w = v.clone();
        w[i] += 1;
        assert_ne!(hash_values(&w, b), h, "changing value {i}");
    }
    let mut longer = v.clone();
    longer.push(0);
    assert_ne!(hash_values(&longer, b), h);
    assert_ne!(hash_values(&v, b + 1), h);
}
