//! `bench.md` (a Markdown table) and `bench.svg` (prove time and peak memory per model, both
//! systems, log scales; plain SVG written by hand).

use std::fmt::Write;

use super::{BenchReport, SystemFigures, PHASES};

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "–".to_string(), |v| v.to_string())
}

fn secs(f: &SystemFigures, phase: &str) -> String {
    f.phases
        .get(phase)
        .map_or_else(|| "–".into(), |p| format!("{:.2}", p.wall_median_s))
}

/// Peak memory over the phases of the main row, MB: the proofs on further devices
/// (`prove-cuda` beside a CPU `prove`) have their own table and do not count here.
pub fn peak_mb(f: &SystemFigures) -> Option<f64> {
    f.phases
        .iter()
        .filter(|(name, _)| !name.starts_with("prove-"))
        .map(|(_, p)| p.peak_rss_mb)
        .reduce(f64::max)
}

fn row(out: &mut String, model: &str, system: &str, f: &SystemFigures) {
    let _ = writeln!(
        out,
        "| {model} | {system} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        opt(f.k),
        secs(f, "compile"),
        secs(f, "setup"),
        secs(f, "prove"),
        opt(f
            .roofline
            .zip(f.prove_over_floor)
            .map(|(r, x)| format!("{:.2} ({x:.1}×)", r.floor_s))),
        secs(f, "verify"),
        opt(peak_mb(f).map(|v| format!("{v:.0}"))),
        opt(f.pk_bytes.map(|b| format!("{:.1}", b as f64 / 1e6))),
        opt(f.proof_bytes),
        opt(f.verify_gas),
        opt(f.max_abs_err.map(|e| format!("{e:.5}"))),
        opt(f.argmax_agrees),
    );
    if let Some(e) = &f.error {
        let e: String = e.chars().take(300).collect();
        let _ = writeln!(
            out,
            "| {model} | {system} error | {} ||||||||||||",
            e.replace('|', "/").replace('\n', " ")
        );
    }
}

