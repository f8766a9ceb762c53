//! A valid prescription of the simulator's test identities, ready to send: what the demo's
//! played week, the benchmarks and the end-to-end tests send as practice software would.

use sistemats::dem::{DettaglioPrescrizione, EncryptedValue, InvioPrescrittoRequest};

use crate::users::TestUser;

/// The test patient's fiscal code.
pub const PATIENT_CF: &str = "RSSMRA80A01H501U";

/// A one-line pharmaceutical prescription (paracetamol) compiled at `compiled_at`
/// (`YYYY-MM-DD HH:MM:SS`, Italian time) by `sender` for `titolare`'s patient `patient_cf`:
/// a substitute when the two differ (cfMedico1 the titolare, cfMedico2 the substitute).
/// `encrypt` encrypts the PIN and the patient's fiscal code with the SanitelCF-like
/// certificate of the simulator (base64 of the RSA ciphertext).
pub fn invio_prescritto<E>(
    sender: &TestUser,
    titolare: &TestUser,
    patient_cf: &str,
    compiled_at: &str,
    encrypt: impl Fn(&str) -> Result<String, E>,
) -> Result<InvioPrescrittoRequest, E> {
    Ok(InvioPrescrittoRequest {
        pin_code: EncryptedValue::new(encrypt(&sender.pin)?),
        cf_medico1: titolare.cf.clone(),
        cf_medico2: (titolare.cf != sender.cf).then(|| sender.cf.clone()),
        cod_regione: titolare.region.clone(),
        cod_asl_ao: titolare.asl.clone(),
        cod_specializzazione: titolare.specialization.clone(),
        codice_ass: Some(EncryptedValue::new(encrypt(patient_cf)?)),
        tipo_prescrizione: "F".into(),
        data_compilazione: compiled_at.to_owned(),
        tipo_visita: "A".into(),
        dettagli: vec![DettaglioPrescrizione {
            cod_gruppo_equival: Some("G3B".into()),
            descr_gruppo_equival: Some("PARACETAMOLO 500MG 20 UNITA' USO ORALE".into()),
            ..DettaglioPrescrizione::with_quantita(1)
        }],
        ..Default::default()
    })
}

/// The titolare a test identity prescribes for: himself, or for a substitute the first
/// titolare of `users`.
pub fn titolare_of<'a>(sender: &'a TestUser, users: &'a [TestUser]) -> &'a TestUser {
    match sender.role {
        crate::users::Role::Sostituto => users
            .iter()
            .find(|u| u.role == crate::users::Role::Titolare)
            .unwrap_or(sender),
        _ => sender,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sistemats::dem::DemRequest as _;

    #[test]
    fn the_samples_are_valid_for_titolare_and_substitute() {
        let users = crate::users::default_users();
        let encrypt = |v: &str| Ok::<_, ()>(format!("enc:{}", v.len()));
        for sender in users
            .iter()
            .filter(|u| u.role != crate::users::Role::Farmacia)
        {
            let titolare = titolare_of(sender, &users);
            let request =
                invio_prescritto(sender, titolare, PATIENT_CF, "2026-12-14 09:30:00", encrypt)
                    .unwrap();
            request.validate().unwrap();
            assert_eq!(request.cf_medico1, titolare.cf);
            assert_eq!(
                request.cf_medico2.is_some(),
                sender.role == crate::users::Role::Sostituto
            );
        }
    }
}
