//! Bounded fuzzing of config parsing (proptest, fixed seed): the embedded config mutated
//! line by line — lines dropped, repeated or cut, values replaced by hostile ones (negative,
//! huge, wrong type, control characters, schedules that never fire, ports out of range),
//! random bytes inserted. Parsing never panics, and a refused config always says where.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};

use super::Config;

const HOSTILE_VALUES: &[&str] = &[
    "-1",
    "0",
    "1e309",
    "18446744073709551616",
    "\"\"",
    "\"abc\"",
    "[]",
    "{}",
    "true",
    "\"99999999999h\"",
    "\"-5s\"",
    "\"0 0 31 2 *\"",
    "\"* * * * * * * *\"",
    "\"http://127.0.0.1:99999\"",
    "\"\\u0001\\u001b[31m\"",
    "\"../../etc/passwd\"",
    "\"1000%\"",
    "\"nan\"",
];

#[derive(Debug, Clone)]
enum Mutation {
    Drop(usize),
    Repeat(usize),
    Cut(usize, usize),
    Replace(usize, usize),
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Repeat),
        (any::<usize>(), any::<usize>()).prop_map(|(l, at)| Mutation::Cut(l, at)),
        (any::<usize>(), any::<usize>()).prop_map(|(l, v)| Mutation::Replace(l, v)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(l, bytes)| Mutation::Insert(l, bytes)),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for m in mutations {
        let n = lines.len().max(1);
        match m {
            Mutation::Drop(l) if !lines.is_empty() => {
                lines.remove(l % n);
            }
            Mutation::Repeat(l) if !lines.is_empty() => {
                let line = lines[l % n].clone();
                lines.insert(l % n, line);
            }
            Mutation::Cut(l, at) if !lines.is_empty() => {
                let line = &mut lines[l % n];
                let mut cut = at % (line.len() + 1);
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
            }
            Mutation::Replace(l, v) if !lines.is_empty() => {
                let line = &mut lines[l % n];
                if let Some(eq) = line.find('=') {
                    line.truncate(eq + 1);
                    line.push(' ');
                    line.push_str(HOSTILE_VALUES[v % HOSTILE_VALUES.len()]);
                }
            }
            Mutation::Insert(l, bytes) => {
                lines.insert(l % n, String::from_utf8_lossy(bytes).into_owned());
            }
            _ => {}
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        rng_seed: RngSeed::Fixed(20_261_203),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_mutated_config_is_parsed_or_refused_with_its_place_never_a_panic(
        mutations in proptest::collection::vec(mutation(), 1..6)
    ) {
        let text = mutate(super::DEFAULT_CONFIG, &mutations);
        if let Err(errors) = Config::from_toml("fuzz.toml", &text) {
            let message = errors.to_string();
            prop_assert!(message.contains("fuzz.toml"), "{message}");
            prop_assert!(!message.contains('\u{1b}'), "a control character printed raw: {message}");
        }
    }
}
