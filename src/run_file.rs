//! The run-wide tables of a cameras file (`--config`): the web viewer,
//! MQTT and Home Assistant, outputs, clips, retention, the model and
//! performance, so that a service needs no flags beyond `--config`. Each key
//! is the twin of a command-line flag ([`crate::config::RUN_KEYS`]) and is read by that
//! flag's own parser: a value the flag refuses, the file refuses, with the
//! same words, the file's line and column. A flag given on the command line
//! wins over its key in the file.
//!
//! ```toml
//! [web]
//! listen = "0.0.0.0:8080"
//! token_file = "/etc/ssd-cam/token"
//!
//! [mqtt]
//! url = "mqtt://ssd-cam@broker.lan/home"
//! password_file = "/etc/ssd-cam/mqtt-password"
//! ha_discovery = "homeassistant"
//!
//! [clips]
//! dir = "/var/lib/ssd-cam/clips"
//!
//! [retention]
//! days = ["clips=14", "snapshots=7"]
//! ```
//!
//! Strings may hold `${VAR}` (expanded from the environment, as sources
//! are); a `true` switch sets its flag, `false` leaves it unset; a list
//! repeats its flag.

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Args;

pub use crate::config::RUN_KEYS;

/// The command line `argv` (program name first) with `--config`'s run-wide
/// keys added where the command line does not set their flags, parsed.
/// Errors are one line: clap's for the command line, the file's line and
/// key for the file.
pub fn args_with_file(argv: Vec<OsString>) -> Result<Args, Error> {
    let matches = Args::command().try_get_matches_from(&argv).map_err(Error::Clap)?;
    let args = Args::from_arg_matches(&matches).map_err(Error::Clap)?;
    let Some(path) = args.config.clone() else { return Ok(args) };
    // An unreadable file is the run's own error, with the file's name.
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(args) };
    let in_file = |e: String| Error::File(format!("{}: {e}", path.display()));
    let given = |flag: &str| {
        Args::command().get_arguments().find(|a| a.get_long() == Some(flag)).is_some_and(|a| {
            matches!(matches.value_source(a.get_id().as_str()), Some(clap::parser::ValueSource::CommandLine))
        })
    };
    let added = file_arguments(&text, &given).map_err(in_file)?;
    if added.is_empty() {
        return Ok(args);
    }
    let mut all = vec![argv.first().cloned().unwrap_or_else(|| "ssd-cam".into())];
    all.extend(added.into_iter().map(OsString::from));
    all.extend(argv.into_iter().skip(1));
    parse_all(all).map_err(|e| in_file(first_line(&e.to_string())))
}

/// Why the command line and file could not be read.
#[derive(Debug)]
pub enum Error {
    /// The command line: clap prints it (with `--help` and `--version`).
    Clap(clap::Error),
    /// The file: one line.
    File(String),
}

fn parse_all(argv: Vec<OsString>) -> Result<Args, clap::Error> {
    let matches = Args::command().try_get_matches_from(argv)?;
    Args::from_arg_matches(&matches)
}

/// The flags a file's run-wide tables stand for (table by table, keys in
/// name order), leaving out those `given` on the command line.
pub fn file_arguments(text: &str, given: &dyn Fn(&str) -> bool) -> Result<Vec<String>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.message().trim().to_owned())?;
    let mut out = Vec::new();
    for name in crate::config::run_tables() {
        let Some(value) = table.get(name) else { continue };
        let Some(keys) = value.as_table() else {
            return Err(format!("{}[{name}] is a table of settings", crate::values::key_position(text, name)));
        };
        for (key, value) in keys {
            let at = crate::values::key_position_in(text, &format!("[{name}]"), 0, key);
            let Some((_, _, flag)) = RUN_KEYS.iter().find(|(t, k, _)| *t == name && k == key) else {
                let known: Vec<&str> = RUN_KEYS.iter().filter(|(t, _, _)| *t == name).map(|(_, k, _)| *k).collect();
                let closest = crate::values::did_you_mean(key, &known);
                return Err(format!("[{name}] {at}unknown key '{key}'{closest}; it holds {}", known.join(", ")));
            };
            if given(flag) {
                continue;
            }
            let pieces = flag_pieces(flag, value).map_err(|e| format!("[{name}] {at}{key}: {e}"))?;
            // The flag's own parser, alone, so that its message is about this key.
            let alone = std::iter::once("ssd-cam".to_owned()).chain(pieces.iter().cloned());
            match Args::command().try_get_matches_from(alone) {
                // What a flag needs beside it (--http-insecure, --http) is
                // judged on the whole run's flags.
                Err(e) if e.kind() != clap::error::ErrorKind::MissingRequiredArgument => {
                    return Err(format!("[{name}] {at}{key}: {}", clap_message(&e)));
                }
                _ => {}
            }
            out.extend(pieces);
        }
    }
    Ok(out)
}

