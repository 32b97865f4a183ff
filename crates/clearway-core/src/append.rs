//! A list that only grows, readable without a lock while it grows: a backend's servers
//! (`add server` appends one at run time). An entry keeps its index for the life of the
//! process; a deleted server stays in place, marked, so that a session holding its index
//! is never misdirected.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Entries are appended one at a time (`push` takes a lock among writers), so their indices
/// are 0, 1, 2... with no gap; readers never wait. Those it was built with sit in a plain
/// slice, read as cheaply as a `Vec`'s (the data path reads servers at every request); those
/// added later in a concurrent vector after them.
pub struct AppendOnly<T> {
    fixed: Box<[T]>,
    items: boxcar::Vec<T>,
    /// Entries fully written, set after each push: what `len` and an iteration go by.
    len: AtomicUsize,
    writers: std::sync::Mutex<()>,
}

impl<T> AppendOnly<T> {
    pub fn new() -> AppendOnly<T> {
        AppendOnly {
            fixed: Box::new([]),
            items: boxcar::Vec::new(),
            len: AtomicUsize::new(0),
            writers: std::sync::Mutex::new(()),
        }
    }

    /// How many entries there are (deleted servers included).
    #[inline]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        match self.fixed.get(i) {
            Some(t) => Some(t),
            None => self.items.get(i - self.fixed.len()),
        }
    }

    /// The entries in index order (`enumerate` gives their indices).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            fixed: self.fixed.iter(),
            list: self,
            next: 0,
            end: self.len() - self.fixed.len(),
        }
    }

    /// Changes every entry in place (while building, before readers share the list).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut T)) {
        self.fixed.iter_mut().for_each(&mut f);
        for i in 0..self.items.count() {
            if let Some(t) = self.items.get_mut(i) {
                f(t);
            }
        }
    }

    /// Appends what `make` builds for the next index, with no other writer in between: a
    /// check of the list (a name already taken) and the push that depends on it are one step.
    pub fn try_push_with<E>(&self, make: impl FnOnce(&Self, usize) -> Result<T, E>) -> Result<usize, E> {
        let _one_at_a_time = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        let t = make(self, self.fixed.len() + self.items.count())?;
        let i = self.fixed.len() + self.items.push(t);
        self.len.store(i + 1, Ordering::Release);
        Ok(i)
    }

    pub fn push(&self, t: T) -> usize {
        self.try_push_with(|_, _| Ok::<T, std::convert::Infallible>(t))
            .unwrap_or_else(|e| match e {})
    }
}

impl<T> Default for AppendOnly<T> {
    fn default() -> Self {
        AppendOnly::new()
    }
}

impl<T> std::ops::Index<usize> for AppendOnly<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(t) => t,
            None => panic!("index {i} out of an AppendOnly of {}", self.len()),
        }
    }
}

/// The entries there were when it began, in index order.
#[derive(Clone)]
pub struct Iter<'a, T> {
    fixed: std::slice::Iter<'a, T>,
    list: &'a AppendOnly<T>,
    /// The next added entry, and the end of those.
    next: usize,
    end: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        if let Some(t) = self.fixed.next() {
            return Some(t);
        }
        if self.next >= self.end {
            return None;
        }
        let t = self.list.items.get(self.next);
        self.next += 1;
        t
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.fixed.len() + self.end - self.next;
        (n, Some(n))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<'a, T> IntoIterator for &'a AppendOnly<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> FromIterator<T> for AppendOnly<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let fixed: Box<[T]> = iter.into_iter().collect();
        AppendOnly {
            len: AtomicUsize::new(fixed.len()),
            fixed,
            items: boxcar::Vec::new(),
            writers: std::sync::Mutex::new(()),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for AppendOnly<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_stay_while_it_grows_and_readers_see_every_entry() {
        let l: AppendOnly<String> = ["a", "b"].into_iter().map(String::from).collect();
        let first = &l[0];
        assert_eq!(l.push("c".into()), 2);
        assert_eq!(first, "a", "a reference taken before the push still reads");
        assert_eq!(l.iter().cloned().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!((l.len(), l.get(3)), (3, None));
        let unless_taken = |l: &AppendOnly<String>, i: usize| match l.iter().any(|s| s == "d") {
            true => Err(()),
            false => Ok(if i == 3 { "d".to_string() } else { format!("d{i}") }),
        };
        assert_eq!(l.try_push_with(unless_taken), Ok(3));
        assert_eq!(l.try_push_with(unless_taken), Err(()), "the name is taken now");
        assert_eq!(l.len(), 4);
        std::thread::scope(|s| {
            s.spawn(|| {
                for n in 0..100 {
                    l.push(n.to_string());
                }
            });
            for _ in 0..100 {
                let n = l.len();
                assert!(l.iter().count() >= n.min(l.len()));
            }
        });
        assert_eq!(l.len(), 104);
    }
}
