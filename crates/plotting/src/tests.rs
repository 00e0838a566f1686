//! Rendering tests for every figure kind.

use super::*;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

fn s(v: &str) -> String {
    v.to_string()
}

/// Structural checks every figure must pass; returns the decoded RGB image.
fn check(fig: &Figure, texts: &[&str]) -> image::RgbImage {
    assert!(fig.png.starts_with(&PNG_SIGNATURE), "PNG signature");
    assert!(fig.svg.starts_with("<svg"), "SVG document");
    assert!(
        fig.svg.trim_end().ends_with("</svg>"),
        "complete SVG document"
    );
    assert!(fig.svg.contains("<text"), "SVG has text elements");
    assert!(
        fig.svg.contains(&format!("font-family=\"{FONT_FAMILY}\"")),
        "SVG text uses the registered family"
    );
    for t in texts {
        assert!(fig.svg.contains(t), "SVG should contain {t:?}");
    }
    let img = image::load_from_memory_with_format(&fig.png, image::ImageFormat::Png)
        .expect("PNG decodes")
        .to_rgb8();
    assert_eq!((img.width(), img.height()), (WIDTH, HEIGHT));
    // The title is rendered with the embedded font: dark pixels in the top band.
    let dark = (0..36)
        .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&c| c < 100))
        .count();
    assert!(
        dark > 30,
        "title glyphs rasterised in the PNG ({dark} dark pixels)"
    );
    img
}

fn deterministic(f: impl Fn() -> Result<Figure>) -> Figure {
    let a = f().expect("render");
    let b = f().expect("render");
    assert!(a.svg == b.svg, "SVG output is deterministic");
    assert!(a.png == b.png, "PNG output is deterministic");
    a
}

fn is_no_data(fig: &Figure) -> bool {
    fig.svg.contains(">no data<") || fig.svg.contains("no data")
}

fn mags(seed: u64, n: usize, mean: f64) -> Vec<f64> {
    // Small deterministic LCG + Irwin–Hall approximation of a normal sample.
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            let mut acc = 0.0;
            for _ in 0..4 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                acc += (x >> 11) as f64 / (1u64 << 53) as f64;
            }
            mean + (acc - 2.0) * 1.7
        })
        .collect()
}

#[test]
fn font_registers_once() {
    ensure_font().unwrap();
    ensure_font().unwrap();
}

#[test]
fn palette_is_distinct_and_viridis_monotone() {
    let mut c: Vec<_> = Palette::OKABE_ITO.iter().map(|c| (c.0, c.1, c.2)).collect();
    c.sort();
    c.dedup();
    assert_eq!(c.len(), 8);
    assert_eq!(Palette::color(9), Palette::color(1));
    let l: Vec<f64> = (0..=10)
        .map(|i| Palette::luminance(Palette::viridis(i as f64 / 10.0)))
        .collect();
    assert!(l.windows(2).all(|w| w[0] < w[1]), "{l:?}");
    assert_eq!(Palette::viridis(f64::NAN), Palette::viridis(0.0));
}

#[test]
fn histograms_render() {
    let series = vec![
        Series1D::new("MACHO", mags(1, 2000, 18.0)),
        Series1D::new("ATLAS", mags(2, 1500, 16.0)),
        Series1D::new("ALCOCK", {
            let mut v = mags(3, 500, 19.0);
            v.push(f64::NAN);
            v.push(f64::INFINITY);
            v
        }),
    ];
    let fig = deterministic(|| {
        histograms(
            "Magnitude distribution",
            "magnitude [mag]",
            &series,
            40,
            false,
            true,
        )
    });
    check(
        &fig,
        &[
            "Magnitude distribution",
            "magnitude [mag]",
            "density",
            "MACHO (n=2000)",
            "ALCOCK (n=500)",
        ],
    );
    let fig =
        deterministic(|| histograms("Counts (log)", "magnitude [mag]", &series, 30, true, false));
    check(&fig, &["Counts (log)", "count"]);
    // A single constant series still gets a valid axis.
    let one = [Series1D::new("const", vec![3.0; 10])];
    let fig = histograms("Constant", "x", &one, 0, false, false).unwrap();
    check(&fig, &["Constant"]);
    assert!(!is_no_data(&fig));
}

