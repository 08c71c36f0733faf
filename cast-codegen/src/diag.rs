//! Diagnostics: every problem found in a spec, with where, what and what to do.

use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nothing lost: listed by `cast-codegen check`, counted elsewhere.
    Note,
    /// Something was skipped or degraded; the crate is still generated.
    Warning,
    /// Generation cannot produce a correct crate.
    Error,
}

/// One problem, located by JSON pointer into the spec.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// A stable code, e.g. `C0101`, for documentation and `--deny-warnings` allow-lists.
    pub code: &'static str,
    /// JSON pointer into the spec (`/paths/~1items/get`), empty for the whole document.
    pub pointer: String,
    /// The operation concerned, when there is one.
    pub operation_id: Option<String>,
    /// One lower-case line: what is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at `pointer`.
    pub fn error(code: &'static str, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            pointer: pointer.into(),
            operation_id: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A note at `pointer`.
    pub fn note(code: &'static str, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Note,
            ..Self::error(code, pointer, message)
        }
    }

    /// A warning at `pointer`.
    pub fn warning(code: &'static str, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, pointer, message)
        }
    }

    /// Names the operation concerned.
    pub fn operation(mut self, operation_id: impl Into<String>) -> Self {
        self.operation_id = Some(operation_id.into());
        self
    }

    /// Adds what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        writeln!(f, "{severity}[{}]: {}", self.code, self.message)?;
        let pointer = if self.pointer.is_empty() { "/" } else { &self.pointer };
        match &self.operation_id {
            Some(op) => writeln!(f, "  --> #{pointer} (operation `{op}`)")?,
            None => writeln!(f, "  --> #{pointer}")?,
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// All diagnostics of a run, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// How many of each: (errors, warnings); notes are not counted.
    pub fn counts(&self) -> (usize, usize) {
        let count = |severity| self.0.iter().filter(|d| d.severity == severity).count();
        (count(Severity::Error), count(Severity::Warning))
    }

    /// How many notes.
    pub fn notes(&self) -> usize {
        self.0.iter().filter(|d| d.severity == Severity::Note).count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates in the order found.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

/// Errors and warnings in full, then the counts; notes in full only with `{:#}`.
impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = f.alternate();
        for diagnostic in self.0.iter().filter(|d| all || d.severity != Severity::Note) {
            writeln!(f, "{diagnostic}")?;
        }
        let (errors, warnings) = self.counts();
        let notes = self.notes();
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let mut parts = Vec::new();
        if errors > 0 {
            parts.push(format!("{errors} error{}", plural(errors)));
        }
        if warnings > 0 {
            parts.push(format!("{warnings} warning{}", plural(warnings)));
        }
        if notes > 0 {
            let listed = if all { "" } else { " (`cast-codegen check` lists them)" };
            parts.push(format!("{notes} note{}{listed}", plural(notes)));
        }
        write!(f, "{}", parts.join(", "))
    }
}

impl std::error::Error for Diagnostics {}

/// Escapes one JSON-pointer token (RFC 6901).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let mut all = Diagnostics::default();
        all.push(
            Diagnostic::warning(
                "C0301",
                "/paths/~1items/post/requestBody",
                "request body type `text/csv` is not supported",
            )
            .operation("importItems")
            .hint("the operation is skipped"),
        );
        assert_eq!(
            all.to_string(),
            "warning[C0301]: request body type `text/csv` is not supported\n  --> #/paths/~1items/post/requestBody (operation `importItems`)\n  = hint: the operation is skipped\n\n1 warning"
        );
        assert_eq!(pointer_token("/a~b"), "~1a~0b");
    }
}
