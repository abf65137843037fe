//! HTTP patterns against what the mock homeserver serves: a pattern that no request
//! to the server can match (`PUT /sendToDevice/m.secret.reqest/*`, `POST /keys/qeury`)
//! is a typo, and it would make a `never` or a zero count pass whatever happens. The
//! loader refuses it with the file and the line.
//!
//! A pattern is compared with each endpoint of [`mock_homeserver::endpoints::served`]
//! in the transcript's short form ([`short_path`]): a `*` of the pattern matches any
//! run of characters, `/` included, and a `{param}` of the endpoint any one non-empty
//! segment. They fit when some path matches both. A parameter whose `m.` values the
//! Matrix spec fixes ([`Endpoint::spec_values`]: the to-device event types) takes
//! only those in the `m.` namespace, and anything in another one.

use std::collections::HashSet;

use mock_homeserver::endpoints::{served, Endpoint};

use super::transcript::short_path;

/// Whether some endpoint the mock homeserver serves can answer a request that the
/// pattern `METHOD PATH` matches; `Err` says why not, with the nearest endpoints.
pub fn check(method: &str, path: &str) -> Result<(), String> {
    let endpoints = served();
    let pattern = glob_items(path);
    let fits = |endpoint: &Endpoint, spec_values: bool| {
        endpoint_alternatives(endpoint, spec_values).iter().any(|route| intersect(&pattern, route))
    };
    if endpoints.iter().any(|e| e.method == method && fits(e, true)) {
        return Ok(());
    }
    if endpoints.iter().any(|e| e.method == method && fits(e, false)) {
        let mut types: Vec<&str> = Endpoint::spec_values("eventType").unwrap_or_default().to_vec();
        types.sort_unstable();
        return Err(format!(
            "`{path}` names an event type in the spec's `m.` namespace that the Matrix spec does \
             not define (to-device types: {}; other namespaces are free)",
            types.join(", ")
        ));
    }
    let other_methods: Vec<&str> =
        endpoints.iter().filter(|e| e.method != method && fits(e, true)).map(|e| e.method).collect();
    if !other_methods.is_empty() {
        return Err(format!(
            "the mock homeserver serves `{path}` only as {}",
            dedup(other_methods).join(", ")
        ));
    }
    let first = |p: &str| p.trim_start_matches('/').split('/').next().unwrap_or("").to_ascii_lowercase();
    let near: Vec<String> = endpoints
        .iter()
        .filter(|e| e.method == method)
        .map(|e| short_path(e.path))
        .filter(|p| first(p) == first(path))
        .collect();
    let hint = if near.is_empty() {
        "see the endpoints in docs/mock-homeserver.md".to_owned()
    } else {
        format!("{method} endpoints there: {}", dedup(near).join(", "))
    };
    Err(format!("no endpoint of the mock homeserver answers `{method} {path}` ({hint})"))
}

/// The items in their first order, each once.
fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// One character class a path position can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    /// Exactly this character.
    Char(char),
    /// Any character.
    Any,
    /// Any character not in the set.
    NotIn(&'static str),
}

/// An atom, once or repeated any number of times (zero included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    atom: Atom,
    repeated: bool,
}

fn once(atom: Atom) -> Item {
    Item { atom, repeated: false }
}

fn repeated(atom: Atom) -> Item {
    Item { atom, repeated: true }
}

fn literal(text: &str) -> impl Iterator<Item = Item> + '_ {
    text.chars().map(|c| once(Atom::Char(c)))
}

/// A pattern's path: `*` is any run of characters.
fn glob_items(path: &str) -> Vec<Item> {
    path.chars().map(|c| if c == '*' { repeated(Atom::Any) } else { once(Atom::Char(c)) }).collect()
}

