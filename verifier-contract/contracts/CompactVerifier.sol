// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

/// @title zkonnx compact verifier
/// @notice One contract for every zkonnx circuit. It verifies halo2 proofs (KZG on BN254,
/// SHPLONK multi-opening, Keccak transcript) against a verifying-key blob stored as the code
/// of a data contract. Everything circuit-specific lives in the blob: preprocessed
/// commitments, the transcript's shape, the quotient numerator as a stack program and the
/// structure of the multi-opening. The blob's layout is documented in
/// `verifier-contract/src/compact/blob.rs`; `src/compact/native.rs` is the same algorithm
/// in Rust.
/// @dev A circuit's identity is its data contract (address, or `extcodehash`): a consumer
/// pins it. Verification never reverts on a bad proof: it returns false. It reverts only
/// when a precompile fails, i.e. when the call ran out of gas.
contract CompactVerifier {
    /// BN254 scalar field.
    uint256 internal constant R = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    /// R − 2, the exponent of inversion.
    uint256 internal constant R_MINUS_2 = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593efffffff;
    /// BN254 base field.
    uint256 internal constant Q = 0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;
    /// Where the verifying-key blob is copied in memory.
    uint256 internal constant VK = 0x600;
    /// Blob magic: "ZKXCVK", version 5.
    uint256 internal constant MAGIC = 0x5a4b5843564b0000000000000000000000000000000000000000000000000005;
    /// R − 1 (adding it subtracts one).
    uint256 internal constant R_MINUS_1 = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000000;

    /// @notice Verifies `proof` for `instances` against the verifying key held by `vk`.
    /// @return true iff the proof is valid for this circuit and these public instances.
    function verifyProof(address vk, uint256[] calldata instances, bytes calldata proof)
        external
        view
        returns (bool)
    {
        assembly {
            // Memory map. 0x000-0x0ff: modexp scratch; 0x100-0x19f: MSM accumulator and
            // ecMul scratch; 0x1c0-0x3ff: named registers; 0x400-0x57f: pairing input;
            // from VK: the blob, then the working arrays.
            //
            // Registers: 0 proof offset, 1 instances offset, 2 value table (evaluation slots,
            // challenges, Lagrange values, z, temporaries, constants), 3 challenges, 4 Lagrange values,
            // 5 denominators, 6 prefix products, 7 program stack, 8 z_S per query set,
            // 9 powers of z, 10 transcript buffer, 11 transcript length, 12 z, 13 mu,
            // 14 gamma, 15 z', 16 z^n, 17 number of denominators.
            function hdr(i) -> v {
                v := mload(add(VK, shl(5, i)))
            }
            function fail() {
                mstore(0, 0)
                return(0, 0x20)
            }
            // Inputs are validated before every precompile call, so a failing precompile means
            // too little gas: revert (rather than answer false) so that the caller's
            // transaction fails visibly and eth_estimateGas finds the gas an honest proof needs.
            function precompileFailed() {
                revert(0, 0)
            }
            function reg(i) -> v {
                v := mload(add(0x1c0, shl(5, i)))
            }
            function setReg(i, v) {
                mstore(add(0x1c0, shl(5, i)), v)
            }

            // ---- Transcript (snark-verifier's EvmTranscript) ----
            function absorb(src, n) {
                let tb := reg(10)
                let len := reg(11)
                calldatacopy(add(tb, len), src, n)
                setReg(11, add(len, n))
            }
            function squeeze() -> c {
                let tb := reg(10)
                let len := reg(11)
                if eq(len, 0x20) {
                    mstore8(add(tb, 0x20), 1)
                    len := 0x21
                }
                let h := keccak256(tb, len)
                mstore(tb, h)
                setReg(11, 0x20)
                c := mod(h, R)
            }
            // Points must be canonical and on y² = x³ + 3.
            function validPoints(src, count) -> valid {
                valid := 1
                for { let end := add(src, shl(6, count)) } lt(src, end) { src := add(src, 0x40) } {
                    let x := calldataload(src)
                    let y := calldataload(add(src, 0x20))
                    let rhs := addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q)
                    valid := and(valid, and(and(lt(x, Q), lt(y, Q)), eq(mulmod(y, y, Q), rhs)))
                }
            }
            // Scalars must be canonical.
            function validScalars(src, count) -> valid {
                valid := 1
                for { let end := add(src, shl(5, count)) } lt(src, end) { src := add(src, 0x20) } {
                    valid := and(valid, lt(calldataload(src), R))
                }
            }
            function readTranscript() {
                let tb := reg(10)
                mstore(tb, hdr(4))
                setReg(11, 0x20)
                // The instances are checked to be canonical where they are evaluated.
                absorb(reg(1), shl(5, hdr(5)))
                let p := reg(0)
                let chl := reg(3)
                let phases := add(VK, hdr(16))
                let phasesEnd := add(phases, shl(6, hdr(6)))
                for { } lt(phases, phasesEnd) { phases := add(phases, 0x40) } {
                    let nw := shl(6, mload(phases))
                    absorb(p, nw)
                    p := add(p, nw)
                    for { let end := add(chl, shl(5, mload(add(phases, 0x20)))) } lt(chl, end) { chl := add(chl, 0x20) } {
                        mstore(chl, squeeze())
                    }
                }
                let chunks := shl(6, hdr(8))
                absorb(p, chunks)
                p := add(p, chunks)
                if iszero(validPoints(reg(0), shr(6, sub(p, reg(0))))) { fail() }
                setReg(12, squeeze())
                let ne := shl(5, hdr(7))
                absorb(p, ne)
                if iszero(validScalars(p, hdr(7))) { fail() }
                calldatacopy(add(reg(2), shl(5, hdr(38))), p, ne)
                p := add(p, ne)
                setReg(13, squeeze())
                setReg(14, squeeze())
                absorb(p, 0x40)
                setReg(15, squeeze())
                absorb(add(p, 0x40), 0x40)
                if iszero(validPoints(p, 2)) { fail() }
            }

            // ---- Denominators, inverted together ----
            // Order: the numerator's Lagrange table (z − ω^i), each instance column's fraction's
            // denominator, z^n − 1, each query set's barycentric denominators, then z_S of
            // every set after the first.
            function denominators() {
                let z := reg(12)
                let zn := z
                for { let i := hdr(1) } i { i := sub(i, 1) } { zn := mulmod(zn, zn, R) }
                setReg(16, zn)
                let d := reg(5)
                let lagTab := add(VK, hdr(17))
                for { let end := add(lagTab, shl(5, hdr(10))) } lt(lagTab, end) { lagTab := add(lagTab, 0x20) } {
                    mstore(d, addmod(z, sub(R, mload(lagTab)), R))
                    d := add(d, 0x20)
                }
                // The instance columns take the instances one after the other; each one's
                // fraction's numerator waits in its evaluation slot, its denominator joins the
                // others.
                {
                    let valid := 1
                    let src := reg(1)
                    let lens := add(VK, hdr(39))
                    for { let col := 0 } lt(col, hdr(38)) { col := add(col, 1) } {
                        let end := add(src, shl(5, mload(add(lens, shl(5, col)))))
                        let num, den, ok := instanceFraction(src, end)
                        valid := and(valid, ok)
                        src := end
                        mstore(add(reg(2), shl(5, col)), num)
                        mstore(d, den)
                        d := add(d, 0x20)
                    }
                    // The columns hold exactly the instances.
                    if iszero(and(valid, eq(src, add(reg(1), shl(5, hdr(5)))))) { fail() }
                }
                mstore(d, addmod(zn, sub(R, 1), R))
                setDenominators(add(d, 0x20))
            }
            // Σ_i x_i·ω^i/(z − ω^i) = Σ_i x_i/(z·ω^{−i} − 1) over the column's instances in
            // [src, end) as one fraction num/den, two instances a step
            // (x₁/b₁ + x₂/b₂ = (x₁b₂ + x₂b₁)/(b₁b₂)); valid iff every instance is canonical.
            function instanceFraction(src, end) -> num, den, valid {
                let omegaInv := hdr(36)
                let u := reg(12)
                den := 1
                valid := 1
                if and(shr(5, sub(end, src)), 1) {
                    num := calldataload(src)
                    valid := lt(num, R)
                    den := addmod(u, R_MINUS_1, R)
                    u := mulmod(u, omegaInv, R)
                    src := add(src, 0x20)
                }
                for { } lt(src, end) { src := add(src, 0x40) } {
                    let x1 := calldataload(src)
                    let x2 := calldataload(add(src, 0x20))
                    valid := and(valid, and(lt(x1, R), lt(x2, R)))
                    let b1 := addmod(u, R_MINUS_1, R)
                    u := mulmod(u, omegaInv, R)
                    let b2 := addmod(u, R_MINUS_1, R)
                    u := mulmod(u, omegaInv, R)
                    let bb := mulmod(b1, b2, R)
                    num := addmod(
                        mulmod(num, bb, R),
                        mulmod(den, addmod(mulmod(x1, b2, R), mulmod(x2, b1, R), R), R),
                        R
                    )
                    den := mulmod(den, bb, R)
                }
            }
            function setDenominators(d) {
                let z := reg(12)
                let zpw := reg(9)
                mstore(zpw, 1)
                for { let i := 1 } lt(i, hdr(15)) { i := add(i, 1) } {
                    mstore(add(zpw, shl(5, i)), mulmod(mload(add(zpw, shl(5, sub(i, 1)))), z, R))
                }
                let zp := reg(15)
                let set := add(VK, hdr(20))
                let zs := reg(8)
                for { let end := add(zs, shl(5, hdr(14))) } lt(zs, end) { zs := add(zs, 0x20) } {
                    let t := mload(set)
                    let np := mload(add(set, 0x20))
                    let zt := mload(add(zpw, shl(5, sub(t, 1))))
                    let prod := 1
                    let shift := add(set, 0x40)
                    for { let j := 0 } lt(j, t) { j := add(j, 1) } {
                        let dj := addmod(zp, sub(R, mulmod(z, mload(shift), R)), R)
                        prod := mulmod(prod, dj, R)
                        mstore(d, mulmod(mulmod(mload(add(shift, shl(5, t))), zt, R), dj, R))
                        d := add(d, 0x20)
                        shift := add(shift, 0x20)
                    }
                    mstore(zs, prod)
                    set := add(set, add(add(0x40, shl(6, t)), mul(np, shl(5, add(t, 1)))))
                }
                for { let s := add(reg(8), 0x20) } lt(s, zs) { s := add(s, 0x20) } {
                    mstore(d, mload(s))
                    d := add(d, 0x20)
                }
            }
            // Montgomery's trick: one modexp for all denominators.
            function batchInvert() {
                let den := reg(5)
                let end := add(den, shl(5, reg(17)))
                let pre := reg(6)
                let acc := 1
                for { let at := den } lt(at, end) { at := add(at, 0x20) } {
                    mstore(pre, acc)
                    pre := add(pre, 0x20)
                    acc := mulmod(acc, mload(at), R)
                }
                if iszero(acc) { fail() }
                mstore(0x00, 0x20)
                mstore(0x20, 0x20)
                mstore(0x40, 0x20)
                mstore(0x60, acc)
                mstore(0x80, R_MINUS_2)
                mstore(0xa0, R)
                if iszero(staticcall(gas(), 0x05, 0x00, 0xc0, 0x00, 0x20)) { precompileFailed() }
                let inv := mload(0x00)
                for { let at := end } gt(at, den) { } {
                    at := sub(at, 0x20)
                    pre := sub(pre, 0x20)
                    let v := mload(at)
                    mstore(at, mulmod(inv, mload(pre), R))
                    inv := mulmod(inv, v, R)
                }
            }

            // ---- The value table: Lagrange values, the instance evaluation, constants ----
            function fillTable() {
                let c := mulmod(addmod(reg(16), sub(R, 1), R), hdr(3), R)
                let inv := reg(5)
                let lag := reg(4)
                let lagTab := add(VK, hdr(17))
                for { let end := add(lagTab, shl(5, hdr(10))) } lt(lagTab, end) { lagTab := add(lagTab, 0x20) } {
                    mstore(lag, mulmod(mulmod(c, mload(lagTab), R), mload(inv), R))
                    inv := add(inv, 0x20)
                    lag := add(lag, 0x20)
                }
                // lag now points at z's slot; the temporaries, then the constants follow.
                mstore(lag, reg(12))
                let consts := add(VK, hdr(18))
                let dst := add(lag, shl(5, add(hdr(35), 1)))
                let n := shl(5, hdr(12))
                for { let i := 0 } lt(i, n) { i := add(i, 0x20) } {
                    mstore(add(dst, i), mload(add(consts, i)))
                }
                // Each instance column's evaluation: c·num/den, its numerator already in its slot.
                let slot := reg(2)
                for { let end := add(slot, shl(5, hdr(38))) } lt(slot, end) { slot := add(slot, 0x20) } {
                    mstore(slot, mulmod(mulmod(c, mload(slot), R), mload(inv), R))
                    inv := add(inv, 0x20)
                }
            }

            // ---- The quotient numerator: a stack machine over 3-byte instructions ----
            // The program ends with an End instruction; cases are in order of frequency.
            function numerator() -> v {
                let table := reg(2)
                let sp := reg(7)
                let top := 0
                // Operands are byte offsets into the table.
                for { let ip := add(VK, hdr(19)) } 1 { ip := add(ip, 3) } {
                    let ins := shr(232, mload(ip))
                    switch shr(16, ins)
                    case 3 { top := mulmod(top, mload(add(table, and(ins, 0xffff))), R) }
                    case 0 {
                        mstore(sp, top)
                        sp := add(sp, 0x20)
                        top := mload(add(table, and(ins, 0xffff)))
                    }
                    case 1 { top := addmod(top, mload(add(table, and(ins, 0xffff))), R) }
                    case 2 { top := addmod(top, sub(R, mload(add(table, and(ins, 0xffff)))), R) }
                    case 4 {
                        sp := sub(sp, 0x20)
                        top := addmod(mload(sp), top, R)
                    }
                    case 6 {
                        sp := sub(sp, 0x20)
                        top := mulmod(mload(sp), top, R)
                    }
                    case 5 {
                        sp := sub(sp, 0x20)
                        top := addmod(mload(sp), sub(R, top), R)
                    }
                    case 7 { mstore(add(table, and(ins, 0xffff)), top) }
                    case 8 { break }
                    default { fail() }
                }
                // The first push saved a dummy below the result.
                if iszero(eq(sp, add(reg(7), 0x20))) { fail() }
                v := top
            }

            // ---- SHPLONK: lhs = Σ_s γ^s Σ_p μ^p (c_s·C_p − r_p·G) − z_{S1}·W + z'·W' ----

            // acc += s·(x, y); the accumulator lives at 0x100.
            function addMul(x, y, s) {
                mstore(0x140, x)
                mstore(0x160, y)
                mstore(0x180, s)
                if iszero(staticcall(gas(), 0x07, 0x140, 0x60, 0x140, 0x40)) { precompileFailed() }
                if iszero(staticcall(gas(), 0x06, 0x100, 0x80, 0x100, 0x40)) { precompileFailed() }
            }
            // Adds c·C for the polynomial at `poly` (its commitment code, then its slots) and
            // returns Σ_j w_j·eval_j, its interpolated value at z' up to z_{S1}.
            function openPoly(poly, t, w, c) -> r {
                let table := reg(2)
                for { let j := 0 } lt(j, t) { j := add(j, 1) } {
                    let slot := mload(add(poly, shl(5, add(j, 1))))
                    r := addmod(r, mulmod(mload(add(table, shl(5, slot))), mload(add(w, shl(5, j))), R), R)
                }
                let code := mload(poly)
                let idx := and(code, 0xffff)
                switch shr(16, code)
                case 0 {
                    let at := add(add(VK, hdr(21)), shl(6, idx))
                    addMul(mload(at), mload(add(at, 0x20)), c)
                }
                case 1 {
                    let at := add(reg(0), shl(6, idx))
                    addMul(calldataload(at), calldataload(add(at, 0x20)), c)
                }
                default { addQuotient(c) }
            }
            // The quotient's commitment: Σ_i (z^n)^i·H_i; its chunks follow the witnesses.
            function addQuotient(c) {
                let zn := reg(16)
                let nw := 0
                let phases := add(VK, hdr(16))
                for { let ph := 0 } lt(ph, hdr(6)) { ph := add(ph, 1) } {
                    nw := add(nw, mload(add(phases, shl(6, ph))))
                }
                let at := add(reg(0), shl(6, nw))
                for { let j := 0 } lt(j, hdr(8)) { j := add(j, 1) } {
                    addMul(calldataload(at), calldataload(add(at, 0x20)), c)
                    c := mulmod(c, zn, R)
                    at := add(at, 0x40)
                }
            }
            // Accumulates every set into the MSM at 0x100; returns the scalar of −G over z_{S1}.
            function openSets() -> gScalar {
                let zs1 := mload(reg(8))
                let w := add(reg(5), shl(5, add(hdr(10), add(hdr(38), 1))))
                let zsInv := add(w, shl(5, hdr(34)))
                let set := add(VK, hdr(20))
                let gammaS := 1
                for { let s := 0 } lt(s, hdr(14)) { s := add(s, 1) } {
                    let t := mload(set)
                    let np := mload(add(set, 0x20))
                    let coeff := 1
                    if s {
                        coeff := mulmod(zs1, mload(zsInv), R)
                        zsInv := add(zsInv, 0x20)
                    }
                    let poly := add(set, add(0x40, shl(6, t)))
                    let scale := gammaS
                    for { let q := 0 } lt(q, np) { q := add(q, 1) } {
                        let r := openPoly(poly, t, w, mulmod(scale, coeff, R))
                        gScalar := addmod(gScalar, mulmod(scale, r, R), R)
                        scale := mulmod(scale, reg(13), R)
                        poly := add(poly, shl(5, add(t, 1)))
                    }
                    gammaS := mulmod(gammaS, reg(14), R)
                    w := add(w, shl(5, t))
                    set := poly
                }
            }

            // ---- A KZG accumulator among the instances (aggregation circuits) ----
            // One coordinate from three limbs, little end first: 88, 88 and (so that the sum
            // cannot wrap) 80 bits at most, and below Q.
            function coordinate(src) -> v {
                let l0 := calldataload(src)
                let l1 := calldataload(add(src, 0x20))
                let l2 := calldataload(add(src, 0x40))
                if or(or(shr(88, l0), shr(88, l1)), shr(80, l2)) { fail() }
                v := or(or(l0, shl(88, l1)), shl(176, l2))
                if iszero(lt(v, Q)) { fail() }
            }
            // On y² = x³ + 3, or (0, 0) for the identity.
            function onCurve(x, y) -> ok {
                ok := or(
                    and(iszero(x), iszero(y)),
                    eq(mulmod(y, y, Q), addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q))
                )
            }
            // The proof's pair (L at 0x100, R = (rx, ry)) becomes (L + r·A, R + r·B) for the
            // accumulator (A, B) at `src`, r = keccak(L, R, A, B) mod R: one pairing checks both.
            function foldAccumulator(src, rx, ry) -> fx, fy {
                let ax := coordinate(src)
                let ay := coordinate(add(src, 0x60))
                let bx := coordinate(add(src, 0xc0))
                let b_y := coordinate(add(src, 0x120))
                if iszero(and(onCurve(ax, ay), onCurve(bx, b_y))) { fail() }
                mstore(0x400, mload(0x100))
                mstore(0x420, mload(0x120))
                mstore(0x440, rx)
                mstore(0x460, ry)
                mstore(0x480, ax)
                mstore(0x4a0, ay)
                mstore(0x4c0, bx)
                mstore(0x4e0, b_y)
                let r := mod(keccak256(0x400, 0x100), R)
                addMul(ax, ay, r)
                let lx := mload(0x100)
                let ly := mload(0x120)
                mstore(0x100, rx)
                mstore(0x120, ry)
                addMul(bx, b_y, r)
                fx := mload(0x100)
                fy := mload(0x120)
                mstore(0x100, lx)
                mstore(0x120, ly)
            }

            // ---- Main ----
            {
                let size := extcodesize(vk)
                if lt(size, add(1, shl(5, 40))) { fail() }
                let blobLen := sub(size, 1)
                extcodecopy(vk, VK, 1, blobLen)
                if iszero(eq(hdr(0), MAGIC)) { fail() }
                if iszero(eq(instances.length, hdr(5))) { fail() }
                if iszero(eq(proof.length, hdr(32))) { fail() }
                setReg(0, proof.offset)
                setReg(1, instances.offset)

                // Working memory.
                let p := add(VK, and(add(blobLen, 0x1f), not(0x1f)))
                setReg(2, p)
                // At least one instance column (the slots before the proof's evaluations).
                if iszero(hdr(38)) { fail() }
                p := add(p, shl(5, add(hdr(7), add(hdr(38), 1))))
                setReg(3, p)
                p := add(p, shl(5, hdr(33)))
                setReg(4, p)
                p := add(p, shl(5, add(add(hdr(10), 1), add(hdr(35), hdr(12)))))
                let nden := add(add(hdr(10), add(hdr(38), 1)), add(hdr(34), sub(hdr(14), 1)))
                setReg(17, nden)
                setReg(5, p)
                p := add(p, shl(5, nden))
                setReg(6, p)
                p := add(p, shl(5, nden))
                setReg(7, p)
                p := add(p, shl(5, add(hdr(13), 1)))
                setReg(8, p)
                p := add(p, shl(5, hdr(14)))
                setReg(9, p)
                p := add(p, shl(5, hdr(15)))
                setReg(10, p)
            }
            readTranscript()
            denominators()
            batchInvert()
            fillTable()
            // The quotient's evaluation: numerator / (z^n − 1); its slot follows the instance
            // columns' and the proof's, z^n − 1 is denominator nlag + C.
            mstore(
                add(reg(2), shl(5, add(hdr(7), hdr(38)))),
                mulmod(numerator(), mload(add(reg(5), shl(5, add(hdr(10), hdr(38))))), R)
            )
            {
                mstore(0x100, 0)
                mstore(0x120, 0)
                let zs1 := mload(reg(8))
                let gScalar := openSets()
                addMul(hdr(22), hdr(23), sub(R, mulmod(gScalar, zs1, R)))
                let wAt := add(proof.offset, sub(proof.length, 0x80))
                addMul(calldataload(wAt), calldataload(add(wAt, 0x20)), sub(R, zs1))
                let rx := calldataload(add(wAt, 0x40))
                let ry := calldataload(add(wAt, 0x60))
                addMul(rx, ry, reg(15))
                let accAt := hdr(37)
                if accAt {
                    // The blob's offset must leave the 12 limbs inside the instances.
                    if or(gt(accAt, hdr(5)), gt(add(accAt, 11), hdr(5))) { fail() }
                    rx, ry := foldAccumulator(add(instances.offset, shl(5, sub(accAt, 1))), rx, ry)
                }

                // e(lhs, [1]₂) · e(rhs, −[s]₂) == 1, rhs = W' (folded with an accumulator)
                mstore(0x400, mload(0x100))
                mstore(0x420, mload(0x120))
                mstore(0x440, hdr(24))
                mstore(0x460, hdr(25))
                mstore(0x480, hdr(26))
                mstore(0x4a0, hdr(27))
                mstore(0x4c0, rx)
                mstore(0x4e0, ry)
                mstore(0x500, hdr(28))
                mstore(0x520, hdr(29))
                mstore(0x540, hdr(30))
                mstore(0x560, hdr(31))
                if iszero(staticcall(gas(), 0x08, 0x400, 0x180, 0x00, 0x20)) { precompileFailed() }
                mstore(0, eq(mload(0x00), 1))
                return(0, 0x20)
            }
        }
    }
}
