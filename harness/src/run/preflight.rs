//! Checks made before a run starts, so that a mistake costs seconds rather than a
//! whole run: every output file and directory can be written.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// An output file opened before the run (so it is known to be writable) and written
/// after it. What the file held before stays until [`OutputFile::write`]; a file that
/// did not exist before and is never written (the run stopped on an error) is removed
/// again, so that no empty report is left behind.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    file: File,
    created: bool,
    written: bool,
}

impl OutputFile {
    /// Opens `path` for writing, creating it if needed, without truncating it yet;
    /// `option` names the flag in the error.
    pub fn open(path: &Path, option: &str) -> Result<Self, String> {
        if path.is_dir() {
            return Err(format!("{option} {}: is a directory, not a file", path.display()));
        }
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(format!(
                "{option} {}: the directory {} does not exist",
                path.display(),
                parent.display()
            ));
        }
        let created = !path.exists();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("{option} {}: cannot write: {e}", path.display()))?;
        Ok(OutputFile { path: path.to_owned(), file, created, written: false })
    }

    /// Replaces the file's content with `text`.
    pub fn write(mut self, text: &str) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("{}: {e}", self.path.display());
        self.file.set_len(0).map_err(fail)?;
        self.file.rewind().map_err(fail)?;
        self.file.write_all(text.as_bytes()).map_err(fail)?;
        self.file.flush().map_err(fail)?;
        self.written = true;
        Ok(())
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.created && !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Makes sure `dir` exists (creating it) and that a file can be created in it;
/// `option` names the flag in the error.
pub fn check_output_dir(dir: &Path, option: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{option} {}: cannot create: {e}", dir.display()))?;
    let probe = dir.join(format!(".conformance-write-check-{}", std::process::id()));
    File::create(&probe).map_err(|e| format!("{option} {}: cannot write in it: {e}", dir.display()))?;
    std::fs::remove_file(&probe).map_err(|e| format!("{option} {}: {e}", probe.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("conformance-preflight-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_file_in_a_missing_directory_is_refused_at_once() {
        let error = OutputFile::open(Path::new("/no/such/dir/r.json"), "--json").unwrap_err();
        assert_eq!(error, "--json /no/such/dir/r.json: the directory /no/such/dir does not exist");
        let dir = scratch("dir-as-file");
        let error = OutputFile::open(&dir, "--junit").unwrap_err();
        assert!(error.ends_with("is a directory, not a file"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_opened_file_keeps_its_content_until_written() {
        let dir = scratch("keep");
        let path = dir.join("r.json");
        std::fs::write(&path, "old content that is longer").unwrap();
        let file = OutputFile::open(&path, "--json").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old content that is longer");
        file.write("new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_file_that_is_never_written_is_removed_and_an_old_one_kept() {
        let dir = scratch("unwritten");
        let new = dir.join("new.json");
        drop(OutputFile::open(&new, "--json").unwrap());
        assert!(!new.exists(), "no empty report is left behind");
        let old = dir.join("old.json");
        std::fs::write(&old, "the last run's report").unwrap();
        drop(OutputFile::open(&old, "--json").unwrap());
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "the last run's report");
        let written = dir.join("written.json");
        OutputFile::open(&written, "--json").unwrap().write("{}").unwrap();
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "{}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_output_directory_is_created_or_refused() {
        let dir = scratch("out");
        check_output_dir(&dir.join("a/b"), "--diagrams").unwrap();
        assert!(dir.join("a/b").is_dir());
        assert_eq!(std::fs::read_dir(dir.join("a/b")).unwrap().count(), 0, "the probe is gone");
        std::fs::write(dir.join("file"), "").unwrap();
        let error = check_output_dir(&dir.join("file/sub"), "--transcripts").unwrap_err();
        assert!(error.starts_with("--transcripts "), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
