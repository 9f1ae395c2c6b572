//! Free text that people give: names, contacts, regions, notes, reasons,
//! invoice references and the texts of rules files. [`check`] is the one
//! rule for all of them, at every boundary (JSON, CSV, command-line flags,
//! rules files and [`decide`](crate::decide())).

use std::fmt;

/// Why a text cannot be accepted. The [`Display`](fmt::Display) form is a
/// sentence to follow the field's name (`contact.name: holds ...`) and
/// never repeats the text itself, which may be unprintable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextProblem {
    /// Fewer characters than the minimum, once surrounding whitespace is
    /// left out.
    TooShort {
        /// The characters given, without surrounding whitespace.
        length: usize,
        min: usize,
        max: usize,
    },
    /// More characters than the maximum.
    TooLong { length: usize, max: usize },
    /// A control character (`char::is_control`).
    ControlCharacter {
        /// The character's code point, e.g. `0x1b` for ESC.
        code: u32,
        /// Where it is: 1 for the first character.
        position: usize,
    },
}

impl fmt::Display for TextProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TextProblem::TooShort {
                length: 0,
                min,
                max,
            } => {
                write!(f, "is empty: give {min} to {max} characters")
            }
            TextProblem::TooShort { length, min, max } => write!(
                f,
                "has {length} characters (not counting surrounding spaces): give {min} to {max}"
            ),
            TextProblem::TooLong { length, max } => write!(
                f,
                "has {length} characters: give at most {max} (characters are counted, not bytes)"
            ),
            TextProblem::ControlCharacter { code, position } => write!(
                f,
                "holds the control character U+{code:04X} at character {position}: remove it \
                 (a text is one line of printable characters, without tabs or line breaks)"
            ),
        }
    }
}

/// Checks a text of `min` to `max` characters without control characters.
///
/// - lengths are counted in characters (`"é"` is one), never in bytes;
/// - surrounding whitespace does not count towards the minimum (a name of
///   spaces is empty) but is part of the text as stored, so it counts
///   towards the maximum;
/// - no control character anywhere: not NUL, BEL, ESC, tab, newline,
///   carriage return, DEL nor the C1 controls (U+0080 to U+009F). A text is
///   one line of printable characters, so it can be shown in a terminal, a
///   table or a letter as it is.
pub fn check(value: &str, min: usize, max: usize) -> Result<(), TextProblem> {
    if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(TextProblem::ControlCharacter {
            code: u32::from(c),
            position: i + 1,
        });
    }
    let length = value.trim().chars().count();
    if length < min {
        return Err(TextProblem::TooShort { length, min, max });
    }
    let length = value.chars().count();
    if length > max {
        return Err(TextProblem::TooLong { length, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{TextProblem, check};

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(check(&"é".repeat(200), 1, 200), Ok(()));
        assert_eq!(
            check(&"é".repeat(201), 1, 200),
            Err(TextProblem::TooLong {
                length: 201,
                max: 200
            })
        );
    }

    #[test]
    fn surrounding_spaces_do_not_count_towards_the_minimum() {
        assert_eq!(
            check("  ", 1, 10),
            Err(TextProblem::TooShort {
                length: 0,
                min: 1,
                max: 10
            })
        );
        assert_eq!(check(" a ", 1, 3), Ok(()));
        assert!(matches!(
            check(" a ", 1, 2),
            Err(TextProblem::TooLong { length: 3, .. })
        ));
        assert_eq!(check("", 0, 10), Ok(()));
    }

    #[test]
    fn refuses_every_control_character_and_names_where_it_is() {
        for c in [
            '\0', '\u{7}', '\u{1b}', '\t', '\n', '\r', '\u{7f}', '\u{85}', '\u{9f}',
        ] {
            let text = format!("ab{c}");
            assert_eq!(
                check(&text, 0, 10),
                Err(TextProblem::ControlCharacter {
                    code: u32::from(c),
                    position: 3
                }),
                "{c:?}"
            );
        }
        let message = check("a\u{1b}[31m", 0, 10).unwrap_err().to_string();
        assert!(message.contains("U+001B at character 2"), "{message}");
        assert!(!message.contains('\u{1b}'), "{message}");
    }
}
