//! Which scenarios a command plays: the paths it is given (or `./scenarios` of the
//! directory it runs in) and its `--filter`s.

use std::path::{Path, PathBuf};

use crate::check::pattern::glob;

/// The scenarios directory a command uses when it is given no path: `scenarios`
/// in `cwd`, the checkout the command runs in. Never the directory the binary was
/// built from: a binary run from another checkout must not play a scenario set the
/// user did not choose.
pub fn scenarios_in(cwd: &Path) -> Result<PathBuf, String> {
    let dir = cwd.join("scenarios");
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "no scenarios directory in {}: run from the root of a checkout of the suite, or name the \
             scenario files or directories to use",
            cwd.display()
        ))
    }
}

/// The paths to load: `paths`, or the scenarios directory of `cwd` when there are none.
pub fn paths_or_default(paths: Vec<PathBuf>, cwd: &Path) -> Result<Vec<PathBuf>, String> {
    if paths.is_empty() {
        Ok(vec![scenarios_in(cwd)?])
    } else {
        Ok(paths)
    }
}

/// The `--filter`s of a command: a scenario is selected when any of them matches its
/// name (every scenario when there is none). A filter with `*` is a glob over the
/// whole name, as in an expectations file (`*` matches any run of characters, `/`
/// included); one without is text the name must contain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(pub Vec<String>);

impl Filters {
    /// Whether `name` is selected.
    pub fn matches(&self, name: &str) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|f| if f.contains('*') { glob(f, name) } else { name.contains(f.as_str()) })
    }

    /// Refuses an empty filter, which would select everything by accident.
    pub fn check(&self) -> Result<(), String> {
        match self.0.iter().find(|f| f.trim().is_empty()) {
            Some(_) => Err("--filter must not be empty".to_owned()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_text_or_globs_and_any_one_selects() {
        let filters = Filters(vec!["register/msc2912-*".into(), "old-server".into()]);
        assert!(filters.matches("register/msc2912-keys-in-register"));
        assert!(filters.matches("register/old-server-ignores-field"));
        assert!(!filters.matches("register/legacy-server-password-uia"));
        assert!(!filters.matches("x/register/msc2912-keys"), "a glob matches the whole name");
        assert!(Filters(vec!["qr-login/*/wrong-*".into()]).matches("qr-login/abort-b/wrong-device-key"));
        assert!(Filters::default().matches("anything"));
        assert!(Filters(vec![" ".into()]).check().is_err());
    }

    #[test]
    fn the_default_directory_is_the_one_here_or_an_error() {
        let here = std::env::temp_dir().join(format!("conformance-select-{}", std::process::id()));
        std::fs::create_dir_all(&here).unwrap();
        let error = scenarios_in(&here).unwrap_err();
        assert!(error.contains("no scenarios directory in") && error.contains(&here.display().to_string()));
        std::fs::create_dir_all(here.join("scenarios")).unwrap();
        assert_eq!(scenarios_in(&here).unwrap(), here.join("scenarios"));
        std::fs::remove_dir_all(&here).unwrap();
    }
}
