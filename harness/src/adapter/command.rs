//! The adapter's command line, checked before a run: the runner starts it with
//! `sh -c "exec <CMD ARGS>"` once per scenario, so a program that does not exist
//! would fail every scenario one by one. [`check`] finds that out once, up front.
//!
//! The check reads the command as `sh` would for plain words (quotes and
//! backslashes); a command that needs the shell to expand something (`$VAR`, globs,
//! `~`, pipes) is left for the shell to judge.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Extensions of the script files an interpreter runs (`python3 adapter.py`): a word
/// of the command with one of them must name a file that exists.
pub const SCRIPT_EXTENSIONS: [&str; 8] = ["py", "js", "mjs", "cjs", "ts", "sh", "rb", "pl"];

/// The words of `command` as `sh` would split them, or `None` when the shell would
/// expand or redirect something (then only the shell can tell what runs).
pub fn plain_words(command: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => words.extend(word.take()),
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => current.push(other),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' => return None,
                        '\\' => match chars.next()? {
                            escaped @ ('"' | '\\' | '$' | '`') => current.push(escaped),
                            '\n' => {}
                            other => {
                                current.push('\\');
                                current.push(other);
                            }
                        },
                        other => current.push(other),
                    }
                }
            }
            '\\' => {
                let escaped = chars.next()?;
                if escaped != '\n' {
                    word.get_or_insert_with(String::new).push(escaped);
                }
            }
            '$' | '`' | '(' | ')' | ';' | '|' | '&' | '<' | '>' | '{' | '}' | '*' | '?' | '[' | '#' => {
                return None
            }
            '~' if word.is_none() => return None,
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    Some(words)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where `program` is found: as a path when it has a `/` (relative to `cwd`), else in
/// the directories of `path_var` (`PATH`; an empty entry is `cwd`).
pub fn resolve(program: &str, path_var: Option<&OsStr>, cwd: &Path) -> Option<PathBuf> {
    if program.contains('/') {
        let path = cwd.join(program);
        return is_executable(&path).then_some(path);
    }
    std::env::split_paths(path_var?)
        .map(|dir| if dir.as_os_str().is_empty() { cwd.to_owned() } else { cwd.join(dir) })
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

/// Checks that `command` names a program that exists, and that every script file it
/// names exists; `path_var` is `PATH` and `cwd` the directory the adapter would start
/// in. A command the shell must expand passes unchecked.
pub fn check(command: &str, path_var: Option<&OsStr>, cwd: &Path) -> Result<(), String> {
    let Some(words) = plain_words(command) else {
        return Ok(());
    };
    let Some(program) = words.first() else {
        return Err("--client is empty: give the adapter's command line".to_owned());
    };
    if resolve(program, path_var, cwd).is_none() {
        let why = if program.contains('=') {
            "the runner starts `exec <CMD ARGS>`, so an assignment cannot come first: use `env NAME=value program ...`".to_owned()
        } else if program.contains('/') {
            format!("`{program}` is not an executable file")
        } else {
            format!("`{program}` is not a program on PATH")
        };
        return Err(format!("--client \"{command}\": {why}"));
    }
    for word in &words[1..] {
        let is_script = !word.starts_with('-')
            && Path::new(word)
                .extension()
                .and_then(OsStr::to_str)
                .is_some_and(|e| SCRIPT_EXTENSIONS.contains(&e));
        if is_script && !cwd.join(word).is_file() {
            return Err(format!(
                "--client \"{command}\": the script `{word}` does not exist (relative to {})",
                cwd.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_as_sh_does_for_plain_text() {
        let words = |c: &str| plain_words(c).map(|w| w.join("|"));
        assert_eq!(
            words("python3  adapters/a.py --role x").as_deref(),
            Some("python3|adapters/a.py|--role|x")
        );
        assert_eq!(
            words(r#""/opt/my adapter/run" 'a b' c\ d"#).as_deref(),
            Some("/opt/my adapter/run|a b|c d")
        );
        assert_eq!(words(r#"x "a\"b\\c""#).as_deref(), Some(r#"x|a"b\c"#));
        assert_eq!(words("node ''").as_deref(), Some("node|"));
        for expands in ["$HOME/a", "a | b", "a > log", "x `y`", "~/bin/a", "a *.py", "\"$X\"", "'open"] {
            assert_eq!(words(expands), None, "{expands}");
        }
    }

    #[test]
    fn a_missing_program_or_script_is_refused_and_a_real_one_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let path = std::env::var_os("PATH");
        let path = path.as_deref();
        check("sh -c 'exit 89'", path, &root).expect("sh is on PATH");
        check("sh adapters/python/example_adapter.py", path, &root).expect("the script exists");
        let error = check("does-not-exist --role new-device", path, &root).unwrap_err();
        assert_eq!(
            error,
            "--client \"does-not-exist --role new-device\": `does-not-exist` is not a program on PATH"
        );
        let error = check("./adapters/python/nope", path, &root).unwrap_err();
        assert!(error.ends_with("`./adapters/python/nope` is not an executable file"), "{error}");
        let error = check("sh adapters/python/missing_adapter.py", path, &root).unwrap_err();
        assert!(error.contains("the script `adapters/python/missing_adapter.py` does not exist"), "{error}");
        let error = check("FOO=1 sh", path, &root).unwrap_err();
        assert!(error.contains("use `env NAME=value"), "{error}");
        assert!(check("   ", path, &root).is_err());
        check("$ADAPTER --role x", path, &root).expect("left to the shell");
    }
}
