//! The config parser (TOML, then validation) on raw bytes (first byte even) or on
//! config-shaped text (odd), plus the size and duration parsers on the same text.
//! Checks: no panic (an overflowing size or duration is an error, not a crash); an
//! error's position lies inside the text; a config that parsed has listeners, a
//! hostname and sane limits.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use posthorn_config::{parse_duration, parse_size, Config};

/// Pieces of a config file; random bytes index into this table.
const CONFIG_TOKENS: &[&str] = &[
    "\n",
    "[limits]\n",
    "[timeouts]\n",
    "[queue]\n",
    "[outbound]\n",
    "[relay]\n",
    "[dns]\n",
    "[log]\n",
    "[auth]\n",
    "[tls]\n",
    "[maps]\n",
    "[inbound]\n",
    "[[listener]]\n",
    "address = ",
    "kind = ",
    "\"mta\"",
    "\"smtps\"",
    "\"submission\"",
    "\"127.0.0.1:2525\"",
    "\"[::1]:25\"",
    "\"0.0.0.0:0\"",
    "hostname = ",
    "\"mx1.example.com\"",
    "\"-bad\"",
    "spool = ",
    "\"/tmp/s\"",
    "message_size = ",
    "recipients = ",
    "sessions = ",
    "errors = ",
    "command = ",
    "data_block = ",
    "retry_min = ",
    "retry_max = ",
    "give_up_after = ",
    "port = ",
    "starttls = ",
    "\"opportunistic\"",
    "\"verified\"",
    "networks = ",
    "nameservers = ",
    "domains = ",
    "[\"10.0.0.0/8\"]",
    "[\"::1/129\"]",
    "[\"127.0.0.1:5300\"]",
    "[]",
    "format = ",
    "\"json\"",
    "\"50MB\"",
    "\"18446744073709551615GB\"",
    "\"1.5KB\"",
    "\"5m\"",
    "\"0s\"",
    "\"18446744073709551615d\"",
    "\"1h 30m\"",
    "0",
    "1",
    "-1",
    "65536",
    "4294967296",
    "true",
    "\"",
    "=",
    "#",
    "unknown = 1",
    " ",
    "\u{e9}",
];

fuzz_target!(|data: &[u8]| {
    let Some(text) = posthorn_proto_fuzz::text_or_shaped(data, CONFIG_TOKENS) else {
        return;
    };
    let _ = parse_size(&text);
    let _ = parse_duration(&text);
    match Config::from_toml(&text, Some(Path::new("posthorn.toml"))) {
        Ok(config) => {
            assert!(!config.hostname.is_empty());
            assert!(!config.listeners.is_empty(), "a config with no listener");
            assert!(config.limits.message_size > 0 || text.contains("message_size"));
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
            if let Some(position) = error.position {
                let lines = text.split('\n').count();
                assert!(
                    (1..=lines).contains(&position.line),
                    "{error} in {lines} lines"
                );
                assert!(position.column >= 1);
            }
        }
    }
});
