//! The fuzz seeds, corpus and regressions (`fuzz/{seeds,corpus,regressions}/<target>/`, kept in
//! the repository) replayed through the properties the fuzz targets check, so every input
//! that once broke one stays a regression test in the test command.
use std::{panic, path::Path};

use gatehouse::fuzzing;

/// Runs every file under the target's folders through `property`; returns how many ran.
fn replay(target: &str, property: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    let mut ran = 0;
    for folder in ["seeds", "corpus", "regressions"] {
        let dir = root.join(folder).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.expect("a readable folder").path();
            let input = std::fs::read(&path).expect("a readable input");
            if let Err(cause) = panic::catch_unwind(|| property(&input)) {
                let why = cause.downcast_ref::<String>().cloned().or_else(|| cause.downcast_ref::<&str>().map(|s| s.to_string()));
                failures.push(format!("{}: {}", path.display(), why.unwrap_or_default()));
            }
            ran += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {ran} inputs break {target}:\n{}", failures.len(), failures.join("\n"));
    ran
}

#[test]
fn the_token_reader_corpus_holds() {
    assert!(replay("token_reader", fuzzing::token_reader) >= 2);
}

#[test]
fn the_signed_claims_corpus_holds() {
    assert!(replay("signed_claims", fuzzing::signed_claims) >= 2);
}

#[test]
fn the_sse_rewriter_corpus_holds() {
    assert!(replay("sse_rewriter", fuzzing::sse_rewriter) >= 6);
}

#[test]
fn the_upstream_url_corpus_holds() {
    assert!(replay("upstream_url", fuzzing::upstream_url) >= 7);
}

/// The seed tokens are valid for the fixture, so the fuzzer starts from inputs that reach every
/// check (if the fixture changed, they would be refused at the signature and test little).
#[test]
fn the_seed_tokens_pass_the_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for seed in ["seed-indefinite", "seed-timed"] {
        let token = std::fs::read_to_string(root.join("token_reader").join(seed)).unwrap();
        let grant = fuzzing::accepts(&token).unwrap_or_else(|refusal| panic!("{seed} refused: {refusal:?}"));
        assert!(grant.token.is_some());
    }
}

/// The oracle reads the spec's own examples as the spec says.
#[test]
fn the_spec_reader_follows_the_spec() {
    let events = fuzzing::spec_events(b"\xef\xbb\xbfdata: a\r\ndata:b\r\revent: e\nid: 1\ndata\n\n: comment\nevent: x\n\ndata: tail");
    let kinds: Vec<(&str, &str)> = events.iter().map(|e| (e.kind.as_str(), e.data.as_str())).collect();
    assert_eq!(kinds, [("message", "a\nb"), ("e", "")]);
}
