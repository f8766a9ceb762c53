//! A small but real PDF 1.4 "promemoria" (one page, Helvetica, correct xref table).

/// Text lines of the promemoria.
#[derive(Debug)]
pub struct Promemoria<'a> {
    /// NRE.
    pub nre: &'a str,
    /// Doctor's surname and name.
    pub doctor: &'a str,
    /// Titolare's fiscal code.
    pub cf_medico: &'a str,
    /// Compilation date.
    pub date: &'a str,
    /// Authentication code.
    pub cod_autenticazione: &'a str,
    /// One line per prescribed item.
    pub items: &'a [String],
}

fn pdf_text(s: &str) -> String {
    // Helvetica with the standard encoding: keep printable ASCII, escape the delimiters.
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .flat_map(|c| match c {
            '(' | ')' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// Builds the PDF bytes.
pub fn promemoria(p: &Promemoria<'_>) -> Vec<u8> {
    let mut lines = vec![
        "SERVIZIO SANITARIO NAZIONALE - RICETTA ELETTRONICA - PROMEMORIA PER L'ASSISTITO"
            .to_owned(),
        "(documento generato dal simulatore tsgate: non valido per l'erogazione)".to_owned(),
        String::new(),
        format!("NRE: {}", p.nre),
        format!("Medico: {} ({})", p.doctor, p.cf_medico),
        format!("Data compilazione: {}", p.date),
        format!("Codice autenticazione: {}", p.cod_autenticazione),
        String::new(),
        "Prescrizione:".to_owned(),
    ];
    lines.extend(p.items.iter().map(|i| format!("  {i}")));
    let mut content = String::from("BT\n/F1 10 Tf\n14 TL\n50 800 Td\n");
    for line in &lines {
        content.push_str(&format!("({}) Tj T*\n", pdf_text(line)));
    }
    content.push_str("ET\n");

    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{}endstream",
            content.len(),
            content
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{}\nendobj\n", i + 1, body));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        out.push_str(&format!("{offset:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xref_offsets_point_at_objects() {
        let pdf = promemoria(&Promemoria {
            nre: "1300A4019294833",
            doctor: "PRO VA",
            cf_medico: "PROVAX00X00X000Y",
            date: "2026-09-30 16:44:16",
            cod_autenticazione: "300920261644168700000050622782",
            items: &["G3B LEVETIRACETAM (500MG) x1".into()],
        });
        let text = String::from_utf8(pdf).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[startxref..].starts_with("xref\n0 6\n"));
        for (i, line) in text[startxref..].lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(text[offset..].starts_with(&format!("{} 0 obj", i + 1)));
        }
        assert!(text.contains("(NRE: 1300A4019294833) Tj"));
        assert!(text.contains("\\(500MG\\)"));
    }
}
