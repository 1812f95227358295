//! `trustid --help` and each subcommand's help are complete: every command
//! says what it does and every option and argument what it takes.

use clap::CommandFactory;

use super::Cli;

fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
    for sub in command.get_subcommands() {
        let here = format!("{path} {}", sub.get_name());
        if sub.get_about().is_none() {
            missing.push(format!("{here}: what it does"));
        }
        for arg in sub.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{here}: `{id}`"));
            }
        }
        undocumented(sub, &here, missing);
    }
}

#[test]
fn every_command_option_and_argument_has_help() {
    let mut missing = Vec::new();
    undocumented(&Cli::command(), "trustid", &mut missing);
    assert!(missing.is_empty(), "without help:\n{}", missing.join("\n"));
}
