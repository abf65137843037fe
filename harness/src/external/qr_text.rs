//! A QR code drawn in the terminal with Unicode half blocks: two module rows per
//! text line, dark modules as ink, with a quiet zone of light modules around it.

use qrcode::{Color, QrCode};

/// Modules of light border on each side.
const QUIET: usize = 2;

/// Draws `text` as a QR code: lines of `█`, `▀`, `▄` and spaces, each ending in `\n`.
/// The ink is the dark modules, so the code reads on a light-on-dark terminal when
/// its colours are inverted; most phone scanners accept both.
pub fn render(text: &str) -> Result<String, String> {
    let code = QrCode::new(text.as_bytes()).map_err(|e| format!("cannot encode the QR code: {e}"))?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET;
    let dark = |x: usize, y: usize| -> bool {
        if x < QUIET || y < QUIET || x >= width + QUIET || y >= width + QUIET {
            return false;
        }
        colors.get((y - QUIET) * width + (x - QUIET)) == Some(&Color::Dark)
    };
    let mut out = String::with_capacity(size * size);
    for y in (0..size).step_by(2) {
        for x in 0..size {
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_half_blocks_spaces_and_newlines() {
        let drawn = render(r#"{"intent":"login.reciprocate"}"#).expect("encodes");
        assert!(drawn.chars().any(|c| c != ' ' && c != '\n'), "nothing drawn");
        assert!(drawn.chars().all(|c| matches!(c, '█' | '▀' | '▄' | ' ' | '\n')), "{drawn}");
        let lines: Vec<&str> = drawn.lines().collect();
        assert!(lines.len() > 10);
        assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()));
    }
}
