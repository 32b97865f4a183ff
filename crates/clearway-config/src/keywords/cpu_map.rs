//! The global `cpu-map` keyword: `cpu-map [auto:]GROUP[/THREADS] CPUS...`, read into plain
//! sets of numbers. Which thread ends up on which CPU is decided by the runtime model, which
//! knows the thread count; this module must not look at the machine.

use crate::ast::Directive;
use crate::model::{CpuMap, NumRange, MAX_CPU};

const USAGE: &str = "'cpu-map' expects threads and CPUs, e.g. 'cpu-map auto:1/1-4 0-3' (threads 1 to 4 \
                     one per CPU 0 to 3) or 'cpu-map 1/all 0-3'";

pub fn parse(d: &Directive) -> Result<CpuMap, String> {
    if d.words.len() < 3 {
        return Err(USAGE.into());
    }
    let (auto, who) = match d.words[1].strip_prefix("auto:") {
        Some(rest) => (true, rest),
        None => (false, d.words[1].as_str()),
    };
    let (group, threads) = match who.split_once('/') {
        Some((g, t)) => (g, Some(t)),
        None => (who, None),
    };
    let first_group = match group {
        "all" | "odd" => true,
        "even" => false,
        g => set(g, "thread group", 1, usize::MAX)?.from == 1,
    };
    let threads = match threads {
        None | Some("all") => None,
        Some(t) => Some(set(t, "thread", 1, usize::MAX)?),
    };
    let cpus = d.words[2..]
        .iter()
        .map(|w| set(w, "CPU", 0, MAX_CPU))
        .collect::<Result<Vec<_>, _>>()?;
    if auto {
        let closed = |s: &NumRange| s.to.is_some();
        let n_cpus: usize = cpus.iter().map(|c| c.expand(0).len()).sum();
        if let Some(t) = threads
            .as_ref()
            .filter(|t| closed(t) && cpus.iter().all(closed) && n_cpus > 1)
        {
            let n_threads = t.expand(0).len();
            if n_threads != n_cpus {
                return Err(format!(
                    "'cpu-map auto:' gives each thread one CPU, but names {n_threads} thread(s) and {n_cpus} CPU(s) \
                     (hint: make both ranges the same size, e.g. 'cpu-map auto:1/1-4 0-3')"
                ));
            }
        }
    }
    Ok(CpuMap {
        span: d.span.clone(),
        auto,
        first_group,
        threads,
        cpus,
    })
}

/// `3`, `0-3` or `2-` (up to the highest), numbers from `min` to `max`.
fn set(word: &str, what: &str, min: usize, max: usize) -> Result<NumRange, String> {
    let bad = || format!("'cpu-map': '{word}' is not a {what} number or range (e.g. {min}, {min}-3 or {min}-)");
    let num = |s: &str| -> Result<usize, String> {
        let n: usize = s.parse().map_err(|_| bad())?;
        if n < min {
            return Err(format!("'cpu-map': {what} numbers start at {min}, not {n}"));
        }
        if n > max {
            return Err(format!("'cpu-map': {what} {n} is above the highest possible, {max}"));
        }
        Ok(n)
    };
    Ok(match word.split_once('-') {
        None => {
            let n = num(word)?;
            NumRange { from: n, to: Some(n) }
        }
        Some((a, "")) => NumRange {
            from: num(a)?,
            to: None,
        },
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(format!("'cpu-map': the range '{word}' goes backwards"));
            }
            NumRange { from: a, to: Some(b) }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Span;

    fn line(text: &str) -> Result<CpuMap, String> {
        parse(&Directive {
            span: Span {
                file: "t.cfg".into(),
                line: 1,
            },
            words: text.split_whitespace().map(String::from).collect(),
        })
    }

    #[test]
    fn the_forms_haproxy_accepts() {
        let m = line("cpu-map auto:1/1-4 0-3").unwrap();
        assert!(m.auto && m.first_group);
        assert_eq!(m.threads.unwrap().expand(9), vec![1, 2, 3, 4]);
        assert_eq!(m.cpus[0].expand(9), vec![0, 1, 2, 3]);
        let m = line("cpu-map 1/all 0-1 3").unwrap();
        assert!(!m.auto && m.threads.is_none());
        assert_eq!(
            m.cpus.iter().flat_map(|c| c.expand(9)).collect::<Vec<_>>(),
            vec![0, 1, 3]
        );
        let m = line("cpu-map 1 2-").unwrap();
        assert!(m.threads.is_none());
        assert_eq!(m.cpus[0].expand(4), vec![2, 3, 4]);
        assert!(line("cpu-map all/2 0").unwrap().first_group);
        assert!(!line("cpu-map 2/1 0").unwrap().first_group);
        assert!(!line("cpu-map even 0").unwrap().first_group);
        // A single CPU for several threads is accepted, as HAProxy does.
        assert!(line("cpu-map auto:1/1-2 0").is_ok());
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(line("cpu-map 1/1").unwrap_err().contains("expects threads and CPUs"));
        assert!(line("cpu-map 1/0 0").unwrap_err().contains("thread numbers start at 1"));
        assert!(line("cpu-map 1/1 x").unwrap_err().contains("'x' is not a CPU number"));
        assert!(line("cpu-map 1/1 3-1").unwrap_err().contains("goes backwards"));
        assert!(line("cpu-map 1/1 4096")
            .unwrap_err()
            .contains("above the highest possible"));
        let e = line("cpu-map auto:1/1-2 0-3").unwrap_err();
        assert!(e.contains("2 thread(s) and 4 CPU(s)"), "{e}");
    }
}
