//! User-interactive authentication, as an app on matrix-sdk completes it: the SDK
//! returns the server's challenge ([`UiaaInfo`], from `Error::as_uiaa_response`), and
//! the app picks a flow whose stages it can complete and answers the next one with a
//! ruma [`AuthData`] in the same session.

use matrix_sdk::ruma::api::client::uiaa::{
    AuthData, AuthType, Dummy, MatrixUserIdentifier, Password, RegistrationToken, UiaaInfo, UserIdentifier,
};

/// Most rounds of one UIA session: every flow the mock offers has at most two
/// stages, so a third challenge after two answers means the server keeps refusing.
pub const MAX_ROUNDS: usize = 4;

/// What this client can answer a stage with.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// `m.login.dummy` (registration).
    pub dummy: bool,
    /// `m.login.registration_token`, with this token.
    pub registration_token: Option<String>,
    /// `m.login.password`, as this user (localpart or user ID) with this password.
    pub password: Option<(String, String)>,
}

impl Credentials {
    fn can_answer(&self, stage: &AuthType) -> bool {
        match stage {
            AuthType::Dummy => self.dummy,
            AuthType::RegistrationToken => self.registration_token.is_some(),
            AuthType::Password => self.password.is_some(),
            _ => false,
        }
    }

    /// The answer to the next stage of the first flow this client can complete
    /// (stages already `completed` skipped), in the challenge's session; `None` when
    /// no flow can be completed with these credentials.
    pub fn answer(&self, challenge: &UiaaInfo) -> Option<(AuthType, AuthData)> {
        let session = challenge.session.clone();
        let stage = challenge.flows.iter().find_map(|flow| {
            let mut todo = flow.stages.iter().filter(|s| !challenge.completed.contains(s)).peekable();
            let first = (*todo.peek()?).clone();
            todo.all(|s| self.can_answer(s)).then_some(first)
        })?;
        let auth = match &stage {
            AuthType::Dummy => {
                let mut dummy = Dummy::new();
                dummy.session = session;
                AuthData::Dummy(dummy)
            }
            AuthType::RegistrationToken => {
                let mut token = RegistrationToken::new(self.registration_token.clone()?);
                token.session = session;
                AuthData::RegistrationToken(token)
            }
            AuthType::Password => {
                let (user, password) = self.password.clone()?;
                let mut answer =
                    Password::new(UserIdentifier::Matrix(MatrixUserIdentifier::new(user)), password);
                answer.session = session;
                AuthData::Password(answer)
            }
            _ => return None,
        };
        Some((stage, auth))
    }
}

/// The flows of a challenge, for messages: `[m.login.dummy] [m.login.email.identity]`.
pub fn describe_flows(challenge: &UiaaInfo) -> String {
    challenge
        .flows
        .iter()
        .map(|flow| {
            let stages: Vec<&str> = flow.stages.iter().map(AuthType::as_str).collect();
            format!("[{}]", stages.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrix_sdk::ruma::api::client::uiaa::AuthFlow;

    fn challenge(flows: &[&[AuthType]], completed: &[AuthType]) -> UiaaInfo {
        let mut info = UiaaInfo::new(flows.iter().map(|stages| AuthFlow::new(stages.to_vec())).collect());
        info.completed = completed.to_vec();
        info.session = Some("S".to_owned());
        info
    }

    #[test]
    fn dummy_flow_is_answered_in_the_session() {
        let creds = Credentials { dummy: true, ..Default::default() };
        let (stage, auth) = creds.answer(&challenge(&[&[AuthType::Dummy]], &[])).unwrap();
        assert_eq!(stage, AuthType::Dummy);
        assert_eq!(auth.session(), Some("S"));
    }

    #[test]
    fn token_then_dummy_in_order_and_only_with_a_token() {
        let flows: &[&[AuthType]] = &[&[AuthType::RegistrationToken, AuthType::Dummy]];
        let without = Credentials { dummy: true, ..Default::default() };
        assert!(without.answer(&challenge(flows, &[])).is_none());
        let with = Credentials { dummy: true, registration_token: Some("T".into()), ..Default::default() };
        let (first, _) = with.answer(&challenge(flows, &[])).unwrap();
        assert_eq!(first, AuthType::RegistrationToken);
        let (second, _) = with.answer(&challenge(flows, &[AuthType::RegistrationToken])).unwrap();
        assert_eq!(second, AuthType::Dummy);
    }

    #[test]
    fn a_flow_with_an_unknown_stage_is_passed_over() {
        let flows: &[&[AuthType]] = &[&[AuthType::EmailIdentity], &[AuthType::Password]];
        let creds = Credentials { password: Some(("@u:test".into(), "pw".into())), ..Default::default() };
        let (stage, auth) = creds.answer(&challenge(flows, &[])).unwrap();
        assert_eq!(stage, AuthType::Password);
        assert!(matches!(auth, AuthData::Password(_)));
        assert!(creds.answer(&challenge(&[&[AuthType::EmailIdentity]], &[])).is_none());
        assert_eq!(describe_flows(&challenge(flows, &[])), "[m.login.email.identity] [m.login.password]");
    }
}
