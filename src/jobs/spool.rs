//! Spooled upload files: the raw file between the upload and its job. They may hold rows
//! the PHI guard would reject, so they live in a private directory (0700, files 0600)
//! under the data directory, are removed when their job ends, and are swept at start.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

const PREFIX: &str = "upload-";
const SUFFIX: &str = ".spool";

/// The spool directory of this instance.
#[derive(Debug, Clone)]
pub struct SpoolDir {
    dir: PathBuf,
}

impl SpoolDir {
    /// Creates the directory (and its data directory) when missing and makes it private
    /// (0700). The data directory's parent must exist: a mistyped setting fails here
    /// instead of growing a tree somewhere unexpected.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<SpoolDir> {
        let dir = dir.into();
        for level in [dir.parent(), Some(dir.as_path())].into_iter().flatten() {
            match std::fs::create_dir(level) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(SpoolDir { dir })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A new private file (0600) with a random name; returns the name and the file.
    pub fn create(&self) -> io::Result<(String, File)> {
        let name = format!("{PREFIX}{}{SUFFIX}", uuid::Uuid::new_v4().simple());
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(self.dir.join(&name))?;
        Ok((name, file))
    }

    /// The file of `name`, refusing anything that is not one of ours (a payload is data).
    pub fn file(&self, name: &str) -> Option<PathBuf> {
        is_spool_name(name).then(|| self.dir.join(name))
    }

    /// Removes a spooled file (gone already is fine).
    pub fn remove(&self, name: &str) {
        if let Some(path) = self.file(name)
            && let Err(err) = std::fs::remove_file(&path)
            && err.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(error = %err, "a spooled upload file could not be removed");
        }
    }

    /// Removes spooled files no live job needs (left by a crash, or by a job that ended
    /// while its file could not be removed) and untouched for `min_age` (a file still
    /// being received has no job yet). Returns how many went.
    pub fn sweep(&self, live: &HashSet<String>, min_age: std::time::Duration) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = std::time::SystemTime::now();
        entries
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                is_spool_name(&name) && !live.contains(&name)
            })
            .filter(|e| {
                e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age >= min_age)
            })
            .filter(|e| std::fs::remove_file(e.path()).is_ok())
            .count()
    }
}

fn is_spool_name(name: &str) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
        .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Removes a spooled file when dropped, unless kept (the job owns it then).
pub struct SpoolGuard<'s> {
    spool: &'s SpoolDir,
    name: Option<String>,
}

impl<'s> SpoolGuard<'s> {
    pub fn new(spool: &'s SpoolDir, name: String) -> Self {
        SpoolGuard {
            spool,
            name: Some(name),
        }
    }

    /// Hands the file over (its job removes it).
    pub fn keep(mut self) -> String {
        self.name.take().unwrap_or_default()
    }
}

impl Drop for SpoolGuard<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            self.spool.remove(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_swept_unless_live() {
        let root = tempfile::tempdir().expect("dir");
        let spool = SpoolDir::open(root.path().join("spool")).expect("spool");
        let (kept, _) = spool.create().expect("file");
        let (stale, _) = spool.create().expect("file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(spool.path()), 0o700);
            assert_eq!(mode(&spool.path().join(&kept)), 0o600);
        }
        std::fs::write(spool.path().join("other.txt"), "x").expect("other");
        let live = HashSet::from([kept.clone()]);
        assert_eq!(spool.sweep(&live, std::time::Duration::ZERO), 1);
        assert!(spool.path().join(&kept).exists());
        assert!(!spool.path().join(&stale).exists());
        assert!(
            spool.path().join("other.txt").exists(),
            "not ours: left alone"
        );
        assert!(spool.file("../etc/passwd").is_none());
    }
}
