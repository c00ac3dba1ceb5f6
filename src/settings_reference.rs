//! docs/settings.md, generated from the flags themselves (clap's
//! definitions) and the cameras file's keys ([`crate::config::RUN_KEYS`],
//! [`crate::config::CAMERA_FLAGS`]): every flag, its key, its default and
//! its values. A test compares the committed file with this, so the two
//! cannot drift (`SSD_CAM_BLESS=1` rewrites it).

use clap::CommandFactory;

use crate::cli::Args;

/// Where a flag's setting goes in a cameras file.
fn key_of(flag: &str) -> String {
    if let Some((table, key, _)) = crate::config::RUN_KEYS.iter().find(|(_, _, f)| *f == flag) {
        return format!("`[{table}]` `{key}`");
    }
    if let Some((_, key)) = crate::config::CAMERA_FLAGS.iter().find(|(f, _)| *f == flag) {
        return format!("`[defaults]` / `[[camera]]` `{key}`");
    }
    if ["backend", "ep", "precision"].contains(&flag) {
        return format!("`[engine]` `{flag}`");
    }
    "command line only".into()
}

/// The reference, as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Settings\n\n\
         Every setting of a run: its flag, its key in a cameras file (`--config`;\n\
         a flag given on the command line wins over its key), its default and\n\
         the values it takes. Generated from the program's own definitions\n\
         (src/settings_reference.rs); a test fails when this file differs.\n",
    );
    let mut command = Args::command();
    command.build();
    // Rows under their help heading, headings in the order they first come.
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["help", "version"].contains(&long) {
            continue;
        }
        let cell = |s: &str| s.replace('|', "\\|");
        let value = arg.get_value_names().map(|v| v.join(" ")).filter(|_| arg.get_action().takes_values());
        let flag = match value {
            Some(v) => format!("`--{long} {}`", cell(&v)),
            None => format!("`--{long}`"),
        };
        let default: Vec<String> =
            arg.get_default_values().iter().map(|v| format!("`{}`", cell(&v.to_string_lossy()))).collect();
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| format!("`{}`", v.get_name()))
            .collect();
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let first = cell(help.split(". ").next().unwrap_or_default().trim_end_matches('.'));
        let row = format!(
            "| {flag} | {} | {} | {} | {first} |\n",
            key_of(long),
            if default.is_empty() { "—".into() } else { default.join(" ") },
            if values.is_empty() { "—".into() } else { values.join(" ") },
        );
        let heading = arg.get_help_heading().unwrap_or("General").to_owned();
        match sections.iter_mut().find(|(h, _)| *h == heading) {
            Some((_, rows)) => rows.push(row),
            None => sections.push((heading, vec![row])),
        }
    }
    for (heading, rows) in sections {
        out.push_str(&format!(
            "\n## {heading}\n\n| flag | cameras file | default | values | what |\n|---|---|---|---|---|\n"
        ));
        out.extend(rows);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_settings_md_is_the_reference_the_flags_make() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/settings.md");
        let made = super::markdown();
        if std::env::var_os("SSD_CAM_BLESS").is_some() {
            std::fs::write(&path, &made).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == made,
            "docs/settings.md is not what the flags make: run SSD_CAM_BLESS=1 cargo test settings_reference"
        );
        for needed in ["`--http ", "`[web]` `listen`", "`[[camera]]` `threshold`", "`[engine]` `backend`"] {
            assert!(made.contains(needed), "{needed}");
        }
    }
}
