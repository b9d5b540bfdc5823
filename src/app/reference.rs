//! The book's settings page (`docs/src/operations/settings.md`), made from the command line's
//! own definition, so that `--help` and the book never disagree: a test compares the page with
//! what this writes (`UPDATE_DOCS=1 cargo test --lib settings_page` writes it anew).

use clap::CommandFactory;

use super::cli::Cli;

/// The page, in Markdown.
pub fn settings_page() -> String {
    let mut cli = Cli::command();
    cli.build();
    let mut page = String::from(
        "<!-- Made by `cargo test --lib settings_page` from the command line's definition; \
         do not edit by hand. -->\n\n# Settings\n\n\
         Every setting is a flag and, where an environment variable is named, that variable too \
         (the flag wins). `benecafe-sim --help` prints the same text.\n",
    );
    let serve = cli.find_subcommand("serve").expect("the serve subcommand");
    section(&mut page, "benecafe-sim [serve]", serve, &[]);
    let conform = cli
        .find_subcommand("conform")
        .expect("the conform subcommand");
    let shared: Vec<&str> = serve.get_arguments().filter_map(|a| a.get_long()).collect();
    section(&mut page, "benecafe-sim conform", conform, &shared);
    page
}

/// One table: a row per flag, leaving out those in `skip` (said once, above).
fn section(page: &mut String, title: &str, cmd: &clap::Command, skip: &[&str]) {
    page.push_str(&format!("\n## `{title}`\n\n"));
    if let Some(about) = cmd.get_about() {
        page.push_str(&format!("{about}\n\n"));
    }
    if !skip.is_empty() {
        page.push_str("Every flag of `serve` applies too; these are its own.\n\n");
    }
    page.push_str("| flag | environment | default | what it does |\n|---|---|---|---|\n");
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        if skip.contains(&long) || long == "help" || long == "version" {
            continue;
        }
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map(|v| format!(" <{v}>"))
            .unwrap_or_default();
        let takes_value = arg.get_num_args().is_none_or(|n| n.takes_values());
        let flag = format!("`--{long}{}`", if takes_value { &value } else { "" });
        let env = arg
            .get_env()
            .map(|e| format!("`{}`", e.to_string_lossy()))
            .unwrap_or_default();
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        let default = match default.as_slice() {
            [] => String::new(),
            [d] if d.is_empty() => String::new(),
            values => format!("`{}`", values.join(",")),
        };
        let mut help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let choices: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|p| !p.is_hide_set())
            .map(|p| format!("`{}`", p.get_name()))
            .collect();
        if !choices.is_empty() && takes_value {
            help.push_str(&format!(" (one of {})", choices.join(", ")));
        }
        let help = help.replace('\n', " ").replace('|', "\\|");
        page.push_str(&format!("| {flag} | {env} | {default} | {help} |\n"));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn settings_page_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/src/operations/settings.md"
        );
        let page = super::settings_page();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &page).expect("the settings page is written");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == page,
            "docs/src/operations/settings.md is not what the command line says: run `UPDATE_DOCS=1 cargo test --lib settings_page`"
        );
    }
}
