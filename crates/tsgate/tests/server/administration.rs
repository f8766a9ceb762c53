//! Administration from the command line: fields checked when entered and named by their
//! flag, workstations given only doctors that exist, the doctors of a workstation changed.

use crate::support::{cli, tempdir};

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("tsgate.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nsanitel_certificate = \"/nowhere/SanitelCF.cer\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    config
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_fields_and_unknown_doctors_are_named_and_exit_2() {
    let dir = tempdir();
    let config = config(dir.path());
    let add = |region: &str, asl: &str| {
        cli(
            &config,
            &[
                "user",
                "add",
                "--id",
                "ROSSI",
                "--cf",
                "PROVAX00X00X000N",
                "--region",
                region,
                "--asl",
                asl,
            ],
            "Password.2026\n12345678\n",
        )
    };
    let out = add("13", "2O2");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--region") && stderr.contains("130 (Abruzzo)"),
        "{stderr}"
    );
    assert!(stderr.contains("--asl"), "{stderr}");
    let out = add("130", "202");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    let out = cli(
        &config,
        &[
            "workstation",
            "add",
            "--name",
            "Ambulatorio",
            "--users",
            "NOBODY",
        ],
        "",
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("NOBODY").count(), 1, "{stderr}");
    assert!(!stderr.contains("FOREIGN KEY"), "{stderr}");

    let out = cli(
        &config,
        &[
            "workstation",
            "add",
            "--name",
            "Ambulatorio",
            "--users",
            "ROSSI",
        ],
        "",
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let id = stdout
        .split("id ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no id in {stdout}"))
        .to_owned();
    let out = cli(
        &config,
        &["workstation", "set-users", &id, "--users", "NOBODY"],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    let out = cli(&config, &["workstation", "set-users", &id, "--users"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("no doctor"), "{stdout}");
    let out = cli(&config, &["workstation", "list"], "");
    let (stdout, _) = text(&out);
    let line = stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(!line.contains("ROSSI"), "{line}");
}
