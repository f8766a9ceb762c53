//! Reading secrets for the administration commands: asked on the terminal without echo, or
//! read one per line from standard input (for scripts). Never from the command line, where
//! other users of the machine could read them in the process list.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context, bail};

/// A secret a command asks for: what it is (for the prompt and the messages) and, for a
/// script feeding standard input, on which line it is expected.
#[derive(Debug, Clone, Copy)]
pub struct Secret {
    /// What the secret is, e.g. "Sistema TS password".
    pub what: &'static str,
    /// Its line on standard input when the command reads several (1-based).
    pub line: usize,
    /// How many secrets the command reads from standard input.
    pub of: usize,
}

impl Secret {
    /// The only secret a command reads.
    pub const fn only(what: &'static str) -> Self {
        Self {
            what,
            line: 1,
            of: 1,
        }
    }

    /// Secret number `line` of `of`.
    pub const fn nth(what: &'static str, line: usize, of: usize) -> Self {
        Self { what, line, of }
    }

    /// Where it is expected on standard input, for the messages.
    fn where_on_stdin(&self) -> String {
        if self.of == 1 {
            "on the first line of standard input".to_owned()
        } else {
            let ordinal = ["first", "second", "third"]
                .get(self.line.saturating_sub(1))
                .copied()
                .unwrap_or("next");
            format!("on the {ordinal} of {} lines of standard input", self.of)
        }
    }
}

/// Reads one secret: a hidden prompt on a terminal, else the next line of standard input.
/// An empty value is refused with a message naming the secret and how to give it (the
/// caller reports it as a usage error: nothing was changed).
pub fn read_secret(secret: Secret) -> anyhow::Result<String> {
    let terminal = std::io::stdin().is_terminal();
    let value = if terminal {
        rpassword::prompt_password(format!("{}: ", secret.what))
            .context("cannot read from the terminal")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if value.is_empty() {
        if terminal {
            bail!(
                "the {} is empty: nothing was changed; run the command again and type it at \
                 the prompt (it is not echoed)",
                secret.what
            );
        }
        bail!(
            "the {} is empty: nothing was changed; type it at the prompt, or give it {}",
            secret.what,
            secret.where_on_stdin()
        );
    }
    Ok(value)
}
