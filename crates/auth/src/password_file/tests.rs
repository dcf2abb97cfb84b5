use std::os::unix::fs::PermissionsExt;

use tempfile::TempDir;

use super::*;

fn temp() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    (dir, path)
}

async fn check(file: &PasswordFile, user: &str, password: &str) -> Verdict {
    file.verify(user, password, None).await.unwrap()
}

fn accepted(user: &str) -> Verdict {
    Verdict::Accepted {
        identity: user.to_owned(),
    }
}

#[tokio::test]
async fn add_then_verify_replace_and_remove() {
    let (_dir, path) = temp();
    let file = PasswordFile::open(path.clone());
    assert_eq!(check(&file, "alice", "pw1").await, Verdict::Rejected);

    PasswordFile::add(&path, "alice", "pw1").unwrap();
    PasswordFile::add(&path, "bob@example.com", "pw2").unwrap();
    assert_eq!(check(&file, "alice", "pw1").await, accepted("alice"));
    assert_eq!(check(&file, "alice", "pw2").await, Verdict::Rejected);
    assert_eq!(
        check(&file, "bob@example.com", "pw2").await,
        accepted("bob@example.com")
    );
    // User names are exact.
    assert_eq!(check(&file, "Alice", "pw1").await, Verdict::Rejected);

    PasswordFile::add(&path, "alice", "new").unwrap();
    assert_eq!(check(&file, "alice", "pw1").await, Verdict::Rejected);
    assert_eq!(check(&file, "alice", "new").await, accepted("alice"));
    assert_eq!(
        PasswordFile::users(&path).unwrap(),
        ["alice", "bob@example.com"]
    );

    assert!(PasswordFile::remove(&path, "alice").unwrap());
    assert!(!PasswordFile::remove(&path, "alice").unwrap());
    assert_eq!(check(&file, "alice", "new").await, Verdict::Rejected);
    assert_eq!(PasswordFile::users(&path).unwrap(), ["bob@example.com"]);
}

#[test]
fn the_file_is_private_and_holds_only_hashes() {
    let (_dir, path) = temp();
    PasswordFile::add(&path, "alice", "s3cret-pass").unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("alice:$argon2id$v=19$"), "{text}");
    assert!(!text.contains("s3cret-pass"));
    assert_eq!(text.lines().count(), 1);
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["passwd"]);
}

#[test]
fn rewrites_keep_comments_and_other_lines_as_they_were() {
    let (_dir, path) = temp();
    let original = "# users for submission\nalice:$2b$04$x\n\nnot a user line\ncarol:$2b$04$y";
    fs::write(&path, original).unwrap();
    PasswordFile::add(&path, "dave", "pw").unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&format!("{original}\ndave:$argon2id$")),
        "{text}"
    );

    assert!(PasswordFile::remove(&path, "alice").unwrap());
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# users for submission\n\nnot a user line\ncarol:$2b$04$y\ndave:"),
        "{text}"
    );
}

#[test]
fn replacing_a_duplicated_user_leaves_one_line_in_place() {
    let (_dir, path) = temp();
    fs::write(&path, "alice:old1\nbob:b\nalice:old2\n").unwrap();
    PasswordFile::add(&path, "alice", "pw").unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let users: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(users, ["alice", "bob"]);
    assert!(text.starts_with("alice:$argon2id$"), "{text}");
}

#[tokio::test]
async fn bcrypt_lines_verify() {
    let (_dir, path) = temp();
    let hash = bcrypt::hash("secret", 4).unwrap();
    fs::write(&path, format!("carol:{hash}\n")).unwrap();
    let file = PasswordFile::open(path);
    assert_eq!(check(&file, "carol", "secret").await, accepted("carol"));
    assert_eq!(check(&file, "carol", "nope").await, Verdict::Rejected);
}

#[tokio::test]
async fn garbage_lines_are_skipped_and_the_rest_still_works() {
    let (_dir, path) = temp();
    let hash = bcrypt::hash("secret", 4).unwrap();
    let text = format!(
        "no colon here\n:{hash}\nempty-hash:\n\u{1}ctl:{hash}\nbroken:$argon2id$v=19$junk\n  # indented comment\r\ncarol:{hash}\r\n\n"
    );
    fs::write(&path, text).unwrap();
    assert_eq!(PasswordFile::users(&path).unwrap(), ["broken", "carol"]);
    let file = PasswordFile::open(path);
    assert_eq!(check(&file, "carol", "secret").await, accepted("carol"));
    // A hash that does not parse rejects (and logs), it does not fail the session.
    assert_eq!(check(&file, "broken", "secret").await, Verdict::Rejected);
    assert_eq!(check(&file, "", "secret").await, Verdict::Rejected);
    assert_eq!(check(&file, "empty-hash", "").await, Verdict::Rejected);
}

#[tokio::test]
async fn a_changed_file_is_read_again_and_a_missing_one_has_no_users() {
    let (_dir, path) = temp();
    let file = PasswordFile::open(path.clone());
    let hash = |password| bcrypt::hash(password, 4).unwrap();
    fs::write(&path, format!("carol:{}\n", hash("one"))).unwrap();
    assert_eq!(check(&file, "carol", "one").await, accepted("carol"));
    // Written in place: the inode stays, the size and mtime move. (A same-size write
    // within one timestamp tick would go unnoticed; `add` always renames a new inode.)
    fs::write(&path, format!("# changed\ncarol:{}\n", hash("two"))).unwrap();
    assert_eq!(check(&file, "carol", "two").await, accepted("carol"));
    fs::remove_file(&path).unwrap();
    assert_eq!(check(&file, "carol", "two").await, Verdict::Rejected);
    assert_eq!(PasswordFile::users(&path).unwrap(), Vec::<String>::new());
    assert!(!PasswordFile::remove(&path, "carol").unwrap());
}

#[tokio::test]
async fn an_unreadable_file_is_a_temporary_error() {
    let (dir, _) = temp();
    // A directory cannot be read as a file: the same path as a permission problem
    // without depending on whether the tests run as root.
    let file = PasswordFile::open(dir.path().to_owned());
    let result = file.verify("alice", "pw", None).await;
    assert!(matches!(result, Err(AuthError::Io(_))), "{result:?}");
}

#[tokio::test]
async fn unknown_users_are_rejected_after_a_full_verification() {
    let (_dir, path) = temp();
    PasswordFile::add(&path, "alice", "pw").unwrap();
    let file = PasswordFile::open(path);
    crate::hash::dummy_hash();
    let started = std::time::Instant::now();
    assert_eq!(check(&file, "alice", "wrong").await, Verdict::Rejected);
    let known = started.elapsed();
    let started = std::time::Instant::now();
    assert_eq!(check(&file, "mallory", "pw").await, Verdict::Rejected);
    let unknown = started.elapsed();
    assert!(
        unknown * 4 > known,
        "unknown user took {unknown:?}, a known one {known:?}"
    );
}

#[test]
fn bad_input_is_refused_before_touching_the_file() {
    let (_dir, path) = temp();
    for user in ["", "a:b", "a\nb", "a\0b", "#a"] {
        let error = PasswordFile::add(&path, user, "pw").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{user:?}");
    }
    let error = PasswordFile::add(&path, "alice", "").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert!(!path.exists());
}