#[test]
fn boxplots_render_log_axis_and_skip_non_positive() {
    let groups = vec![
        Series1D::new(
            "MACHO",
            (1..400).map(|i| 0.01 * (i as f64).powf(1.7)).collect(),
        ),
        Series1D::new("ATLAS", {
            let mut v: Vec<f64> = (1..300).map(|i| 0.002 * i as f64).collect();
            v.extend([0.0, -1.0, f64::NAN, 500.0]);
            v
        }),
        Series1D::new("empty", vec![]),
    ];
    let fig = deterministic(|| boxplots("Cadence", "Δt [days]", &groups, true));
    check(&fig, &["Cadence", "Δt [days]", "MACHO", "ATLAS", "empty"]);
    let fig = boxplots("Cadence linear", "Δt [days]", &groups, false).unwrap();
    check(&fig, &["Cadence linear"]);
    // Only non-positive values on a log axis: nothing to draw, no panic.
    let bad = [Series1D::new("bad", vec![0.0, -3.0, f64::NAN])];
    let fig = boxplots("Nothing positive", "Δt [days]", &bad, true).unwrap();
    check(&fig, &["Nothing positive"]);
    assert!(is_no_data(&fig));
}

#[test]
fn bar_table_renders_with_value_labels() {
    let classes: Vec<String> = ["Cep_0", "Cep_1", "EC", "LPV", "RRab", "RRc"]
        .iter()
        .map(|c| s(c))
        .collect();
    let series = vec![
        (
            s("train"),
            vec![1182.0, 683.0, 6824.0, 8551.0, 7397.0, 1762.0],
        ),
        (s("test"), vec![100.0, 100.0, 100.0, 100.0, f64::NAN, 100.0]),
    ];
    let opts = BarOptions {
        value_labels: true,
        log_y: false,
    };
    let fig =
        deterministic(|| bar_table("MACHO classes", &classes, &series, "light curves", &opts));
    check(
        &fig,
        &[
            "MACHO classes",
            "light curves",
            "Cep_0",
            "RRc",
            "train",
            "test",
            "8551",
        ],
    );
    let opts = BarOptions {
        value_labels: true,
        log_y: true,
    };
    let fig = bar_table(
        "Log counts",
        &classes,
        &[(s("n"), vec![0.0, 5.0, -2.0, 1e4, 3.0, 1.0])],
        "count",
        &opts,
    )
    .unwrap();
    check(&fig, &["Log counts"]);
    // Many long labels are rotated and truncated rather than overlapping.
    let long: Vec<String> = (0..20)
        .map(|i| format!("a rather long class name number {i}"))
        .collect();
    let vals: Vec<f64> = (0..20).map(|i| i as f64 * 3.5).collect();
    let fig = bar_table(
        "Long labels",
        &long,
        &[(s("only"), vals)],
        "count",
        &BarOptions::default(),
    )
    .unwrap();
    check(&fig, &["Long labels", "rotate(270"]);
}

#[test]
fn line_chart_renders_bands_hlines_and_logs() {
    let train = LineSeries::new(
        "train",
        (1..=50)
            .map(|e| (e as f64, 0.3 / (e as f64).sqrt()))
            .collect(),
    );
    let val = LineSeries::new(
        "validation",
        (1..=50)
            .map(|e| (e as f64, 0.32 / (e as f64).sqrt() + 0.01))
            .collect(),
    )
    .dashed();
    let hl = vec![(s("test RMSE"), 0.06)];
    let fig = deterministic(|| {
        line_chart(
            "Pretraining",
            "epoch",
            "RMSE [mag]",
            &[train.clone(), val.clone()],
            &hl,
            false,
            false,
        )
    });
    check(
        &fig,
        &[
            "Pretraining",
            "epoch",
            "RMSE [mag]",
            "train",
            "validation",
            "test RMSE",
        ],
    );

    let spc = [20.0f64, 100.0, 500.0];
    let f1 = LineSeries::new(
        "Astromer 2",
        spc.iter().map(|&x| (x, 0.5 + 0.1 * x.log10())).collect(),
    )
    .with_band(
        spc.iter()
            .map(|&x| (x, 0.45 + 0.1 * x.log10(), 0.55 + 0.1 * x.log10()))
            .collect(),
    );
    let mut with_bad = LineSeries::new(
        "with gaps",
        vec![(20.0, 0.6), (0.0, 0.7), (100.0, f64::NAN), (500.0, 0.8)],
    );
    with_bad.band = Some(vec![(-1.0, 0.1, 0.2)]);
    let fig = deterministic(|| {
        line_chart(
            "F1 vs SPC",
            "samples per class",
            "F1",
            &[f1.clone(), with_bad.clone()],
            &[],
            true,
            false,
        )
    });
    check(
        &fig,
        &[
            "F1 vs SPC",
            "samples per class",
            "F1",
            "Astromer 2",
            "with gaps",
        ],
    );
    let fig = line_chart(
        "Log-log",
        "x",
        "y",
        &[with_bad],
        &[(s("zero"), 0.0)],
        true,
        true,
    )
    .unwrap();
    check(&fig, &["Log-log"]);
}

