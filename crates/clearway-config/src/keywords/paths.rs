//! Where relative file names in a configuration point (`default-path`): the directory the
//! process started in (`current`, the default), the configuration file's (`config`), its
//! parent (`parent`) or a given one (`origin DIR`). As in HAProxy, each `default-path` line
//! applies to the files named after it; the directory of `config` and `parent` is that of the
//! file holding the line. Set while one configuration is read (one reading per thread at a
//! time), cleared at its start.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

thread_local! {
    static BASE: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// Back to `current` (at the start of a reading).
pub fn reset() {
    BASE.with(|b| *b.borrow_mut() = None);
}

/// Relative names from now on start at `dir` (None: the current directory).
pub fn set_base(dir: Option<PathBuf>) {
    BASE.with(|b| *b.borrow_mut() = dir);
}

/// `name` as the file it designates: an absolute name as it is, a relative one under the
/// `default-path` directory.
pub fn file(name: impl AsRef<Path>) -> PathBuf {
    let name = name.as_ref();
    if name.is_absolute() {
        return name.to_path_buf();
    }
    BASE.with(|b| match &*b.borrow() {
        Some(dir) => dir.join(name),
        None => name.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_follow_the_base() {
        reset();
        assert_eq!(file("a.pem"), PathBuf::from("a.pem"));
        set_base(Some("/etc/lb".into()));
        assert_eq!(file("certs/a.pem"), PathBuf::from("/etc/lb/certs/a.pem"));
        assert_eq!(file("/abs/a.pem"), PathBuf::from("/abs/a.pem"));
        reset();
        assert_eq!(file("a.pem"), PathBuf::from("a.pem"));
    }
}
