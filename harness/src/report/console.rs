//! What `conformance run` prints while it runs: a line per finished scenario with
//! what explains it, colour on a terminal, and a progress line while a scenario runs
//! long.
//!
//! The decisions are functions of their inputs (is it a terminal, `NO_COLOR`, the
//! flags), so tests make them without a terminal.

use std::ffi::OsStr;
use std::time::Duration;

use crate::check::verdict::Verdict;
use crate::run::result::{report_label, ScenarioResult};

/// When to colour the output (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColourChoice {
    /// On a terminal, unless `NO_COLOR` is set to a non-empty value.
    #[default]
    Auto,
    /// Always, whatever `NO_COLOR` says.
    Always,
    /// Never.
    Never,
}

/// Whether to colour: `Always` and `Never` decide; `Auto` colours a terminal unless
/// `NO_COLOR` is set and not empty (<https://no-color.org>).
pub fn colour_enabled(choice: ColourChoice, is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    match choice {
        ColourChoice::Always => true,
        ColourChoice::Never => false,
        ColourChoice::Auto => is_terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// Whether to show a progress line: only on a terminal that can move the cursor
/// back (`TERM` other than `dumb`).
pub fn progress_enabled(is_terminal: bool, term: Option<&OsStr>) -> bool {
    is_terminal && term.is_none_or(|t| t != "dumb")
}

/// How long a scenario runs before the progress line names it.
pub const PROGRESS_AFTER: Duration = Duration::from_millis(1500);

/// The SGR code of a report label.
fn colour_of(label: &str) -> &'static str {
    match label {
        "PASS" => "32",
        "NON-STRICT" | "XFAIL" => "33",
        "UNIMPLEMENTED" | "SKIPPED" => "36",
        _ => "1;31",
    }
}

/// `label` padded to the label column, coloured when `colour`.
pub fn label_cell(label: &str, colour: bool) -> String {
    let padded = format!("{label:<13}");
    if colour {
        let (word, pad) = padded.split_at(label.len());
        format!("\x1b[{}m{word}\x1b[0m{pad}", colour_of(label))
    } else {
        padded
    }
}

/// The lines of one finished scenario: the verdict line, then what explains it. The
/// notes show whatever the verdict. `expected_failure` is the reason an expectations
/// file expects the scenario to fail, when it does (the result is not annotated yet
/// while the run goes on).
pub fn result_lines(result: &ScenarioResult, expected_failure: Option<&str>, colour: bool) -> String {
    let label = report_label(result.verdict, expected_failure.is_some());
    let mut out = format!("{} {:<56} {:>6} ms\n", label_cell(label, colour), result.name, result.duration_ms);
    let notes = || result.notes.iter().map(|n| format!("  note: {n}\n")).collect::<String>();
    match (result.verdict, expected_failure) {
        (Verdict::Fail, Some(reason)) => {
            out.push_str(&format!("  expected to fail: {reason}\n"));
            out.push_str(&result.explain());
        }
        (Verdict::Pass | Verdict::NonStrict, Some(reason)) => {
            out.push_str(&format!(
                "  ✗ expected to fail ({reason}), but it passed: the expectations file's entry is stale\n"
            ));
            out.push_str(&result.explain());
        }
        (Verdict::Fail | Verdict::NonStrict, None) => out.push_str(&result.explain()),
        (Verdict::Skipped | Verdict::Unimplemented, _) => {
            out.push_str(&notes());
            for failure in &result.failures {
                out.push_str(&format!("      {}\n", failure.message));
            }
        }
        (Verdict::Pass, None) => out.push_str(&notes()),
    }
    out
}

/// The progress line while scenarios run: `None` until one has run for
/// [`PROGRESS_AFTER`]; then how many ended and the running ones, the longest first,
/// cut to `width` characters.
pub fn progress_line(
    running: &[(String, Duration)],
    ended: usize,
    total: usize,
    width: usize,
) -> Option<String> {
    if !running.iter().any(|(_, for_how_long)| *for_how_long >= PROGRESS_AFTER) {
        return None;
    }
    let names: Vec<String> =
        running.iter().map(|(name, for_how_long)| format!("{name} {}s", for_how_long.as_secs())).collect();
    let line = format!("[{ended}/{total} done] running: {}", names.join(", "));
    let width = width.max(20);
    Some(if line.chars().count() > width {
        let mut cut: String = line.chars().take(width - 1).collect();
        cut.push('…');
        cut
    } else {
        line
    })
}

/// The terminal's width from `COLUMNS`, or 80.
pub fn terminal_width(columns: Option<&OsStr>) -> usize {
    columns.and_then(|c| c.to_str()).and_then(|c| c.trim().parse().ok()).filter(|w| *w > 0).unwrap_or(80)
}

/// Erases the current terminal line (the progress line) and returns the cursor to its
/// start.
pub const CLEAR_LINE: &str = "\r\x1b[2K";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_colours_a_terminal_unless_no_color_is_set() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        assert!(colour_enabled(ColourChoice::Auto, true, None));
        assert!(colour_enabled(ColourChoice::Auto, true, empty), "an empty NO_COLOR does not count");
        assert!(!colour_enabled(ColourChoice::Auto, true, set));
        assert!(!colour_enabled(ColourChoice::Auto, false, None));
        assert!(colour_enabled(ColourChoice::Always, false, set));
        assert!(!colour_enabled(ColourChoice::Never, true, None));
    }

    #[test]
    fn progress_needs_a_terminal_that_is_not_dumb() {
        assert!(progress_enabled(true, Some(OsStr::new("xterm-256color"))));
        assert!(progress_enabled(true, None));
        assert!(!progress_enabled(true, Some(OsStr::new("dumb"))));
        assert!(!progress_enabled(false, Some(OsStr::new("xterm"))));
    }

    #[test]
    fn the_progress_line_waits_for_a_long_scenario_and_fits_the_width() {
        let short = vec![("register/a".to_owned(), Duration::from_millis(300))];
        assert_eq!(progress_line(&short, 3, 9, 80), None);
        let long = vec![
            ("qr-login/happy/b-shows-code-v1".to_owned(), Duration::from_millis(61_400)),
            ("register/a".to_owned(), Duration::from_millis(300)),
        ];
        assert_eq!(
            progress_line(&long, 3, 9, 80).as_deref(),
            Some("[3/9 done] running: qr-login/happy/b-shows-code-v1 61s, register/a 0s")
        );
        let cut = progress_line(&long, 3, 9, 30).expect("a line");
        assert_eq!(cut.chars().count(), 30);
        assert!(cut.ends_with('…'), "{cut}");
    }

    #[test]
    fn the_width_comes_from_columns() {
        assert_eq!(terminal_width(Some(OsStr::new("132"))), 132);
        assert_eq!(terminal_width(Some(OsStr::new("wide"))), 80);
        assert_eq!(terminal_width(None), 80);
    }

    fn with_note(verdict: Verdict) -> ScenarioResult {
        let mut result = ScenarioResult::without_run("register/x", "t", verdict, "why", "the reason".into());
        if verdict == Verdict::Pass {
            result.failures.clear();
        }
        result.notes.push("the adapter did not exit within the grace period after `stop`".into());
        result
    }

    #[test]
    fn every_verdict_shows_its_notes() {
        for verdict in Verdict::ALL {
            for expected in [None, Some("known bug")] {
                let text = result_lines(&with_note(verdict), expected, false);
                assert!(text.contains("  note: the adapter did not exit"), "{verdict} {expected:?}:\n{text}");
            }
        }
    }

    #[test]
    fn labels_are_coloured_only_when_asked_and_keep_their_column() {
        let result = with_note(Verdict::Pass);
        let plain = result_lines(&result, None, false);
        assert!(plain.starts_with("PASS          register/x"), "{plain}");
        assert!(!plain.contains('\x1b'));
        let coloured = result_lines(&result, None, true);
        assert!(coloured.starts_with("\x1b[32mPASS\x1b[0m          register/x"), "{coloured:?}");
        let xpass = result_lines(&result, Some("known bug"), true);
        assert!(xpass.starts_with("\x1b[1;31mXPASS\x1b[0m"), "{xpass:?}");
        assert!(xpass.contains("stale"), "{xpass}");
    }
}
