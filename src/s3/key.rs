//! The object key of a notification, form-URL-decoded.

/// Decodes an object key as S3 writes it in a notification: `+` is a space, then `%XX` is the
/// byte `XX` (`red+flower.jpg` is `red flower.jpg`, `a%2Bb` is `a+b`, `caf%C3%A9` is `café`).
/// A `%` not followed by two hex digits is kept as it is, and bytes that do not form UTF-8
/// become U+FFFD.
///
/// ```
/// assert_eq!(helve::s3::decode_key("reports/red+flower+%2B+caf%C3%A9.jpg"), "reports/red flower + café.jpg");
/// ```
pub fn decode_key(encoded: &str) -> String {
    let spaced = if encoded.contains('+') {
        std::borrow::Cow::Owned(encoded.replace('+', " "))
    } else {
        std::borrow::Cow::Borrowed(encoded)
    };
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}