/// `--flag` with `value` as the command line would give it: a string (its
/// `${VAR}` expanded), a number, a switch (`true` only), or a list of them
/// (the flag repeated).
fn flag_pieces(flag: &str, value: &toml::Value) -> Result<Vec<String>, String> {
    let long = format!("--{flag}");
    let one = |v: &toml::Value| -> Result<Option<String>, String> {
        match v {
            toml::Value::String(s) => crate::secrets::expand_env(s).map(Some),
            toml::Value::Integer(n) => Ok(Some(n.to_string())),
            toml::Value::Float(x) => Ok(Some(x.to_string())),
            other => Err(format!("{} is not a string or a number", other.type_str())),
        }
    };
    let switch = Args::command()
        .get_arguments()
        .find(|a| a.get_long() == Some(flag))
        .is_some_and(|a| !a.get_action().takes_values());
    match value {
        toml::Value::Boolean(on) if switch => Ok(if *on { vec![long] } else { Vec::new() }),
        _ if switch => Err("true or false".into()),
        toml::Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                if let Some(v) = one(item)? {
                    out.push(format!("{long}={v}"));
                }
            }
            Ok(out)
        }
        v => Ok(one(v)?.map(|v| vec![format!("{long}={v}")]).unwrap_or_default()),
    }
}

/// clap's message without its `error: ` prefix, usage and tips: the first line.
fn clap_message(e: &clap::Error) -> String {
    first_line(&e.to_string())
}

fn first_line(s: &str) -> String {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    line.trim().trim_start_matches("error: ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn run_tables_become_their_flags_and_the_command_line_wins() {
        let text = "[web]\nlisten = \"127.0.0.1:8080\"\ninsecure = true\n\n[mqtt]\nurl = \"mqtt://h/home\"\n\n\
                    [retention]\ndays = [\"clips=7\", \"snapshots=3\"]\n\n[performance]\nworkers = 2\nletterbox = false\n";
        let got = file_arguments(text, &none).unwrap();
        assert_eq!(
            got,
            [
                "--http-insecure",
                "--http=127.0.0.1:8080",
                "--mqtt=mqtt://h/home",
                "--retain-days=clips=7",
                "--retain-days=snapshots=3",
                "--workers=2"
            ]
        );
        let got = file_arguments(text, &|flag| flag == "http").unwrap();
        assert!(!got.iter().any(|a| a.starts_with("--http=")), "{got:?}");
    }

    #[test]
    fn a_bad_value_or_key_is_the_flag_s_own_error_with_the_file_s_line() {
        for (text, says) in [
            ("[web]\nlisten = \"nowhere\"\n", "[web] line 2, column 1: listen: invalid value 'nowhere' for '--http"),
            (
                "[web]\nlistn = \"127.0.0.1:80\"\n",
                "[web] line 2, column 1: unknown key 'listn' (did you mean 'listen'?)",
            ),
            ("[performance]\nworkers = 0\n", "[performance] line 2, column 1: workers: invalid value '0'"),
            ("[outputs]\nevents = \"yes\"\n", "[outputs] line 2, column 1: events: true or false"),
            ("[web]\nfps = [1, 2]\n", "[web] line 2, column 1: fps: "),
            ("web = 3\n", "line 1, column 1: [web] is a table of settings"),
        ] {
            let e = file_arguments(text, &none).unwrap_err();
            assert!(e.starts_with(says), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn every_flag_has_a_key_in_the_cameras_file_but_the_command_line_s_own() {
        // Flags of the command line alone: what names the file, what asks
        // something of the program instead of a run, and the sources, which
        // the file gives per camera.
        let command_line_only = [
            "help",
            "version",
            "config",
            "check-config",
            "list-devices",
            "device",
            "source",
            "name",
            // Zones for flags; the file holds each camera's `zones` itself.
            "zones-file",
        ];
        let camera_keys = crate::config::CAMERA_FLAGS.iter().map(|(flag, _)| *flag);
        let engine = ["backend", "ep", "precision"];
        let run = RUN_KEYS.iter().map(|(_, _, flag)| *flag);
        let keyed: Vec<&str> = camera_keys.chain(engine).chain(run).chain(command_line_only).collect();
        let missing: Vec<String> = Args::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_owned))
            .filter(|l| !keyed.contains(&l.as_str()))
            .collect();
        assert!(missing.is_empty(), "flags without a cameras.toml key: {missing:?}");
        // And every key named is the flag's: no key for a flag that is gone.
        let flags: Vec<String> =
            Args::command().get_arguments().filter_map(|a| a.get_long().map(str::to_owned)).collect();
        let stale: Vec<&&str> =
            keyed.iter().filter(|k| !["help", "version"].contains(*k) && !flags.iter().any(|f| f == *k)).collect();
        assert!(stale.is_empty(), "keys for flags that do not exist: {stale:?}");
    }
}
