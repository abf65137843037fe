//! Files a run leaves behind for people: full transcripts of failing scenarios
//! (`conformance run --transcripts DIR`) and sequence diagrams (`--diagrams DIR`),
//! one file per scenario named `<name with / as __>.<ext>`.

use std::path::{Path, PathBuf};

use mock_homeserver::JournalBody;

use super::mermaid;
use crate::check::transcript::{short_path, Entry};
use crate::check::verdict::Verdict;
use crate::run::result::ScenarioResult;

/// The file name of a scenario's artifact: its name with `/` as `__` and the extension.
pub fn file_name(scenario_name: &str, extension: &str) -> String {
    let stem: String = scenario_name
        .replace('/', "__")
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    format!("{stem}.{extension}")
}

/// The full, unnormalised transcript of a result: the verdict and its explanation,
/// every entry's one-line form, then every HTTP exchange with its JSON bodies.
pub fn full_transcript(result: &ScenarioResult) -> String {
    let mut out = format!("{} {}\n{}\n", result.label(), result.name, result.title);
    if let Some(reason) = &result.expected_failure {
        out.push_str(&format!("expected to fail: {reason}\n"));
    }
    out.push_str(&result.explain());
    out.push_str("\ntranscript:\n");
    out.push_str(&result.transcript_text());
    let mut headed = false;
    for e in &result.transcript {
        if let Entry::Http { actor, method, path, query, status, request, response, faults } = &e.entry {
            if !headed {
                out.push_str("\nhttp exchanges:\n");
                headed = true;
            }
            let query = query.as_deref().map(|q| format!("?{q}")).unwrap_or_default();
            out.push_str(&format!(
                "\n#{} {}ms {actor} -> HS: {method} {}{query} {status}\n",
                e.seq,
                e.at_ms,
                short_path(path)
            ));
            out.push_str(&format!("  full path: {path}\n"));
            if !faults.is_empty() {
                out.push_str(&format!("  faults: {}\n", faults.join(", ")));
            }
            out.push_str(&format!("  request: {}\n", body(request)));
            out.push_str(&format!("  response: {}\n", body(response)));
        }
    }
    out
}

fn body(body: &JournalBody) -> String {
    match body {
        JournalBody::Empty => "(empty)".to_owned(),
        JournalBody::Json(value) => {
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()).replace('\n', "\n  ")
        }
        JournalBody::Note { note } => format!("({note})"),
    }
}

/// Writes the full transcript of every FAIL (expected failures included) to
/// `dir/<name>.txt`; returns the files written.
pub fn write_transcripts(dir: &Path, results: &[ScenarioResult]) -> Result<Vec<PathBuf>, String> {
    let failing = results.iter().filter(|r| r.verdict == Verdict::Fail);
    write_each(dir, failing, "txt", full_transcript)
}

/// Writes the sequence diagram of every result to `dir/<name>.mmd`; returns the
/// files written.
pub fn write_diagrams(dir: &Path, results: &[ScenarioResult]) -> Result<Vec<PathBuf>, String> {
    write_each(dir, results.iter(), "mmd", mermaid::sequence_diagram)
}

fn write_each<'a>(
    dir: &Path,
    results: impl Iterator<Item = &'a ScenarioResult>,
    extension: &str,
    render: impl Fn(&ScenarioResult) -> String,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for result in results {
        let path = dir.join(file_name(&result.name, extension));
        std::fs::write(&path, render(result)).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn file_names_flatten_the_scenario_path() {
        assert_eq!(
            file_name("qr-login/abort/wrong-device-key", "txt"),
            "qr-login__abort__wrong-device-key.txt"
        );
        assert_eq!(file_name("../x y", "mmd"), "..__x_y.mmd");
    }
}