/// The prove phase per device, when `--device` named more than one.
fn device_rows(out: &mut String, r: &BenchReport) {
    let rows: Vec<_> = r
        .models
        .iter()
        .flat_map(|m| {
            m.zkonnx
                .phases
                .iter()
                .filter(|(p, _)| p.starts_with("prove-"))
                .map(move |(p, f)| (m.model.as_str(), &p["prove-".len()..], f))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n| model | device | prove s | peak MB |\n| --- | --- | --- | --- |"
    );
    for m in &r.models {
        if let Some(f) = m.zkonnx.phases.get("prove") {
            let _ = writeln!(
                out,
                "| {} | (prove column) | {:.2} | {:.0} |",
                m.model, f.wall_median_s, f.peak_rss_mb
            );
        }
    }
    for (model, device, f) in rows {
        let _ = writeln!(
            out,
            "| {model} | {device} | {:.2} | {:.0} |",
            f.wall_median_s, f.peak_rss_mb
        );
    }
}

/// The Markdown table: one row per model and system, and a ratio row zkonnx / EZKL.
pub fn markdown(r: &BenchReport) -> String {
    let m = &r.machine;
    let mut out = format!(
        "# zkonnx bench\n\n{} ({} cores, {} GB), zkonnx {}{}{}; median of {} run(s) per phase; \
         peak = largest resident memory of any phase's process; zkonnx's layout planned for \
         `{}` (`--objective`), calibrated for `{}` (`--target`). Verify gas: one call of each system's Solidity verifier in revm \
         (transaction and calldata included; EZKL's compiled with the same solc).\n\n",
        m.cpu,
        m.cores,
        m.ram_gb,
        m.zkonnx_version,
        m.git_commit
            .as_deref()
            .map_or_else(String::new, |c| format!(" ({})", &c[..c.len().min(10)])),
        m.ezkl_version
            .as_deref()
            .map_or_else(String::new, |v| format!(", EZKL {v}")),
        r.repeat,
        r.objective,
        r.target
    );
    out.push_str(
        "| model | system | k | compile s | setup s | prove s | floor s (prove/floor) | verify s | peak MB | pk MB | proof B | verify gas | max abs err | argmax |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for row_ in &r.models {
        row(&mut out, &row_.model, "zkonnx", &row_.zkonnx);
        if let Some(e) = &row_.ezkl {
            row(&mut out, &row_.model, "EZKL", e);
            let ratio = |k: &str| {
                row_.ratios
                    .get(k)
                    .map_or_else(|| "–".into(), |v| format!("{v:.2}×"))
            };
            let peak = match (peak_mb(&row_.zkonnx), e.phases.is_empty()) {
                (Some(z), false) => peak_mb(e)
                    .filter(|v| *v > 0.0)
                    .map_or_else(|| "–".into(), |v| format!("{:.2}×", z / v)),
                _ => "–".into(),
            };
            let _ = writeln!(
                out,
                "| {} | zkonnx / EZKL | | {} | {} | {} | | {} | {} | {} | {} | {} | {} | |",
                row_.model,
                ratio("compile_s"),
                ratio("setup_s"),
                ratio("prove_s"),
                ratio("verify_s"),
                peak,
                ratio("pk_bytes"),
                ratio("proof_bytes"),
                ratio("verify_gas"),
                ratio("max_abs_err"),
            );
        }
    }
    out.push_str(&format!(
        "\nPhases: {}. SRS generation is not counted. EZKL's prove includes its witness \
         generation (zkonnx's prove computes the witness too); its compile includes \
         calibration. Floor: this machine's MSM and FFT times at the circuit's sizes times \
         the MSMs and FFTs the circuit needs (`benches/README.md`).\n",
        PHASES.join(", ")
    ));
    rederive_rows(&mut out, r);
    device_rows(&mut out, r);
    split_rows(&mut out, r);
    out
}

/// How much of zkonnx's prove time above the floor is halo2-axiom re-extending the fixed
/// and permutation polynomials on every proof (`roofline::Roofline::rederive_s`).
fn rederive_rows(out: &mut String, r: &BenchReport) {
    let rows: Vec<_> = r
        .models
        .iter()
        .filter_map(|m| {
            let roof = m.zkonnx.roofline?;
            let prove = m.zkonnx.phases.get("prove")?.wall_median_s;
            (roof.rederive_s > 0.0).then_some((m.model.as_str(), roof, prove))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "
Beside the floor: halo2-axiom keeps fixed, selector and permutation polynomials as \
         coefficients in its proving key and brings each to every part of the extended domain \
         on every proof (a prover holding them extended would not, at the cost of key memory).\n\n\
         | model | polynomials | re-extension s | floor + re-extension s | prove / (floor + re-extension) |\n\
         |---|---|---|---|---|"
    );
    for (model, roof, prove) in rows {
        let with = roof.floor_s + roof.rederive_s;
        let _ = writeln!(
            out,
            "| {model} | {} | {:.2} | {with:.2} | {:.2}× |",
            roof.counts.rederived,
            roof.rederive_s,
            prove / with
        );
    }
}

/// The split rows (`--split`): per model and segment count, every phase's seconds and peak,
/// the Ray run and the aggregation.
fn split_rows(out: &mut String, r: &BenchReport) {
    if r.models.iter().all(|m| m.split.is_empty()) {
        return;
    }
    let s = |p: Option<super::measure::PhaseFigures>| {
        p.map_or_else(|| "–".into(), |p| format!("{:.1}", p.wall_median_s))
    };
    let mb = |p: Option<super::measure::PhaseFigures>| {
        p.map_or_else(|| "–".into(), |p| format!("{:.0}", p.peak_rss_mb))
    };
    let list = |v: &[f64], digits: usize| {
        v.iter()
            .map(|x| format!("{x:.digits$}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "\n## Split proving\n\n`zkonnx split --segments N`, then each phase in its own process: \
         `setup` (every segment), `prove-split --jobs 1` (one segment after the other: its peak \
         is the largest segment's) and `--jobs J` (J side by side with a core each, as many \
         as the segments' estimated memory fits), `verify-split`; Ray: the same proofs as one task per \
         segment on a local Ray (`python -m zkonnx.ray`), the worker's own peak.\n\n\
         | model | segments | k per segment | est. MB per segment | setup s | prove s in turn | \
         peak MB in turn | J | prove s side by side | peak MB side by side | verify-split s | \
         Ray CPUs | Ray wall s | Ray task s | Ray worker peak MB |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for m in &r.models {
        for f in &m.split {
            let ray = f.ray.as_ref();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                m.model,
                f.segments,
                f.k.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                list(&f.est_memory_mb, 0),
                s(f.setup),
                s(f.prove_in_turn),
                mb(f.prove_in_turn),
                f.jobs,
                s(f.prove_side_by_side),
                mb(f.prove_side_by_side),
                f.verify
                    .map_or_else(|| "–".into(), |p| format!("{:.2}", p.wall_median_s)),
                opt(ray.map(|r| r.cpus)),
                opt(ray.map(|r| format!("{:.1}", r.wall_s))),
                ray.map_or_else(|| "–".into(), |r| list(&r.task_s, 1)),
                opt(ray.map(|r| format!("{:.0}", r.worker_peak_mb))),
            );
            if let Some(e) = &f.error {
                let e: String = e.chars().take(300).collect();
                // 15 cells, as the table's header.
                let _ = writeln!(
                    out,
                    "| {} | {} error | {} |{}",
                    m.model,
                    f.segments,
                    e.replace('|', "/").replace('\n', " "),
                    " |".repeat(12)
                );
            }
        }
    }
    let agg: Vec<_> = r
        .models
        .iter()
        .flat_map(|m| m.split.iter().map(move |f| (m, f)))
        .filter_map(|(m, f)| f.aggregate.as_ref().map(|a| (m, f, a)))
        .collect();
    if agg.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nAggregation (`prove-split --for-aggregation`, then `aggregate` in its own process; \
         gas in revm, transaction and calldata included):\n\n\
         | model | segments | outer k | outer setup s | outer prove s | aggregate s | peak MB | \
         verify gas (compact) | verify gas (snark-verifier) | snark-verifier bytes | error |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
    );
    for (m, f, a) in agg {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.model,
            f.segments,
            a.k,
            opt(a.setup_s.map(|v| format!("{v:.1}"))),
            opt(a.prove_s.map(|v| format!("{v:.1}"))),
            s(a.phase),
            mb(a.phase),
            opt(a.verify_gas),
            opt(a.snark_verifier_gas),
            opt(a.snark_verifier_bytes),
            a.error.as_deref().unwrap_or("").replace('|', "/"),
        );
    }
}

const ZK_COLOR: &str = "#1f77b4";
const EZKL_COLOR: &str = "#ff7f0e";

/// One log-scale bar panel at `x0`: for each model, zkonnx's and EZKL's value.
fn panel(
    svg: &mut String,
    x0: f64,
    title: &str,
    unit: &str,
    bars: &[(String, Option<f64>, Option<f64>)],
) {
    let (w, h, top, bottom) = (400.0, 300.0, 40.0, 340.0);
    let vals: Vec<f64> = bars
        .iter()
        .flat_map(|b| [b.1, b.2])
        .flatten()
        .filter(|v| *v > 0.0)
        .collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(0.0, f64::max);
    let (lo, hi) = if vals.is_empty() {
        (0.0, 1.0)
    } else {
        (
            lo.log10().floor(),
            hi.log10().ceil().max(lo.log10().floor() + 1.0),
        )
    };
    let y = |v: f64| bottom - (v.log10() - lo) / (hi - lo) * h;
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" font-size="14" text-anchor="middle">{title} ({unit}, log scale)</text>"#,
        x0 + w / 2.0
    );
    let _ = writeln!(
        svg,
        r#"<line x1="{x0}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="black"/><line x1="{x0}" y1="{top}" x2="{x0}" y2="{bottom}" stroke="black"/>"#,
        x0 + w
    );
    let mut e = lo as i32;
    while f64::from(e) <= hi {
        let v = 10f64.powi(e);
        let yy = y(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">{v}</text>"##,
            x0 + w,
            x0 - 4.0,
            yy + 3.0
        );
        e += 1;
    }
    let slot = w / bars.len().max(1) as f64;
    for (i, (name, z, ez)) in bars.iter().enumerate() {
        let cx = x0 + slot * (i as f64 + 0.5);
        for (j, (v, color)) in [(z, ZK_COLOR), (ez, EZKL_COLOR)].into_iter().enumerate() {
            let bx = cx - 22.0 + j as f64 * 22.0;
            match v {
                Some(v) if *v > 0.0 => {
                    let yy = y(*v).min(bottom);
                    let _ = writeln!(
                        svg,
                        r#"<rect x="{bx:.1}" y="{yy:.1}" width="20" height="{:.1}" fill="{color}"><title>{name}: {v:.3} {unit}</title></rect>"#,
                        bottom - yy
                    );
                }
                _ => {
                    let _ = writeln!(
                        svg,
                        r#"<text x="{:.1}" y="{}" font-size="9" text-anchor="middle">n/a</text>"#,
                        bx + 10.0,
                        bottom - 4.0
                    );
                }
            }
        }
        let _ = writeln!(
            svg,
            r#"<text x="{cx:.1}" y="{}" font-size="11" text-anchor="middle">{name}</text>"#,
            bottom + 16.0
        );
    }
}

