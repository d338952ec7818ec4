//! The error of one field of a layer's parameters, shared by the RepAct parameters and the
//! activation library (both below the weights readers, which add the file and layer name).

/// A problem with one field of a layer; the weights reader adds the file and layer name.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field, e.g. `bn.running_var` or `actor_atn[2]`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
    /// The problem is a bug of repact-hw (an invariant of its own code failed), not of the
    /// input; the weights reader reports it as an internal error.
    pub internal: bool,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
            internal: false,
        }
    }

    /// A failed invariant of repact-hw found while building `field`.
    pub fn internal(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            internal: true,
            ..FieldError::new(field, reason)
        }
    }
}
