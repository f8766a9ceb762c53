//! Every command of `tsgate --help` given bad input: the message names the problem (and the
//! next step), the exit code is 2, and `--help` works. The commands are read from the
//! binary's own help, so a new command without a case here fails the test. No server is
//! started: the commands run on a configuration of their own, against nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{bin, tempdir};

/// Runs `tsgate args…` with `stdin`, no `TSGATE_*` variable of the caller's environment.
fn run(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    use std::io::Write as _;
    let mut command = Command::new(bin());
    for (name, _) in std::env::vars() {
        if name.starts_with("TSGATE_") && name != "TSGATE_E2E_BIN" {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tsgate");
    // A command may exit before reading: a closed pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The subcommands listed by `tsgate <path…> --help` (`help` left out).
fn subcommands(path: &[&str]) -> Vec<String> {
    let mut args = path.to_vec();
    args.push("--help");
    let (code, stdout, stderr) = run(&args, "");
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A command's line starts two spaces in; its wrapped description, further.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command that runs something: `check`, `user add`, … (groups are walked).
fn leaf_commands() -> Vec<String> {
    let mut leaves = Vec::new();
    for top in subcommands(&[]) {
        let below = subcommands(&[top.as_str()]);
        if below.is_empty() {
            leaves.push(top);
        } else {
            leaves.extend(below.into_iter().map(|sub| format!("{top} {sub}")));
        }
    }
    leaves
}

/// A configuration that loads, on an empty data folder in `dir`, against nothing.
fn config(dir: &Path) -> String {
    let config = dir.join("tsgate.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nsanitel_certificate = \"{}\"\n",
            dir.join("data").display(),
            dir.join("SanitelCF.cer").display()
        ),
    )
    .unwrap();
    config.display().to_string()
}

/// One bad input: the arguments after the command, what standard input holds, and words the
/// error must contain.
struct Case {
    args: Vec<String>,
    stdin: &'static str,
    expected: &'static [&'static str],
}

fn case(args: &[&str], stdin: &'static str, expected: &'static [&'static str]) -> Case {
    Case {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        stdin,
        expected,
    }
}

#[test]
fn every_command_names_bad_input_and_exits_2() {
    let dir = tempdir();
    let config = config(dir.path());
    let c = config.as_str();
    let typo = dir.path().join("typo.toml");
    std::fs::write(
        &typo,
        "enviroment = \"test\"\nsanitel_certificate = \"/x.cer\"\n",
    )
    .unwrap();
    let typo = typo.display().to_string();
    let missing = dir.path().join("nowhere.toml").display().to_string();
    let backup_missing = dir.path().join("nowhere.backup").display().to_string();
    let import_missing = dir.path().join("nowhere.csv").display().to_string();

    let cases: BTreeMap<&str, Case> = BTreeMap::from([
        (
            "demo",
            case(
                &["--port", "eighty"],
                "",
                &["invalid value 'eighty'", "--port"],
            ),
        ),
        (
            "serve",
            case(&["--config", &missing], "", &["nowhere.toml", "not found"]),
        ),
        (
            "sim",
            case(
                &["--mode", "prod"],
                "",
                &["invalid value 'prod'", "production"],
            ),
        ),
        (
            "user add",
            case(
                &[
                    "--id", "ROSSI", "--region", "130", "--asl", "201", "--config", c,
                ],
                "",
                &["--cf", "required"],
            ),
        ),
        (
            "user list",
            case(
                &["--config", &typo],
                "",
                &["enviroment", "did you mean `environment`?"],
            ),
        ),
        (
            "user show",
            case(
                &["NOT A USER ID", "--config", c],
                "",
                &["'NOT A USER ID'", "user id"],
            ),
        ),
        (
            "user remove",
            case(
                &["MUCH-TOO-LONG-USER-ID", "--config", c],
                "",
                &["MUCH-TOO-LONG-USER-ID", "1 to 16 characters"],
            ),
        ),
        (
            "user set-credentials",
            case(&["--config", c], "", &["USER", "required"]),
        ),
        (
            "user set-mailbox",
            case(
                &["ROSSI", "--username", "r@pec.it", "--config", c],
                "",
                &["--host", "required"],
            ),
        ),
        (
            "user set-auto",
            case(
                &["ROSSI", "sometimes", "--config", c],
                "",
                &["invalid value 'sometimes'", "default"],
            ),
        ),
        (
            "workstation add",
            case(
                &["--name", "A1", "--role", "boss", "--config", c],
                "",
                &["boss", "--role"],
            ),
        ),
        (
            "workstation list",
            case(&["--config", &missing], "", &["nowhere.toml", "not found"]),
        ),
        (
            "workstation revoke",
            case(&["--config", c], "", &["<ID>", "required"]),
        ),
        (
            "workstation set-users",
            case(
                &["--users", "ROSSI", "--config", c],
                "",
                &["<ID>", "required"],
            ),
        ),
        (
            "practice add",
            case(
                &["Studio Rossi", "--name", "Studio", "--config", c],
                "",
                &["Studio Rossi"],
            ),
        ),
        (
            "practice list",
            case(&["--config", &typo], "", &["did you mean `environment`?"]),
        ),
        (
            "practice add-member",
            case(
                &["studio-rossi", "--config", c],
                "",
                &["<USER>", "required"],
            ),
        ),
        (
            "practice remove-member",
            case(
                &["Studio Rossi", "ROSSI", "--config", c],
                "",
                &["Studio Rossi"],
            ),
        ),
        (
            "import",
            case(&[&import_missing, "--config", c], "", &["nowhere.csv"]),
        ),
        (
            "session status",
            case(&["--config", c], "", &["USER", "required"]),
        ),
        (
            "session request",
            case(
                &["NOT A USER ID", "--config", c],
                "",
                &["'NOT A USER ID'", "user id"],
            ),
        ),
        (
            "session insert",
            case(
                &["ROSSI", "--config", c],
                "\n",
                &["ID-SESSIONE code is empty", "standard input"],
            ),
        ),
        (
            "session revoke",
            case(
                &["ROSSI", "--user", "ROSSI", "--config", c],
                "",
                &["cannot be used with"],
            ),
        ),
        (
            "hours show",
            case(&["--config", &missing], "", &["nowhere.toml", "not found"]),
        ),
        (
            "hours set",
            case(&["--config", c], "", &["<WEEK>", "required"]),
        ),
        (
            "hours close",
            case(&["--config", c], "", &["--from", "required"]),
        ),
        (
            "hours reopen",
            case(
                &["--from", "2026-02-30", "--config", c],
                "",
                &["2026-02-30"],
            ),
        ),
        (
            "hours reset",
            case(&["--config", c], "", &["USER", "required"]),
        ),
        (
            "check",
            case(
                &[],
                "",
                &[
                    "no configuration file was given",
                    "--config FILE",
                    "TSGATE_CONFIG",
                    "sanitel_certificate",
                ],
            ),
        ),
        (
            "backup",
            case(&["--config", c], "", &["<OUT_FILE>", "required"]),
        ),
        (
            "restore",
            case(&[&backup_missing, "--config", c], "", &["nowhere.backup"]),
        ),
        (
            "rotate-key",
            case(&["--config", &typo], "", &["did you mean `environment`?"]),
        ),
        (
            "support-bundle",
            case(&["--config", &typo], "", &["did you mean `environment`?"]),
        ),
    ]);

    let leaves = leaf_commands();
    assert!(leaves.len() > 20, "{leaves:?}");
    let uncovered: Vec<&String> = leaves
        .iter()
        .filter(|l| !cases.contains_key(l.as_str()))
        .collect();
    assert!(
        uncovered.is_empty(),
        "commands without a bad-input case in cli_errors.rs: {uncovered:?}"
    );

    let mut failures = Vec::new();
    for leaf in &leaves {
        let words: Vec<&str> = leaf.split(' ').collect();
        let mut help = words.clone();
        help.push("--help");
        let (code, stdout, _) = run(&help, "");
        if code != Some(0) || !stdout.contains("Usage:") {
            failures.push(format!("`tsgate {leaf} --help` failed ({code:?})"));
        }
        let case = &cases[leaf.as_str()];
        let mut args = words.clone();
        args.extend(case.args.iter().map(String::as_str));
        let (code, stdout, stderr) = run(&args, case.stdin);
        let missing: Vec<&&str> = case
            .expected
            .iter()
            .filter(|w| !stderr.contains(**w))
            .collect();
        if code != Some(2) || !missing.is_empty() {
            failures.push(format!(
                "`tsgate {}`: exit {code:?}, missing {missing:?}\nstdout: {stdout}\nstderr: {stderr}",
                args.join(" ")
            ));
        }
        // Neither figment's profile nor a Rust type name reaches the administrator.
        if stderr.contains("default.") || stderr.contains("u64") {
            failures.push(format!("`tsgate {leaf}`: internal words in {stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_configuration_problem_is_reported_at_once_with_its_key() {
    let dir = tempdir();
    let config = dir.path().join("tsgate.toml");
    std::fs::write(
        &config,
        "enviroment = \"test\"\nenvironment = \"prod\"\nyellow_minutes = \"soon\"\n\
         sanitel_certificate = \"/x.cer\"\n[limits]\napi_body_bytes = 0\nproxy_rate = 5\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["check", "--config", &config.display().to_string()], "");
    assert_eq!(code, Some(2), "{stderr}");
    for expected in [
        "5 problems",
        "enviroment",
        "did you mean `environment`?",
        "environment",
        "\"prod\" is not accepted; use `test`, `production` or `custom`",
        "yellow_minutes",
        "a whole number",
        "limits.api_body_bytes must be between 1024",
        "limits.proxy_rate",
        "tsgate.toml",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    assert!(!stderr.contains("default."), "{stderr}");
}

#[test]
fn check_writes_nothing_on_a_fresh_installation() {
    let dir = tempdir();
    let config = dir.path().join("tsgate.toml");
    // Upstream and certificate on a closed port: every check fails fast, offline.
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nenvironment = \"custom\"\na2f_base = \"http://127.0.0.1:9\"\n\
             dem_base = \"http://127.0.0.1:9\"\n\
             sanitel_certificate_url = \"http://127.0.0.1:9/sim/certificate\"\n",
            dir.path().join("tsgate-data").display()
        ),
    )
    .unwrap();
    let listing = || {
        let mut names: Vec<String> = walk(dir.path());
        names.sort();
        names
    };
    let before = listing();
    let (code, stdout, stderr) = run(&["check", "--config", &config.display().to_string()], "");
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("no master key yet"), "{stdout}");
    assert!(stdout.contains("no database yet"), "{stdout}");
    assert!(stdout.contains("tsgate user add"), "{stdout}");
    assert_eq!(listing(), before, "check wrote into the folder:\n{stdout}");
}

/// Every path under `dir`, relative.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

#[test]
fn an_empty_secret_names_which_one_and_changes_nothing() {
    let dir = tempdir();
    let config = config(dir.path());
    let (code, _, stderr) = run(
        &[
            "user",
            "add",
            "--id",
            "ROSSI",
            "--cf",
            "PROVAX00X00X000N",
            "--region",
            "130",
            "--asl",
            "201",
            "--config",
            &config,
        ],
        "Password.2026\n\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("the Sistema TS PIN is empty")
            && stderr.contains("second of 2 lines of standard input"),
        "{stderr}"
    );
    assert!(!stderr.contains("vuoto"), "{stderr}");
    assert!(!stderr.contains("Password.2026"), "{stderr}");
    assert!(
        !dir.path().join("data").join("tsgate.db").exists(),
        "nothing is created for a refused command"
    );
}
