//! Where in the code a record comes from.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Where in the code a record was made.
///
/// # Examples
///
/// ```
/// use audit_layer::CodeLocation;
/// let here = CodeLocation::new(module_path!(), "publish").with_file(file!(), line!());
/// assert_eq!(here.function.as_deref(), Some("publish"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CodeLocation {
    /// The module path, such as `blog::posts`.
    pub module: Option<Cow<'static, str>>,
    /// The function name.
    pub function: Option<Cow<'static, str>>,
    /// The source file.
    pub file: Option<Cow<'static, str>>,
    /// The line in the source file.
    pub line: Option<u32>,
}

/// A static location, for `#[audited]` call sites.
#[doc(hidden)]
pub const fn static_code_location(
    module: &'static str,
    function: &'static str,
    file: &'static str,
    line: u32,
) -> CodeLocation {
    CodeLocation {
        module: Some(Cow::Borrowed(module)),
        function: Some(Cow::Borrowed(function)),
        file: Some(Cow::Borrowed(file)),
        line: Some(line),
    }
}

impl CodeLocation {
    /// A location naming a module and a function.
    ///
    /// # Examples
    ///
    /// ```
    /// let here = audit_layer::CodeLocation::new("blog::posts", "publish");
    /// assert_eq!(here.module.as_deref(), Some("blog::posts"));
    /// ```
    pub fn new(
        module: impl Into<Cow<'static, str>>,
        function: impl Into<Cow<'static, str>>,
    ) -> Self {
        CodeLocation {
            module: Some(module.into()),
            function: Some(function.into()),
            file: None,
            line: None,
        }
    }

    /// Adds the source file and line.
    ///
    /// # Examples
    ///
    /// ```
    /// let here = audit_layer::CodeLocation::new("m", "f").with_file("src/lib.rs", 7);
    /// assert_eq!(here.line, Some(7));
    /// ```
    pub fn with_file(mut self, file: impl Into<Cow<'static, str>>, line: u32) -> Self {
        self.file = Some(file.into());
        self.line = Some(line);
        self
    }
}

/// Where an event was made: a static location for `#[audited]` call sites,
/// an owned one for events built by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodeRef {
    Static(&'static CodeLocation),
    Owned(Box<CodeLocation>),
}

impl std::ops::Deref for CodeRef {
    type Target = CodeLocation;

    fn deref(&self) -> &CodeLocation {
        match self {
            CodeRef::Static(code) => code,
            CodeRef::Owned(code) => code,
        }
    }
}