#[test]
fn grouped_bars_with_errors_and_secondary_axis() {
    let labels: Vec<String> = ["A", "B", "C", "D"].iter().map(|c| s(c)).collect();
    let series = vec![
        (
            s("MACHO"),
            vec![
                (0.10, 0.09, 0.12),
                (0.12, 0.11, 0.13),
                (0.15, 0.14, 0.17),
                (0.11, f64::NAN, 0.12),
            ],
        ),
        (
            s("ATLAS"),
            vec![
                (0.20, 0.18, 0.22),
                (f64::NAN, 0.0, 0.0),
                (0.25, 0.2, 0.3),
                (0.21, 0.2, 0.22),
            ],
        ),
    ];
    let sec = Some((s("training time [h]"), vec![1.5, 3.0, f64::NAN, 12.0]));
    let fig = deterministic(|| {
        grouped_bars_with_errors(
            "Fine-tuning RMSE",
            &labels,
            &series,
            "RMSE [mag]",
            sec.clone(),
        )
    });
    check(
        &fig,
        &[
            "Fine-tuning RMSE",
            "RMSE [mag]",
            "training time [h]",
            "MACHO",
            "ATLAS",
        ],
    );
    let fig =
        grouped_bars_with_errors("No secondary", &labels, &series[..1], "RMSE", None).unwrap();
    check(&fig, &["No secondary"]);
}

#[test]
fn heatmap_renders_confusion_matrix() {
    let classes: Vec<String> = ["CEP", "EB", "LPV", "RRL"].iter().map(|c| s(c)).collect();
    let m = vec![
        vec![0.9, 0.05, 0.0, 0.05],
        vec![0.1, 0.8, 0.05, 0.05],
        vec![0.0, 0.0, 1.0, 0.0],
        vec![0.2, 0.1, f64::NAN, 0.7],
    ];
    let fig = deterministic(|| {
        heatmap(
            "Confusion matrix",
            &classes,
            &classes,
            &m,
            None,
            "predicted",
            "true",
        )
    });
    check(
        &fig,
        &[
            "Confusion matrix",
            "predicted",
            "true",
            "CEP",
            "RRL",
            "0.900",
        ],
    );
    let ann: Vec<Vec<String>> = m
        .iter()
        .map(|r| r.iter().map(|v| format!("{:.0}%", v * 100.0)).collect())
        .collect();
    let fig = heatmap(
        "Annotated",
        &classes,
        &classes,
        &m,
        Some(&ann),
        "predicted",
        "true",
    )
    .unwrap();
    check(&fig, &["Annotated", "90%"]);
    // Ragged rows and missing labels are tolerated.
    let ragged = vec![vec![1.0, 2.0, 3.0], vec![4.0]];
    let fig = heatmap("Ragged", &classes[..1], &[], &ragged, None, "", "").unwrap();
    check(&fig, &["Ragged"]);
}

#[test]
fn scatter_renders_groups() {
    let groups: Vec<(String, Vec<(f64, f64)>)> = (0..10)
        .map(|g| {
            let xs = mags(g, 60, g as f64);
            let ys = mags(g + 100, 60, -(g as f64));
            (format!("class {g}"), xs.into_iter().zip(ys).collect())
        })
        .collect();
    let fig = deterministic(|| scatter("t-SNE", "t-SNE 1", "t-SNE 2", &groups));
    check(
        &fig,
        &[
            "t-SNE",
            "t-SNE 1",
            "t-SNE 2",
            "class 0 (n=60)",
            "class 9 (n=60)",
        ],
    );
    let one = vec![(s("folded"), vec![(0.1, 15.0), (f64::NAN, 1.0), (0.6, 15.5)])];
    let fig = scatter("Folded light curve", "phase", "magnitude [mag]", &one).unwrap();
    check(&fig, &["Folded light curve", "phase", "magnitude [mag]"]);
}