/// The endpoint's short path as item sequences, one per alternative: a `{param}` is
/// one non-empty segment; with `spec_values`, a parameter the spec fixes in its `m.`
/// namespace is one of those values or a value outside that namespace.
fn endpoint_alternatives(endpoint: &Endpoint, spec_values: bool) -> Vec<Vec<Item>> {
    let short = short_path(endpoint.path);
    let mut alternatives: Vec<Vec<Item>> = vec![Vec::new()];
    for (i, segment) in short.split('/').enumerate() {
        let mut choices: Vec<Vec<Item>> = Vec::new();
        let separator = (i > 0).then_some(once(Atom::Char('/')));
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            None => choices.push(literal(segment).collect()),
            Some(param) => {
                let any_segment = vec![once(Atom::NotIn("/")), repeated(Atom::NotIn("/"))];
                match Endpoint::spec_values(param).filter(|_| spec_values) {
                    None => choices.push(any_segment),
                    Some(values) => {
                        choices.extend(values.iter().map(|v| literal(v).collect()));
                        // Outside the `m.` namespace: not starting with `m`, or `m` then
                        // not `.`, or `m` alone.
                        choices.push(vec![once(Atom::NotIn("/m")), repeated(Atom::NotIn("/"))]);
                        choices.push(vec![
                            once(Atom::Char('m')),
                            once(Atom::NotIn("/.")),
                            repeated(Atom::NotIn("/")),
                        ]);
                        choices.push(vec![once(Atom::Char('m'))]);
                    }
                }
            }
        }
        alternatives = alternatives
            .iter()
            .flat_map(|prefix| {
                choices.iter().map(move |choice| {
                    let mut items = prefix.clone();
                    items.extend(separator);
                    items.extend(choice.iter().copied());
                    items
                })
            })
            .collect();
    }
    alternatives
}

/// Whether two atoms can stand for the same character (the alphabet is unbounded, so
/// two exclusion sets always share one).
fn compatible(a: Atom, b: Atom) -> bool {
    match (a, b) {
        (Atom::Char(x), Atom::Char(y)) => x == y,
        (Atom::Char(c), Atom::NotIn(set)) | (Atom::NotIn(set), Atom::Char(c)) => !set.contains(c),
        _ => true,
    }
}

/// Whether some string matches both item sequences: a search over pairs of positions.
fn intersect(a: &[Item], b: &[Item]) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, j)) = stack.pop() {
        if !seen.insert((i, j)) {
            continue;
        }
        if i == a.len() && j == b.len() {
            return true;
        }
        if i < a.len() && a[i].repeated {
            stack.push((i + 1, j));
        }
        if j < b.len() && b[j].repeated {
            stack.push((i, j + 1));
        }
        if i < a.len() && j < b.len() && compatible(a[i].atom, b[j].atom) {
            let next = (if a[i].repeated { i } else { i + 1 }, if b[j].repeated { j } else { j + 1 });
            stack.push(next);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_paths_and_globs_over_them_fit() {
        for (method, path) in [
            ("POST", "/keys/query"),
            ("PUT", "/sendToDevice/m.secret.request/*"),
            ("PUT", "/sendToDevice/m.room.encrypted/txn1"),
            ("PUT", "/sendToDevice/*"),
            ("PUT", "/sendToDevice/org.example.custom/*"),
            ("PUT", "/sendToDevice/m.key.verification.*"),
            ("GET", "/rendezvous/*"),
            ("POST", "/rendezvous"),
            ("POST", "/login/get_token"),
            ("POST", "/unstable/msc3882/login/token"),
            ("GET", "/versions"),
            ("POST", "/*"),
            ("GET", "/user/*/filter/*"),
        ] {
            assert_eq!(check(method, path), Ok(()), "{method} {path}");
        }
    }

    #[test]
    fn typos_do_not_fit() {
        for (method, path, says) in [
            ("PUT", "/sendToDevice/m.secret.reqest/*", "does not define"),
            ("PUT", "/sendToDevice/m.secret.reqest/txn", "does not define"),
            ("POST", "/keys/qeury", "POST endpoints there: /keys/upload, /keys/query"),
            ("GET", "/keys/query", "only as POST"),
            ("PUT", "/sendToDevice/m.secret.request", "no endpoint"),
            ("POST", "/register/extra/segment", "no endpoint"),
            ("GET", "/rendezvous/", "no endpoint"),
            ("DELETE", "/nowhere", "docs/mock-homeserver.md"),
        ] {
            let error = check(method, path).expect_err(path);
            assert!(error.contains(says), "{method} {path}: {error}");
        }
    }

    #[test]
    fn intersection_of_globs_and_parameters() {
        let param = endpoint_alternatives(&Endpoint { method: "GET", path: "/a/{x}/b" }, true);
        assert!(intersect(&glob_items("/a/*/b"), &param[0]));
        assert!(intersect(&glob_items("/a/*"), &param[0]));
        assert!(intersect(&glob_items("/a/q*"), &param[0]));
        assert!(!intersect(&glob_items("/a/q/r/b"), &param[0]), "a parameter is one segment");
        assert!(!intersect(&glob_items("/a//b"), &param[0]), "and not an empty one");
        assert!(intersect(&glob_items("*"), &glob_items("*")));
        assert!(!intersect(&glob_items("/a"), &glob_items("/b*")));
    }
}
