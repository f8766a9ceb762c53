//! Reading secrets for the administration commands: asked on the terminal without echo, or
//! read one per line from standard input (for scripts). Never from the command line, where
//! other users of the machine could read them in the process list.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context, bail};

/// Reads one secret: a hidden prompt on a terminal, else the next line of standard input.
pub fn read_secret(prompt: &str) -> anyhow::Result<String> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("cannot read from the terminal")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if value.is_empty() {
        bail!(
            "{} vuoto: operazione annullata",
            prompt.trim_end_matches([':', ' '])
        );
    }
    Ok(value)
}
