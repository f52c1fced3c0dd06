//! Code generation for php.

use billing_changeset::ChangeSet;

use crate::{GenerateError, Target};

pub fn generate(target: &Target<'_>) -> Result<ChangeSet, GenerateError> {
    let _ = target;
    Err(GenerateError::Unsupported(
        "php code generation is not implemented yet".to_owned(),
    ))
}