#[test]
fn empty_and_nan_inputs_give_no_data_figures() {
    let nan = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    let figs = vec![
        histograms("H empty", "x", &[], 10, false, false).unwrap(),
        histograms(
            "H nan",
            "x",
            &[Series1D::new("a", nan.clone())],
            10,
            true,
            true,
        )
        .unwrap(),
        boxplots("B empty", "y", &[], true).unwrap(),
        boxplots("B nan", "y", &[Series1D::new("a", nan.clone())], false).unwrap(),
        bar_table("T empty", &[], &[], "y", &BarOptions::default()).unwrap(),
        bar_table(
            "T nan",
            &[s("a")],
            &[(s("s"), nan.clone())],
            "y",
            &BarOptions::default(),
        )
        .unwrap(),
        line_chart("L empty", "x", "y", &[], &[(s("h"), 1.0)], false, false).unwrap(),
        line_chart(
            "L nan",
            "x",
            "y",
            &[LineSeries::new("a", vec![(f64::NAN, 1.0)])],
            &[],
            false,
            false,
        )
        .unwrap(),
        line_chart(
            "L log",
            "x",
            "y",
            &[LineSeries::new("a", vec![(-1.0, 1.0), (0.0, 2.0)])],
            &[],
            true,
            false,
        )
        .unwrap(),
        grouped_bars_with_errors("G empty", &[], &[], "y", None).unwrap(),
        grouped_bars_with_errors(
            "G nan",
            &[s("a")],
            &[(s("s"), vec![(f64::NAN, 0.0, 1.0)])],
            "y",
            Some((s("t"), vec![1.0])),
        )
        .unwrap(),
        heatmap("M empty", &[], &[], &[], None, "x", "y").unwrap(),
        heatmap(
            "M nan",
            &[s("a")],
            &[s("b")],
            &[vec![f64::NAN]],
            None,
            "x",
            "y",
        )
        .unwrap(),
        heatmap(
            "M empty rows",
            &[s("a")],
            &[s("b")],
            &[vec![], vec![]],
            None,
            "x",
            "y",
        )
        .unwrap(),
        scatter("S empty", "x", "y", &[]).unwrap(),
        scatter(
            "S nan",
            "x",
            "y",
            &[(s("a"), vec![(f64::NAN, 0.0), (1.0, f64::INFINITY)])],
        )
        .unwrap(),
    ];
    for f in &figs {
        let title_ok = f.svg.contains(" empty") || f.svg.contains(" nan") || f.svg.contains(" log");
        assert!(title_ok);
        assert!(is_no_data(f), "expected a no-data figure");
        check(f, &[]);
    }
    // Same empty input twice: still deterministic.
    deterministic(|| scatter("S empty", "x", "y", &[]));
}

#[test]
fn svg_escapes_markup_in_text() {
    let fig = histograms(
        "a < b & c",
        "x [mag]",
        &[Series1D::new("<s>", vec![1.0, 2.0])],
        5,
        false,
        false,
    )
    .unwrap();
    check(&fig, &["a &lt; b &amp; c"]);
}

#[test]
fn extreme_values_do_not_panic() {
    let v = vec![1e308, -1e308, 5e-324, 0.0, f64::MAX, f64::MIN_POSITIVE];
    histograms(
        "Extreme",
        "x",
        &[Series1D::new("a", v.clone())],
        10,
        true,
        true,
    )
    .unwrap();
    boxplots("Extreme", "y", &[Series1D::new("a", v.clone())], true).unwrap();
    boxplots("Extreme", "y", &[Series1D::new("a", v.clone())], false).unwrap();
    let pts: Vec<(f64, f64)> = v.iter().map(|&x| (x, x)).collect();
    scatter("Extreme", "x", "y", &[(s("a"), pts.clone())]).unwrap();
    line_chart(
        "Extreme",
        "x",
        "y",
        &[LineSeries::new("a", pts)],
        &[],
        true,
        true,
    )
    .unwrap();
    bar_table(
        "Extreme",
        &[s("a")],
        &[(s("s"), v.clone())],
        "y",
        &BarOptions {
            value_labels: true,
            log_y: false,
        },
    )
    .unwrap();
    heatmap("Extreme", &[], &[], &[v], None, "", "").unwrap();
    // Very long names and many legend entries.
    let many: Vec<(String, Vec<(f64, f64)>)> = (0..40)
        .map(|i| (format!("{i} {}", "x".repeat(300)), vec![(i as f64, 1.0)]))
        .collect();
    scatter("Crowded legend", "x", "y", &many).unwrap();
}