/// The plot: prove time and peak memory per model, zkonnx and EZKL.
pub fn svg(r: &BenchReport) -> String {
    let prove = |f: &SystemFigures| f.phases.get("prove").map(|p| p.wall_median_s);
    let time: Vec<_> = r
        .models
        .iter()
        .map(|m| {
            (
                m.model.clone(),
                prove(&m.zkonnx),
                m.ezkl.as_ref().and_then(prove),
            )
        })
        .collect();
    let mem: Vec<_> = r
        .models
        .iter()
        .map(|m| {
            (
                m.model.clone(),
                peak_mb(&m.zkonnx),
                m.ezkl.as_ref().and_then(peak_mb),
            )
        })
        .collect();
    let mut svg = String::from(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="980" height="410" font-family="sans-serif">
<rect width="980" height="410" fill="white"/>
"#,
    );
    panel(&mut svg, 60.0, "prove time", "s", &time);
    panel(&mut svg, 560.0, "peak memory", "MB", &mem);
    let _ = writeln!(
        svg,
        r#"<rect x="60" y="385" width="12" height="12" fill="{ZK_COLOR}"/><text x="78" y="395" font-size="12">zkonnx</text><rect x="150" y="385" width="12" height="12" fill="{EZKL_COLOR}"/><text x="168" y="395" font-size="12">EZKL</text>"#
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::super::measure::PhaseFigures;
    use super::*;

    #[test]
    fn the_main_rows_peak_leaves_out_further_devices() {
        let mut f = SystemFigures::default();
        let phase = |mb| PhaseFigures {
            wall_min_s: 1.0,
            wall_median_s: 1.0,
            peak_rss_mb: mb,
            runs: 1,
        };
        f.phases.insert("setup".into(), phase(200.0));
        f.phases.insert("prove".into(), phase(150.0));
        f.phases.insert("prove-cuda".into(), phase(700.0));
        assert_eq!(peak_mb(&f), Some(200.0));
        f.phases.insert("prove".into(), phase(900.0));
        assert_eq!(peak_mb(&f), Some(900.0));
    }
}
