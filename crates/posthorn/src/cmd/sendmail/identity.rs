//! Who runs the command: the user name for the default envelope sender and the
//! `relay=USER@localhost` of the log, looked up by real uid as sendmail does (the
//! environment's `USER` could name anyone).

/// The invoking user's login name, or the uid as text when it has none usable as
/// the local part of an address.
pub fn invoking_user() -> String {
    let uid = rustix::process::getuid().as_raw();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| name_for_uid(&passwd, uid))
        .filter(|name| is_plain_local_part(name))
        .unwrap_or_else(|| uid.to_string())
}

/// The first passwd(5) entry with this uid.
fn name_for_uid(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let entry_uid = fields.nth(1)?.parse::<u32>().ok()?;
        (entry_uid == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// Letters, digits, `.`, `_` and `-`, not starting or ending with a dot: safe in an
/// address and in a header without quoting.
fn is_plain_local_part(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          # comment\n\
                          broken line\n\
                          alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n\
                          alias:x:1000:1000::/home/alice:/bin/sh\n";

    #[test]
    fn passwd_lookup_takes_the_first_entry_for_the_uid() {
        assert_eq!(name_for_uid(PASSWD, 0), Some("root".to_owned()));
        assert_eq!(name_for_uid(PASSWD, 1000), Some("alice".to_owned()));
        assert_eq!(name_for_uid(PASSWD, 4242), None);
    }

    #[test]
    fn only_plain_names_are_used_as_local_parts() {
        for name in ["alice", "a.b", "svc_mail-1"] {
            assert!(is_plain_local_part(name), "{name}");
        }
        for name in ["", ".a", "a.", "a..b", "a b", "a@b", "ä"] {
            assert!(!is_plain_local_part(name), "{name}");
        }
    }
}
