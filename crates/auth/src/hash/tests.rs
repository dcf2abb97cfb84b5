use std::time::Instant;

use argon2::{Algorithm, Params};

use super::*;

/// A bcrypt hash at cost 4 (the fastest).
fn bcrypt_of(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

#[test]
fn new_hashes_are_argon2id_phc_strings_that_verify() {
    let hash = hash_password("correct horse").unwrap();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!hash.contains("correct horse"));
    assert!(verify_hash(&hash, "correct horse").unwrap());
    assert!(!verify_hash(&hash, "wrong horse").unwrap());
    // A random salt: the same password never gives the same string.
    assert_ne!(hash, hash_password("correct horse").unwrap());
}

#[test]
fn bcrypt_hashes_verify() {
    let hash = bcrypt_of("secret");
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    assert!(verify_hash(&hash, "secret").unwrap());
    assert!(!verify_hash(&hash, "Secret").unwrap());
    // $2y$ (PHP, htpasswd) is the same algorithm.
    let php_style = hash.replacen("$2b$", "$2y$", 1);
    assert!(verify_hash(&php_style, "secret").unwrap());
}

/// Hashes of "secret" made by other software, as administrators would bring them.
#[test]
fn hashes_from_other_tools_verify() {
    let made_elsewhere = [
        // glibc crypt(3), Blowfish.
        "$2b$04$2m6xk9gT2t0xybeyF.r5qOq6WWf8CMuPv8mCTrA5245DnlAmYrGj6",
        // `doveadm pw -s BLF-CRYPT -r 4`, with and without the scheme prefix.
        "{BLF-CRYPT}$2y$04$kiwSgv8RXLcfpJ7ZAGCtAuRiXhw423GgpjM5v76loOt19uAOY2He6",
        "$2y$04$kiwSgv8RXLcfpJ7ZAGCtAuRiXhw423GgpjM5v76loOt19uAOY2He6",
        // `doveadm pw -s ARGON2ID` (libsodium's parameters, not ours).
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$ZYNVHBG3sJ4z5PrpX6iinw$1MhkwRXH+0GeTA8OSR7IAxi/4WDjgsHGFO32lyjH/7M",
    ];
    for stored in made_elsewhere {
        assert!(verify_hash(stored, "secret").unwrap(), "{stored}");
        assert!(!verify_hash(stored, "secreT").unwrap(), "{stored}");
    }
}

#[test]
fn garbage_hashes_are_errors_not_matches() {
    for stored in [
        "",
        "plaintext",
        "$argon2id$v=19$broken",
        "$2b$04$short",
        "{SHA}abc",
    ] {
        assert!(verify_hash(stored, "plaintext").is_err(), "{stored:?}");
    }
}

#[test]
fn the_dummy_hash_costs_what_a_real_one_costs() {
    let dummy = PasswordHash::new(dummy_hash()).unwrap();
    let real_text = hash_password("x").unwrap();
    let real = PasswordHash::new(&real_text).unwrap();
    assert_eq!(dummy.algorithm, Algorithm::Argon2id.ident());
    assert_eq!(dummy.algorithm, real.algorithm);
    assert_eq!(dummy.version, real.version);
    assert_eq!(
        Params::try_from(&dummy).unwrap(),
        Params::try_from(&real).unwrap()
    );
    assert!(!verify_hash(dummy_hash(), "x").unwrap());
}

#[test]
fn unknown_users_spend_a_verification_and_never_pass() {
    let stored = hash_password("hunter2").unwrap();
    dummy_hash(); // made once per process; not part of what we time
    let started = Instant::now();
    assert!(!verify_or_spend(Some(&stored), "guess").unwrap());
    let known = started.elapsed();
    let started = Instant::now();
    assert!(!verify_or_spend(None, "guess").unwrap());
    assert!(!verify_or_spend(None, DUMMY_PASSWORD).unwrap());
    let unknown = started.elapsed() / 2;
    // The same work, so about the same time; a generous bound against noisy machines.
    assert!(
        unknown * 4 > known,
        "unknown user took {unknown:?}, a known one {known:?}"
    );
}

#[test]
fn user_names() {
    assert_eq!(check_user_name("alice"), Ok(()));
    assert_eq!(check_user_name("alice@example.com"), Ok(()));
    assert_eq!(check_user_name("Jo Smith"), Ok(()));
    assert_eq!(check_user_name(""), Err(UserNameError::Empty));
    assert_eq!(check_user_name("a:b"), Err(UserNameError::Colon));
    for bad in ["a\0b", "a\nb", "a\rb", "a\tb", "a\x7fb"] {
        assert_eq!(check_user_name(bad), Err(UserNameError::Control), "{bad:?}");
    }
    assert_eq!(check_user_name("#alice"), Err(UserNameError::Comment));
    assert_eq!(
        check_user_name(&"a".repeat(256)),
        Err(UserNameError::TooLong)
    );
}
