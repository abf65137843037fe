//! A finding saved as an ordinary scenario file: the minimal case, with expectations
//! that fail exactly where the invariant broke, so that `conformance run FILE`
//! replays it to the same violation.
//!
//! The expectations are the violation's own: `never` for the offending events, an
//! `outcomes` entry without the endings the invariant rules out, and for the runner's
//! own failures (deadline, adapter) nothing more (the runner fails those by itself).
//! Every role of a scenario file must have a wire-level expectation; a role the
//! violation does not name gets its first request of the minimal run in `order`, as
//! observed: the file reproduces one run, it is not a suite scenario.

use std::path::{Path, PathBuf};

use devices::{OutcomeKind, RoleKind};

use super::case::{first_request, roles_of, Case, SavedExpect};
use super::invariants::Violation;
use super::play::Target;

/// The expectations that replay `violation` of `case`; `first_requests` are the
/// first request pattern each role made in the minimal run.
pub fn expect_for(case: &Case, violation: &Violation, first_requests: &[(RoleKind, String)]) -> SavedExpect {
    let reason = format!("invariant {}: {}", violation.invariant, violation.message.replace('\n', " "));
    let mut expect = SavedExpect::default();
    if !violation.banned.is_empty() {
        let allowed: Vec<&str> =
            OutcomeKind::ALL.iter().filter(|o| !violation.banned.contains(o)).map(|o| o.name()).collect();
        expect.outcomes.push((case.role.letter().to_owned(), allowed.join(" | "), reason.clone()));
    }
    for pattern in &violation.never {
        expect.never.push((pattern.clone(), reason.clone()));
    }
    for role in roles_of(case) {
        let named = violation.never.iter().any(|p| p.starts_with(&format!("{} -> ", role.letter())));
        if named {
            continue;
        }
        let observed = first_requests.iter().find(|(r, _)| *r == role).map(|(_, p)| p.clone());
        let pattern = observed.unwrap_or_else(|| first_request(role).to_owned());
        expect.order.push((
            pattern,
            format!("{} acted in the fuzz run (observed, so that the file loads)", role.letter()),
        ));
    }
    expect
}

/// The title of a saved finding: its seed, its invariant, the role.
pub fn title(case: &Case, violation: &Violation) -> String {
    format!(
        "fuzz seed {}: {} broken by {} ({})",
        case.seed,
        violation.invariant,
        case.role.letter(),
        case.role.name()
    )
}

/// The file name of a saved finding.
pub fn file_name(case: &Case, violation: &Violation) -> String {
    format!("{}-{}-seed-{}.toml", case.role.name(), violation.invariant.replace('.', "-"), case.seed)
}

/// Writes the finding into `dir`; returns its path.
pub fn write(
    dir: &Path,
    case: &Case,
    violation: &Violation,
    expect: &SavedExpect,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(file_name(case, violation));
    let mut text = format!(
        "# Found by `conformance fuzz --role {}` (seed {}), shrunk to its minimal case.\n# {}\n",
        case.role.name(),
        case.seed,
        violation.message.replace('\n', " ")
    );
    for line in &violation.lines {
        text.push_str(&format!("#   {line}\n"));
    }
    text.push_str(&case.to_toml(&title(case, violation), expect));
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The command that replays a saved finding.
pub fn replay_command(path: &Path, target: &Target, role: RoleKind) -> String {
    match target {
        Target::InProcess => format!("conformance run {}", path.display()),
        Target::External(client) => format!(
            "conformance run --client '{}' --role {} --poll-ms 50 {}",
            client.command.replace('\'', "'\\''"),
            role.name(),
            path.display()
        ),
    }
}
